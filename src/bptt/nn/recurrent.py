"""``Recurrent``: any cell stacked in layers and run in one or two directions; ``RNN``,
``LSTM`` and ``GRU``, its public faces with PyTorch's constructors:

    RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
        batch_first=False, dropout=0.0, bidirectional=False, *, dtype=float32, rng=None,
        backend="auto", memory_budget=None)
    LSTM(...) and GRU(...) take the same arguments but ``nonlinearity``.

Shapes (time-major inside; ``batch_first`` transposes x, output and their gradients only):

    x       (T, N, D)           output  (T, N, K*H)   K = 2 if bidirectional else 1
    h0, h_n (L*K, N, H)         LSTM state: the tuple (h, c), each (L*K, N, H)

Layer l > 0 reads both directions' outputs of layer l-1 (dropout between, in training). The
reverse direction reads each sequence backwards from its last real step (pack_padded_sequence
semantics with ``lengths``); names "l{l}", "l{l}_reverse" (``directions.py``), as PyTorch's.

Parameters carry PyTorch's names, shapes, gate order and initialisation U(-1/sqrt(H), 1/sqrt(H)),
so ``state_dict()`` loads into ``torch.nn.LSTM`` and back.

``backend``: "numpy", "numba" (fused loops, ``bptt.nn.kernels``) or "auto" (numba for float32
when installed) runs the elementwise half of each step; results agree to float32 round-off.
"""

from __future__ import annotations

import warnings

import numpy as np

from bptt import checks as check
from bptt.nn import init, kernels
from bptt.nn.cells import Cell, GRUCell, LSTMCell, RNNCell, Weights, make_cell
from bptt.nn.directions import direction_name
from bptt.nn.functional import dropout_mask
from bptt.nn.layers import Parameterized
from bptt.nn.memory_plan import MemoryPlan, memory_plan
from bptt.nn.recompute import MaskDraw, RecurrentCache, checkpoint_forward
from bptt.nn.scan import Tape, natural_order, reverse_time, scan_backward, scan_forward

_LAYER_DEFAULT = object()  # forward's memory_budget when not given: the layer's own


class Recurrent(Parameterized):
    """Shared machinery of RNN, LSTM and GRU; subclasses choose the cell."""

    def __init__(
        self,
        cell: Cell,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype=np.float32,
        rng: np.random.Generator | None = None,
        backend: str = "auto",
        memory_budget: int | str | None = None,
    ):
        self.memory_budget = check.parse_bytes("memory_budget", memory_budget)
        self.input_size = check.check_positive_int("input_size", input_size)
        self.hidden_size = check.check_positive_int("hidden_size", hidden_size)
        self.num_layers = check.check_positive_int("num_layers", num_layers)
        check.check_probability("dropout", dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout acts between layers only, so with num_layers=1 it does nothing",
                stacklevel=3,
            )
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.dtype = check.check_dtype(dtype)
        self.backend = kernels.resolve_backend(backend, self.dtype)
        self.cell = kernels.with_backend(cell, self.backend)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng: expected a numpy.random.Generator or None, got {type(rng).__name__}; "
                "pass numpy.random.default_rng(seed)"
            )
        self.rng = rng if rng is not None else np.random.default_rng()
        self.training = True
        self.params = self._init_params()

    # ----- parameters -----------------------------------------------------------------------

    def _param_names(self, layer: int, direction: int) -> tuple[str, str, str, str]:
        suffix = direction_name(layer, direction)
        return tuple(f"{p}_{suffix}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _init_params(self) -> dict[str, np.ndarray]:
        """PyTorch's default U(-1/sqrt(H), 1/sqrt(H)), in PyTorch's parameter order."""
        H, GH = self.hidden_size, self.cell.num_gates * self.hidden_size
        bound = 1.0 / np.sqrt(H)
        check.check_memory(
            "hidden_size",
            H,
            self.num_layers
            * self.num_directions
            * GH
            * (self.input_size + H * self.num_directions + 2),
            self.dtype,
        )
        params = {}
        for layer in range(self.num_layers):
            D = self.input_size if layer == 0 else H * self.num_directions
            for direction in range(self.num_directions):
                w_ih, w_hh, b_ih, b_hh = self._param_names(layer, direction)
                shapes = {w_ih: (GH, D), w_hh: (GH, H)}
                if self.bias:
                    shapes.update({b_ih: (GH,), b_hh: (GH,)})
                for name, shape in shapes.items():
                    params[name] = init.uniform(self.rng, bound, shape, self.dtype)
        return params

    def _weights(self, layer: int, direction: int) -> Weights:
        return Weights(*(self.params.get(n) for n in self._param_names(layer, direction)))

    def train(self, mode: bool = True) -> Recurrent:
        self.training = bool(mode)
        return self

    def eval(self) -> Recurrent:
        return self.train(False)

    # ----- forward --------------------------------------------------------------------------

    def _check_state(self, state0, N: int) -> tuple[np.ndarray, ...]:
        LK, H = self.num_layers * self.num_directions, self.hidden_size
        legend = "(num_layers * num_directions, N, hidden_size)"
        if self.cell.num_states == 2:
            if state0 is None:
                state0 = (None, None)
            if not isinstance(state0, tuple) or len(state0) != 2:
                raise TypeError(f"state0: expected a tuple (h0, c0) for LSTM, got {state0!r:.60}")
            names = ("h0", "c0")
        else:
            state0, names = (state0,), ("h0",)
        checked = []
        for name, s in zip(names, state0):
            if s is None:
                checked.append(np.zeros((LK, N, H), dtype=self.dtype))
                continue
            check.check_array(name, s, 3, legend, self.dtype)
            check.check_shape(name, s, (LK, N, H), legend)
            checked.append(s)
        return tuple(checked)

    def memory_plan(self, T: int, N: int, budget=None, policy: str = "dp") -> MemoryPlan:
        """The plan ``forward`` runs for T steps and N sequences in ``budget`` bytes (int, or
        a string such as "64MiB"; default: the layer's ``memory_budget``)."""
        budget = self.memory_budget if budget is None else budget
        return memory_plan(
            T,
            self.cell,
            N,
            self.hidden_size,
            check.parse_bytes("memory_budget", budget),
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dtype=self.dtype,
            policy=policy,
            input_size=self.input_size,
        )

    def forward(
        self,
        x: np.ndarray,
        state0=None,
        lengths=None,
        *,
        for_backward: bool = True,
        memory_budget=_LAYER_DEFAULT,
    ):
        """x (T, N, D), or (N, T, D) with batch_first -> (output, final state, cache).

        ``lengths`` (N,) ints in [1, T]: outputs past a sequence's end are zero and its final
        state is the state at its last real step. ``for_backward=False`` (inference) keeps
        only what the outputs need, which is faster; its cache cannot go to ``backward``.
        ``memory_budget``: bytes (int, or "64MiB") the cache and backward's recomputation
        may hold, or a ``MemoryPlan``; None keeps every step (full BPTT); default: the
        layer's ``memory_budget``. The gradients are the same (``bptt.nn.memory_plan``).
        """
        legend = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        check.check_array("x", x, 3, legend, self.dtype)
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        T, N, D = x.shape
        if T == 0 or N == 0:
            raise ValueError(
                f"x: expected at least one time step and one sequence, got {legend} = "
                f"{(N, T, D) if self.batch_first else (T, N, D)}"
            )
        if D != self.input_size:
            raise ValueError(f"x: expected input_size {self.input_size} features, got {D}")
        states0 = self._check_state(state0, N)
        valid = check.check_lengths(lengths, T, N)
        plan = None
        if memory_budget is _LAYER_DEFAULT:
            memory_budget = self.memory_budget
        if for_backward and memory_budget is not None:
            plan = memory_budget
            if not isinstance(plan, MemoryPlan):
                plan = self.memory_plan(T, N, check.parse_bytes("memory_budget", plan))
            elif plan.T != T:
                raise ValueError(f"memory_budget: expected a plan for T={T}, got T={plan.T}")
            plan = None if plan.policy == "full" else plan
        reverse_index = None
        if valid is not None and not valid.all():
            t = np.arange(T)[:, None]  # (T, 1)
            L = np.asarray(lengths)[None, :]  # (1, N)
            reverse_index = np.where(t < L, L - 1 - t, t)  # (T, N)

        finals = [np.empty_like(s) for s in states0]
        scans, masks, input_bytes = [], [], 0
        layer_input = x  # (T, N, D) then (T, N, K*H)
        for layer in range(self.num_layers):
            outs = []
            for direction in range(self.num_directions):
                idx = layer * self.num_directions + direction
                xs = layer_input if direction == 0 else reverse_time(layer_input, reverse_index)
                if (layer > 0 and direction == 0) or (direction == 1 and reverse_index is not None):
                    input_bytes += xs.nbytes  # made here: the caller's x and views not counted
                args = (self._weights(layer, direction), xs, tuple(s[idx] for s in states0))
                if plan is None:
                    scan = scan_forward(self.cell, *args, valid, for_backward)
                    out, final = scan.outputs, scan.final_state  # (T, N, H), tuple of (N, H)
                else:
                    scan, out, final = checkpoint_forward(self.cell, *args, valid, plan)
                outs.append(out if direction == 0 else reverse_time(out, reverse_index))
                for f, s in zip(finals, final):
                    f[idx] = s
                scans.append(scan)
            layer_input = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)
            mask = None
            if layer < self.num_layers - 1:
                before = self.rng.bit_generator.state
                mask = dropout_mask(
                    layer_input.shape, self.dropout, self.rng, self.dtype, self.training
                )
                layer_input = layer_input if mask is None else layer_input * mask
                if mask is not None and plan is not None:  # drawn again by backward
                    mask = MaskDraw(before, mask.shape, self.dropout, self.dtype)
            masks.append(mask)
        output = layer_input.transpose(1, 0, 2) if self.batch_first else layer_input
        state = tuple(finals) if self.cell.num_states == 2 else finals[0]
        cache = RecurrentCache(
            scans, masks, reverse_index, self.batch_first, plan, input_bytes, self.cell.name
        )
        return output, state, cache

    __call__ = forward

    # ----- backward -------------------------------------------------------------------------

    def backward(
        self, d_output, cache: RecurrentCache, d_state=None, *, tapes=None, input_grad=True
    ):
        """Gradients of a loss given dL/d output (or None) and dL/d final state (or None).

        Returns (d_x, d_state0, grads): d_x shaped like x, d_state0 shaped like the state, and
        grads keyed and shaped exactly like ``params``. With ``input_grad=False`` d_x is None
        and its matrix product is skipped (PyTorch's ``x.requires_grad=False``).
        ``tapes``, a list, receives one ``Tape`` per layer and direction (index l * K + k,
        time in natural order) with every step's gradients; nothing is recorded when it is None.
        """
        K, H = self.num_directions, self.hidden_size
        if not isinstance(cache, RecurrentCache) or len(cache.scans) != self.num_layers * K:
            raise TypeError(
                "cache: expected the RecurrentCache returned by this layer's forward, "
                f"got {type(cache).__name__}"
            )
        if cache.cell != self.cell.name:
            raise TypeError(
                f"cache: expected one from a {self.cell.name} layer's forward, "
                f"got one from a {cache.cell or 'unknown'} layer"
            )
        if tapes is not None and not isinstance(tapes, list):
            raise TypeError(f"tapes: expected a list or None, got {type(tapes).__name__}")
        if not cache.scans[0].for_backward:
            raise ValueError(
                "cache: expected one from forward(..., for_backward=True), got "
                "an inference cache (for_backward=False), which keeps too little"
            )
        first = cache.scans[0]
        T, N, _ = first.xs.shape
        legend = "(N, T, K*H)" if cache.batch_first else "(T, N, K*H)"
        d_out = None
        if d_output is not None:
            check.check_array("d_output", d_output, 3, legend, self.dtype)
            expected = (N, T, K * H) if cache.batch_first else (T, N, K * H)
            check.check_shape("d_output", d_output, expected, legend + " (as the output)")
            d_out = d_output.transpose(1, 0, 2) if cache.batch_first else d_output
        if self.cell.num_states == 2:
            d_state = (None, None) if d_state is None else d_state
            if not isinstance(d_state, tuple) or len(d_state) != 2:
                raise TypeError(
                    "d_state: expected a tuple (d_h_n, d_c_n) for LSTM (either may "
                    f"be None), got {type(d_state).__name__}"
                )
        else:
            d_state = (d_state,)
        for name, d in zip(("d_h_n", "d_c_n"), d_state):
            if d is not None:
                check.check_array(name, d, 3, "(L*K, N, H)", self.dtype)
                check.check_shape(name, d, (self.num_layers * K, N, H), "(L*K, N, H)")

        grads: dict[str, np.ndarray] = {}
        tapes_by_idx: dict[int, Tape] = {}
        d_state0 = [np.zeros((self.num_layers * K, N, H), dtype=self.dtype) for _ in d_state]
        for layer in reversed(range(self.num_layers)):
            mask = cache.mask(layer) if d_out is not None else None
            if mask is not None:
                d_out = d_out * mask
            d_in = None  # gradient with respect to this layer's input, summed over directions
            for direction in range(K):
                idx = layer * K + direction
                d_out_k = (
                    None if d_out is None else d_out[:, :, direction * H : (direction + 1) * H]
                )
                if direction == 1 and d_out_k is not None:
                    d_out_k = reverse_time(d_out_k, cache.reverse_index)
                w = self._weights(layer, direction)
                tape = None if tapes is None else Tape()
                d_xs, d_s0, g = scan_backward(
                    self.cell,
                    w,
                    cache.scans[idx],
                    d_out_k,
                    tuple(None if d is None else d[idx] for d in d_state),
                    tape,
                    input_grad=input_grad or layer > 0,
                )
                if tape is not None:
                    tapes_by_idx[idx] = (
                        tape if direction == 0 else natural_order(tape, cache.reverse_index)
                    )
                if d_xs is not None:
                    if direction == 1:
                        d_xs = reverse_time(d_xs, cache.reverse_index)
                    d_in = d_xs if d_in is None else d_in + d_xs
                for k, d in enumerate(d_s0):
                    d_state0[k][idx] = d
                for name, value in zip(self._param_names(layer, direction), g):
                    if value is not None:
                        grads[name] = value
            d_out = d_in
        check.assert_grads_match(grads, self.params)
        if tapes is not None:
            tapes.extend(tapes_by_idx[i] for i in sorted(tapes_by_idx))
        d_x = d_out.transpose(1, 0, 2) if cache.batch_first and d_out is not None else d_out
        d_s = tuple(d_state0) if self.cell.num_states == 2 else d_state0[0]
        return d_x, d_s, grads

    def __repr__(self) -> str:
        extra = f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        extra += ", bidirectional=True" if self.bidirectional else ""
        extra += ", batch_first=True" if self.batch_first else ""
        extra += f", dropout={self.dropout}" if self.dropout else ""
        extra += ", bias=False" if not self.bias else ""
        return (
            f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra}, "
            f"dtype={self.dtype.name}, backend={self.backend!r})"
        )


class RNN(Recurrent):
    """Elman RNN, h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh, relu or
    sigmoid (beyond torch.nn.RNN, which has tanh and relu); see the module doc."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", *args, **kw):
        super().__init__(RNNCell(nonlinearity), input_size, hidden_size, num_layers, *args, **kw)
        self.nonlinearity = nonlinearity


class LSTM(Recurrent):
    """Long short-term memory, gates i, f, g, o; state (h, c); see ``bptt.nn.cells.lstm``."""

    def __init__(self, input_size, hidden_size, *args, **kw):
        super().__init__(LSTMCell(), input_size, hidden_size, *args, **kw)


class GRU(Recurrent):
    """Gated recurrent unit, gates r, z, n (b_hn inside the reset product); see cells.gru."""

    def __init__(self, input_size, hidden_size, *args, **kw):
        super().__init__(GRUCell(), input_size, hidden_size, *args, **kw)


def make_recurrent(cell: str, input_size: int, hidden_size: int, **kwargs) -> Recurrent:
    """A cell name of ``bptt.nn.cells.CELLS`` -> its layer; kwargs as for ``RNN``."""
    made = make_cell(cell)
    if isinstance(made, RNNCell):
        return RNN(input_size, hidden_size, nonlinearity=made.nonlinearity, **kwargs)
    return (LSTM if isinstance(made, LSTMCell) else GRU)(input_size, hidden_size, **kwargs)
