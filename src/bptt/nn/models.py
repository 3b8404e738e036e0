"""Models: a recurrent layer and a head (an embedding below, optionally), one flat parameter dict.

Every model has ``params`` (dotted PyTorch-style names: ``embedding.weight``,
``rnn.weight_ih_l0``, ``head.weight``, ...; the arrays are the layers' own, so an optimizer
updating ``params`` in place updates the layers) and

    loss_and_grads(batch, state=None, *, tapes=None) -> (loss, grads, state, metrics)

where ``grads`` has exactly the keys and shapes of ``params`` (asserted by
``bptt.checks.assert_grads_match``) and ``state`` is the recurrent layer's final state, for
carrying into the next batch of a stream. A ``tapes`` list receives the recurrent layer's
per-step gradients (see ``Recurrent.backward`` and ``bptt.insight.records``); nothing is
recorded when it is None.

    SequenceClassifier   one label per sequence, read out from h_n at each sequence's last
                         real step (both directions when bidirectional)
    SequenceTagger       one label per step (tagging, character language model); optional
                         Embedding input; a (T, N) mask selects which steps carry loss
    SequenceRegressor    real-valued targets, read out at the last step or at every step

Shapes: T steps, N batch, D input, H hidden, K directions, C classes, O outputs, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptt.checks import assert_grads_match, load_arrays_into
from bptt.nn.layers import Embedding, Linear
from bptt.nn.losses import mean_squared_error, softmax_cross_entropy
from bptt.nn.recurrent import Recurrent, make_recurrent


@dataclass
class Batch:
    """inputs (T, N, D) floats or (T, N) token ids; targets per model; lengths (N,); mask (T, N)."""

    inputs: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray | None = None
    mask: np.ndarray | None = None


class Model:
    """A recurrent layer with an optional embedding below and a linear head above."""

    per_step_loss = False  # True when every step can carry loss (truncated BPTT needs it)

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        vocab_size: int | None = None,
        head_input: int | None = None,
        dtype=np.float32,
        rng: np.random.Generator | None = None,
        backend: str = "auto",
    ):
        rng = rng if rng is not None else np.random.default_rng()
        self.dtype = np.dtype(dtype)
        self.embedding = None
        if vocab_size is not None:
            self.embedding = Embedding(vocab_size, input_size, dtype=dtype, rng=rng)
        self.rnn = make_recurrent(
            cell,
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            dtype=dtype,
            rng=rng,
            backend=backend,
        )
        K = self.rnn.num_directions
        self.head = Linear(head_input or K * hidden_size, output_size, dtype=dtype, rng=rng)
        self.params = {
            f"{prefix}.{name}": value
            for prefix, layer in self._layers().items()
            for name, value in layer.params.items()
        }

    def _layers(self) -> dict:
        layers = {"embedding": self.embedding, "rnn": self.rnn, "head": self.head}
        return {k: v for k, v in layers.items() if v is not None}

    def _flat_grads(self, **grads_by_layer) -> dict[str, np.ndarray]:
        """Each layer's gradients under the model's dotted names, checked against ``params``."""
        grads = {f"{prefix}.{n}": g for prefix, gs in grads_by_layer.items() for n, g in gs.items()}
        assert_grads_match(grads, self.params)
        return grads

    def train(self, mode: bool = True) -> Model:
        self.rnn.train(mode)
        return self

    def eval(self) -> Model:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load flat dotted names in place; every missing, unexpected or mis-shaped key at once."""
        load_arrays_into(self.params, state_dict)

    def loss_and_grads(self, batch: Batch, state=None, *, tapes: list | None = None):
        """-> (loss, grads keyed like params, final state, metrics); see the module docstring."""
        return self._run(batch, state, True, tapes)

    def loss(self, batch: Batch, state=None):
        """Forward only (no cache kept for a backward pass) -> (loss, final state, metrics)."""
        loss, _, state, metrics = self._run(batch, state, False)
        return loss, state, metrics

    def _run(self, batch: Batch, state, backward: bool, tapes: list | None = None):
        raise NotImplementedError

    def advance_state(self, inputs: np.ndarray, state=None):
        """Run the recurrent layer over inputs (T, N[, D]) from state; the final state only."""
        x, _ = self._encode(inputs)
        return self.rnn.forward(x, state, for_backward=False)[1]

    def _encode(self, inputs: np.ndarray):
        """Token ids (T, N) -> vectors (T, N, D) through the embedding, or floats unchanged."""
        if self.embedding is None:
            return inputs, None
        return self.embedding.forward(inputs)

    def _grads_below_head(self, d_out, d_state, rnn_cache, enc_cache, head_grads, tapes):
        """Backward from dL/d(rnn output) or dL/d(final state) through the recurrent layer and
        the embedding, if any, to every parameter's gradient. Raw float inputs are data: their
        gradient is not computed (``input_grad=False``)."""
        d_x, _, rnn_grads = self.rnn.backward(
            d_out, rnn_cache, d_state, tapes=tapes, input_grad=self.embedding is not None
        )
        below = {}
        if self.embedding is not None:
            below["embedding"] = self.embedding.backward(d_x, enc_cache)[1]
        return self._flat_grads(head=head_grads, rnn=rnn_grads, **below)


class SequenceClassifier(Model):
    """One class per sequence: logits = head([h_n forward, h_n reverse] of the last layer)."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_classes: int, **kw):
        super().__init__(cell, input_size, hidden_size, num_classes, **kw)

    def logits(self, inputs: np.ndarray, lengths=None, state=None) -> np.ndarray:
        x, _ = self._encode(inputs)
        _, state, _ = self.rnn.forward(x, state, lengths, for_backward=False)
        return self.head.forward(_readout(state, self.rnn))[0]  # (N, C)

    def _run(self, batch: Batch, state, backward: bool, tapes: list | None = None):
        x, enc_cache = self._encode(batch.inputs)
        _, state, rnn_cache = self.rnn.forward(x, state, batch.lengths, for_backward=backward)
        feats = _readout(state, self.rnn)  # (N, K*H)
        logits, head_cache = self.head.forward(feats)  # (N, C)
        loss, d_logits = softmax_cross_entropy(logits, batch.targets)
        correct = int((logits.argmax(axis=1) == batch.targets).sum())
        metrics = {"loss": loss, "correct": correct, "count": len(batch.targets)}
        if not backward:
            return loss, None, state, metrics
        d_feats, head_grads = self.head.backward(d_logits, head_cache)  # (N, K*H)
        d_state = _readout_backward(d_feats, state, self.rnn)
        grads = self._grads_below_head(None, d_state, rnn_cache, enc_cache, head_grads, tapes)
        return loss, grads, state, metrics


def _readout(state, rnn: Recurrent) -> np.ndarray:
    """h_n of the last layer, both directions side by side: (N, K*H)."""
    h_n = state[0] if isinstance(state, tuple) else state  # (L*K, N, H)
    return np.concatenate(list(h_n[-rnn.num_directions :]), axis=1)


def _readout_backward(d_feats: np.ndarray, state, rnn: Recurrent):
    """Scatter dL/d[h_n of the last layer] (N, K*H) back into a full d_state."""
    h_n = state[0] if isinstance(state, tuple) else state
    K, H = rnn.num_directions, rnn.hidden_size
    d_h = np.zeros_like(h_n)  # (L*K, N, H)
    for k in range(K):
        d_h[len(h_n) - K + k] = d_feats[:, k * H : (k + 1) * H]
    return (d_h, None) if isinstance(state, tuple) else d_h


class SequenceTagger(Model):
    """One class per step: logits_t = head(output_t); a language model when vocab_size is set."""

    per_step_loss = True

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_classes: int, **kw):
        super().__init__(cell, input_size, hidden_size, num_classes, **kw)

    def logits(self, inputs: np.ndarray, lengths=None, state=None):
        """-> (logits (T, N, C), final state)."""
        x, _ = self._encode(inputs)
        out, state, _ = self.rnn.forward(x, state, lengths, for_backward=False)
        return self.head.forward(out)[0], state

    def _run(self, batch: Batch, state, backward: bool, tapes: list | None = None):
        x, enc_cache = self._encode(batch.inputs)
        out, state, rnn_cache = self.rnn.forward(x, state, batch.lengths, for_backward=backward)
        logits, head_cache = self.head.forward(out)  # (T, N, C)
        mask = _step_mask(batch, logits.shape[:2])
        loss, d_logits = softmax_cross_entropy(logits, batch.targets, mask)
        hits = (logits.argmax(axis=2) == batch.targets) & mask
        metrics = {"loss": loss, "correct": int(hits.sum()), "count": int(mask.sum())}
        if not backward:
            return loss, None, state, metrics
        d_out, head_grads = self.head.backward(d_logits, head_cache)
        grads = self._grads_below_head(d_out, None, rnn_cache, enc_cache, head_grads, tapes)
        return loss, grads, state, metrics


def _step_mask(batch: Batch, shape: tuple[int, int]) -> np.ndarray:
    """(T, N) bool: steps that carry loss, from the batch's mask and lengths."""
    mask = np.ones(shape, dtype=bool)
    if batch.mask is not None:
        if np.shape(batch.mask) != shape:
            raise ValueError(f"mask: expected shape {shape} (T, N), got {np.shape(batch.mask)}")
        mask &= np.asarray(batch.mask, dtype=bool)
    if batch.lengths is not None:
        mask &= np.arange(shape[0])[:, None] < np.asarray(batch.lengths)[None, :]
    return mask


class SequenceRegressor(Model):
    """Real-valued outputs with mean squared error, at the last real step or at every step."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        readout: str = "last",
        **kw,
    ):
        if readout not in ("last", "every"):
            raise ValueError(f"readout: expected 'last' or 'every', got {readout!r}")
        super().__init__(cell, input_size, hidden_size, output_size, **kw)
        self.readout = readout
        self.per_step_loss = readout == "every"

    def predict(self, inputs: np.ndarray, lengths=None, state=None) -> np.ndarray:
        x, _ = self._encode(inputs)
        out, state, _ = self.rnn.forward(x, state, lengths, for_backward=False)
        feats = out if self.readout == "every" else _readout(state, self.rnn)
        return self.head.forward(feats)[0]

    def _run(self, batch: Batch, state, backward: bool, tapes: list | None = None):
        x, enc_cache = self._encode(batch.inputs)
        out, state, rnn_cache = self.rnn.forward(x, state, batch.lengths, for_backward=backward)
        every = self.readout == "every"
        pred, head_cache = self.head.forward(out if every else _readout(state, self.rnn))
        mask = None  # (T, N, O) for a per-step readout
        if every:
            mask = np.broadcast_to(_step_mask(batch, pred.shape[:2])[..., None], pred.shape)
        loss, d_pred = mean_squared_error(pred, _targets_like(batch.targets, pred), mask)
        metrics = {"loss": loss, "count": int(pred.shape[-2])}  # N
        if not backward:
            return loss, None, state, metrics
        d_feats, head_grads = self.head.backward(d_pred, head_cache)
        if every:
            d_out, d_state = d_feats, None
        else:
            d_out, d_state = None, _readout_backward(d_feats, state, self.rnn)
        grads = self._grads_below_head(d_out, d_state, rnn_cache, enc_cache, head_grads, tapes)
        return loss, grads, state, metrics


def _targets_like(targets: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Targets of the predictions' shape, or that shape without its trailing axis when O = 1."""
    targets = np.asarray(targets)
    if targets.shape == pred.shape:
        return targets
    if pred.shape[-1] == 1 and targets.shape == pred.shape[:-1]:
        return targets[..., None]
    raise ValueError(
        f"targets: expected shape {pred.shape} (as the predictions), got {targets.shape}"
    )
