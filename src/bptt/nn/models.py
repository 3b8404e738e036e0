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

Options every model takes (keywords; the defaults are PyTorch's usual model):

    output        "softmax" | "sigmoid_mse" | "sigmoid_bce": the head's loss (``bptt.nn.heads``)
    reduction     "mean" | "sum": the loss of a batch averaged over its items or summed
    bias          False: no biases in the recurrent layer or the head (iamtrask's adder)
    init, init_scale, forget_bias   ``bptt.nn.init``: torch's, uniform or normal; LSTM b_f
    input_size 0  with vocab_size: one-hot inputs of V (min-char-rnn) instead of an embedding
    embedding_dropout, output_dropout   inverted dropout on the recurrent layer's input and on
                  the head's input, in training only (word_language_model's ``drop``)
    tie_weights   the head's weight is the embedding matrix (V, E = K*H); it is one parameter,
                  ``embedding.weight``, whose gradient sums both uses (there is no head.weight)

Shapes: T steps, N batch, D input, H hidden, K directions, C classes, O outputs, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptt.checks import assert_grads_match, check_probability
from bptt.nn.functional import dropout_mask, one_hot
from bptt.nn.heads import check_head, head_labels, head_loss
from bptt.nn.init import init_params, set_forget_bias
from bptt.nn.layers import Embedding, Linear, Parameterized
from bptt.nn.losses import REDUCTIONS, mean_squared_error
from bptt.nn.recurrent import Recurrent, make_recurrent


@dataclass
class Batch:
    """inputs (T, N, D) floats or (T, N) token ids; targets per model; lengths (N,); mask (T, N)."""

    inputs: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray | None = None
    mask: np.ndarray | None = None


class Model(Parameterized):
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
        output: str = "softmax",
        reduction: str = "mean",
        bias: bool = True,
        init: str = "torch",
        init_scale: float = 1.0,
        forget_bias: float | None = None,
        embedding_dropout: float = 0.0,
        output_dropout: float = 0.0,
        tie_weights: bool = False,
        memory_budget: int | str | None = None,
    ):
        rng = rng if rng is not None else np.random.default_rng()
        self.dtype = np.dtype(dtype)
        self.output = check_head(output)
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction  # "sum": the loss (and gradient) of a batch is not averaged
        self.drop = {"embedding": check_probability("embedding_dropout", embedding_dropout)}
        self.drop["output"] = check_probability("output_dropout", output_dropout)
        # token ids in: an embedding of input_size, or with input_size 0 one-hot vectors of V
        self.one_hot = vocab_size is not None and input_size == 0
        self.embedding = None
        if vocab_size is not None and not self.one_hot:
            self.embedding = Embedding(vocab_size, input_size, dtype=dtype, rng=rng)
        self.rnn = make_recurrent(
            cell,
            vocab_size if self.one_hot else input_size,
            hidden_size,
            num_layers=num_layers,
            bias=bias,
            bidirectional=bidirectional,
            dropout=dropout,
            dtype=dtype,
            rng=rng,
            backend=backend,
            memory_budget=memory_budget,
        )
        K = self.rnn.num_directions
        self.head = Linear(head_input or K * hidden_size, output_size, bias, dtype=dtype, rng=rng)
        self.tied = bool(tie_weights)
        if self.tied:
            _tie(self.embedding, self.head)
        self.params = {
            f"{prefix}.{name}": value
            for prefix, layer in self._layers().items()
            for name, value in layer.params.items()
            if not (self.tied and prefix == "head" and name == "weight")  # embedding.weight
        }
        init_params(self.params, init, init_scale, rng)
        if forget_bias is not None:
            set_forget_bias(self.rnn, forget_bias)

    def _layers(self) -> dict:
        layers = {"embedding": self.embedding, "rnn": self.rnn, "head": self.head}
        return {k: v for k, v in layers.items() if v is not None}

    def _flat_grads(self, **grads_by_layer) -> dict[str, np.ndarray]:
        """Each layer's gradients under the model's dotted names, checked against ``params``."""
        grads = {f"{prefix}.{n}": g for prefix, gs in grads_by_layer.items() for n, g in gs.items()}
        if self.tied:  # one matrix used twice: its gradient is the sum of both uses
            grads["embedding.weight"] = grads["embedding.weight"] + grads.pop("head.weight")
        assert_grads_match(grads, self.params)
        return grads

    def train(self, mode: bool = True) -> Model:
        self.rnn.train(mode)
        return self

    def eval(self) -> Model:
        return self.train(False)

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

    def labels(self, logits: np.ndarray) -> np.ndarray:
        """The classes (or bits) logits (..., C) predict (...)."""
        return head_labels(self.output, logits)

    def _encode(self, inputs: np.ndarray):
        """Token ids (T, N) -> vectors (T, N, D) through the embedding (or one-hot), or floats
        unchanged; then the embedding dropout in training. -> (x, (ids, dropout mask))."""
        ids = None
        if self.embedding is not None:
            inputs, ids = self.embedding.forward(inputs)  # (T, N, E)
        elif self.one_hot:
            inputs = one_hot(inputs, self.rnn.input_size, self.dtype)  # (T, N, V)
        x, mask = self._dropout("embedding", inputs)
        return x, (ids, mask)

    def _dropout(self, where: str, x: np.ndarray):
        """Inverted dropout of ``x`` in training mode -> (x, mask or None)."""
        mask = dropout_mask(x.shape, self.drop[where], self.rnn.rng, self.dtype, self.rnn.training)
        return (x, None) if mask is None else (x * mask, mask)

    def _head_forward(self, feats: np.ndarray):
        """The output dropout in training, then the head -> (logits, cache)."""
        feats, mask = self._dropout("output", feats)
        logits, cache = self.head.forward(feats)
        return logits, (cache, mask)

    def _head_backward(self, d_logits: np.ndarray, cache):
        """-> (dL/d feats, the head's grads), back through the output dropout."""
        head_cache, mask = cache
        d_feats, grads = self.head.backward(d_logits, head_cache)
        return (d_feats if mask is None else d_feats * mask), grads

    def _grads_below_head(self, d_out, d_state, rnn_cache, enc_cache, head_grads, tapes):
        """Backward from dL/d(rnn output) or dL/d(final state) through the recurrent layer and
        the embedding, if any, to every parameter's gradient. Raw float inputs (one-hot too)
        are data: their gradient is not computed (``input_grad=False``)."""
        d_x, _, rnn_grads = self.rnn.backward(
            d_out, rnn_cache, d_state, tapes=tapes, input_grad=self.embedding is not None
        )
        below = {}
        if self.embedding is not None:
            ids, mask = enc_cache
            d_x = d_x if mask is None else d_x * mask
            below["embedding"] = self.embedding.backward(d_x, ids)[1]
        return self._flat_grads(head=head_grads, rnn=rnn_grads, **below)


def _tie(embedding: Embedding | None, head: Linear) -> None:
    """The head's weight becomes the embedding's matrix itself (word_language_model's
    ``decoder.weight = encoder.weight``): V outputs from K*H = E features."""
    if embedding is None:
        raise ValueError("tie_weights: expected a model with an embedding (token inputs), got none")
    if embedding.params["weight"].shape != head.params["weight"].shape:
        raise ValueError(
            f"tie_weights: expected the embedding (V, E) = {embedding.params['weight'].shape} "
            f"and the head's weight (V, K*H) = {head.params['weight'].shape} to match "
            "(embedding_dim = hidden_size)"
        )
    head.params["weight"] = embedding.params["weight"]


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
        logits, head_cache = self._head_forward(feats)  # (N, C)
        loss, d_logits, hits = head_loss(self.output, logits, batch.targets, None, self.reduction)
        metrics = {"loss": loss, "correct": int(hits.sum()), "count": len(batch.targets)}
        if not backward:
            return loss, None, state, metrics
        d_feats, head_grads = self._head_backward(d_logits, head_cache)  # (N, K*H)
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
        logits, head_cache = self._head_forward(out)  # (T, N, C)
        mask = _step_mask(batch, logits.shape[:2])
        loss, d_logits, hits = head_loss(self.output, logits, batch.targets, mask, self.reduction)
        metrics = {"loss": loss, "correct": int((hits & mask).sum()), "count": int(mask.sum())}
        if not backward:
            return loss, None, state, metrics
        d_out, head_grads = self._head_backward(d_logits, head_cache)
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
        pred, head_cache = self._head_forward(out if every else _readout(state, self.rnn))
        mask = None  # (T, N, O) for a per-step readout
        if every:
            mask = np.broadcast_to(_step_mask(batch, pred.shape[:2])[..., None], pred.shape)
        targets = _targets_like(batch.targets, pred)
        loss, d_pred = mean_squared_error(pred, targets, mask, self.reduction)
        # count N; items: the entries the mean is over (data-parallel ranks weigh by them)
        items = int(np.count_nonzero(mask)) if every else pred.size
        metrics = {"loss": loss, "count": int(pred.shape[-2]), "items": items}
        if not backward:
            return loss, None, state, metrics
        d_feats, head_grads = self._head_backward(d_pred, head_cache)
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
