"""Pictures of a run (``bptt.insight.plots``, ``bptt plot``): valid, non-blank PNGs drawn from
metrics.jsonl events and from the engine's forward cache, without pyplot's global state."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from bptt import GRU, LSTM, RNN  # noqa: E402
from bptt.cli import main  # noqa: E402
from bptt.insight import (  # noqa: E402
    events_of,
    plot_curves,
    plot_dh_profiles,
    plot_gradient_flow,
    plot_run_profiles,
    plot_states,
    save_png,
    smooth,
    state_panels,
)
from bptt.io import append_jsonl  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fixture_events(T: int = 12, steps=(2, 4, 6, 8), lstm: bool = True, accuracy: bool = True):
    """metrics.jsonl records as the trainer writes them, with diagnostics of two directions."""
    rng = np.random.default_rng(0)
    events = []
    for step in range(1, max(steps) + 1):
        e = {"event": "train", "split": "train", "step": step, "epoch": 0, "loss": 2.0 / step}
        e.update(grad_norm=1.0, lr=1e-3, seconds=0.01)
        if accuracy:
            e["accuracy"] = 1 - 1 / (step + 1)
        events.append(e)
        if step % 4 == 0:
            v = {"event": "eval", "split": "validation", "step": step, "epoch": 0, "loss": 1 / step}
            if accuracy:
                v["accuracy"] = 0.5
            events.append(v)
        if step in steps:
            decay = np.exp(-np.arange(T)[::-1] * rng.uniform(0.5, 1.5))  # (T,) vanishing
            d = {"event": "diagnostics", "step": step, "epoch": 0}
            d["dh_norms"] = {"l0": list(decay), "l0_reverse": list(decay[::-1])}
            if lstm:
                d["dc_norms"] = {"l0": list(decay / 2), "l0_reverse": [0.0] + list(decay[1:])}
            d["grad_norms"] = {"rnn.weight_hh_l0": 0.5}
            d["update_ratios"] = {"rnn.weight_hh_l0": 1e-3}
            events.append(d)
    return events


def assert_png_with_content(path: Path, min_bytes: int = 2000) -> np.ndarray:
    """A PNG file whose pixels are not all one colour; returns the image."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > min_bytes, (path, len(data))
    image = imread(path)  # (rows, cols, 4) floats in [0, 1]
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.05, f"{path} is (nearly) blank"
    return image


def test_curves_png_is_a_valid_non_blank_image_with_a_panel_per_metric(tmp_path):
    fig = plot_curves(fixture_events())
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert_png_with_content(save_png(fig, tmp_path / "curves.png"))
    regression = plot_curves(fixture_events(accuracy=False))
    assert [ax.get_ylabel() for ax in regression.axes] == ["loss"]


def test_curves_draw_raw_smoothed_and_validation_lines():
    ax = plot_curves(fixture_events()).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["train", "train (smoothed)", "validation"]
    validation = ax.get_lines()[2]
    assert list(validation.get_xdata()) == [4, 8]


def test_a_resumed_run_that_logged_a_step_twice_plots_its_last_record():
    events = fixture_events()
    events.append({"event": "train", "step": 3, "epoch": 0, "loss": 99.0})
    train = events_of(events, "train")
    assert [e["step"] for e in train] == sorted({e["step"] for e in train})
    assert next(e for e in train if e["step"] == 3)["loss"] == 99.0


def test_smoothing_is_debiased_and_follows_the_data():
    np.testing.assert_allclose(smooth([3.0] * 20, 0.9), 3.0)
    np.testing.assert_allclose(smooth([1.0, 2.0, 3.0], 0.0), [1.0, 2.0, 3.0])
    step = smooth([0.0] * 10 + [1.0] * 200, 0.9)
    assert step[9] == 0 and 0 < step[10] < 1 and step[-1] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="weight"):
        smooth([1.0], 1.0)


def test_gradient_flow_heatmap_has_a_log_scaled_panel_per_layer_direction(tmp_path):
    from matplotlib.colors import LogNorm

    events = fixture_events(T=12, steps=(2, 4, 6, 8))
    fig = plot_gradient_flow(events)
    panels = [ax for ax in fig.axes if ax.get_ylabel().endswith("time step t")]
    assert [ax.get_ylabel().split(":")[0] for ax in panels] == ["l0", "l0_reverse"]
    mesh = panels[0].collections[0]
    assert isinstance(mesh.norm, LogNorm)
    # rows: time step t; columns: the diagnostics events in step order
    expected = [e["dh_norms"]["l0"] for e in events if e["event"] == "diagnostics"]
    np.testing.assert_allclose(mesh.get_array(), np.array(expected).T)
    assert_png_with_content(save_png(fig, tmp_path / "flow.png"))


def test_gradient_flow_masks_zeros_instead_of_failing_on_the_log_scale(tmp_path):
    events = fixture_events(steps=(4,))
    d = next(e for e in events if e["event"] == "diagnostics")
    d["dh_norms"]["l0"][0] = 0.0  # underflowed to zero in float32
    fig = plot_gradient_flow(events)
    assert fig.axes[0].collections[0].get_array().mask.sum() == 1
    assert_png_with_content(save_png(fig, tmp_path / "flow.png"))


def test_no_diagnostics_means_no_gradient_flow_figure():
    events = [e for e in fixture_events() if e["event"] != "diagnostics"]
    assert plot_gradient_flow(events) is None
    assert plot_run_profiles(events) is None


def test_profiles_of_several_runs_share_one_log_axes(tmp_path):
    T = 50
    t = np.arange(T)
    profiles = {
        "rnn_tanh": np.exp(-(T - 1 - t) * 0.5),  # 10 orders lost
        "lstm": np.exp(-(T - 1 - t) * 0.01),
        "gru": np.exp(-(T - 1 - t) * 0.02),
    }
    fig = plot_dh_profiles(profiles)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == list(profiles)
    assert_png_with_content(save_png(fig, tmp_path / "compare.png"))
    with pytest.raises(ValueError, match="profiles"):
        plot_dh_profiles({})
    with pytest.raises(ValueError, match="1-d"):
        plot_dh_profiles({"x": np.ones((2, 2))})


def test_run_profile_draws_cell_state_errors_dashed_for_lstm():
    fig = plot_run_profiles(fixture_events(steps=(2, 4, 6, 8)))
    lines = fig.axes[0].get_lines()
    solid = [x for x in lines if x.get_linestyle() == "-"]
    dashed = [x for x in lines if x.get_linestyle() == "--"]
    assert len(solid) == 2 * 3 and len(dashed) == len(solid)  # 2 directions x 3 steps
    assert "dL/dc_t" in fig.axes[0].get_title()


@pytest.mark.parametrize(
    "layer, panels",
    [
        (RNN(3, 5, rng=np.random.default_rng(0)), ["h"]),
        (LSTM(3, 5, rng=np.random.default_rng(0)), ["h", "c", "i", "f", "g", "o"]),
        (GRU(3, 5, rng=np.random.default_rng(0)), ["h", "r", "z", "n"]),
    ],
)
def test_state_panels_hold_every_state_and_gate_of_one_example(layer, panels):
    x = np.random.default_rng(1).standard_normal((7, 2, 3)).astype(np.float32)
    out, _, cache = layer.forward(x)
    got = state_panels(layer.cell.name, cache.scans[0], example=1)
    assert list(got) == panels
    assert all(v.shape == (7, 5) for v in got.values())
    np.testing.assert_array_equal(got["h"], out[:, 1])
    for gate in set(panels) & {"i", "f", "o", "r", "z"}:
        assert ((got[gate] >= 0) & (got[gate] <= 1)).all()
    with pytest.raises(ValueError, match="example"):
        state_panels(layer.cell.name, cache.scans[0], example=2)


def test_state_figures_of_a_bidirectional_ragged_layer_are_in_natural_time_order(tmp_path):
    layer = LSTM(3, 4, num_layers=2, bidirectional=True, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((6, 2, 3)).astype(np.float32)
    lengths = np.array([6, 4])
    out, _, cache = layer.forward(x, None, lengths)
    figures = plot_states(layer, cache, example=1)
    assert list(figures) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    # the reverse panel at natural step t is the layer's reverse output at t
    scan = cache.scans[3]
    order = cache.reverse_index[:, 1]
    h = state_panels("lstm", scan, 1, order)["h"]  # (T, H)
    np.testing.assert_array_equal(h[:4], out[:4, 1, 4:])
    assert_png_with_content(save_png(figures["l1_reverse"], tmp_path / "states.png"))


def test_bad_events_are_refused_with_a_message_naming_them():
    with pytest.raises(TypeError, match="events"):
        plot_curves("metrics.jsonl")
    with pytest.raises(TypeError, match=r"events\[0\]"):
        plot_curves([1])
    with pytest.raises(ValueError, match="'train' or 'eval'"):
        plot_curves([{"event": "diagnostics", "step": 1}])


def test_figures_never_touch_pyplot():
    code = (
        "import sys; from bptt.insight import plot_dh_profiles, png_bytes; "
        "png_bytes(plot_dh_profiles({'a': [1.0, 0.1]})); "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_missing_matplotlib_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    from bptt.insight import new_figure

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ImportError, match=r'pip install "bptt\[plot\]"'):
        new_figure(2, 2)
    rc = main(["plot", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and 'pip install "bptt[plot]"' in err


# ----- bptt plot on a real run directory ----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A tiny LSTM on the binary adder, with diagnostics events appended as the trainer's."""
    run = tmp_path_factory.mktemp("plot") / "run"
    argv = ["train", "addition", "--epochs", "2", "--train-size", "64", "--test-size", "40"]
    argv += ["--cell", "lstm", "--hidden-size", "6", "--run-dir", str(run)]
    assert main(argv) == 0
    for e in fixture_events(T=8, steps=(1, 2, 3, 4)):
        if e["event"] == "diagnostics":
            append_jsonl(run / "metrics.jsonl", e)
    return run


def test_bptt_plot_writes_every_picture_of_a_run(tiny_run, tmp_path, capsys):
    out = tmp_path / "pictures"
    assert main(["plot", str(tiny_run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    names = sorted(p.name for p in out.iterdir())
    assert names == ["curves.png", "dh_profile.png", "gradient_flow.png", "states_l0.png"]
    assert sorted(Path(p).name for p in printed) == names
    for name in names:
        assert_png_with_content(out / name)


def test_bptt_plot_defaults_to_the_runs_plots_folder(tiny_run):
    assert main(["plot", str(tiny_run)]) == 0
    assert (tiny_run / "plots" / "curves.png").is_file()


def test_bptt_plot_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    rc = main(["plot", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "config.json" in err and "Traceback" not in err
