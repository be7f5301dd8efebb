"""What an imported file may do to the library: add checked records, never set or raise votes; and
what a broken file gets: one sentence naming it (the library, the command line, the Library tab)."""

import json

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from playground.cli import main
from playground.errors import PlaygroundError
from playground.stores.library import Library

from .test_library import record

FORGED = 1_000_000_000


def write(path, *lines: str | bytes):
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


def test_an_imported_file_cannot_set_or_raise_votes(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    known = library.log(record(1)).id
    forged = write(tmp_path / "forged.jsonl", json.dumps({**record(1), "votes": FORGED}),
                   json.dumps({**record(2), "votes": FORGED}))
    assert library.import_jsonl(forged) == (1, 1)
    assert library.to_frame(sort="oldest")["votes"].tolist() == [1, 1]  # the known record kept its vote
    assert library.get(known)["votes"] == 1
    assert library.import_jsonl(forged, keep_votes=True) == (0, 2)  # the operator's Hub pull carries counts
    assert library.to_frame(sort="oldest")["votes"].tolist() == [FORGED, FORGED]


@pytest.mark.parametrize(("content", "message"), [
    ("café".encode("latin-1"), r"bad\.jsonl is not a JSON Lines export: it is not UTF-8 text \(byte [\d,]+ is not\)"),
    (json.dumps(record(1)).encode("utf-16"), "bad.jsonl is not a JSON Lines export: it is not UTF-8 text"),
    (json.dumps({**record(1), "prompt": "x\ud800y"}),
     r"bad\.jsonl line 1: prompt holds a character that is not valid Unicode \(a lone surrogate"),
    (json.dumps({**record(1), "tags": ["\udc80"]}), "bad.jsonl line 1: a tag holds a character that is not valid"),
    ("[" * 100_000 + "]" * 100_000, "bad.jsonl line 1: nested too deeply to be a library record"),
    (json.dumps({**record(1), "created": "aaa"}),
     r"bad\.jsonl line 1: created must be an ISO 8601 time such as 2024-05-01T12:00:00\+00:00, got 'aaa'"),
    (json.dumps({**record(1), "created": "9999-12-31T23:59:59"}), "created must lie between 2020-01-01 and today"),
    (json.dumps({**record(1), "created": "1970-01-01"}), "created must lie between 2020-01-01 and today"),
    (json.dumps({**record(1), "created": 20240501}), "created must be text, got int"),
])
def test_a_broken_file_is_refused_in_one_sentence_and_nothing_is_written(tmp_path, content, message):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    path = write(tmp_path / "bad.jsonl", json.dumps(record(0)), content)
    with pytest.raises(PlaygroundError, match=message.replace("line 1", "line 2")):
        library.import_jsonl(path)
    assert library.count() == 0


def test_created_is_kept_as_one_utc_form_and_odd_line_breaks_stay_inside_a_record(tmp_path):
    library = Library(tmp_path / "lib.sqlite", tmp_path / "images")
    with_bom = b"\xef\xbb\xbf" + json.dumps({**record(1), "created": "2024-05-01T14:00:00+02:00"}).encode()
    odd_breaks = {**record(2), "created": "2024-05-02T09:30", "prompt": "two\u2028lines\x85here"}
    path = write(tmp_path / "in.jsonl", with_bom, json.dumps(odd_breaks, ensure_ascii=False))
    assert library.import_jsonl(path) == (2, 0)  # a byte-order mark is skipped; U+2028 and NEL end no line
    frame = library.to_frame(sort="date")
    assert frame["created"].tolist() == ["2024-05-02T09:30:00+00:00", "2024-05-01T12:00:00+00:00"]
    copy = Library(tmp_path / "copy.sqlite", tmp_path / "images")
    assert copy.import_jsonl(library.export(tmp_path / "out.jsonl")) == (2, 0)
    assert sorted(copy.to_frame()["prompt"]) == ["A photo of melanoma 1", "two\u2028lines\x85here"]


def test_the_command_line_and_the_library_tab_say_the_same_sentence(tmp_path, capsys, client, fresh_library):
    deep = write(tmp_path / "deep.jsonl", "[" * 100_000 + "]" * 100_000)
    assert main(["library", "import", str(deep)]) == 1
    err = capsys.readouterr().err
    assert "deep.jsonl line 1: nested too deeply" in err and "Traceback" not in err and err.count("\n") == 1
    latin = write(tmp_path / "latin.jsonl", "café".encode("latin-1"))
    with pytest.raises(AppError, match="latin.jsonl is not a JSON Lines export: it is not UTF-8 text"):
        client.predict(handle_file(str(latin)), api_name="/library_import")
    forged = write(tmp_path / "forged.jsonl", json.dumps({**record(5), "votes": FORGED}))
    assert "1 new records" in client.predict(handle_file(str(forged)), api_name="/library_import")
    assert main(["library", "import", str(forged)]) == 0
    assert Library().to_frame()["votes"].tolist() == [1]
