"""The cells' elementwise steps compiled into fused loops (optional, needs numba).

    approx.py    float32 tanh and sigmoid that LLVM vectorises (fitted by tools/fit_tanh.py)
    compile.py   numba's options and the disk cache every kernel shares
    lstm.py      the LSTM's forward_pointwise and backward_pointwise as fused loops
    gru.py       the GRU's, likewise


NumPy runs each elementwise operation of a step as its own pass over memory: the LSTM's step
is about 20 such passes, which costs as much as its recurrent matrix product at N = H = 128.
The kernels here compute the same formulas in one loop per gate, vectorised by LLVM
(``bptt.nn.kernels.lstm``, ``bptt.nn.kernels.gru``; tanh and sigmoid in ``bptt.nn.kernels.approx``).
The matrix products stay in NumPy. The NumPy functions in ``bptt.nn.cells`` remain the
reference: the two agree to float32 round-off and both pass every gradient test.

A layer's ``backend`` chooses:

    "numpy"   the reference, always available
    "numba"   the fused kernels (``pip install "bptt[fast]"``); float64 uses exact math.tanh
    "auto"    "numba" for float32 when numba is installed, else "numpy" (the default)

The Elman RNN's elementwise step is two NumPy calls (add, then tanh, relu or sigmoid) already,
so it has no fused kernel: under every backend, "numba" included, it runs the NumPy reference
(``with_backend`` returns a cell without kernels unchanged, and the layer's ``backend`` still
reads as resolved).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util

import numpy as np

from bptt.nn.cells import Cell, Pointwise

BACKENDS = ("auto", "numpy", "numba")
FUSED_CELLS = ("lstm", "gru")


def numba_available() -> bool:
    """Whether numba can be imported (without importing it: that takes most of a second)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules["numba"] is None (blocked)
        return False


def resolve_backend(backend: str, dtype) -> str:
    """'auto' | 'numpy' | 'numba' -> 'numpy' or 'numba' for a layer of this dtype."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "numba" if np.dtype(dtype) == np.float32 and numba_available() else "numpy"
    if backend == "numba" and not numba_available():
        raise ImportError(
            'backend="numba" needs numba: install it with pip install "bptt[fast]", '
            'or use backend="numpy"'
        )
    return backend


def load(cell_name: str) -> Pointwise:
    """The fused pointwise pair of 'lstm' or 'gru' (imports numba on first use)."""
    if cell_name not in FUSED_CELLS:
        raise ValueError(f"cell: expected one of {FUSED_CELLS}, got {cell_name!r}")
    module = importlib.import_module(f"bptt.nn.kernels.{cell_name}")
    return Pointwise(module.forward_pointwise, module.backward_pointwise)


def with_backend(cell: Cell, backend: str) -> Cell:
    """``cell`` itself for 'numpy' (or a cell without kernels), else a copy whose elementwise
    step runs the fused kernels; ``backend`` is resolved ('numpy' or 'numba')."""
    if backend != "numba" or cell.name not in FUSED_CELLS:
        return cell
    fused = copy.copy(cell)
    fused.pointwise = load(cell.name)
    return fused
