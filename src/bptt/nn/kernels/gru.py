"""The GRU cell's elementwise step as fused loops.

Same equations, arguments and results as ``bptt.nn.cells.gru.forward_pointwise`` and
``backward_pointwise`` (read those first); the products are grouped the same way, so the two
agree to float32 round-off. Each row n of the batch is a handful of loops over j < H on
separate row views starting at 0, the form LLVM vectorises.

Shapes: N batch, H hidden; gates, d_ax_t and d_ah_t (N, 3H) in the order r, z, n.
"""

from __future__ import annotations

from bptt.nn.kernels.approx import sigmoid, tanh
from bptt.nn.kernels.compile import kernel


@kernel
def forward_pointwise(gates, ax_t, b_hn, h_prev, hn, h) -> None:
    """gates (N, 3H) holds h_prev W_hh^T on entry, the activated r, z, n on exit."""
    N, H = h.shape
    for m in range(N):
        r, z, n = gates[m, :H], gates[m, H : 2 * H], gates[m, 2 * H :]
        ax_r, ax_z, ax_n = ax_t[m, :H], ax_t[m, H : 2 * H], ax_t[m, 2 * H :]
        hn_m, hp, h_m = hn[m], h_prev[m], h[m]
        for j in range(H):
            hn_m[j] = n[j] + b_hn[j]
        for j in range(H):
            r[j] = sigmoid(r[j] + ax_r[j])
        for j in range(H):
            z[j] = sigmoid(z[j] + ax_z[j])
        for j in range(H):
            n[j] = tanh(r[j] * hn_m[j] + ax_n[j])
        for j in range(H):
            h_m[j] = (hp[j] - n[j]) * z[j] + n[j]


@kernel
def backward_pointwise(dh, gates, hn, h_prev, d_ax_t, d_ah_t, dh_direct) -> None:
    """Gate gradients into d_ax_t and d_ah_t (N, 3H); dh * z into dh_direct (N, H)."""
    N, H = dh.shape
    one = gates.dtype.type(1.0)
    for m in range(N):
        r, z, n = gates[m, :H], gates[m, H : 2 * H], gates[m, 2 * H :]
        dx_r, dx_z, da_n = d_ax_t[m, :H], d_ax_t[m, H : 2 * H], d_ax_t[m, 2 * H :]
        dr_h, dz_h, dn_h = d_ah_t[m, :H], d_ah_t[m, H : 2 * H], d_ah_t[m, 2 * H :]
        dh_m, hn_m, hp, dd = dh[m], hn[m], h_prev[m], dh_direct[m]
        for j in range(H):
            da_n[j] = dh_m[j] * (one - z[j]) * (one - n[j] * n[j])
        for j in range(H):
            dx_r[j] = (da_n[j] * hn_m[j]) * (r[j] * (one - r[j]))
        for j in range(H):
            dx_z[j] = (dh_m[j] * (hp[j] - n[j])) * (z[j] * (one - z[j]))
        for j in range(H):
            dr_h[j] = dx_r[j]
        for j in range(H):
            dz_h[j] = dx_z[j]
        for j in range(H):
            dn_h[j] = da_n[j] * r[j]
        for j in range(H):
            dd[j] = dh_m[j] * z[j]
