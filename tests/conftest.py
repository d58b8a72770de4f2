import os
from pathlib import Path

from hypothesis import settings

# CI runs on 2 cores with a 15-minute budget for the whole suite: keep example counts modest there.
settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
