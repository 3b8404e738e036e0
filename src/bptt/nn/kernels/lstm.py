"""The LSTM cell's elementwise step as fused loops: one pass per gate instead of ~20 NumPy calls.

Same equations, arguments and results as ``bptt.nn.cells.lstm.forward_pointwise`` and
``backward_pointwise`` (read those first); the products are grouped the same way, so the two
agree to float32 round-off. Each row n of the batch is a handful of loops over j < H, every
loop over separate row views starting at 0, which is the form LLVM vectorises.

Shapes: N batch, H hidden; gates and d_ax_t (N, 4H) in the order i, f, g, o.
"""

from __future__ import annotations

from bptt.nn.kernels.approx import sigmoid, tanh
from bptt.nn.kernels.compile import kernel


@kernel
def forward_pointwise(gates, ax_t, c_prev, c, tanh_c, h) -> None:
    """gates (N, 4H) holds h_prev W_hh^T on entry, the activated i, f, g, o on exit."""
    N, H = h.shape
    for n in range(N):
        for k in range(4):
            a = gates[n, k * H : (k + 1) * H]
            ax = ax_t[n, k * H : (k + 1) * H]
            if k == 2:
                for j in range(H):
                    a[j] = tanh(a[j] + ax[j])  # g
            else:
                for j in range(H):
                    a[j] = sigmoid(a[j] + ax[j])  # i, f, o
        i, f = gates[n, :H], gates[n, H : 2 * H]
        g, o = gates[n, 2 * H : 3 * H], gates[n, 3 * H :]
        cp, cn, tc, hn = c_prev[n], c[n], tanh_c[n], h[n]
        for j in range(H):
            cn[j] = f[j] * cp[j] + i[j] * g[j]
        for j in range(H):
            tc[j] = tanh(cn[j])
        for j in range(H):
            hn[j] = o[j] * tc[j]


@kernel
def backward_pointwise(dh, dc_next, gates, c_prev, tanh_c, d_ax_t, dc_prev) -> None:
    """Gate gradients into d_ax_t (N, 4H) and dc_{t-1} into dc_prev (N, H)."""
    N, H = dh.shape
    one = gates.dtype.type(1.0)
    for n in range(N):
        i, f = gates[n, :H], gates[n, H : 2 * H]
        g, o = gates[n, 2 * H : 3 * H], gates[n, 3 * H :]
        di, df = d_ax_t[n, :H], d_ax_t[n, H : 2 * H]
        dg, do = d_ax_t[n, 2 * H : 3 * H], d_ax_t[n, 3 * H :]
        dhn, dcn, cp, tc, dcp = dh[n], dc_next[n], c_prev[n], tanh_c[n], dc_prev[n]
        for j in range(H):  # dc, held in dc_prev until the last loop
            dcp[j] = dcn[j] + dhn[j] * o[j] * (one - tc[j] * tc[j])
        for j in range(H):
            di[j] = (dcp[j] * g[j]) * (i[j] * (one - i[j]))
        for j in range(H):
            df[j] = (dcp[j] * cp[j]) * (f[j] * (one - f[j]))
        for j in range(H):
            dg[j] = (dcp[j] * i[j]) * (one - g[j] * g[j])
        for j in range(H):
            do[j] = (dhn[j] * tc[j]) * (o[j] * (one - o[j]))
        for j in range(H):
            dcp[j] = dcp[j] * f[j]
