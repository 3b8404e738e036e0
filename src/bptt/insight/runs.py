"""The pictures and the HTML page of a run directory (``bptt plot``, ``bptt report``).

run_images(run_dir)        name -> PNG bytes: curves.png, gradient_flow.png and
                           dh_profile.png (runs trained with --diagnostics N),
                           states_l0.png, ... (one validation example)
write_run_plots(run_dir)   those PNGs written into run_dir/plots (or another folder)
run_report(run_dir)        the same pictures, the metrics and the config in one
                           self-contained HTML page
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bptt.data import DatasetNotFoundError
from bptt.insight.plots import (
    plot_curves,
    plot_gradient_flow,
    plot_run_profiles,
    plot_states,
    png_bytes,
)
from bptt.insight.report import run_report_html
from bptt.io import atomic_write_bytes, read_json, read_jsonl
from bptt.tasks import load_run, read_run_config, sample_text


def _events(run_dir: Path) -> list:
    path = run_dir / "metrics.jsonl"
    return read_jsonl(path) if path.is_file() else []


def _state_figures(run_dir: Path, example: int) -> dict:
    """Figures of the states and gates of one validation example, by layer-direction."""
    task, options, data, model = load_run(run_dir)
    batch = next(iter(data.validation.epoch(None)))
    N = batch.inputs.shape[1]
    if not 0 <= example < N:
        raise ValueError(f"--example: expected an index in [0, {N}), got {example}")
    inputs = batch.inputs[:, example : example + 1]  # (T, 1[, D])
    lengths = None if batch.lengths is None else batch.lengths[example : example + 1]
    x = inputs if model.embedding is None else model.embedding.forward(inputs)[0]
    _, _, cache = model.rnn.forward(x.astype(model.rnn.dtype), None, lengths)
    title = f"{task}, {options['cell']}, validation example {example}:"
    return plot_states(model.rnn, cache, example=0, title=title)


def run_images(run_dir: Path, *, example: int = 0, log=None) -> dict[str, bytes]:
    """Name -> PNG bytes of every picture of a run (see the module docstring for the names)."""
    read_run_config(run_dir)  # a clear error for a folder that is not a run
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


def write_run_plots(
    run_dir: Path, out_dir: Path | None = None, *, example: int = 0, log=None
) -> list[Path]:
    """Write the run's PNGs into out_dir (default run_dir/plots); returns their paths."""
    out_dir = run_dir / "plots" if out_dir is None else out_dir
    images = run_images(run_dir, example=example, log=log)
    return [atomic_write_bytes(out_dir / f"{k}.png", png) for k, png in images.items()]


def run_report(
    run_dir: Path, *, example: int = 0, seed: int = 0, sample_length: int = 400, log=None
) -> str:
    """The HTML page of a run (see ``report.py``)."""
    images = run_images(run_dir, example=example, log=log)
    config = read_json(run_dir / "config.json")
    summary_path = run_dir / "summary.json"
    summary = read_json(summary_path) if summary_path.is_file() else None
    sample = None
    if config.get("task") == "text" and (run_dir / "model.safetensors").is_file():
        _, _, data, model = load_run(run_dir)
        rng = np.random.default_rng(seed)
        sample = sample_text(model, data.vocabulary, "", sample_length, 0.8, rng)
    return run_report_html(run_dir.resolve().name, config, summary, images, sample)
