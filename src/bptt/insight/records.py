"""Making BPTT visible: what happens at every step, recorded only on request.

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

Jacobian products and the spectra of W_hh are in ``jacobians.py``; the gradient flow during
training (norms of dL/dh_t over t, gradient norms, update ratios) is recorded by the
trainer's ``bptt.train.FlowMonitor``.

Shapes: T steps, N batch, D input, H hidden, G gates, K directions, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptt.nn import Weights, direction_names, reverse_time


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


def step_records(layer, cache, tapes: list) -> dict[str, StepRecord]:
    """Per-step records from a layer's forward ``cache`` and the ``tapes`` its backward filled."""
    K, H = layer.num_directions, layer.hidden_size
    names = direction_names(layer.num_layers, K)
    if len(tapes) != len(names) or len(cache.scans) != len(names):
        raise ValueError(
            f"tapes: expected {len(names)} (one per layer and direction, from "
            f"backward(..., tapes=[])), got {len(tapes)}"
        )
    gate_names = layer.cell.gate_names
    records = {}
    for idx, (name, scan, tape) in enumerate(zip(names, cache.scans, tapes)):

        def nat(a, reverse=idx % K == 1):  # a reverse direction's arrays run backwards in time
            return reverse_time(a, cache.reverse_index) if reverse else a

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
    """Loss, gradients and per-step records of a ``bptt.nn.models`` model on one batch.

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
