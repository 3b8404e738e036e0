"""``bptt explain``: the five steps of backpropagation through time, with real numbers.

A tiny network, built from the library's own parts (a recurrent layer, ``Linear``, the summed
squared error and the backward ``Tape``) in float64 from a fixed seed:

    RNN:  a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   h_t = tanh(a_t),   h_{-1} = 0
          (LSTM and GRU: the cells of ``bptt.nn.cells``, gates in PyTorch's order)
    y_t = W_hy h_t + b_y                      one output per step
    loss_t = (y_t - target_t)^2               L = sum over t of loss_t

The task: x_t holds 2 inputs with one decimal (drawn from the seed) and target_t = x_{t-1}[0],
the first input one step earlier (0 at t = 0), so the network must carry it across a step.

The five steps: (1) the forward pass, step by step, and the summed loss; (2) the error at the
output dL/dy_t = 2 (y_t - target_t); (3) the error sent back through the hidden states,

    dh_t = W_hy^T dL/dy_t + (the error from step t+1)          da_t = dh_t * (1 - h_t^2) (RNN)

(4) each step's contribution to every weight gradient and their sum; (5) one gradient-descent
step p <- p - lr dL/dp and the loss after it. Every gradient shown (dL/dy_t, dL/dh_t, dL/dc_t,
every parameter's) is checked by central finite differences.

Shapes: T steps, D = 2 inputs, H hidden, G gates; arrays here drop the batch axis (N = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptt.checks import check_nonnegative_int, is_integer
from bptt.insight.gradcheck import numerical_gradient, relative_error
from bptt.insight.records import step_records
from bptt.nn import Linear, make_recurrent, mean_squared_error

CELLS = {"rnn": "rnn_tanh", "lstm": "lstm", "gru": "gru"}  # explain's names -> bptt.nn.CELLS
INPUT_SIZE = 2
EPS, TOL = 1e-5, 1e-6  # finite-difference step and the relative error that passes
DEFAULTS = {"cell": "rnn", "hidden_size": 3, "steps": 4, "seed": 0, "lr": 0.1}
LIMITS = {"hidden_size": 16, "steps": 100}  # a worked example, differenced entry by entry


@dataclass
class Explanation:
    """All the numbers of one worked example; ``to_json`` lists them (see the module doc)."""

    cell: str  # "rnn", "lstm" or "gru"
    hidden_size: int
    steps: int
    seed: int
    lr: float
    x: np.ndarray  # (T, D)
    target: np.ndarray  # (T,)
    params: dict[str, np.ndarray]  # "rnn.weight_ih_l0", ..., "head.weight", "head.bias"
    h: np.ndarray  # (T, H)
    c: np.ndarray | None  # (T, H), LSTM
    gates: dict[str, np.ndarray]  # each (T, H): i, f, g, o or r, z, n (and hn for GRU)
    y: np.ndarray  # (T,)
    loss_t: np.ndarray  # (T,)
    loss: float
    dy: np.ndarray  # (T,) dL/dy_t
    dh_from_output: np.ndarray  # (T, H) W_hy^T dL/dy_t
    dh: np.ndarray  # (T, H) dL/dh_t
    dc: np.ndarray | None  # (T, H) dL/dc_t, LSTM: the whole error at c_t (also through h_t)
    dc_from_next: np.ndarray | None  # (T, H) dc_{t+1} * f_{t+1}, the part from step t+1
    d_ax: np.ndarray  # (T, G*H) gate gradients, input side
    d_ah: np.ndarray  # (T, G*H) gate gradients, hidden side (differs from d_ax for GRU only)
    contributions: dict[str, np.ndarray]  # name -> (T, *shape): step t's share
    grads: dict[str, np.ndarray]  # name -> the gradient, the sum over t
    fd_errors: dict[str, float]  # "dy", "dh", ["dc"], and every parameter -> max relative error
    params_after: dict[str, np.ndarray]
    y_after: np.ndarray  # (T,)
    loss_t_after: np.ndarray  # (T,)
    loss_after: float

    @property
    def fd_ok(self) -> bool:
        return all(e <= TOL for e in self.fd_errors.values())

    def to_json(self) -> dict:
        """Every number, parameters and inputs included, as nested lists."""

        def arrays(d):
            return {k: v.tolist() for k, v in d.items()}

        forward = {"h": self.h.tolist()}
        backward = {"dy": self.dy.tolist(), "dh_from_output": self.dh_from_output.tolist()}
        backward["dh"] = self.dh.tolist()
        if self.c is not None:
            forward["c"] = self.c.tolist()
            backward.update(dc=self.dc.tolist(), dc_from_next=self.dc_from_next.tolist())
        return {
            "network": {
                "cell": CELLS[self.cell],
                "input_size": INPUT_SIZE,
                "hidden_size": self.hidden_size,
                "output_size": 1,
                "steps": self.steps,
                "seed": self.seed,
                "output": "y_t = W_hy h_t + b_y with W_hy = head.weight, b_y = head.bias",
                "loss": "L = sum over t of (y_t - target_t)^2",
                "target": "target_t = x[t-1][0], and 0 at t = 0",
            },
            "inputs": {"x": self.x.tolist(), "target": self.target.tolist()},
            "params": arrays(self.params),
            "forward": {
                **forward,
                "gates": arrays(self.gates),
                "y": self.y.tolist(),
                "loss_t": self.loss_t.tolist(),
                "loss": self.loss,
            },
            "backward": {
                **backward,
                "d_ax": self.d_ax.tolist(),
                "d_ah": self.d_ah.tolist(),
            },
            "contributions": arrays(self.contributions),
            "grads": arrays(self.grads),
            "finite_differences": {
                "eps": EPS,
                "tolerance": TOL,
                "max_relative_error": dict(self.fd_errors),
                "ok": self.fd_ok,
            },
            "gradient_step": {
                "lr": self.lr,
                "params": arrays(self.params_after),
                "y": self.y_after.tolist(),
                "loss_t": self.loss_t_after.tolist(),
                "loss": self.loss_after,
            },
        }


def toy_data(steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x (T, 2) with one decimal in [-0.9, 0.9]; target_t = x[t-1, 0], 0 at t = 0."""
    rng = np.random.default_rng([seed, 1])
    x = rng.integers(-9, 10, size=(steps, INPUT_SIZE)) / 10.0  # (T, D)
    target = np.concatenate([[0.0], x[:-1, 0]])  # (T,)
    return x, target


def _check(name: str, value) -> None:
    if not is_integer(value):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if not 1 <= value <= LIMITS[name]:
        raise ValueError(f"{name}: expected an integer in [1, {LIMITS[name]}], got {value}")


def explain(
    cell: str = "rnn", hidden_size: int = 3, steps: int = 4, seed: int = 0, lr: float = 0.1
) -> Explanation:
    """Work the five steps on the tiny network; see the module docstring."""
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {tuple(CELLS)}, got {cell!r}")
    _check("hidden_size", hidden_size)
    _check("steps", steps)
    check_nonnegative_int("seed", seed)
    if not (isinstance(lr, (int, float, np.floating)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
    rng = np.random.default_rng(seed)
    rnn = make_recurrent(CELLS[cell], INPUT_SIZE, hidden_size, dtype=np.float64, rng=rng)
    head = Linear(hidden_size, 1, dtype=np.float64, rng=rng)
    x, target = toy_data(steps, seed)
    xs, targets = x[:, None, :], target[:, None, None]  # (T, 1, D), (T, 1, 1)

    def total_loss() -> float:
        out, _, _ = rnn.forward(xs)
        return mean_squared_error(head.forward(out)[0], targets, reduction="sum")[0]

    out, _, cache = rnn.forward(xs)  # (T, 1, H)
    y, _ = head.forward(out)  # (T, 1, 1)
    loss, dy = mean_squared_error(y, targets, reduction="sum")
    d_out, head_grads = head.backward(dy, out)  # (T, 1, H)
    tapes: list = []
    _, _, rnn_grads = rnn.backward(d_out, cache, tapes=tapes)
    rec = step_records(rnn, cache, tapes)["l0"]

    grads = {f"rnn.{k}": v for k, v in rnn_grads.items()}
    grads.update({f"head.{k}": v for k, v in head_grads.items()})
    contributions = {f"rnn.{k}": v for k, v in rec.contributions.items()}
    per_step = [head.backward(dy[t], out[t])[1] for t in range(steps)]
    for k in head_grads:
        contributions[f"head.{k}"] = np.stack([g[k] for g in per_step])  # (T, *shape)
    params = {f"rnn.{k}": v for k, v in rnn.params.items()}
    params.update({f"head.{k}": v for k, v in head.params.items()})

    gates = {g: a[:, 0] for g, a in rec.gates.items()}
    if cell == "gru":
        gates["hn"] = cache.scans[0].acts[1][:, 0]  # W_hn h_{t-1} + b_hn, inside the reset
    dc = dc_from_next = None
    if cell == "lstm":
        dc_from_next = rec.dc[:, 0]
        tanh_c = np.tanh(rec.c[:, 0])
        dc = dc_from_next + rec.dh[:, 0] * gates["o"] * (1.0 - tanh_c**2)

    fd = _finite_differences(rnn, head, xs, targets, y, rec, total_loss, params, grads, cell)
    before = {k: v.copy() for k, v in params.items()}
    for k, p in params.items():
        p -= lr * grads[k]  # the layers' own arrays: the next forward uses the new weights
    out_after, _, _ = rnn.forward(xs)
    y_after = head.forward(out_after)[0][:, 0, 0]
    after = {k: v.copy() for k, v in params.items()}
    return Explanation(
        cell=cell,
        hidden_size=hidden_size,
        steps=steps,
        seed=seed,
        lr=float(lr),
        x=x,
        target=target,
        params=before,
        h=rec.h[:, 0],
        c=None if rec.c is None else rec.c[:, 0],
        gates=gates,
        y=y[:, 0, 0],
        loss_t=(y[:, 0, 0] - target) ** 2,
        loss=loss,
        dy=dy[:, 0, 0],
        dh_from_output=d_out[:, 0],
        dh=rec.dh[:, 0],
        dc=dc,
        dc_from_next=dc_from_next,
        d_ax=rec.d_ax[:, 0],
        d_ah=rec.d_ah[:, 0],
        contributions=contributions,
        grads=grads,
        fd_errors=fd,
        params_after=after,
        y_after=y_after,
        loss_t_after=(y_after - target) ** 2,
        loss_after=float(((y_after - target) ** 2).sum()),
    )


def _finite_differences(rnn, head, xs, targets, y, rec, total_loss, params, grads, cell):
    """Max relative error of every printed gradient against central differences."""

    def worst(analytic, numerical) -> float:
        return float(relative_error(analytic, numerical).max())

    T = len(xs)
    y_probe = y.copy()
    errors = {
        "dy": worst(
            2.0 * (y - targets),
            numerical_gradient(
                lambda: mean_squared_error(y_probe, targets, reduction="sum")[0], y_probe, EPS
            ),
        )
    }

    def tail_loss(t: int, state) -> float:
        """loss_t + ... + loss_{T-1} as a function of the state at step t."""
        h_t = state[0] if isinstance(state, tuple) else state  # (1, 1, H)
        loss = mean_squared_error(head.forward(h_t[0])[0], targets[t], reduction="sum")[0]
        if t + 1 < T:
            out, _, _ = rnn.forward(xs[t + 1 :], state)
            loss += mean_squared_error(head.forward(out)[0], targets[t + 1 :], reduction="sum")[0]
        return loss

    dh_err, dc_err = 0.0, 0.0
    for t in range(T):
        h_t = rec.h[t][None].copy()  # (1, 1, H)
        if cell == "lstm":
            c_t, o_t = rec.c[t][None].copy(), rec.gates["o"][t][None]

            def loss_of_h(t=t, h_t=h_t, c_t=c_t):
                return tail_loss(t, (h_t, c_t))

            def loss_of_c(t=t, c_t=c_t, o_t=o_t):
                return tail_loss(t, (o_t * np.tanh(c_t), c_t))  # h_t = o_t tanh(c_t) moves too

            tanh_c = np.tanh(rec.c[t])
            dc_t = rec.dc[t] + rec.dh[t] * rec.gates["o"][t] * (1.0 - tanh_c**2)
            dc_err = max(dc_err, worst(dc_t, numerical_gradient(loss_of_c, c_t, EPS)[0]))
        else:

            def loss_of_h(t=t, h_t=h_t):
                return tail_loss(t, h_t)

        dh_err = max(dh_err, worst(rec.dh[t], numerical_gradient(loss_of_h, h_t, EPS)[0]))
    errors["dh"] = dh_err
    if cell == "lstm":
        errors["dc"] = dc_err
    for name, p in params.items():
        errors[name] = worst(grads[name], numerical_gradient(total_loss, p, EPS))
    return errors
