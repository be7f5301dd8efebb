"""Hugging Face Space entry: `python app.py` serves the playground.

Without the Hub (or with PLAYGROUND_OFFLINE=1) it starts on the tiny offline models and says so
in a banner. Configuration: environment variables, see README.md; on a Space, gated models need
the secret HF_TOKEN (README "Deploy on a Space").
"""

from playground.models.download import token_from_secrets
from playground.models.runtime import detect_runtime, preload_in_background
from playground.stores.library import seed_library_in_background
from playground.ui import build_demo, launch_kwargs, queued
from playground.workflow.confusion_gallery import draw_in_background

print(token_from_secrets(), flush=True)  # into the Space's log, before anything reads the Hub
runtime = detect_runtime()
demo = build_demo(runtime)

if __name__ == "__main__":
    seed_library_in_background()
    preload_in_background(runtime.models[0])
    draw_in_background(runtime.models[0], runtime.scorers[0], runtime.offline)
    queued(demo).launch(**launch_kwargs())
