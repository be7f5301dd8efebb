"""Hugging Face Space entry: `python app.py` serves the playground.

Without the Hub (or with PLAYGROUND_OFFLINE=1) it starts on the tiny offline models and says so
in a banner. Configuration: environment variables, see README.md.
"""

from playground.startup import seed_library_in_background
from playground.ui import build_demo, launch_kwargs, queued

demo = build_demo()

if __name__ == "__main__":
    seed_library_in_background()
    queued(demo).launch(**launch_kwargs())
