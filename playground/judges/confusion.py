"""A warning before any image is drawn: a prompt that reads closer to a known confuser than to its subject.

"Graves' disease" is painted as a gravestone because the text encoder reads the eponym as the
word. The general CLIP's text embeddings show it before generation: when a column's prompt lies
nearer one of the subject's documented confusers (confusions.yaml) than the subject itself, the
user is told which confuser, and offered the detailed template's wording of the subject.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..catalog.curated import Curated
from ..catalog.templates import TemplateSet
from ..errors import PlaygroundError
from ..models.loading import load_scorer
from ..types import Column


def confusion_warnings(
    subject: str, columns: Sequence[Column], scorer_id: str, curated: Curated, templates: TemplateSet
) -> list[str]:
    """One sentence per column whose prompt's embedding (by the general CLIP `scorer_id`) is
    nearer a confuser than the subject's."""
    cases = [c for c in curated.confusions if c.subject.lower() == subject.strip().lower()]
    confusers = [label for case in cases for label in case.confusers]
    if not confusers:
        return []
    scorer, warnings = load_scorer(scorer_id), []
    for number, column in enumerate(columns, start=1):
        prompt, to_subject, *to_confusers = scorer.embed_texts([column.prompt, subject.strip(), *confusers])
        subject_similarity = float(to_subject @ prompt)
        nearest, closeness = max(((label, float(e @ prompt)) for label, e in zip(confusers, to_confusers)),
                                 key=lambda pair: pair[1])
        if closeness > subject_similarity:
            warnings.append(
                f"Column {number}'s prompt reads closer to \"{nearest}\" than to \"{subject.strip()}\" "
                f"(CLIP text similarity {closeness:.2f} vs {subject_similarity:.2f}): the model may draw the confuser. "
                + _rewording(column, cases[0].modality, subject, templates)
            )
    return warnings


def _rewording(column: Column, case_modality: str, subject: str, templates: TemplateSet) -> str:
    try:
        detailed = templates.for_modality(column.modality or case_modality, "detailed")
    except PlaygroundError:
        return ""
    return f"Try the detailed wording: \"{detailed.fill(subject.strip())}\""
