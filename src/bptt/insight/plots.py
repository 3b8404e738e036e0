"""Pictures of training and of BPTT itself, drawn headless with matplotlib.

Each function takes plain data (metrics.jsonl events, arrays, a forward cache) and returns a
``matplotlib.figure.Figure`` on the Agg canvas; ``save_png`` writes one atomically. Nothing
touches pyplot's global state, so it is safe in threads, tests and servers.

    plot_curves(events)              loss (and accuracy): train per step, raw and smoothed,
                                     validation per evaluation
    plot_gradient_flow(events)       ||dL/dh_t|| over time step t (rows) and training step
                                     (columns), log colour scale, a panel per layer-direction
    plot_dh_profiles(profiles)       ||dL/dh_t|| against t on a log axis, several curves on one
                                     axes: the vanishing gradient of RNN vs LSTM vs GRU
    plot_run_profiles(events)        the same for one run at its first, middle and last
                                     diagnostics (dL/dc_t dashed for LSTM)
    plot_states(layer, cache, ...)   h_t, c_t and every gate of one example: unit x time,
                                     a figure per layer-direction (``state_panels``: the arrays)

The gradient profiles are those of the ``diagnostics`` events (``bptt train --diagnostics N``):

    dh_norms[name][t] = mean_n ||dL/dh_t[n, :]||_2    t = 0 .. T-1, natural time order
    name = "l0", "l0_reverse", "l1", ...             layer l, direction

Optional: needs matplotlib (``pip install "bptt[plot]"``), imported only when a figure is made.
Shapes: T steps, N batch, H hidden, S training steps with diagnostics.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bptt.io import atomic_write_bytes
from bptt.nn import direction_name, make_cell

SIGMOID_GATES = {"i", "f", "o", "r", "z"}  # in [0, 1]; g and n are tanh, in [-1, 1]
NO_VALUE = "#9ecae1"  # heatmap cells without a positive value, apart from magma's colours


def require_matplotlib():
    """(Figure, FigureCanvasAgg, LogNorm), or an ImportError that says how to get them."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import LogNorm
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            "plots need matplotlib, which is not installed; "
            'install it with: pip install "bptt[plot]"'
        ) from e
    return Figure, FigureCanvasAgg, LogNorm


def new_figure(width: float, height: float):
    """A Figure (inches) attached to the Agg canvas, outside pyplot."""
    Figure, FigureCanvasAgg, _ = require_matplotlib()
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_png(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG atomically; returns the path."""
    return atomic_write_bytes(path, png_bytes(fig, dpi))


# ----- training curves ------------------------------------------------------------------------


def smooth(values: Sequence[float], weight: float = 0.9) -> np.ndarray:
    """Exponential moving average, debiased so the first values are not pulled towards 0."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"weight: expected a number in [0, 1), got {weight}")
    values = np.asarray(values, dtype=np.float64)  # (S,)
    out = np.empty_like(values)
    avg = 0.0
    for k, v in enumerate(values):
        avg = weight * avg + (1.0 - weight) * v
        out[k] = avg / (1.0 - weight ** (k + 1))
    return out


def events_of(events: Sequence[Mapping], kind: str) -> list[dict]:
    """The events of one kind in step order; a step logged twice (a resumed run repeats the
    steps after its last checkpoint) keeps its last record."""
    if isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise TypeError(
            f"events: expected a list of metrics.jsonl records, got {type(events).__name__}"
        )
    by_step = {}
    for k, e in enumerate(events):
        if not isinstance(e, Mapping):
            raise TypeError(f"events[{k}]: expected a dict, got {type(e).__name__}")
        if e.get("event") == kind:
            if "step" not in e:
                raise ValueError(f"events[{k}]: expected a 'step' in the {kind} event, got {e}")
            by_step[e["step"]] = dict(e)
    return [by_step[s] for s in sorted(by_step)]


def plot_curves(events: Sequence[Mapping], *, title: str = "", weight: float = 0.9):
    """Loss and, where recorded, accuracy against the optimizer step."""
    train, val = events_of(events, "train"), events_of(events, "eval")
    if not train and not val:
        raise ValueError("events: expected 'train' or 'eval' events, got none")
    metrics = ["loss"] + (["accuracy"] if any("accuracy" in e for e in train + val) else [])
    fig = new_figure(7.0, 3.0 * len(metrics))
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    for ax, metric in zip(axes, metrics):
        rows = [e for e in train if metric in e]
        if rows:
            steps = [e["step"] for e in rows]
            values = [e[metric] for e in rows]
            ax.plot(steps, values, color="C0", alpha=0.25, linewidth=0.8, label="train")
            ax.plot(steps, smooth(values, weight), color="C0", label="train (smoothed)")
        rows = [e for e in val if metric in e]
        if rows:
            ax.plot(
                [e["step"] for e in rows],
                [e[metric] for e in rows],
                "o-",
                color="C1",
                markersize=4,
                label="validation",
            )
        positive = [v for line in ax.get_lines() for v in line.get_ydata()]
        if (
            metric == "loss"
            and positive
            and min(positive) > 0
            and max(positive) > 20 * min(positive)
        ):
            ax.set_yscale("log")
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("optimizer step")
    axes[0].set_title(title or "training curves")
    return fig


# ----- gradient flow --------------------------------------------------------------------------


def _profiles(events: Sequence[Mapping], key: str = "dh_norms"):
    """(steps (S,), {name: (S, T) array}) from the diagnostics events, NaN where T varied."""
    diag = [e for e in events_of(events, "diagnostics") if key in e]
    if not diag:
        return np.zeros(0, dtype=np.int64), {}
    names = list(diag[0][key])
    table = {}
    for name in names:
        rows = [np.asarray(e[key].get(name, []), dtype=np.float64) for e in diag]
        T = max(len(r) for r in rows)
        grid = np.full((len(rows), T), np.nan)  # (S, T)
        for s, r in enumerate(rows):
            grid[s, : len(r)] = r
        table[name] = grid
    return np.array([e["step"] for e in diag]), table


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around increasing centres (S,) -> (S+1,), for pcolormesh."""
    c = np.asarray(centres, dtype=np.float64)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def _log_limits(arrays) -> tuple[float, float]:
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 1e-12, 1.0
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if hi > lo else (lo / 10, hi * 10)


def plot_gradient_flow(events: Sequence[Mapping], *, title: str = ""):
    """Heatmap of ||dL/dh_t||: time step t up, training step across, log colours; one panel
    per layer-direction. None when the events hold no diagnostics."""
    _, _, LogNorm = require_matplotlib()
    from matplotlib import colormaps

    steps, table = _profiles(events)
    if not table:
        return None
    lo, hi = _log_limits(table.values())
    fig = new_figure(7.5, 0.6 + 2.6 * len(table))
    axes = fig.subplots(len(table), 1, sharex=True, squeeze=False)[:, 0]
    x = _edges(steps)
    cmap = colormaps["magma"].with_extremes(bad=NO_VALUE)
    blanks = 0
    for ax, (name, grid) in zip(axes, table.items()):
        masked = np.ma.masked_where(~(np.isfinite(grid) & (grid > 0)), grid)  # log of <= 0
        blanks += int(masked.mask.sum())
        y = np.arange(grid.shape[1] + 1) - 0.5
        mesh = ax.pcolormesh(x, y, masked.T, norm=LogNorm(lo, hi), cmap=cmap, shading="flat")
        ax.set_ylabel(f"{name}: time step t")
    fig.colorbar(mesh, ax=list(axes), label="||dL/dh_t|| (mean over the batch)")
    xlabel = "training step"
    if blanks:  # an error that underflowed to 0 has no logarithm
        xlabel += "     (blue: 0, the error underflowed, or not recorded)"
    axes[-1].set_xlabel(xlabel)
    axes[0].set_title(title or "gradient flow: how much error reaches each time step")
    return fig


def plot_dh_profiles(
    profiles: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    xlabel: str = "time step t",
    ylabel: str = "||dL/dh_t||",
    dashed: Mapping[str, Sequence[float]] | None = None,
):
    """Each curve (label -> values over t) against t on a log axis, all on one axes; ``dashed``
    adds curves drawn dashed (dL/dc_t for instance)."""
    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError(f"profiles: expected a non-empty dict label -> values, got {profiles!r}")
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    for k, (label, values) in enumerate(profiles.items()):
        v = np.asarray(values, dtype=np.float64)  # (T,)
        if v.ndim != 1:
            raise ValueError(f"profiles[{label!r}]: expected a 1-d sequence, got shape {v.shape}")
        ax.plot(np.arange(len(v)), np.where(v > 0, v, np.nan), color=f"C{k}", label=label)
        if dashed and label in dashed:
            d = np.asarray(dashed[label], dtype=np.float64)
            ax.plot(np.arange(len(d)), np.where(d > 0, d, np.nan), "--", color=f"C{k}", alpha=0.7)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(title or "error reaching each time step")
    return fig


def plot_run_profiles(events: Sequence[Mapping], *, title: str = ""):
    """||dL/dh_t|| against t at the first, middle and last diagnostics of a run, per
    layer-direction (dL/dc_t dashed for LSTM). None when the events hold no diagnostics."""
    steps, dh = _profiles(events, "dh_norms")
    if not dh:
        return None
    _, dc = _profiles(events, "dc_norms")
    picks = sorted({0, len(steps) // 2, len(steps) - 1})
    curves, dashed = {}, {}
    for name, grid in dh.items():
        for s in picks:
            label = f"{name}, step {steps[s]}"
            curves[label] = grid[s]
            if name in dc:
                dashed[label] = dc[name][s]
    note = " (dashed: ||dL/dc_t||)" if dashed else ""
    return plot_dh_profiles(
        curves, dashed=dashed, title=(title or "error reaching each time step") + note
    )


# ----- states and gates -----------------------------------------------------------------------


def state_panels(cell: str, scan, example: int = 0, order=None) -> dict[str, np.ndarray]:
    """name -> (T, H) values of one example from a forward ``ScanCache``: h, c (LSTM) and the
    gates (LSTM i, f, g, o; GRU r, z, n). ``order`` (T,) puts a reverse direction's steps back
    in natural time order."""
    N = scan.states[0].shape[1]
    if not 0 <= example < N:
        raise ValueError(f"example: expected an index in [0, {N}), got {example}")
    panels = {"h": scan.states[0][1:, example]}  # (T, H)
    if len(scan.states) == 2:
        panels["c"] = scan.states[1][1:, example]
    H = panels["h"].shape[1]
    for k, gate in enumerate(make_cell(cell).gate_names):  # the blocks of acts[0]
        panels[gate] = scan.acts[0][:, example, k * H : (k + 1) * H]
    if order is not None:
        panels = {k: v[order] for k, v in panels.items()}
    return panels


def plot_state_panels(panels: Mapping[str, np.ndarray], *, title: str = "", max_units: int = 128):
    """One heatmap per panel: unit up, time step across; gates on fixed scales ([0, 1] for
    sigmoid gates, [-1, 1] for h and tanh gates), c on a symmetric scale of its own."""
    if not panels:
        raise ValueError("panels: expected at least one (T, H) array, got none")
    n = len(panels)
    cols = 1 if n < 4 else 2
    rows = -(-n // cols)
    fig = new_figure(6.0 * cols, 0.6 + 2.3 * rows)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True).ravel()
    for ax, (name, values) in zip(axes, panels.items()):
        v = np.asarray(values, dtype=np.float64)[:, :max_units]  # (T, H')
        if name in SIGMOID_GATES:
            kw = {"vmin": 0.0, "vmax": 1.0, "cmap": "viridis"}
        else:
            bound = 1.0 if name != "c" else max(float(np.abs(v).max()), 1e-12)
            kw = {"vmin": -bound, "vmax": bound, "cmap": "RdBu_r"}
        im = ax.imshow(v.T, aspect="auto", origin="lower", interpolation="nearest", **kw)
        ax.set_title(name if name in ("h", "c") else f"gate {name}", fontsize="medium")
        ax.set_ylabel("unit")
        fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[max(n - cols, 0) : n]:
        ax.set_xlabel("time step t")
    fig.suptitle(title or "states and gates of one example")
    return fig


def plot_states(rnn, cache, *, example: int = 0, title: str = "") -> dict[str, object]:
    """Layer-direction name -> figure of its states and gates, from ``rnn.forward``'s cache."""
    K = rnn.num_directions
    figures = {}
    for idx, scan in enumerate(cache.scans):
        layer, k = divmod(idx, K)
        name = direction_name(layer, k)
        order = None
        if k:  # the reverse scan ran backwards in time
            T = scan.xs.shape[0]
            ri = cache.reverse_index
            order = np.arange(T)[::-1] if ri is None else ri[:, example]
        panels = state_panels(rnn.cell.name, scan, example, order)
        figures[name] = plot_state_panels(panels, title=f"{title} {name}".strip())
    return figures
