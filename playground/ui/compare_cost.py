"""The cost under Generate: what the form asks for (images, denoising steps), the time it should
take on this device, and on ZeroGPU the seconds it will ask for; kept up to date as the form
changes, and a request over a limit says so here before it runs. After a Generate, the time it
took stands beside the estimate it had.
"""

from __future__ import annotations

import gradio as gr

from ..catalog.templates import TemplateSet
from ..errors import PlaygroundError
from ..render.markdown import text
from ..workflow import budget
from ..workflow.budget import Estimate
from ..workflow.form import CompareForm
from . import gpu
from .compare_form import FormWidgets

KEPT = 1_000  # sessions whose last Generate time is kept (the oldest goes first)


def duration(seconds: float) -> str:
    """Seconds as a person reads them: "0.4 s", "12 s", "3 min 5 s"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def said(estimate: Estimate, zerogpu: bool) -> str:
    """The estimate in a sentence or two."""
    basis = "measured on earlier requests" if estimate.measured else "the registry's speeds: nothing measured here yet"
    words = (f"Generate: **{estimate.images} images**, {estimate.image_steps:,} denoising steps in all, about "
             f"**{duration(estimate.seconds)}** here with the models loaded ({basis}).")
    if zerogpu:
        words += f" ZeroGPU: it asks for {estimate.zerogpu_seconds} s of your daily GPU quota."
    return words


def took(seconds: float, images: int, estimated: float) -> str:
    """The last Generate's own time, beside what was estimated for it."""
    return f"Last Generate: {images} images in {duration(seconds)} (estimated {duration(estimated)})."


class Cost:
    """The cost box's handlers: the estimate for the form as it is, and the time each session's
    last Generate took (kept here by session, set by the Compare tab's generate handler)."""

    def __init__(self, form: FormWidgets, templates: TemplateSet) -> None:
        self.form, self.templates = form, templates
        self._last: dict[str, tuple[CompareForm, str]] = {}  # by session, the newest last

    def estimate(self, form: CompareForm) -> Estimate:
        """The estimate for `form`; a form that cannot run (or that asks for more than one call
        may) raises its sentence."""
        comparison, judges = form.resolve(self.templates, self.form.runtime)
        estimate = budget.estimate(comparison, judges)
        if gpu.on_zerogpu():
            budget.check_duration(estimate.zerogpu_seconds)
        return estimate

    def describe(self, request: gr.Request, **fields) -> str:
        """What the form as it is will cost, or why it cannot run (the sentence Generate would show)."""
        try:
            form = CompareForm.from_fields(fields)
            words = said(self.estimate(form), gpu.on_zerogpu())
        except PlaygroundError as exc:
            return f"⚠ {text(str(exc))}"
        last = self._last.get(request.session_hash or "")
        return f"{words}\n\n{last[1]}" if last and last[0] == form else words

    def ran(self, request: gr.Request | None, form: CompareForm, estimated: float, seconds: float, images: int) -> None:
        """Keep what the session's Generate of `form` took (shown while the form stays as it was)."""
        if request is not None and request.session_hash:
            self._last.pop(request.session_hash, None)
            self._last[request.session_hash] = (form, took(seconds, images, estimated))
            while len(self._last) > KEPT:
                del self._last[next(iter(self._last))]


def wire(cost: Cost, box: gr.Markdown) -> None:
    """The box follows every change of the form (outside the queue: a running grid does not
    hold it up)."""
    gr.on([w.change for w in cost.form.widgets.values() if hasattr(w, "change")], cost.describe,
          inputs_kwargs=cost.form.widgets, outputs=box, queue=False, show_progress="hidden", api_name="estimate_cost",
          trigger_mode="always_last")
