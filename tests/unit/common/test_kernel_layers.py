"""The kernel's pure modules import no driver: a domain or a handler raising use-case errors pulls in no nats,
motor or pymongo (which driver failures mean "a dependency is down" is `common.failures`, for the entrypoints)."""

from __future__ import annotations

import subprocess
import sys

import pytest

DRIVERS = ("nats", "motor", "pymongo", "bson")


@pytest.mark.parametrize("module", ["common.errors", "common.domain"])
def test_a_pure_kernel_module_imports_no_driver(module: str) -> None:
    probe = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({DRIVERS!r})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
