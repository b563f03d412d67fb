"""Hypothesis profiles: "ci", the default (what .ci/run and the README's command run), and
"thorough" (FLEXVPP_HYPOTHESIS_PROFILE=thorough): ten times the examples, for a deeper run after
changing a planner, a parser or the REST edge.

CI draws new examples on every run (a fresh clone has no example database), so its runs add up;
a failure prints the blob that reproduces it. Tests that size their own example counts say how
many they draw under "ci" through `examples(n)`.
"""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("FLEXVPP_HYPOTHESIS_PROFILE", "ci")
SCALE = {"ci": 1, "thorough": 10}


def load() -> None:
    if PROFILE not in SCALE:
        raise ValueError(f"FLEXVPP_HYPOTHESIS_PROFILE: expected one of {sorted(SCALE)}, got {PROFILE!r}")
    for name, scale in SCALE.items():
        settings.register_profile(name, max_examples=40 * scale, print_blob=True)
    settings.load_profile(PROFILE)


def examples(ci_count: int) -> int:
    """`ci_count` examples under the "ci" profile, ten times as many under "thorough"."""
    return ci_count * SCALE[PROFILE]
