"""The vanishing-gradient demonstration (``bptt.insight.vanishing``, ``bptt vanishing``): what it
measures is dL/dh_t, and it tells a tanh RNN from an LSTM whose forget gates are open."""

import json
import math
import re

import numpy as np
import pytest

from bptt.cli import main
from bptt.data import adding_problem
from bptt.insight import (
    VanishingConfig,
    decay_orders,
    dh_profile,
    measure,
)
from bptt.nn import SequenceRegressor, set_forget_bias


def test_decay_is_counted_in_orders_of_magnitude_from_the_last_step_back():
    profile = 10.0 ** -np.arange(6)[::-1]  # e_0 = 1e-5 ... e_5 = 1
    assert decay_orders(profile) == pytest.approx(5.0)
    assert decay_orders(profile[::-1]) == pytest.approx(-5.0)  # growing: exploding
    assert decay_orders([0.0, 1.0]) == math.inf
    with pytest.raises(ValueError, match="at least 2"):
        decay_orders([1.0])
    with pytest.raises(ValueError, match="last step"):
        decay_orders([1.0, 0.0])


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_the_error_at_the_last_step_is_what_the_head_sends_back(cell):
    model = SequenceRegressor(cell, 2, 6, 1, rng=np.random.default_rng(0))
    xs, ys = adding_problem(5, 9, np.random.default_rng(1))
    e, loss = dh_profile(model, xs, ys)
    assert e.shape == (9,) and e.dtype == np.float64
    pred = model.predict(xs).astype(np.float64)[:, 0]  # (N,)
    d_pred = 2 * (pred - ys) / len(ys)  # mean squared error
    w = model.params["head.weight"].astype(np.float64)[0]  # (H,)
    assert e[-1] == pytest.approx(np.mean(np.abs(d_pred)) * np.linalg.norm(w), rel=1e-5)
    assert loss == pytest.approx(np.mean((pred - ys) ** 2), rel=1e-5)


def test_forget_bias_sets_the_sum_of_both_biases_of_the_forget_gate_only():
    model = SequenceRegressor("lstm", 2, 4, 1, num_layers=2, rng=np.random.default_rng(0))
    before = model.rnn.state_dict()
    set_forget_bias(model.rnn, 3.0)
    for layer in (0, 1):
        b_ih, b_hh = (model.rnn.params[f"bias_{k}_l{layer}"] for k in ("ih", "hh"))
        np.testing.assert_array_equal(b_ih[4:8] + b_hh[4:8], 3.0)
        for name, b in ((f"bias_ih_l{layer}", b_ih), (f"bias_hh_l{layer}", b_hh)):
            np.testing.assert_array_equal(
                np.delete(b, range(4, 8)), np.delete(before[name], range(4, 8))
            )


@pytest.mark.parametrize("seed", [0, 1])
def test_tanh_rnn_error_vanishes_while_an_lstm_with_open_forget_gates_keeps_it(seed):
    xs, ys = adding_problem(16, 100, np.random.default_rng(seed))
    rnn = SequenceRegressor("rnn_tanh", 2, 16, 1, rng=np.random.default_rng(seed))
    lstm = SequenceRegressor("lstm", 2, 16, 1, rng=np.random.default_rng(seed))
    set_forget_bias(lstm.rnn, 20.0)  # f_t = sigmoid(20 + ...) ~ 1: c carries the error back
    # seeds 0-9: the RNN loses 20-28 orders; the LSTM at most 4, in its last few steps, then flat
    assert decay_orders(dh_profile(rnn, xs, ys)[0]) > 10
    assert decay_orders(dh_profile(lstm, xs, ys)[0]) < 5


def test_measure_trains_every_cell_into_a_run_directory_it_can_reload(tmp_path):
    from bptt.tasks import load_run

    config = VanishingConfig(length=10, steps=6, hidden_size=4, batch_size=8, probe_size=8)
    results = measure(config, tmp_path, cells=("rnn_tanh", "gru"))
    assert [r.cell for r in results] == ["rnn_tanh", "gru"]
    for r in results:
        assert r.before.shape == r.after.shape == (10,)
        assert (r.after > 0).all() and r.run_dir == tmp_path / r.cell
        task, options, _, model = load_run(r.run_dir)
        assert (task, options["cell"], options["length"]) == ("adding", r.cell, 10)
        assert not np.array_equal(r.before, r.after)  # training moved the weights
    with pytest.raises(ValueError, match="cells"):
        measure(config, None, cells=("transformer",))


def test_config_refuses_what_cannot_be_a_sequence_or_a_run():
    with pytest.raises(ValueError, match="length"):
        VanishingConfig(length=1)
    with pytest.raises(ValueError, match="steps"):
        VanishingConfig(steps=0)


def test_bptt_vanishing_prints_the_decay_and_writes_plot_report_and_numbers(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    argv = ["vanishing", "--length", "12", "--steps", "5", "--hidden-size", "4"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "vanishing.json").read_text())
    assert [c["cell"] for c in saved["cells"]] == ["rnn_tanh", "lstm", "gru"]
    for row in saved["cells"]:
        line = next(x for x in printed.splitlines() if x.strip().startswith(row["cell"]))
        orders = float(re.search(r"(-?[\d.]+) orders of magnitude", line).group(1))
        assert orders == pytest.approx(row["decay_orders_trained"], abs=0.006)
    assert (out / "vanishing.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<img ") >= 1 + 3 and "http://" not in page and "https://" not in page
    for cell in ("rnn_tanh", "lstm", "gru"):
        assert (out / cell / "model.safetensors").is_file()
    # a second demo never overwrites the first
    rc = main([*argv, "--out", str(out)])
    assert rc == 2 and "not empty" in capsys.readouterr().err
