"""What a test needs from the machine: a skip on a developer's machine, a failure in CI.

CI installs everything (scripts/setup.sh): there a missing tool, font or the corpus is a
broken setup, and a skip would hide it.  ``CI`` (set by CI) or ``ZHENGLIAN_REQUIRE_ALL=1``
turns every :func:`require` into a failure.

- in a test or fixture: ``require(shutil.which("java"), "needs a JDK")``;
- for a whole module: ``pytestmark = pytest.mark.requires(ok, reason="…")``.
"""

from __future__ import annotations

import os

import pytest


def strict() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("ZHENGLIAN_REQUIRE_ALL") == "1"


def require(ok: object, why: str) -> None:
    if ok:
        return
    if strict():
        pytest.fail(f"{why} (CI installs it with scripts/setup.sh; it must not pass as a skip)", pytrace=False)
    pytest.skip(why)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(ok, reason): the test needs this from the machine")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        require(mark.args[0] if mark.args else False, mark.kwargs.get("reason", "a requirement is missing"))
