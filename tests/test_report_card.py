"""A report card per model (#27): the original study's protocol drawn by a model, judged by every
judge on the sweep machinery, written as one HTML page beside the experts' medians for GLIDE."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from playground import stats
from playground.cli import main
from playground.config import get_settings
from playground.judges.probe import top_label
from playground.render import report_card_html
from playground.research.report_card import (
    AXES,
    EXPERT_ASPECTS,
    protocol,
    score_columns,
)

QUICK_RUN = Path("runs") / "tiny-offline-quick"


class Page(HTMLParser):
    """The page's sections: each h2 heading's tables (rows of {data-column: text}) and every image."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.tables: dict[str, list[list[dict[str, str]]]] = {}
        self.images: list[str] = []
        self.heading, self._in, self._column, self._cells = "", "", "", {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2":
            self._in, self.heading = "h2", ""
        elif tag == "table":
            self.tables.setdefault(self.heading, []).append([])
        elif tag == "tr":
            self._cells = {}
        elif tag == "td" and "data-column" in attrs:
            self._in, self._column = "td", attrs["data-column"]
            self._cells[self._column] = ""
        elif tag == "img":
            self.images.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "h2":
            self.headings.append(self.heading)
        if tag in ("h2", "td"):
            self._in = ""
        elif tag == "tr" and self._cells:
            self.tables[self.heading][-1].append(self._cells)

    def handle_data(self, data):
        if self._in == "h2":
            self.heading += data
        elif self._in == "td":
            self._cells[self._column] += data


@pytest.fixture(scope="module")
def card(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("card")
    assert main(["report-card", "tiny-offline", "--quick", "--out", str(out)]) == 0
    return out


def test_the_protocol_is_the_original_study_where_the_model_supports_clip_guidance():
    full = protocol("tiny-offline")
    assert len(full.subjects) == 34 and len(full.templates) == 8  # 17 topics short and detailed, 8 styles
    assert [s.clip_guidance_scale for s in full.settings] == [0.0, 100.0]
    assert (full.model, full.scorer, full.judge) == ("tiny-offline", get_settings().scorer, get_settings().judge)
    for without in ("tiny-offline-sd3", "an/unknown-model"):  # SD3 has none; an unknown model is not known to
        assert [s.clip_guidance_scale for s in protocol(without).settings] == [0.0]
    quick = protocol("tiny-offline", quick=True)
    assert (len(quick.subjects), len(quick.templates), quick.seeds, len(quick.settings)) == (2, 2, 1, 2)


def test_report_card_writes_one_page_with_every_judge_beside_the_experts(card):
    page = Page((card / "index.html").read_text(encoding="utf-8"))
    frame = pd.read_parquet(card / QUICK_RUN / "results.parquet")
    assert len(frame) == 8
    assert page.headings == ["Protocol", *AXES, "Confusions the probe found", "Subgroup gaps", "Grid images"]

    scored, _ = score_columns(frame)
    assert {"clip_prompt", "medclip_prompt", "criteria_score", "vlm_score"} <= set(scored)  # every configured judge
    per_style = {row["style"]: row for row in page.tables["Judge scores per style"][0]}
    assert set(per_style) == {"microscopy", "histopathology"}
    for heading in AXES:
        for row in page.tables[heading][0]:
            assert all(float(row[column]) == float(row[column]) for column in scored)  # a number, not NaN
    microscopy = frame[frame["modality"] == "microscopy"]
    assert per_style["microscopy"]["clip_prompt"] == f"{microscopy['clip_prompt'].mean():.1f}"
    assert per_style["microscopy"]["vlm_score"] == f"{microscopy['vlm_score'].mean():.2f}"

    ratings = stats.read_ratings(get_settings().original_study)  # the experts' GLIDE ratings of the same cut
    rated = ratings[(ratings["category"] == "microscopy") & ratings["subject"].str.lower().str.startswith("the brain")]
    for aspect, column in EXPERT_ASPECTS.items():
        assert per_style["microscopy"][column] == f"{rated.loc[rated['aspect'] == aspect, 'rating'].median():.2f}"

    seen_instead = sum(top_label(list(r)) != s for r, s in zip(frame["probe_top3"], frame["subject"]))
    assert sum(int(row["images"]) for row in page.tables["Confusions the probe found"][0]) == seen_instead

    subgroups = pd.read_parquet(card / f"{QUICK_RUN}-subgroups" / "results.parquet")  # 1 topic x 6 subgroups x 2 seeds
    assert len(subgroups) == 12 and subgroups["subgroup"].nunique() == 6 and set(subgroups["modality"]) == {"x-ray"}
    gap_rows = page.tables["Subgroup gaps"][0]
    assert {row["judge"] for row in gap_rows} == set(score_columns(subgroups)[0])  # every judge with readings, side by side
    for row in gap_rows:
        assert float(row["gap"]) >= 0
    assert len(page.images) == 8 + 2  # 2 styles x 2 phrasings x 2 settings (seed 0), the per-style and the gaps plots
    for src in page.images:
        assert not src.startswith(("/", "http", "file:")) and (card / src).is_file()


def test_a_second_run_resumes_without_drawing_again(card):
    run = card / QUICK_RUN
    written = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [*(run / "parts").iterdir(), *(run / "images").iterdir()]}
    assert len(written) == 2 + 8
    assert main(["report-card", "tiny-offline", "--quick", "--out", str(card)]) == 0
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in written} == written  # atomic writes would change the inode


def test_two_models_are_two_cards_side_by_side_row_for_row(card, tmp_path):
    for run in (QUICK_RUN, f"{QUICK_RUN}-subgroups"):  # the first card resumes; only the second draws
        shutil.copytree(card / run, tmp_path / run)
    assert main(["report-card", "tiny-offline", "tiny-offline-sd3", "--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    page = Page(text)
    assert "Report card: tiny-offline vs tiny-offline-sd3" in text
    assert text.count('<div class="card">') == 2 * len(page.headings)
    for heading, axis in AXES.items():
        first, second = page.tables[heading]
        assert [row[axis] for row in first] == [row[axis] for row in second]
    guided = [row for row in page.tables["Without and with CLIP guidance"][1] if "CLIP guidance" in row["setting"]]
    assert [(row["n"], row["clip_prompt"]) for row in guided] == [("0", "–")]  # SD3 draws no CLIP-guided row
    assert len(page.images) == (8 + 2) + (4 + 2)


def test_the_page_escapes_every_text(tmp_path):
    frame = pd.DataFrame(columns=["seed", "style", "topic", "image_file", "prompt", "setting"])
    table = pd.DataFrame({"subject": ["<script>alert(1)</script>"], "n": [1]})
    view = report_card_html.CardView("<b>model</b>", "drawn & judged", {"Judge scores per topic": table},
                                     {"Judge scores per topic": "a <note>"}, tmp_path / "run", frame)
    text = report_card_html.write(tmp_path, [view]).read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>model</b>" not in text and "drawn &amp; judged" in text and "a &lt;note&gt;" in text


def test_the_page_opens_in_a_browser(card, page):
    page.goto((card / "index.html").resolve().as_uri())
    headings = page.locator("h2").all_inner_texts()
    assert {"Protocol", "Judge scores per style", "Judge scores per topic", "Confusions the probe found",
            "Subgroup gaps", "Grid images"} <= set(headings)
    page.locator("table").first.wait_for()
    loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
    assert loaded >= 1 and loaded == page.evaluate("document.images.length")
