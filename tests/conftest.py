"""Hypothesis profiles and shared fixtures.

Profiles (pick with HYPOTHESIS_PROFILE=name or pytest's --hypothesis-profile=name):
- ``ci``: Hypothesis's own ``ci`` profile (loaded automatically when ``CI`` is set), extended
  with ``deadline=None`` and ``derandomize=True``; sized for the whole suite to stay well under
  five minutes on two cores.
- ``dev`` (default outside CI): random, few examples, quick feedback.
- ``thorough``: many examples, for a long run before a release.

``deadline=None`` everywhere: the first ``torch.optim.SGD`` in a process imports
``torch._dynamo`` (1.5-2 s), which would trip any per-example deadline.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", parent=settings.get_profile("ci"), derandomize=True, **_common)
settings.register_profile("dev", max_examples=30, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
