"""Hypothesis profiles and shared fixtures.

Profiles (pick with HYPOTHESIS_PROFILE=name or pytest's --hypothesis-profile=name):
- ``ci``: Hypothesis's own ``ci`` profile (loaded automatically when ``CI`` is set), extended
  with ``deadline=None`` and ``derandomize=True``, 100 examples per property; sized for the whole
  suite to stay well under five minutes on two cores (the cross-check properties of
  ``tests/test_properties.py`` take 24-45 s of it, the whole suite about 60 s on a quiet machine).
- ``dev`` (default outside CI): random, 30 examples, quick feedback (8 s for them).
- ``thorough``: 1000 examples, for a long run before a release (4 minutes for them).

Expensive properties run a fixed fraction of the profile's ``max_examples`` (``scaled`` in
``tests/test_properties.py``); ``docs/testing.md`` lists them.

``deadline=None`` everywhere: the first ``torch.optim.SGD`` in a process imports
``torch._dynamo`` (1.5-2 s), which would trip any per-example deadline.

Costly tests carry ``pytest.mark.slow`` (``make test-fast`` leaves them out; ``make test`` and
CI run them): re-running the documented commands (``tests/test_docs.py``), the distributed
launches (``tests/test_distributed.py``), the article's whole run (``tests/test_article_run.py``)
and, marked here, every test parametrized with the ``compiled`` variant (``torch.compile``
compiles for seconds per new shape and dtype).
"""

from __future__ import annotations

import getpass
import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

# One torch CPU thread unless the caller says otherwise: the tests run tiny ops, which two
# threads on two cores only slow down (10x and more when the other core is busy). Set before
# torch is first imported, so it reaches this process and the CLI subprocesses alike.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# torch.compile's on-disk cache is not keyed on ATEN_CPU_CAPABILITY: code cached at one vector
# level fails to build at another (``make test-kernels``, or a user lowering it by hand), so a
# run that sets it gets a cache of its own, for this process and its children.
if os.environ.get("ATEN_CPU_CAPABILITY") and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    _level = os.environ["ATEN_CPU_CAPABILITY"]
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(
        tempfile.gettempdir(), f"torchinductor_{getpass.getuser()}_{_level}"
    )

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile(
    "ci", parent=settings.get_profile("ci"), max_examples=100, derandomize=True, **_common
)
settings.register_profile("dev", max_examples=30, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test whose parameters name the ``compiled`` variant."""
    for item in items:
        params = getattr(item, "callspec", None)
        values = [] if params is None else [str(v) for v in params.params.values()]
        if any(v == "compiled" or v.startswith("compiled:") for v in values):
            item.add_marker(pytest.mark.slow)
