"""Vanishing and exploding gradients, for one layer and direction with its inputs held fixed:

    J(T, t) = dh_T / dh_t = prod_{s=t+1..T} dh_s / dh_{s-1}     ||J|| against the lag T - t
    rho(W) = max |eig(W)|  (spectral radius)        ||W||_2 = largest singular value of W

Shapes: T steps, N batch, H hidden, G gates.
"""

from __future__ import annotations

import numpy as np

from bptt.insight.records import layer_weights
from bptt.nn import GATE_NAMES, direction_names

NORMS = ("spectral", "fro")


def jacobian_norms(layer, cache, name: str = "l0", *, norm: str = "spectral") -> np.ndarray:
    """||dh_T / dh_t|| of each sequence against the lag T - t: (T+1, N), row k = lag k.

    ``cache`` is the layer's forward cache, ``name`` the layer and direction ("l0",
    "l0_reverse", ...), ``norm`` "spectral" (largest singular value, the default: what bounds
    how much of an error survives k steps) or "fro" (Frobenius). T is each sequence's own last
    real step and time runs in the direction's processing order; lags beyond a sequence's
    length are NaN. For LSTM, c_t is held fixed (dh_T/dh_t is the h-block of the state
    Jacobian). Computed by sending the H unit vectors back through the cell's step_backward,
    all sequences at once, with the layer's inputs held fixed.
    """
    if norm not in NORMS:
        raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")
    names = direction_names(layer.num_layers, layer.num_directions)
    w = layer_weights(layer, name)
    scan = cache.scans[names.index(name)]
    T, N, _ = scan.xs.shape
    H, G, cell = layer.hidden_size, layer.cell.num_gates, layer.cell
    lengths = np.full(N, T) if scan.valid is None else scan.valid[:, :, 0].sum(axis=0)
    eye = np.eye(H, dtype=scan.xs.dtype)
    d_state = tuple(
        np.tile(eye, (N, 1)) if k == 0 else np.zeros((N * H, H), dtype=eye.dtype)
        for k in range(len(scan.states))
    )  # (N*H, H): row n*H + j carries dh_T[j] of sequence n
    ord_ = 2 if norm == "spectral" else "fro"
    norms = np.full((T + 1, N), np.nan)
    norms[0] = np.linalg.norm(eye, ord=ord_)
    for t in reversed(range(T)):
        active = t < lengths  # (N,) sequences whose step t is real
        if not active.any():
            continue
        # each sequence's row H times: (N*H, width)
        prev = tuple(np.repeat(s[t], H, axis=0) for s in scan.states)
        now = tuple(np.repeat(s[t + 1], H, axis=0) for s in scan.states)
        acts = tuple(np.repeat(a[t], H, axis=0) for a in scan.acts)
        d_ax = np.empty((N * H, G * H), dtype=eye.dtype)
        d_ah = np.empty_like(d_ax) if cell.separate_hidden_grads else d_ax
        d_prev = cell.step_backward(w, d_state, prev, now, acts, d_ax, d_ah)
        keep = np.repeat(active, H)[:, None]  # (N*H, 1): a padded step passes the error on
        d_state = tuple(np.where(keep, dp, d) for dp, d in zip(d_prev, d_state))
        J = d_state[0].reshape(N, H, H)  # J[n, j, :] = dh_T[j] / dh_t of sequence n
        lag = lengths - t
        norms[lag[active], np.flatnonzero(active)] = np.linalg.norm(
            J[active], ord=ord_, axis=(1, 2)
        )
    return norms


def recurrent_spectra(params: dict[str, np.ndarray]) -> dict[str, dict]:
    """Spectral radius and spectral norm of every W_hh in ``params``, whole and per gate.

    For each key containing "weight_hh": {"spectral_norm": ||W_hh||_2, "spectral_radius":
    max |eig(W_hh)| (None when G > 1: the stacked (G*H, H) matrix is not square), "gates":
    {gate: {"spectral_norm", "spectral_radius"} of its (H, H) block W_h{gate}}} with the gates
    of LSTM (i, f, g, o) or GRU (r, z, n) in PyTorch's order, and no gates for an RNN.
    """
    out = {}
    for name, W in params.items():
        if "weight_hh" not in name:
            continue
        W = np.asarray(W, dtype=np.float64)
        H = W.shape[1]
        G = W.shape[0] // H
        if G not in GATE_NAMES or W.shape[0] != G * H:
            raise ValueError(f"{name}: expected a (G*H, H) matrix with G in 1, 3, 4, got {W.shape}")
        entry = {
            "spectral_norm": float(np.linalg.norm(W, ord=2)),
            "spectral_radius": float(np.abs(np.linalg.eigvals(W)).max()) if G == 1 else None,
            "gates": {},
        }
        for k, gate in enumerate(GATE_NAMES[G]):
            block = W[k * H : (k + 1) * H]  # (H, H)
            entry["gates"][gate] = {
                "spectral_norm": float(np.linalg.norm(block, ord=2)),
                "spectral_radius": float(np.abs(np.linalg.eigvals(block)).max()),
            }
        out[name] = entry
    return out
