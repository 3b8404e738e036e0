"""The backends each gradient test runs on: NumPy always, and the fused numba kernels for the
cells that have them. Without numba the numba cases skip and say so, except in CI (CI=true),
where they fail: the dev extra installs numba, so CI must run them."""

import os

import pytest

from bptt.nn.kernels import FUSED_CELLS, numba_available


def backends_for(cell: str) -> list[str]:
    return ["numpy", "numba"] if cell in FUSED_CELLS else ["numpy"]


def require_numba():
    """The numba module, or a skip (a failure in CI) naming what is missing."""
    if not numba_available():
        reason = 'the numba backend needs numba (pip install "bptt[fast]")'
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run these tests, and the dev extra installs it")
        pytest.skip(reason, allow_module_level=True)
    import numba

    return numba


def require(backend: str) -> None:
    if backend == "numba":
        require_numba()
