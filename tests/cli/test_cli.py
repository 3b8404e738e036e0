"""The ``bptt`` command line end to end: every subcommand on tiny settings, in-process through
``bptt.cli.main.main`` and, for the exit codes a shell sees, as ``python -m bptt``. The TOML
``--config`` file is in test_cli_config.py, ``train --resume`` in test_cli_resume.py, and
``bptt train mnist`` in test_cli_mnist.py."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bptt
from bptt.cli import main
from bptt.nn import CELLS, make_recurrent
from bptt.tasks import all_options, used_options
from helpers import TINY_ADDITION, assert_usage_error, printed_config, printed_summary, train_steps


@pytest.fixture(scope="module")
def trained_adder(tmp_path_factory) -> Path:
    """The addition task at its defaults, which learns every 8-bit sum."""
    run = tmp_path_factory.mktemp("adder") / "run"
    assert main(["train", "addition", "--run-dir", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("text")
    rng = np.random.default_rng(0)
    words = np.array(["the", "cat", "sat", "on", "a", "mat", "dog", "ran"])
    (folder / "corpus.txt").write_text(" ".join(rng.choice(words, 500)), encoding="utf-8")
    run = folder / "run"
    argv = ["train", "text", "--text", folder / "corpus.txt", "--run-dir", run]
    argv += ["--hidden-size", "16", "--num-layers", "1", "--embedding-dim", "8"]
    argv += ["--seq-len", "20", "--batch-size", "8", "--k1", "5", "--k2", "10", "--epochs", "1"]
    assert main([str(a) for a in argv]) == 0
    return run


# ----- train / predict / eval on the binary adder ----------------------------------------------


def test_train_writes_the_run_directory_and_prints_the_resolved_config(tiny_run):
    run, out = tiny_run
    for name in ("config.json", "metrics.jsonl", "model.safetensors", "summary.json"):
        assert (run / name).is_file(), name
    assert any(p.name.startswith("step-") for p in (run / "checkpoints").iterdir())
    saved = json.loads((run / "config.json").read_text())
    assert saved["task"] == "addition"
    # the printed config: only the options the task reads; config.json has them all
    printed = printed_config(out, "addition")
    assert printed == used_options("addition", saved["options"])
    assert "seq_len" in saved["options"] and "seq_len" not in printed
    config_lines = [line for line in out.splitlines() if line.startswith(("bptt train", ' "'))]
    assert len(config_lines) > 1 and max(map(len, config_lines)) <= 130  # wrapped, not one line
    assert saved["options"]["epochs"] == 2 and saved["options"]["train_size"] == 200
    # the task's defaults apply under the flags
    assert saved["options"]["cell"] == "rnn_tanh" and saved["options"]["hidden_size"] == 16
    summary = json.loads((run / "summary.json").read_text())
    assert printed_summary(out) == summary
    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert summary["steps"] == train_steps(run)[-1] == len(train_steps(run))
    assert summary["test"]["pairs"] == 100
    assert f"run directory: {run}" in out


def test_predict_prints_an_integer_sum(tiny_run, cli):
    run, _ = tiny_run
    rc, out, err = cli("predict", run, 37, 91)
    assert rc == 0, err
    assert 0 <= int(out.strip()) < 256


def test_a_trained_adder_predicts_exact_sums(trained_adder, cli):
    rc, out, err = cli("predict", trained_adder, 37, 91)
    assert (rc, out.strip()) == (0, "128")
    for a, b in ((0, 0), (127, 127), (100, 3)):
        assert cli("predict", trained_adder, a, b)[1].strip() == str(a + b)


@pytest.mark.parametrize(("a", "b", "name"), [(128, 1, "a: "), (5, -1, "b: ")])
def test_predict_rejects_an_addend_out_of_range(tiny_run, cli, a, b, name):
    rc, out, err = cli("predict", tiny_run[0], a, b)
    assert_usage_error(rc, err, name, "[0, 128)", str(b if name == "b: " else a))
    assert out == ""


def test_eval_reproduces_the_test_numbers_of_training(tiny_run, cli):
    run, _ = tiny_run
    rc, out, err = cli("eval", run)
    assert rc == 0, err
    result = json.loads(out)
    assert (result["task"], result["split"]) == ("addition", "test")
    test = json.loads((run / "summary.json").read_text())["test"]
    for key in ("loss", "accuracy", "exact_sums"):
        assert result[key] == pytest.approx(test[key], rel=1e-6), key
    rc, out, err = cli("eval", run, "--split", "validation")
    result = json.loads(out)
    assert rc == 0 and result["split"] == "validation" and "exact_sums" not in result
    assert result["loss"] == pytest.approx(
        json.loads((run / "summary.json").read_text())["best"]["loss"], rel=1e-6
    )


def test_eval_of_a_trained_adder_gets_every_sum_right(trained_adder, cli):
    rc, out, err = cli("eval", trained_adder)
    result = json.loads(out)
    assert rc == 0 and result["exact_sums"] == 1.0 and result["pairs"] == 10000


def test_eval_and_predict_of_a_folder_that_is_not_a_run_exit_2(tmp_path, cli):
    for argv in (["eval", tmp_path], ["predict", tmp_path, 1, 2], ["sample", tmp_path]):
        assert_usage_error(*cli(*argv)[::2], "config.json", str(tmp_path))


# ----- the other tasks -------------------------------------------------------------------------


def test_train_adding_and_eval(tmp_path, cli):
    run = tmp_path / "adding"
    argv = ["train", "adding", "--length", 10, "--train-size", 128, "--test-size", 64]
    rc, out, err = cli(*argv, "--hidden-size", 8, "--epochs", 1, "--run-dir", run)
    assert rc == 0, err
    options = json.loads((run / "config.json").read_text())["options"]
    assert options["length"] == 10 and options["clip_norm"] == 1.0  # the task's default
    assert printed_summary(out)["test"].keys() == {"split", "loss"}  # a regressor: no accuracy
    rc, out, err = cli("eval", run)
    assert rc == 0 and json.loads(out)["task"] == "adding"
    assert_usage_error(*cli("predict", run, 1, 2)[::2], "addition", "adding")


def test_train_copy_and_eval(tmp_path, cli):
    run = tmp_path / "copy"
    argv = ["train", "copy", "--length", 5, "--delay", 3, "--symbols", 4, "--embedding-dim", 4]
    argv += ["--train-size", 128, "--test-size", 64, "--hidden-size", 8, "--epochs", 1]
    rc, out, err = cli(*argv, "--run-dir", run)
    assert rc == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert {k: saved["options"][k] for k in ("length", "delay", "symbols")} == {
        "length": 5,
        "delay": 3,
        "symbols": 4,
    }
    rc, out, err = cli("eval", run)
    result = json.loads(out)
    assert rc == 0 and result["task"] == "copy" and 0 <= result["accuracy"] <= 1


def test_train_text_with_truncated_bptt(text_run):
    saved = json.loads((text_run / "config.json").read_text())
    assert (saved["train"]["k1"], saved["train"]["k2"]) == (5, 10)
    assert saved["options"]["text"].endswith("corpus.txt")
    steps = train_steps(text_run)
    # seq_len 20 in chunks of k1 = 5: four optimizer steps per batch
    assert steps == list(range(1, len(steps) + 1)) and len(steps) % 4 == 0
    assert json.loads((text_run / "summary.json").read_text())["steps"] == len(steps)


def test_sample_is_reproducible_and_starts_with_the_prime(text_run, cli):
    argv = ["sample", text_run, "--prime", "the ", "--length", 50]
    rc, first, err = cli(*argv, "--seed", 1)
    assert rc == 0, err
    text = first.rstrip("\n")
    assert text.startswith("the ") and len(text) == 4 + 50
    assert set(text) <= set("the catsonmdgr")
    assert cli(*argv, "--seed", 1)[1] == first
    assert cli(*argv, "--seed", 2)[1] != first


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--prime", "xyz"], ["'x'"]),
        (["--length", "0"], ["--length", "0"]),
        (["--length", str(10**12)], ["--length", "1,000,000", str(10**12)]),
        (["--temperature", "0"], ["temperature"]),
        (["--temperature", "hot"], ["--temperature", "hot"]),
    ],
)
def test_sample_rejects_bad_arguments(text_run, cli, extra, words):
    assert_usage_error(*cli("sample", text_run, *extra)[::2], *words)


def test_sample_of_a_run_that_is_not_text_exits_2(tiny_run, cli):
    assert_usage_error(*cli("sample", tiny_run[0])[::2], "text", "addition")


# ----- gradcheck and info ----------------------------------------------------------------------


def test_gradcheck_passes_for_every_cell(cli):
    rc, out, err = cli("gradcheck")
    assert rc == 0, out + err
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(CELLS)
    assert all(line.endswith(" ok") for line in lines)


def test_info_and_version(cli, capsys):
    rc, out, err = cli("info")
    assert rc == 0 and f"bptt {bptt.__version__}" in out and f"numpy {np.__version__}" in out
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and bptt.__version__ in capsys.readouterr().out


def test_every_subcommand_has_a_description_in_its_help():
    from bptt.cli.parser import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"train", "eval", "predict", "gradcheck", "plot", "report", "info"} <= set(sub.choices)
    for name, command in sub.choices.items():
        assert command.description and len(command.description) > 40, name


def test_rnn_is_rnn_tanh_in_every_command(tmp_path, cli):
    run = tmp_path / "alias"
    rc, _, err = cli("train", "addition", *TINY_ADDITION, "--cell", "rnn", "--run-dir", run)
    assert rc == 0, err
    assert json.loads((run / "config.json").read_text())["options"]["cell"] == "rnn_tanh"
    assert cli("explain", "--cell", "rnn_tanh")[1] == cli("explain", "--cell", "rnn")[1]
    rnn = make_recurrent("rnn", 3, 4, rng=np.random.default_rng(0))
    assert rnn.nonlinearity == "tanh"
    with pytest.raises(ValueError, match="'rnn'.*got 'tanh'"):
        make_recurrent("tanh", 3, 4)
    from bptt.cli.parser import build_parser

    args = build_parser().parse_args(["vanishing", "--cells", "rnn", "gru"])
    assert args.cells == ["rnn_tanh", "gru"]


# ----- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], ["command"]),
        (["fly"], ["fly"]),
        (["train"], ["task"]),
        (["train", "juggling"], ["juggling"]),
        (["train", "addition", "--lr", "abc"], ["--lr", "abc"]),
        (["train", "addition", "--cell", "foo"], ["cell", "foo"]),
        (["train", "addition", "--dropout", "1.5"], ["dropout", "1.5"]),
        (["train", "addition", "--k1", "5", "--k2", "2"], ["k2", "k1"]),
        (["train", "addition", "--epochs", "0"], ["epochs", "0"]),
        (["train", "addition", "--optimizer", "sgdd"], ["optimizer", "sgdd"]),
        (["train", "addition", "--hidden-size", "0"], ["hidden_size", "0"]),
        (["train", "addition", "--dtype", "float16"], ["dtype", "float16"]),
        (["train", "addition", "--backend", "cuda"], ["backend", "cuda"]),
        (["train", "addition", "--no-such-flag"], ["--no-such-flag"]),
        (["train", "text", "--text", "missing.txt"], ["missing.txt"]),
        (["predict", "run", "one", "2"], ["'one'"]),
        (["train", "addition", "--seed", "-1"], ["seed", "-1"]),
        (["gradcheck", "--seed", "-1"], ["--seed", "-1"]),
        (["sample", "run", "--seed", "x"], ["--seed", "'x'"]),
        (["report", "run", "--seed", "-2"], ["--seed", "-2"]),
        (["vanishing", "--seed", "-1"], ["--seed", "-1"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, cli, argv, words):
    rc, _, err = cli(*argv)
    assert_usage_error(rc, err, *words)
    assert not (tmp_path / "runs").exists()  # nothing is written for a run that never started


def test_train_help_shows_every_option_with_its_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    # an option's entry: its line starting with "  -", then the more-indented lines of its help
    entries, current = {}, None
    for line in out.splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            entries[current] = line
        elif current is not None and line.startswith("    "):
            entries[current] += " " + line.strip()
        else:
            current = None
    flags = ["--config", "--run-dir", "--resume", "--progress", "--quiet", "--distributed"]
    flags += ["--" + name.replace("_", "-") for name in all_options()]
    assert set(flags) | {"-h"} == set(entries)
    for flag in flags:
        assert flag in entries, flag
        assert "(default:" in " ".join(entries[flag].split()), entries[flag]
    assert "addition 16" in " ".join(entries["--hidden-size"].split())  # per-task defaults


# ----- as a real process -----------------------------------------------------------------------


def run_bptt(*argv, cwd: Path) -> subprocess.CompletedProcess:
    src = str(Path(bptt.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "bptt", *map(str, argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_bptt_trains_and_predicts(tmp_path):
    p = run_bptt("train", "addition", *TINY_ADDITION, "--run-dir", "run", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and (tmp_path / "run" / "summary.json").is_file()
    p = run_bptt("predict", "run", 3, 4, cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip().isdigit(), p.stderr
    p = run_bptt("predict", "run", 300, 4, cwd=tmp_path)
    assert_usage_error(p.returncode, p.stderr, "a: ", "300")


@pytest.mark.parametrize(
    "argv", [["train", "addition", "--lr", "abc"], ["train", "addition", "--cell", "foo"]]
)
def test_python_m_bptt_reports_bad_arguments_in_one_line(tmp_path, argv):
    p = run_bptt(*argv, cwd=tmp_path)
    assert_usage_error(p.returncode, p.stderr)


def test_train_without_safetensors_fails_before_training(tmp_path, cli, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    rc, _, err = cli("train", "addition", *TINY_ADDITION, "--run-dir", tmp_path / "r")
    assert_usage_error(rc, err, "safetensors", "bptt[train]")
    assert not (tmp_path / "r").exists()


def test_sample_needs_only_the_run_not_the_text_it_was_trained_on(tmp_path, cli):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be, that is the question. " * 40, encoding="utf-8")
    run = tmp_path / "run"
    argv = ["train", "text", "--text", corpus, "--run-dir", run, "--hidden-size", "8"]
    argv += ["--num-layers", "1", "--embedding-dim", "4", "--seq-len", "10", "--batch-size", "4"]
    assert cli(*argv, "--epochs", "1")[0] == 0
    saved = json.loads((run / "vocabulary.json").read_text())
    assert saved == {"chars": "".join(sorted(set(corpus.read_text())))}
    before = cli("sample", run, "--prime", "to be", "--length", "30")[1]
    corpus.unlink()
    rc, after, err = cli("sample", run, "--prime", "to be", "--length", "30")
    assert rc == 0, err
    assert after == before and after.startswith("to be")
