"""The backends each gradient test runs on: NumPy always, and the fused numba kernels for the
cells that have them. Without numba the numba cases are skipped, and say so; the dev extra
installs numba, so CI runs them."""

import pytest

from bptt.fused import FUSED_CELLS


def backends_for(cell: str) -> list[str]:
    return ["numpy", "numba"] if cell in FUSED_CELLS else ["numpy"]


def require(backend: str) -> None:
    if backend == "numba":
        pytest.importorskip("numba", reason="the numba backend needs numba (pip install numba)")
