"""``bptt explain``: its gradients agree with finite differences, its text is pinned by
snapshots in both languages, its JSON carries every number needed to recompute everything
independently, the gradient step lowers the loss, and bad options exit 2 with one line.

Snapshots live in tests/insight/snapshots/explain_<cell>_<lang>.txt. After an intended change
to the text, regenerate them with

    UPDATE_SNAPSHOTS=1 python -m pytest tests/insight/test_explain.py

and read the diff before committing it. The finite-difference errors printed (e.g. 1.7e-10)
depend on rounding, so the comparison masks them; everything else must match exactly.
"""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from bptt.cli import main
from bptt.insight import explain

SNAPSHOTS = Path(__file__).parent / "snapshots"
ROUNDING_NOISE = re.compile(r"\d\.\de[-+]\d\d")  # the printed finite-difference errors
CELLS = ["rnn", "lstm", "gru"]


# ----- the numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
def test_every_gradient_matches_finite_differences(cell):
    ex = explain(cell)
    expected = {"dy", "dh", *ex.params} | ({"dc"} if cell == "lstm" else set())
    assert set(ex.fd_errors) == expected
    assert all(err < 1e-6 for err in ex.fd_errors.values()), ex.fd_errors
    assert ex.fd_ok


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_gradient_step_lowers_the_loss(cell, seed):
    ex = explain(cell, seed=seed)
    assert ex.loss_after < ex.loss
    np.testing.assert_allclose(ex.loss_t.sum(), ex.loss, rtol=1e-14)


def test_a_step_that_is_too_large_says_so(cli):
    ex = explain("rnn", lr=5.0)
    assert ex.loss_after > ex.loss
    rc, out, _ = cli("explain", "--lr", 5)
    assert rc == 0 and "not lower" in out and "try a smaller --lr" in out


# ----- an independent recomputation from the JSON alone --------------------------------------


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def run(cell, p, x, h, c=None):
    """Numpy forward from state (h, c) over x (T, D): the hidden states (T, H)."""
    W_ih, W_hh = p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"]
    b_ih, b_hh = p["rnn.bias_ih_l0"], p["rnn.bias_hh_l0"]
    H, hs = len(h), []
    for x_t in x:
        ax, ah = W_ih @ x_t + b_ih, W_hh @ h + b_hh
        if cell == "rnn_tanh":
            h = np.tanh(ax + ah)
        elif cell == "lstm":
            a = ax + ah
            i, f, o = sigmoid(a[:H]), sigmoid(a[H : 2 * H]), sigmoid(a[3 * H :])
            c = f * c + i * np.tanh(a[2 * H : 3 * H])
            h = o * np.tanh(c)
        else:
            r, z = sigmoid(ax[:H] + ah[:H]), sigmoid(ax[H : 2 * H] + ah[H : 2 * H])
            n = np.tanh(ax[2 * H :] + r * ah[2 * H :])
            h = (1 - z) * n + z * h
        hs.append(h)
    return np.array(hs).reshape(len(x), H)


def losses(cell, p, x, target, h0=None, c0=None):
    H = p["rnn.weight_hh_l0"].shape[1]
    h0 = np.zeros(H) if h0 is None else h0
    c0 = np.zeros(H) if c0 is None else c0
    hs = run(cell, p, x, h0, c0)
    y = hs @ p["head.weight"][0] + p["head.bias"][0]
    return hs, y, (y - target) ** 2


def central_difference(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        saved = a[idx]
        a[idx] = saved + eps
        up = f()
        a[idx] = saved - eps
        down = f()
        a[idx] = saved
        g[idx] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("cell", CELLS)
def test_json_has_every_number_and_they_recompute_independently(cli, cell):
    rc, out, _ = cli("explain", "--cell", cell, "--json")
    assert rc == 0
    doc = json.loads(out)
    net = doc["network"]
    name, lr = net["cell"], doc["gradient_step"]["lr"]
    p = {k: np.array(v) for k, v in doc["params"].items()}
    x, target = np.array(doc["inputs"]["x"]), np.array(doc["inputs"]["target"])
    assert x.shape == (net["steps"], net["input_size"]) == (4, 2)
    np.testing.assert_array_equal(target, np.concatenate([[0.0], x[:-1, 0]]))

    # step 1: the forward pass
    hs, y, loss_t = losses(name, p, x, target)
    np.testing.assert_allclose(doc["forward"]["h"], hs, atol=1e-12)
    np.testing.assert_allclose(doc["forward"]["y"], y, atol=1e-12)
    np.testing.assert_allclose(doc["forward"]["loss_t"], loss_t, atol=1e-12)
    assert doc["forward"]["loss"] == pytest.approx(loss_t.sum(), abs=1e-12)

    # steps 2 and 3: dL/dy_t and dL/dh_t (c_t held fixed) by our own differences
    np.testing.assert_allclose(doc["backward"]["dy"], 2 * (y - target), atol=1e-12)
    cs = np.array(doc["forward"].get("c", np.zeros_like(hs)))
    for t in range(len(x)):
        h_t = hs[t].copy()

        def tail(t=t, h_t=h_t):
            rest = losses(name, p, x[t + 1 :], target[t + 1 :], h_t, cs[t])[2].sum()
            y_t = h_t @ p["head.weight"][0] + p["head.bias"][0]
            return (y_t - target[t]) ** 2 + rest

        dh = central_difference(tail, h_t)
        np.testing.assert_allclose(doc["backward"]["dh"][t], dh, atol=1e-8)

    # step 4: the gradients, and the per-step shares that sum to them
    def total():
        return losses(name, p, x, target)[2].sum()

    for key, value in p.items():
        grad = np.array(doc["grads"][key])
        np.testing.assert_allclose(grad, central_difference(total, value), atol=1e-8)
        shares = np.array(doc["contributions"][key])
        assert shares.shape == (len(x), *value.shape)
        np.testing.assert_allclose(shares.sum(axis=0), grad, atol=1e-13)
    assert doc["finite_differences"]["ok"] is True

    # step 5: the update and the loss after it
    after = {k: np.array(v) for k, v in doc["gradient_step"]["params"].items()}
    for key in p:
        np.testing.assert_allclose(after[key], p[key] - lr * np.array(doc["grads"][key]), atol=0)
    _, y_after, loss_after = losses(name, after, x, target)
    np.testing.assert_allclose(doc["gradient_step"]["y"], y_after, atol=1e-12)
    assert doc["gradient_step"]["loss"] == pytest.approx(loss_after.sum(), abs=1e-12)
    assert doc["gradient_step"]["loss"] < doc["forward"]["loss"]


def test_rnn_backward_recursion_written_out_matches_the_json(cli):
    """The recursion of step 3, done by hand in numpy: dh_t = W_hy^T dy_t + W_hh^T da_{t+1}."""
    doc = json.loads(cli("explain", "--json")[1])
    W_hh, W_hy = np.array(doc["params"]["rnn.weight_hh_l0"]), np.array(doc["params"]["head.weight"])
    hs, dy = np.array(doc["forward"]["h"]), np.array(doc["backward"]["dy"])
    x = np.array(doc["inputs"]["x"])
    da_next, h_prev = np.zeros(len(W_hh)), np.vstack([np.zeros(len(W_hh)), hs[:-1]])
    for t in reversed(range(len(hs))):
        dh = W_hy[0] * dy[t] + W_hh.T @ da_next
        da = dh * (1 - hs[t] ** 2)
        np.testing.assert_allclose(doc["backward"]["dh"][t], dh, atol=1e-14)
        np.testing.assert_allclose(doc["backward"]["d_ax"][t], da, atol=1e-14)
        shares = doc["contributions"]
        np.testing.assert_allclose(shares["rnn.weight_hh_l0"][t], np.outer(da, h_prev[t]))
        np.testing.assert_allclose(shares["rnn.weight_ih_l0"][t], np.outer(da, x[t]))
        da_next = da


# ----- the text ------------------------------------------------------------------------------

SNAPSHOT_CASES = [("rnn", "en"), ("rnn", "zh"), ("lstm", "en"), ("gru", "en")]


@pytest.mark.parametrize("cell, lang", SNAPSHOT_CASES)
def test_text_output_matches_the_snapshot(cli, cell, lang):
    rc, out, err = cli("explain", "--cell", cell, "--lang", lang)
    assert rc == 0 and err == ""
    path = SNAPSHOTS / f"explain_{cell}_{lang}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert path.exists(), f"missing snapshot {path}: run with UPDATE_SNAPSHOTS=1"
    expected = path.read_text(encoding="utf-8")
    assert ROUNDING_NOISE.sub("#.#e-##", out) == ROUNDING_NOISE.sub("#.#e-##", expected)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_five_steps_are_all_there_and_every_check_passes(cli, lang):
    for cell in CELLS:
        out = cli("explain", "--cell", cell, "--lang", lang)[1]
        heads = ["Step 1.", "Step 2.", "Step 3.", "Step 4.", "Step 5."]
        if lang == "zh":
            heads = ["第 1 步", "第 2 步", "第 3 步", "第 4 步", "第 5 步"]
        positions = [out.index(h) for h in heads]
        assert positions == sorted(positions)
        verdicts = [line for line in out.splitlines() if ROUNDING_NOISE.search(line)]
        assert len(verdicts) == len(explain(cell).fd_errors)
        ok = "OK" if lang == "en" else "通过"
        assert all(line.rstrip().endswith(ok) for line in verdicts)


def test_other_settings_run_and_stay_consistent(cli):
    rc, out, _ = cli("explain", "--cell", "lstm", "--hidden-size", 2, "--steps", 6)
    assert rc == 0 and "t = 5" in out and "da_5[o]" in out and "c_5" in out
    doc = json.loads(cli("explain", "--steps", 6, "--seed", 3, "--json")[1])
    assert len(doc["inputs"]["x"]) == 6 and doc["network"]["seed"] == 3
    again = json.loads(cli("explain", "--steps", 6, "--seed", 3, "--json")[1])
    assert again["grads"] == doc["grads"]  # a fixed seed gives the same numbers


# ----- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, word",
    [
        (["--cell", "lstm2"], "--cell"),
        (["--steps", "0"], "steps"),
        (["--steps", "1000"], "steps"),
        (["--hidden-size", "-1"], "hidden_size"),
        (["--hidden-size", "x"], "--hidden-size"),
        (["--lr", "0"], "lr"),
        (["--lr", "nan"], "lr"),
        (["--seed", "-1"], "seed"),
        (["--lang", "fr"], "--lang"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_options_exit_2_with_one_line(cli, argv, word):
    rc, out, err = cli("explain", *argv)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bptt: error:") and word in lines[0], err


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = capsys.readouterr().out
    for flag, default in [
        ("--cell", "rnn"),
        ("--hidden-size", "3"),
        ("--steps", "4"),
        ("--seed", "0"),
        ("--lr", "0.1"),
        ("--lang", "en"),
        ("--json", "text"),
    ]:
        assert flag in out and f"(default: {default})" in " ".join(out.split()), flag
