"""The LSTM cell's elementwise step as fused loops: one pass per gate instead of ~20 NumPy calls.

Same equations, arguments and results as ``bptt.nn.cells.lstm.forward_pointwise`` and
``backward_pointwise`` (read those first); the products are grouped the same way, so the two
agree to float32 round-off. The (N, 4H) gate arrays are read as (N, 4, H) views made once per
call, so every loop is over j < H at a fixed row n and gate k: the form LLVM vectorises,
without a row view per n (each view costs numba two reference-count updates).

Shapes: N batch, H hidden; gates and d_ax_t (N, 4H) in the order i, f, g, o.
"""

from __future__ import annotations

from bptt.nn.kernels.approx import sigmoid, tanh
from bptt.nn.kernels.compile import kernel

I, F, G, O = 0, 1, 2, 3  # the gates' places along the middle axis of the (N, 4, H) views


@kernel
def forward_pointwise(gates, ax_t, c_prev, c, tanh_c, h) -> None:
    """gates (N, 4H) holds h_prev W_hh^T on entry, the activated i, f, g, o on exit."""
    N, H = h.shape
    a, ax = gates.reshape(N, 4, H), ax_t.reshape(N, 4, H)
    for n in range(N):
        for k in (I, F, O):
            for j in range(H):
                a[n, k, j] = sigmoid(a[n, k, j] + ax[n, k, j])
        for j in range(H):
            a[n, G, j] = tanh(a[n, G, j] + ax[n, G, j])
        for j in range(H):
            c[n, j] = a[n, F, j] * c_prev[n, j] + a[n, I, j] * a[n, G, j]
        for j in range(H):
            tanh_c[n, j] = tanh(c[n, j])
        for j in range(H):
            h[n, j] = a[n, O, j] * tanh_c[n, j]


@kernel
def backward_pointwise(dh, dc_next, gates, c_prev, tanh_c, d_ax_t, dc_prev) -> None:
    """Gate gradients into d_ax_t (N, 4H) and dc_{t-1} into dc_prev (N, H)."""
    N, H = dh.shape
    one = gates.dtype.type(1.0)
    a, da = gates.reshape(N, 4, H), d_ax_t.reshape(N, 4, H)
    for n in range(N):
        for j in range(H):  # dc, held in dc_prev until the last loop
            o, tc = a[n, O, j], tanh_c[n, j]
            dc_prev[n, j] = dc_next[n, j] + dh[n, j] * o * (one - tc * tc)
        for j in range(H):
            i = a[n, I, j]
            da[n, I, j] = (dc_prev[n, j] * a[n, G, j]) * (i * (one - i))
        for j in range(H):
            f = a[n, F, j]
            da[n, F, j] = (dc_prev[n, j] * c_prev[n, j]) * (f * (one - f))
        for j in range(H):
            g = a[n, G, j]
            da[n, G, j] = (dc_prev[n, j] * a[n, I, j]) * (one - g * g)
        for j in range(H):
            o = a[n, O, j]
            da[n, O, j] = (dh[n, j] * tanh_c[n, j]) * (o * (one - o))
        for j in range(H):
            dc_prev[n, j] = dc_prev[n, j] * a[n, F, j]
