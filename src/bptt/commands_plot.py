"""The subcommands that make BPTT visible: ``bptt plot``, ``bptt report``, ``bptt vanishing``.

plot RUN [--out DIR]        PNGs of a run directory (default RUN/plots/):
                            curves.png, gradient_flow.png and dh_profile.png (runs trained
                            with --diagnostics N), states_l0.png, ... (one validation example)
report RUN [--out FILE]     the same pictures, the metrics and the config in one
                            self-contained HTML page (default RUN/report.html)
vanishing [--out DIR]       train a tanh RNN, an LSTM and a GRU on the adding problem and
                            measure how dL/dh_t decays over the T steps (bptt.vanishing)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bptt.cli_options import UsageError


def add_plot_parsers(sub) -> None:
    """The ``plot``, ``report`` and ``vanishing`` subcommands, each help showing its default."""
    from bptt.vanishing import CELLS, VanishingConfig

    plot = sub.add_parser("plot", help="write PNG pictures of a run")
    plot.add_argument("run", type=Path, help="run directory")
    plot.add_argument("--out", type=Path, default=None, help="folder (default: RUN/plots)")
    report = sub.add_parser("report", help="write a self-contained HTML report of a run")
    report.add_argument("run", type=Path, help="run directory")
    report.add_argument("--out", type=Path, default=None, help="file (default: RUN/report.html)")
    report.add_argument(
        "--seed", type=int, default=0, help="seed of the text sample of text runs (default: 0)"
    )
    for p in (plot, report):
        p.add_argument(
            "--example",
            type=int,
            default=0,
            help="which validation example the state pictures show (default: 0)",
        )

    d = VanishingConfig()
    v = sub.add_parser(
        "vanishing",
        help="measure the vanishing gradient of RNN, LSTM and GRU on the adding problem",
        description="Train a tanh RNN, an LSTM and a GRU briefly on the adding problem and "
        "measure how much of the error dL/dh_t reaches each time step; writes one run "
        "directory per cell, a comparison plot and an HTML report.",
    )
    v.add_argument(
        "--length", type=int, default=d.length, help=f"sequence length T (default: {d.length})"
    )
    v.add_argument(
        "--steps", type=int, default=d.steps, help=f"training steps per cell (default: {d.steps})"
    )
    v.add_argument(
        "--hidden-size",
        type=int,
        default=d.hidden_size,
        help=f"hidden units of every cell (default: {d.hidden_size})",
    )
    v.add_argument("--lr", type=float, default=d.lr, help=f"Adam's learning rate (default: {d.lr})")
    v.add_argument(
        "--forget-bias",
        type=float,
        default=None,
        help="initial LSTM forget-gate bias (default: none, PyTorch's initialisation)",
    )
    v.add_argument(
        "--cells",
        nargs="+",
        choices=("rnn_tanh", "rnn_relu", "lstm", "gru"),
        default=list(CELLS),
        help=f"cells to compare (default: {' '.join(CELLS)})",
    )
    v.add_argument(
        "--seed", type=int, default=d.seed, help=f"seed of data and weights (default: {d.seed})"
    )
    v.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the runs, plot and report (default: runs/vanishing-TIMESTAMP)",
    )


def _events(run_dir: Path) -> list:
    from bptt.io import read_jsonl

    path = run_dir / "metrics.jsonl"
    return read_jsonl(path) if path.is_file() else []


def _state_figures(run_dir: Path, example: int) -> dict:
    """Figures of the states and gates of one validation example, by layer-direction."""
    from bptt.commands import load_run
    from bptt.plots import plot_states

    task, options, data, model = load_run(run_dir)
    batch = next(iter(data.validation.epoch(None)))
    N = batch.inputs.shape[1]
    if not 0 <= example < N:
        raise UsageError(f"--example: expected an index in [0, {N}), got {example}")
    inputs = batch.inputs[:, example : example + 1]  # (T, 1[, D])
    lengths = None if batch.lengths is None else batch.lengths[example : example + 1]
    x = inputs if model.embedding is None else model.embedding.forward(inputs)[0]
    _, _, cache = model.rnn.forward(x.astype(model.rnn.dtype), None, lengths)
    title = f"{task}, {options['cell']}, validation example {example}:"
    return plot_states(model.rnn, cache, example=0, title=title)


def run_images(run_dir: Path, *, example: int = 0, log=None) -> dict[str, bytes]:
    """Name -> PNG bytes of every picture of a run (see the module docstring for the names)."""
    from bptt.data import DatasetNotFoundError
    from bptt.plots import plot_curves, plot_gradient_flow, plot_run_profiles, png_bytes

    if not (run_dir / "config.json").is_file():
        raise UsageError(f"RUN: expected a run directory with config.json, got {run_dir}")
    events = _events(run_dir)
    name = run_dir.resolve().name
    figures = {}
    if any(e.get("event") in ("train", "eval") for e in events):
        figures["curves"] = plot_curves(events, title=f"{name}: training curves")
    flow = plot_gradient_flow(events, title=f"{name}: ||dL/dh_t|| during training")
    if flow is not None:
        figures["gradient_flow"] = flow
        figures["dh_profile"] = plot_run_profiles(events, title=f"{name}: ||dL/dh_t|| against t")
    if (run_dir / "model.safetensors").is_file():
        try:
            states = _state_figures(run_dir, example)
            figures.update({f"states_{k}": fig for k, fig in states.items()})
        except DatasetNotFoundError as e:  # a run copied without its data still has its curves
            if log is not None:
                log(f"bptt: note: no state pictures, the task's data is missing: {e}")
    return {k: png_bytes(fig) for k, fig in figures.items()}


def write_run_plots(run_dir: Path, out_dir: Path | None = None, *, example: int = 0) -> list[Path]:
    """Write the run's PNGs into out_dir (default run_dir/plots); returns their paths."""
    from bptt.io import atomic_write_bytes

    out_dir = run_dir / "plots" if out_dir is None else out_dir
    images = run_images(run_dir, example=example, log=_stderr)
    return [atomic_write_bytes(out_dir / f"{k}.png", png) for k, png in images.items()]


def run_report(run_dir: Path, *, example: int = 0, seed: int = 0, sample_length: int = 400) -> str:
    """The HTML page of a run (see bptt.report)."""
    from bptt.io import read_json
    from bptt.report import run_report_html

    images = run_images(run_dir, example=example, log=_stderr)
    config = read_json(run_dir / "config.json")
    summary_path = run_dir / "summary.json"
    summary = read_json(summary_path) if summary_path.is_file() else None
    sample = None
    if config.get("task") == "text" and (run_dir / "model.safetensors").is_file():
        from bptt.commands import load_run
        from bptt.tasks import sample_text

        _, _, data, model = load_run(run_dir)
        rng = np.random.default_rng(seed)
        sample = sample_text(model, data.vocabulary, "", sample_length, 0.8, rng)
    return run_report_html(run_dir.resolve().name, config, summary, images, sample)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _require_matplotlib() -> None:
    """Before any work: a missing matplotlib is a one-line error, not a traceback."""
    from bptt.plots import require_matplotlib

    try:
        require_matplotlib()
    except ImportError as e:
        raise UsageError(str(e)) from None


def cmd_plot(args: argparse.Namespace) -> int:
    _require_matplotlib()
    for path in write_run_plots(args.run, args.out, example=args.example):
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bptt.io import atomic_write_bytes

    _require_matplotlib()
    out = args.run / "report.html" if args.out is None else args.out
    page = run_report(args.run, example=args.example, seed=args.seed)
    print(atomic_write_bytes(out, page.encode("utf-8")))
    return 0


def vanishing_report(results, config, images: dict[str, bytes]) -> str:
    """The demo's page: the comparison, the decay table, each cell's curves and flow."""
    from bptt.report import html_page, image_html, table_html
    from bptt.vanishing import config_dict

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


def cmd_vanishing(args: argparse.Namespace) -> int:
    from bptt.io import atomic_write_bytes, atomic_write_json
    from bptt.plots import plot_curves, plot_gradient_flow, png_bytes
    from bptt.vanishing import VanishingConfig, config_dict, measure, summary_rows

    _require_matplotlib()
    try:
        config = VanishingConfig(
            length=args.length,
            steps=args.steps,
            hidden_size=args.hidden_size,
            lr=args.lr,
            forget_bias=args.forget_bias,
            seed=args.seed,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    out = args.out or Path("runs") / f"vanishing-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out: {out} is not empty; choose another directory")
    print("bptt vanishing: " + json.dumps(config_dict(config), sort_keys=True))
    T = config.length

    def log(r):
        print(
            f"  {r.cell:9s} ||dL/dh_0|| / ||dL/dh_{T - 1}|| = {r.after[0] / r.after[-1]:9.2e}"
            f"   {r.decay_after:6.2f} orders of magnitude after training"
            f" ({r.decay_before:.2f} at init; validation MSE "
            f"{r.validation.get('loss', float('nan')):.4f}; {r.seconds:.0f} s)",
            flush=True,
        )

    results = measure(config, out, args.cells, log=log)
    images = {
        "comparison": png_bytes(
            _comparison(results, f"adding problem, T = {T}: error reaching step t")
        )
    }
    for r in results:
        events = _events(r.run_dir)
        images[f"{r.cell}_curves"] = png_bytes(plot_curves(events, title=f"{r.cell}"))
        flow = plot_gradient_flow(events, title=f"{r.cell}: ||dL/dh_t|| during training")
        if flow is not None:
            images[f"{r.cell}_flow"] = png_bytes(flow)
    paths = [atomic_write_bytes(out / "vanishing.png", images["comparison"])]
    page = vanishing_report(results, config, images)
    paths.append(atomic_write_bytes(out / "report.html", page.encode("utf-8")))
    paths.append(
        atomic_write_json(
            out / "vanishing.json", {"config": config_dict(config), "cells": summary_rows(results)}
        )
    )
    for path in paths:
        print(path)
    return 0


def _comparison(results, title: str):
    """Every cell's e_t after training (solid) and at initialisation (dotted), one axes."""
    from bptt.plots import plot_dh_profiles

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
