"""The kernel's domain layer imports no driver: a domain or a handler raising use-case errors pulls in no nats,
motor or pymongo (which driver failures mean "a dependency is down" is `common.failures`, for the entrypoints)."""

from __future__ import annotations

import subprocess
import sys

import pytest

DRIVERS = ("nats", "motor", "pymongo", "bson", "pydantic", "fastapi")


DOMAIN_LAYER = ["common.errors", "common.domain", "common.clock", "common.timefmt", "common.replies"]


@pytest.mark.parametrize("module", DOMAIN_LAYER)
def test_a_pure_kernel_module_imports_no_driver(module: str) -> None:
    probe = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({DRIVERS!r})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
