"""Level 8: making BPTT visible: what happens at every step, recorded only on request.

Everything here reads what the engine computes anyway: the forward cache (the states and the
cell's saved activations of every step) and the backward ``Tape`` (the error reaching every
state and the gate gradients of every step). Nothing is recorded unless one of these asks.

For each layer and direction, named "l0", "l0_reverse", "l1", ..., in natural time order:

    h_t, c_t (LSTM) and the gates (LSTM i, f, g, o; GRU r, z, n; RNN none)   each (T, N, H)
    dh_t = dL/dh_t    the whole error reaching h_t: from the output at t and from step t+1
    dc_t = dL/dc_t    LSTM: the error reaching the cell state c_t from step t+1 (h_t held
                      fixed), so 0 at the last step unless the loss reads c_n
    step t's share of every weight gradient; summed over t they give the gradient:

        dW_ih[t] = d_ax[t]^T x_t           dW_hh[t] = d_ah[t]^T h_prev[t]
        db_ih[t] = sum_n d_ax[t]           db_hh[t] = sum_n d_ah[t]

    h_prev[t] is the state step t started from: h_{t-1} forwards, h_{t+1} in the reverse
    direction (which reads each sequence backwards from its last real step). Past the end of
    a sequence (``lengths``) the states hold the last real state and every gradient is 0.

Vanishing and exploding gradients, for one layer and direction with its inputs held fixed:

    J(T, t) = dh_T / dh_t = prod_{s=t+1..T} dh_s / dh_{s-1}     ||J|| against the lag T - t
    rho(W) = max |eig(W)|  (spectral radius)        ||W||_2 = largest singular value of W

The training profile (``gradient_flow_profile``) per layer and direction: for every t the mean
over the batch of the per-sequence L2 norm ||dL/dh_t[n, :]||_2 (sequences that have ended by
step t are left out of the mean), each parameter's gradient norm (Frobenius, before clipping)
and its update ratio ||theta_after - theta_before|| / ||theta_before|| around one optimizer step.

Shapes: T steps, N batch, D input, H hidden, G gates, K directions, L layers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from bptt.cells import Weights

GATE_NAMES = {1: (), 3: ("r", "z", "n"), 4: ("i", "f", "g", "o")}  # by G, in PyTorch's order
NORMS = ("spectral", "fro")


@dataclass
class StepRecord:
    """Every step of one layer and direction, natural time order; see the module docstring."""

    name: str  # "l0", "l0_reverse", ...
    xs: np.ndarray  # (T, N, D) the input read at step t
    h: np.ndarray  # (T, N, H) h_t
    h_prev: np.ndarray  # (T, N, H) the state step t started from
    c: np.ndarray | None  # (T, N, H) c_t, LSTM only
    gates: dict[str, np.ndarray]  # each (T, N, H), activated
    dh: np.ndarray  # (T, N, H) dL/dh_t
    dc: np.ndarray | None  # (T, N, H) dL/dc_t, LSTM only
    d_ax: np.ndarray  # (T, N, G*H) gradient of the input-side pre-activations
    d_ah: np.ndarray  # (T, N, G*H) gradient of the hidden-side pre-activations
    contributions: dict[str, np.ndarray]  # parameter name -> (T, *parameter shape)


@dataclass
class Recording:
    """What ``record`` or ``record_model`` returns."""

    layers: dict[str, StepRecord]  # by name, in parameter order
    grads: dict[str, np.ndarray]  # the gradients backward returned
    loss: float | None = None  # record_model only
    output: np.ndarray | None = None  # record only: the layer's output
    d_x: np.ndarray | None = None  # record only: dL/dx


def direction_names(num_layers: int, num_directions: int) -> list[str]:
    """Index l * K + k -> "l{l}" or "l{l}_reverse", the order of tapes and forward caches."""
    return [
        f"l{layer}" + ("_reverse" if k else "")
        for layer in range(num_layers)
        for k in range(num_directions)
    ]


def layer_weights(layer, name: str) -> Weights:
    """The four tensors of direction ``name`` ("l0", "l1_reverse", ...) of a recurrent layer."""
    p = layer.params
    if f"weight_hh_{name}" not in p:
        names = direction_names(layer.num_layers, layer.num_directions)
        raise ValueError(f"name: expected one of {names}, got {name!r}")
    return Weights(
        p[f"weight_ih_{name}"],
        p[f"weight_hh_{name}"],
        *(p.get(f"{b}_{name}") for b in ("bias_ih", "bias_hh")),
    )


def _natural(a: np.ndarray, reverse: bool, reverse_index) -> np.ndarray:
    """A reverse direction's arrays run backwards in time; put them in natural order."""
    if not reverse:
        return a
    if reverse_index is None:
        return a[::-1]
    return a[reverse_index, np.arange(a.shape[1])[None, :]]  # per sequence, within its length


def step_records(layer, cache, tapes: list) -> dict[str, StepRecord]:
    """Per-step records from a layer's forward ``cache`` and the ``tapes`` its backward filled."""
    K, H = layer.num_directions, layer.hidden_size
    names = direction_names(layer.num_layers, K)
    if len(tapes) != len(names) or len(cache.scans) != len(names):
        raise ValueError(
            f"tapes: expected {len(names)} (one per layer and direction, from "
            f"backward(..., tapes=[])), got {len(tapes)}"
        )
    gate_names = GATE_NAMES[layer.cell.num_gates]
    records = {}
    for idx, (name, scan, tape) in enumerate(zip(names, cache.scans, tapes)):
        nat = partial(_natural, reverse=idx % K == 1, reverse_index=cache.reverse_index)
        xs, h, h_prev = nat(scan.xs), nat(scan.states[0][1:]), nat(scan.states[0][:-1])
        gates = {}
        if gate_names:
            activated = nat(scan.acts[0])  # (T, N, G*H)
            gates = {g: activated[:, :, k * H : (k + 1) * H] for k, g in enumerate(gate_names)}
        two = len(scan.states) == 2
        w = layer_weights(layer, name)
        contributions = {
            f"weight_ih_{name}": tape.d_ax.transpose(0, 2, 1) @ xs,  # (T, G*H, D)
            f"weight_hh_{name}": tape.d_ah.transpose(0, 2, 1) @ h_prev,  # (T, G*H, H)
        }
        if w.b_ih is not None:
            contributions[f"bias_ih_{name}"] = tape.d_ax.sum(axis=1)  # (T, G*H)
            contributions[f"bias_hh_{name}"] = tape.d_ah.sum(axis=1)
        records[name] = StepRecord(
            name=name,
            xs=xs,
            h=h,
            h_prev=h_prev,
            c=nat(scan.states[1][1:]) if two else None,
            gates=gates,
            dh=tape.d_states[0],
            dc=tape.d_states[1] if two else None,
            d_ax=tape.d_ax,
            d_ah=tape.d_ah,
            contributions=contributions,
        )
    return records


def record(layer, x, d_output=None, d_state=None, *, state0=None, lengths=None) -> Recording:
    """Forward and backward through a recurrent layer, recording every step.

    ``d_output`` (shaped like the output) and ``d_state`` (like the final state) are dL/d of
    them, as for ``layer.backward``; the other arguments are ``layer.forward``'s.
    """
    out, _, cache = layer.forward(x, state0, lengths)
    tapes: list = []
    d_x, _, grads = layer.backward(d_output, cache, d_state, tapes=tapes)
    return Recording(step_records(layer, cache, tapes), grads, output=out, d_x=d_x)


def record_model(model, batch, state=None) -> Recording:
    """Loss, gradients and per-step records of a ``bptt.models`` model on one batch.

    Runs in eval mode (no dropout), so the forward recorded is the one the gradients came from.
    """
    was_training = model.rnn.training
    model.eval()
    try:
        tapes: list = []
        loss, grads, _, _ = model.loss_and_grads(batch, state, tapes=tapes)
        x, _ = model._encode(batch.inputs)  # the recurrent layer's input (embedded tokens)
        _, _, cache = model.rnn.forward(x, state, batch.lengths)
    finally:
        model.train(was_training)
    return Recording(step_records(model.rnn, cache, tapes), grads, loss=loss)


# ----- vanishing and exploding ----------------------------------------------------------------


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


# ----- the training profile -------------------------------------------------------------------


def mean_row_norms(d: np.ndarray, lengths=None) -> list[float]:
    """(T, N, H) -> for each t the mean over the running sequences of ||d[t, n, :]||_2."""
    norms = np.linalg.norm(d.astype(np.float64), axis=2)  # (T, N)
    if lengths is None:
        return [float(v) for v in norms.mean(axis=1)]
    running = np.arange(d.shape[0])[:, None] < np.asarray(lengths)[None, :]  # (T, N)
    count = np.maximum(running.sum(axis=1), 1)
    return [float(v) for v in (norms * running).sum(axis=1) / count]


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64).ravel()))


def update_ratios(before: dict, after: dict) -> dict[str, float]:
    """||after - before|| / ||before|| per parameter (the denominator floored at 1e-12)."""
    return {
        k: _norm(after[k].astype(np.float64) - before[k]) / max(_norm(before[k]), 1e-12)
        for k in before
    }


def gradient_flow_profile(
    tapes: list, grads: dict, *, num_directions: int = 1, lengths=None
) -> dict:
    """dh_norms (and dc_norms for LSTM) per layer and direction, and the gradient norms.

    ``tapes`` from one backward (index l * K + k), ``grads`` the gradients before clipping,
    ``lengths`` the batch's (N,) lengths or None. See the module docstring for the norms.
    """
    if not tapes or len(tapes) % num_directions:
        raise ValueError(
            f"tapes: expected a multiple of num_directions={num_directions}, got {len(tapes)}"
        )
    names = direction_names(len(tapes) // num_directions, num_directions)
    profile = {
        "dh_norms": {n: mean_row_norms(t.d_states[0], lengths) for n, t in zip(names, tapes)}
    }
    if len(tapes[0].d_states) == 2:
        profile["dc_norms"] = {
            n: mean_row_norms(t.d_states[1], lengths) for n, t in zip(names, tapes)
        }
    profile["grad_norms"] = {k: _norm(g) for k, g in grads.items()}
    return profile


class FlowMonitor:
    """The trainer's recorder: one ``diagnostics`` event every ``every`` optimizer steps.

    It stands in for the model wherever the trainer or truncated BPTT asks for gradients, and
    requests tapes only for the update that will become step s with s % every == 0; every
    other update runs exactly as without it, and recording never changes the arithmetic. With
    truncated BPTT the profile is that update's window (its k1 new steps plus up to k2 - k1
    steps of context), so dh_norms has the window's length.
    """

    def __init__(self, model, every: int, next_step: Callable[[], int]):
        self.model, self.every, self._next_step = model, every, next_step
        self._tapes, self._lengths = None, None

    def __getattr__(self, name):  # per_step_loss, advance_state, ...: the model's own
        return getattr(self.model, name)

    def loss_and_grads(self, batch, state=None):
        if self._next_step() % self.every:
            self._tapes = None
            return self.model.loss_and_grads(batch, state)
        self._tapes, self._lengths = [], batch.lengths
        return self.model.loss_and_grads(batch, state, tapes=self._tapes)

    def before_step(self, grads: dict) -> dict | None:
        """With the raw gradients, before clipping and the optimizer step; None if not due."""
        if self._tapes is None:
            return None
        profile = gradient_flow_profile(
            self._tapes, grads, num_directions=self.model.rnn.num_directions, lengths=self._lengths
        )
        self._tapes = None
        return {"profile": profile, "before": {k: v.copy() for k, v in self.model.params.items()}}

    def event(self, pending: dict, step: int, epoch: int) -> dict:
        """The metrics.jsonl event, once the optimizer has stepped."""
        ratios = update_ratios(pending["before"], self.model.params)
        return {
            "event": "diagnostics",
            "step": step,
            "epoch": epoch,
            **pending["profile"],
            "update_ratios": ratios,
        }
