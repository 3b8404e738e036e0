"""Scalar tanh and sigmoid for the fused kernels, written so that LLVM vectorises them.

numba compiles ``math.tanh`` to one libm call per element, which no loop vectorises. For
float32 the kernels use instead a rational function, evaluated in float32:

    tanh(x) = x * P(x^2) / Q(x^2)     P, Q of degree 4, x clamped to [-9, 9] first

with the coefficients below, fitted for the smallest maximum relative error on [0, 9]
(``tools/fit_tanh.py``: 2.1e-8 in exact arithmetic). Float32 rounding in the two polynomials
brings the error to at most 3.9e-7 absolute (6.4 ulp, near |x| = 7 where tanh is within 1e-6
of 1; NumPy's own float32 ``np.tanh`` is within 1.4 ulp). Evaluating in float64 would bring it
under 1 ulp, at twice the cost of the LSTM's forward kernel. ``tests/test_fused.py`` checks
the bound. Clamping keeps x^8 finite: +-1000 and +-inf give +-(1 - 6e-8), 1 ulp from +-1.

For float64 the kernels call ``math.tanh`` itself: float64 is for checking, not for speed,
and the float64 finite-difference tests then check the fused kernels' formulas exactly.

    sigmoid(a) = (1 + tanh(a / 2)) / 2     as in bptt.nn.functional, never exp of a large number
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

P = (
    0.9999999794523603,
    0.13381049415572857,
    0.003495616340060415,
    2.0609545025687768e-05,
    1.335529911661304e-08,
)
Q = (
    1.0,
    0.4671436501376488,
    0.02587708960312232,
    0.0003285680896564346,
    7.776820025763576e-07,
)
CLAMP = 9.0


def tanh(a):
    """tanh of one float32 or float64 number, inside numba-compiled code only."""
    raise NotImplementedError("bptt.nn.kernels.approx.tanh runs inside numba-compiled code only")


def sigmoid(a):
    """sigmoid of one float32 or float64 number, inside numba-compiled code only."""
    raise NotImplementedError("bptt.nn.kernels.approx.sigmoid runs inside numba-compiled code only")


@overload(tanh, inline="always")
def _tanh(a):
    if a == types.float32:
        p0, p1, p2, p3, p4 = (np.float32(c) for c in P)
        q0, q1, q2, q3, q4 = (np.float32(c) for c in Q)

        def tanh_float32(a):
            x = min(max(a, np.float32(-CLAMP)), np.float32(CLAMP))
            y = x * x
            p = (((p4 * y + p3) * y + p2) * y + p1) * y + p0
            q = (((q4 * y + q3) * y + q2) * y + q1) * y + q0
            return x * p / q

        return tanh_float32
    if a == types.float64:
        return lambda a: math.tanh(a)
    return None


@overload(sigmoid, inline="always")
def _sigmoid(a):
    if a in (types.float32, types.float64):
        dtype = np.float32 if a == types.float32 else np.float64
        half, one = dtype(0.5), dtype(1.0)

        def sigmoid_impl(a):
            return (tanh(half * a) + one) * half

        return sigmoid_impl
    return None
