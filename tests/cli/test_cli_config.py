"""``bptt train --config FILE.toml``: the file's values apply under the flags, and every
mistake in it is named in one line; the clip flags take fractions."""

import json
from pathlib import Path

import pytest

from bptt.tasks import used_options
from helpers import assert_usage_error, printed_config


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "options.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_values_apply_and_flags_override_them(tmp_path, cli):
    toml = write_toml(
        tmp_path,
        'cell = "gru"\nhidden_size = 12\ngamma = 1\nclip_norm = 0.5\nbidirectional = true\n'
        "epochs = 3\n",
    )
    run = tmp_path / "run"
    argv = ["train", "addition", "--config", toml, "--run-dir", run, "--train-size", 64]
    rc, out, err = cli(*argv, "--test-size", 32, "--hidden-size", 6, "--epochs", 1)
    assert rc == 0, err
    options = json.loads((run / "config.json").read_text())["options"]
    assert printed_config(out, "addition") == used_options("addition", options)
    assert options["cell"] == "gru" and options["bidirectional"] is True
    assert options["gamma"] == 1.0 and isinstance(options["gamma"], float)
    assert options["clip_norm"] == 0.5
    assert options["hidden_size"] == 6 and options["epochs"] == 1  # the flags win
    assert options["batch_size"] == 32  # the task's default, untouched by the file


def test_clip_flags_take_fractions(tmp_path, cli):
    run = tmp_path / "run"
    argv = ["train", "addition", "--clip-norm", "0.5", "--clip-value", "0.25", "--epochs", 1]
    rc, out, err = cli(*argv, "--train-size", 64, "--test-size", 32, "--run-dir", run)
    assert rc == 0, err
    train = json.loads((run / "config.json").read_text())["train"]
    assert (train["clip_norm"], train["clip_value"]) == (0.5, 0.25)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hidden_size = 8\nbogus_key = 1\nlearning_rate = 0.1\n", ["bogus_key", "learning_rate"]),
        ('hidden_size = "big"\n', ["hidden_size", "int", "'big'"]),
        ("bidirectional = 1\n", ["bidirectional", "bool"]),
        ("lr = true\n", ["lr", "float", "True"]),
        ("lr = 1e-3\nepochs = 2.5\n", ["epochs", "int", "2.5"]),
        ("hidden_size = \n", ["not valid TOML"]),
    ],
)
def test_config_file_errors_are_named(tmp_path, cli, text, words):
    toml = write_toml(tmp_path, text)
    rc, out, err = cli("train", "addition", "--config", toml, "--run-dir", "run")
    assert_usage_error(rc, err, "--config", str(toml), *words)
    assert not (tmp_path / "run").exists()


def test_missing_config_file_is_rejected(tmp_path, cli):
    rc, _, err = cli("train", "addition", "--config", tmp_path / "nope.toml")
    assert_usage_error(rc, err, "--config", "no such file", "nope.toml")


def test_memory_budget_trains_the_same_run_and_a_bad_size_is_refused(tmp_path, cli):
    argv = ["train", "adding", "--length", 60, "--hidden-size", 16, "--epochs", 1]
    argv += ["--train-size", 128, "--test-size", 64, "--quiet"]
    summaries = []
    for name, budget in (("full", ""), ("budget", "256KiB")):
        rc, out, err = cli(*argv, "--memory-budget", budget, "--run-dir", tmp_path / name)
        assert rc == 0, err
        assert ("memory plan for T=60, N=" in out) == bool(budget)
        summaries.append(json.loads((tmp_path / name / "summary.json").read_text()))
    assert summaries[0]["test"]["loss"] == pytest.approx(summaries[1]["test"]["loss"], rel=1e-5)
    rc, _, err = cli(*argv, "--memory-budget", "12XB", "--run-dir", tmp_path / "bad")
    assert_usage_error(rc, err, "--memory-budget", "'12XB'")
    assert not (tmp_path / "bad").exists()


def test_memory_budget_prints_the_plan_and_a_budget_below_its_minimum_is_refused(tmp_path, cli):
    argv = ["train", "adding", "--length", 400, "--hidden-size", 32, "--max-steps", 1]
    argv += ["--train-size", 64, "--test-size", 32, "--batch-size", 32, "--quiet"]
    rc, out, err = cli(*argv, "--memory-budget", "300KiB", "--run-dir", tmp_path / "run")
    assert rc == 0, err
    (line,) = [ln for ln in out.splitlines() if ln.startswith("memory plan for T=400, N=32: dp")]
    assert "checkpoints per layer and direction" in line and "steps recomputed" in line
    assert "of 0.29 MiB (full BPTT keeps" in line
    rc, out, err = cli(*argv, "--memory-budget", "8KiB", "--run-dir", tmp_path / "small")
    assert rc == 2 and "memory_budget: expected at least" in err and "got 8192 bytes" in err
    assert not (tmp_path / "small").exists()
