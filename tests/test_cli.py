"""One command line, an installable package, light imports, and one error type for people."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

from playground.cli import main
from playground.config import get_settings
from playground.errors import PlaygroundError
from playground.ui.common import user_errors

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"torch", "diffusers", "transformers", "open_clip"}


def playground(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=cwd, env=env or os.environ,
                          capture_output=True, text=True, timeout=120)


def test_importing_the_package_its_stats_and_its_library_loads_no_torch():
    code = ("import sys, playground, playground.stats, playground.stores.library; "
            f"assert not {HEAVY!r} & set(sys.modules), sorted({HEAVY!r} & set(sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_library_list_runs_without_torch(tmp_path):
    env = {**os.environ, "PLAYGROUND_LIBRARY": str(tmp_path / "lib.sqlite")}
    code = ("import sys; from playground.cli import main; main(['library', 'list']); "
            f"print(sorted({HEAVY!r} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["No records.", "[]"]  # no torch, diffusers, transformers or open_clip


def test_help_for_every_command():
    for args in ([], ["library"], ["library", "list"], ["sweep"], ["stats", "report"]):
        done = playground(*args, "--help")
        assert done.returncode == 0 and "usage: playground" in done.stdout, (args, done.stderr)


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "must be a mapping of study fields"), ("name: [unclosed\n", "is not valid YAML"),
     ("- a\n- b\n", "must be a mapping of study fields"), ("name: x\nsubjects: []\n", "subjects")],
)
def test_a_malformed_or_empty_study_gives_one_sentence_and_exit_1(tmp_path, capsys, content, message):
    study = tmp_path / "study.yaml"
    study.write_text(content)
    assert main(["sweep", str(study), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_missing_files_and_bad_arguments_give_one_sentence(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)]) == 1
    assert "There is no study file" in capsys.readouterr().err
    assert main(["stats", "report", str(tmp_path / "nope.xlsx"), "--out", str(tmp_path)]) == 1
    assert "There is no ratings file" in capsys.readouterr().err
    (tmp_path / "bad.xlsx").write_text("not a workbook")
    assert main(["stats", "report", str(tmp_path / "bad.xlsx"), "--out", str(tmp_path)]) == 1
    assert "could not be read as a ratings table" in capsys.readouterr().err
    for args in (["library", "list", "--limit", "many"], ["sweep"], ["stats", "report", "--sort"], ["nonsense"]):
        done = playground(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1 and "--help" in done.stderr, (args, done.stderr)


def test_library_pull_offline_or_unreachable_says_so_and_keeps_the_library(tmp_path, capsys, monkeypatch,
                                                                           closed_port_endpoint):
    monkeypatch.setenv("LIBRARY_HUB_REPO", "someone/prompt-library")
    assert main(["library", "pull"]) == 1  # PLAYGROUND_OFFLINE=1 (the suite's setting)
    assert "PLAYGROUND_OFFLINE=1 keeps the playground off the Hub" in capsys.readouterr().err
    monkeypatch.setenv("PLAYGROUND_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint)
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    assert main(["library", "pull"]) == 1
    err = capsys.readouterr().err
    assert "Could not pull the library from the Hub dataset someone/prompt-library" in err and err.count("\n") == 1


def test_a_study_setting_is_checked_as_a_compare_row_is(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text("name: bad\nsubjects: [melanoma]\ntemplates: [photo-short]\nsettings:\n- {steps: 1000}\n")
    assert main(["sweep", str(study), "--out", str(tmp_path / "out")]) == 1
    assert "steps must be between 1 and 100, got 1000" in capsys.readouterr().err


def test_an_installed_package_works_from_another_directory(tmp_path):
    """`pip install .` (here: a wheel without build isolation, into a folder) gives a working
    package, its data files and the console script, used from outside the source tree."""
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(wheels.glob("*.whl"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "PLAYGROUND_HOME": str(tmp_path / "home")}
    env.pop("PLAYGROUND_DATA", None)
    shipped = subprocess.run([sys.executable, "-c", "from playground.config import get_settings; "
                              "print(get_settings().original_study)"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=60).stdout.strip()
    assert shipped.startswith(str(site)) and Path(shipped).is_file()
    script = site / "bin" / "playground"
    assert script.is_file()
    report = subprocess.run([sys.executable, str(script), "stats", "report", shipped, "--out", "r"], cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    assert (elsewhere / "r" / "report.html").is_file() and "histopathology" in report.stdout
    helped = subprocess.run([sys.executable, str(script), "--help"], cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0 and "library" in helped.stdout and "sweep" in helped.stdout


def test_people_see_our_sentences_and_an_id_for_anything_else(caplog):
    @user_errors
    def handler(kind: str) -> str:
        if kind == "ours":
            raise PlaygroundError("The subject is empty; type a medical subject such as 'melanoma'.")
        if kind == "library":
            return {}["missing"]  # a KeyError, as pandas raises for a missing column
        raise ValueError("could not convert string to float: 'abc'")  # pandas/torch-style ValueError

    with pytest.raises(gr.Error) as ours:
        handler("ours")
    assert ours.value.message == "The subject is empty; type a medical subject such as 'melanoma'."
    for kind in ("library", "value"):
        with caplog.at_level(logging.ERROR, logger="playground"), pytest.raises(gr.Error) as other:
            handler(kind)
        message = other.value.message
        assert message.startswith("Something went wrong (logged as ") and "float" not in message
        error_id = message.split("logged as ")[1].rstrip(").")
        record = next(r for r in caplog.records if error_id in r.getMessage())
        assert record.exc_info is not None  # the traceback is in the log, under that id


def test_the_library_defaults_to_a_file_under_playground_home(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_LIBRARY")
    settings = get_settings()
    assert settings.library_path == settings.home / "library.sqlite"
    assert settings.library_images_dir.is_relative_to(settings.home)
