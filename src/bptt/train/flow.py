"""The gradient flow during training: a ``diagnostics`` event in metrics.jsonl every N steps.

Per layer and direction, from the backward ``Tape`` of one update: for every t the mean over
the batch of the per-sequence L2 norm ||dL/dh_t[n, :]||_2 (sequences that have ended by step t
are left out of the mean; dL/dc_t likewise for LSTM), each parameter's gradient norm
(Frobenius, before clipping) and its update ratio ||theta_after - theta_before|| /
||theta_before|| around the optimizer step.

Shapes: T steps, N batch, H hidden, K directions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bptt.nn import direction_names


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
