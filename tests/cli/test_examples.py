"""Every shipped config in examples/ runs end to end, at a tiny size (flags over the TOML
file shrink it to a second or two); the TOML files themselves are used as shipped."""

import json
from pathlib import Path

import pytest
from test_cli_mnist import write_mnist

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(cli, tmp_path, task, name, *tiny):
    out_dir = tmp_path / name
    rc, out, err = cli("train", task, "--config", EXAMPLES / name, "--run-dir", out_dir, *tiny)
    assert rc == 0, err
    config = json.loads((out_dir / "config.json").read_text())["options"]
    return config, json.loads((out_dir / "summary.json").read_text()), out


def test_every_example_is_tested_here():
    tested = {"iamtrask.toml", "tf-mnist-tutorial.toml", "min-char-rnn.toml"}
    tested.add("word-language-model.toml")
    assert {p.name for p in EXAMPLES.glob("*.toml")} == tested


def test_iamtrask(cli, tmp_path):
    tiny = ["--train-size", "300", "--test-size", "50"]
    config, summary, out = run(cli, tmp_path, "addition", "iamtrask.toml", *tiny)
    assert config["cell"] == "rnn_sigmoid" and config["output"] == "sigmoid_mse"
    assert config["bias"] is False and config["batch_size"] == 1 and config["lr"] == 0.05
    assert summary["steps"] == 300  # one pair per update
    assert "exact sums on the 50 held-out test pairs" in out
    assert summary["test"]["split"] == "test"


def test_tf_mnist_tutorial(cli, tmp_path):
    data = write_mnist(tmp_path / "mnist", n_train=80, n_test=20)
    tiny = ["--data-dir", data, "--no-verify", "--validation-size", "16", "--max-steps", "3"]
    tiny += ["--batch-size", "16"]
    config, summary, _ = run(cli, tmp_path, "mnist", "tf-mnist-tutorial.toml", *tiny)
    assert config["forget_bias"] == 1.0 and config["hidden_size"] == 128
    assert summary["steps"] == 3 and summary["test"]["split"] == "test"


@pytest.mark.parametrize("name", ["min-char-rnn.toml", "word-language-model.toml"])
def test_text_examples(cli, tmp_path, name):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    tiny = ["--text", text, "--hidden-size", "8", "--max-steps", "4", "--epochs", "1"]
    if name == "word-language-model.toml":
        tiny += ["--embedding-dim", "8", "--batch-size", "4"]
    config, summary, _ = run(cli, tmp_path, "text", name, *tiny)
    assert summary["steps"] == 4 and summary["test"]["split"] == "test"
    assert summary["best"]["split"] == "validation"
    if name == "min-char-rnn.toml":
        assert config["embedding_dim"] == 0 and config["reduction"] == "sum"
