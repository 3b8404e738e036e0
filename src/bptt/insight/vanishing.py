"""The vanishing gradient, measured: tanh RNN vs LSTM vs GRU on the adding problem.

Each cell is trained briefly on the adding problem of length T (the loss is read only at the
last step, so every bit of error that reaches an early step has travelled back through all the
steps after it). Before and after training, on one fixed probe batch, BPTT records the error
reaching every hidden state:

    e_t = mean_n ||dL/dh_t[n, :]||_2            t = 0 .. T-1     (Tape.d_states[0])
    decay = log10(e_{T-1} / e_0)                orders of magnitude lost over T - 1 steps

In a tanh RNN the error is multiplied at every step by W_hh^T diag(1 - h_t^2), whose norm is
mostly below 1, so it shrinks geometrically. The LSTM's cell state passes it on through
dc_{t-1} = f_t * dc_t, which stays near 1 where the forget gates have learned to stay open;
the GRU's update gate does the same for h.

Each cell's run is an ordinary run directory (``bptt report DIR/lstm`` works on it);
``write_outputs`` adds the comparison plot, an HTML page and vanishing.json beside them. The
profiles are measured in float64 on a float64 copy of the trained weights, so even a decay of
hundreds of orders is measured rather than lost to underflow.

Shapes: T steps, N probe batch, H hidden.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bptt.checks import check_positive_int
from bptt.data import adding_problem
from bptt.insight.plots import plot_curves, plot_dh_profiles, plot_gradient_flow, png_bytes
from bptt.insight.report import html_page, image_html, table_html
from bptt.io import atomic_write_bytes, atomic_write_json, read_jsonl
from bptt.nn import CELLS as NN_CELLS
from bptt.nn import SequenceRegressor, mean_squared_error, set_forget_bias
from bptt.tasks import build_model, default_options, get_task
from bptt.train import TrainConfig, Trainer

CELLS = ("rnn_tanh", "lstm", "gru")  # the demo's default comparison


@dataclass(frozen=True)
class VanishingConfig:
    length: int = 100  # T
    steps: int = 2000  # optimizer steps per cell: the LSTM learns the task after ~1000-1400
    hidden_size: int = 32
    batch_size: int = 32
    lr: float = 1e-2
    clip_norm: float = 1.0
    probe_size: int = 128  # N of the probe batch
    diagnostics_every: int = 100  # gradient-flow events in each run's metrics.jsonl
    forget_bias: float | None = None  # LSTM b_f at initialisation (None: PyTorch's init)
    seed: int = 0

    def __post_init__(self):
        for name in ("length", "steps", "hidden_size", "batch_size", "probe_size"):
            check_positive_int(name, getattr(self, name))
        if self.length < 2:
            raise ValueError(f"length: expected at least 2, got {self.length}")


@dataclass
class CellResult:
    cell: str
    before: np.ndarray  # (T,) e_t at initialisation
    after: np.ndarray  # (T,) e_t after training
    loss_before: float  # probe batch MSE
    loss_after: float
    validation: dict = field(default_factory=dict)
    seconds: float = 0.0
    run_dir: Path | None = None

    @property
    def decay_before(self) -> float:
        return decay_orders(self.before)

    @property
    def decay_after(self) -> float:
        return decay_orders(self.after)


def decay_orders(profile) -> float:
    """log10(e_{T-1} / e_0): how many orders of magnitude the error loses on its way to t = 0."""
    e = np.asarray(profile, dtype=np.float64)  # (T,)
    if e.ndim != 1 or len(e) < 2:
        raise ValueError(f"profile: expected a 1-d array of at least 2 norms, got shape {e.shape}")
    if e[-1] <= 0:
        raise ValueError(f"profile: expected a positive error at the last step, got {e[-1]}")
    if e[0] <= 0:
        return float("inf")  # every bit of it vanished, below float64's smallest number
    return float(np.log10(e[-1] / e[0]))


def dh_profile(model, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, float]:
    """(e_t (T,), loss) of a last-step regressor on xs (T, N, D), ys (N,), in float64."""
    twin = SequenceRegressor(
        model.rnn.cell.name,
        model.rnn.input_size,
        model.rnn.hidden_size,
        model.head.params["weight"].shape[0],
        readout="last",
        dtype=np.float64,
    )
    twin.load_state_dict({k: v.astype(np.float64) for k, v in model.params.items()})
    rnn = twin.eval().rnn
    _, state, cache = rnn.forward(xs.astype(np.float64))
    h_n = state[0] if isinstance(state, tuple) else state  # (1, N, H)
    pred, head_x = twin.head.forward(h_n[-1])  # (N, 1)
    loss, d_pred = mean_squared_error(pred, ys.astype(np.float64)[:, None])
    d_feats, _ = twin.head.backward(d_pred, head_x)  # (N, H)
    d_h = np.zeros_like(h_n)
    d_h[-1] = d_feats
    tapes: list = []
    rnn.backward(None, cache, (d_h, None) if isinstance(state, tuple) else d_h, tapes=tapes)
    e = np.linalg.norm(tapes[0].d_states[0], axis=2).mean(axis=1)  # (T,)
    return e, float(loss)


def adding_options(cell: str, config: VanishingConfig) -> dict:
    """Every option of ``bptt train adding`` as it would resolve them, with the demo's values."""
    options = default_options(get_task("adding").defaults)
    c = config
    options.update(
        cell=cell,
        length=c.length,
        hidden_size=c.hidden_size,
        batch_size=c.batch_size,
        lr=c.lr,
        clip_norm=c.clip_norm,
        max_steps=c.steps,
        train_size=c.steps * c.batch_size,  # each example is seen once
        test_size=max(5 * c.probe_size, 5),
        epochs=1,
        eval_every=max(c.steps // 10, 1),
        seed=c.seed,
    )
    if "diagnostics_every" in options:  # the trainer can record the gradient flow
        options["diagnostics_every"] = c.diagnostics_every
    return options


def train_cell(cell: str, config: VanishingConfig, run_dir: Path | None, probe) -> CellResult:
    """Train one cell on the adding problem; e_t on the probe batch before and after."""
    options = adding_options(cell, config)
    train = TrainConfig.from_options(options)
    data = get_task("adding").load(options, train.seed)
    model = build_model(data, options, np.random.default_rng([train.seed, 3000]))
    if cell == "lstm" and config.forget_bias is not None:
        set_forget_bias(model.rnn, config.forget_bias)
    before, loss_before = dh_profile(model, *probe)
    t0 = time.perf_counter()
    trainer = Trainer(
        model,
        train,
        data.train,
        data.validation,
        run_dir=run_dir,
        progress=False,
        extra_config={"task": "adding", "options": options},
    )
    summary = trainer.fit()
    seconds = time.perf_counter() - t0
    after, loss_after = dh_profile(model, *probe)
    return CellResult(
        cell, before, after, loss_before, loss_after, summary.get("final") or {}, seconds, run_dir
    )


def measure(
    config: VanishingConfig = VanishingConfig(), out_dir: Path | None = None, cells=CELLS, log=None
) -> list[CellResult]:
    """Train and measure every cell; runs go to out_dir/<cell> when out_dir is given."""
    unknown = [c for c in cells if c not in NN_CELLS]
    if unknown or not cells:
        raise ValueError(f"cells: expected some of {', '.join(NN_CELLS)}, got {cells!r}")
    probe = adding_problem(
        config.probe_size, config.length, np.random.default_rng([config.seed, 4000])
    )
    results = []
    for cell in cells:
        run_dir = None if out_dir is None else Path(out_dir) / cell
        results.append(train_cell(cell, config, run_dir, probe))
        if log is not None:
            log(results[-1])
    return results


def summary_rows(results: list[CellResult]) -> list[dict]:
    """One JSON-ready row per cell: the decays, the probe losses, validation, seconds."""
    return [
        {
            "cell": r.cell,
            "decay_orders_init": r.decay_before,
            "decay_orders_trained": r.decay_after,
            "ratio_trained": float(r.after[0] / r.after[-1]),
            "probe_loss_init": r.loss_before,
            "probe_loss_trained": r.loss_after,
            "validation": r.validation,
            "seconds": r.seconds,
        }
        for r in results
    ]


def config_dict(config: VanishingConfig) -> dict:
    return dataclasses.asdict(config)


def vanishing_report(results, config, images: dict[str, bytes]) -> str:
    """The demo's page: the comparison, the decay table, each cell's curves and flow."""
    rows = [
        [
            r.cell,
            round(r.decay_before, 2),
            round(r.decay_after, 2),
            f"{r.after[0] / r.after[-1]:.3g}",
            r.validation.get("loss", ""),
            round(r.seconds, 1),
        ]
        for r in results
    ]
    table = table_html(
        [
            "cell",
            "orders lost over T steps, at init",
            "after training",
            "||dL/dh_0|| / ||dL/dh_T-1|| after training",
            "validation MSE",
            "seconds",
        ],
        rows,
    )
    sections = [
        ("Measured decay of dL/dh_t", table),
        (
            "The error reaching each time step",
            image_html(
                images["comparison"],
                "dL/dh_t against t for every cell",
                "Solid: after training; dotted: at initialisation. The loss is read at the "
                "last step only, so this is how much of it reaches each earlier step.",
            ),
        ),
    ]
    for r in results:
        body = "\n".join(
            image_html(images[k], k) for k in (f"{r.cell}_curves", f"{r.cell}_flow") if k in images
        )
        if body:
            sections.append((f"{r.cell}: training", body))
    sections.append(("Configuration", table_html(["option", "value"], config_dict(config).items())))
    intro = (
        f"The adding problem with T = {config.length}: a tanh RNN, an LSTM and a GRU trained for "
        f"{config.steps} steps each. The loss is read at the last step only; the pictures show "
        "how much of its error dL/dh_t reaches each earlier step, before and after training."
    )
    return html_page("bptt: the vanishing gradient, measured", sections, intro)


def comparison_figure(results, title: str):
    """Every cell's e_t after training (solid) and at initialisation (dotted), one axes."""
    fig = plot_dh_profiles(
        {f"{r.cell}, trained": r.after for r in results},
        title=title,
        xlabel="time step t (the loss is read at the last step only)",
    )
    ax = fig.axes[0]
    for k, r in enumerate(results):
        ax.plot(np.arange(len(r.before)), r.before, ":", color=f"C{k}", alpha=0.8)
    ax.plot([], [], ":", color="gray", label="at initialisation")
    ax.legend(loc="best", fontsize="small")
    return fig


def write_outputs(out: Path, results: list[CellResult], config: VanishingConfig) -> list[Path]:
    """vanishing.png (the comparison), report.html and vanishing.json in ``out``."""
    title = f"adding problem, T = {config.length}: error reaching step t"
    images = {"comparison": png_bytes(comparison_figure(results, title))}
    for r in results:
        path = r.run_dir / "metrics.jsonl"
        events = read_jsonl(path) if path.is_file() else []
        images[f"{r.cell}_curves"] = png_bytes(plot_curves(events, title=f"{r.cell}"))
        flow = plot_gradient_flow(events, title=f"{r.cell}: ||dL/dh_t|| during training")
        if flow is not None:
            images[f"{r.cell}_flow"] = png_bytes(flow)
    page = vanishing_report(results, config, images)
    summary = {"config": config_dict(config), "cells": summary_rows(results)}
    return [
        atomic_write_bytes(out / "vanishing.png", images["comparison"]),
        atomic_write_bytes(out / "report.html", page.encode("utf-8")),
        atomic_write_json(out / "vanishing.json", summary),
    ]
