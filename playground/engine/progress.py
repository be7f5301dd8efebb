"""One progress report for a whole grid: image-steps done, images done, and the time left.

Every denoising step of every batch, across rows and models, reports through one `StepCounter`,
so a UI draws one bar for the grid: ``progress(done, total, what)`` in image-steps (an image
denoised one step), with `what` in words ("3 of 8 images done · about 12 s left"). The time left
is measured on this request's own denoising (cached images cost none), so it holds on any device.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ProgressFn = Callable[..., None]  # progress(done, total, what): image-steps; or (bytes, total, "Downloading ...")


class StepCounter:
    """Turns each batch's per-step callbacks into one grid-wide ``progress(done, total, what)``."""

    def __init__(self, total: int, images: int, progress: ProgressFn | None, noun: str = "images") -> None:
        self.total, self.images, self.progress, self.noun = total, images, progress, noun
        self.done = self.images_done = 0
        self._batch_end = self._batch_images = 0
        self._denoised = 0  # image-steps actually denoised here, and the seconds they took
        self._denoising_seconds = 0.0
        self._step_began = 0.0

    def batch_callback(self, n_images: int, steps: int, on_step: Callable | None = None):
        """The diffusers `callback_on_step_end` for a batch of `n_images` denoised `steps` steps;
        `on_step(step, timestep, latents)` also runs after each step (engine/previews.py)."""
        base = self.done
        self._batch_end, self._batch_images = base + n_images * steps, n_images
        self._step_began = time.perf_counter()

        def on_step_end(_pipe, step: int, _timestep, callback_kwargs: dict) -> dict:
            now = time.perf_counter()
            self._denoised += n_images
            self._denoising_seconds += now - self._step_began
            self._step_began = now
            self._report(min(base + (step + 1) * n_images, self._batch_end))
            if on_step is not None and "latents" in callback_kwargs:
                on_step(step, _timestep, callback_kwargs["latents"])
            return callback_kwargs

        return on_step_end

    def advance(self, image_steps: int, images: int) -> None:
        """Count work that needs no denoising (images from the cache)."""
        if images:
            self.images_done += images
            self._report(self.done + image_steps)

    def finish_batch(self) -> None:
        self.images_done += self._batch_images
        self._batch_images = 0
        self._report(self._batch_end)  # schedulers with extra internal steps still land exactly

    def what(self) -> str:
        """The report in words: images done of all, and the time left at this request's pace."""
        said = f"{self.images_done} of {self.images} {self.noun} done"
        if not self._denoised or self.done >= self.total:
            return said
        left = self._denoising_seconds / self._denoised * (self.total - self.done)
        return f"{said} · about {_duration(left)} left"

    def _report(self, done: int) -> None:
        self.done = done
        if self.progress:
            self.progress(done, self.total, self.what())


def _duration(seconds: float) -> str:
    """Seconds in the unit a person reads: "8 s", "3 min", "1.5 h"."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
