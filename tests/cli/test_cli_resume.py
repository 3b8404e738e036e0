"""``bptt train --resume RUN``: it continues the run where it stopped, equals an uninterrupted
run, and refuses what it would have to ignore."""

import json

from helpers import TINY_ADDITION, assert_usage_error, printed_summary, read_metrics, train_steps


def test_resume_continues_the_run(tmp_path, cli):
    run = tmp_path / "run"
    argv = ["--train-size", 200, "--test-size", 100, "--run-dir", run]
    assert cli("train", "addition", "--epochs", 1, *argv)[0] == 0
    first = train_steps(run)
    rc, out, err = cli("train", "--resume", run, "--epochs", 3)
    assert rc == 0, err
    assert train_steps(run) == list(range(1, 3 * len(first) + 1))
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["epochs"], summary["steps"]) == (3, 3 * len(first))
    assert printed_summary(out) == summary
    assert json.loads((run / "config.json").read_text())["options"]["epochs"] == 3


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, cli):
    common = ["train", "addition", "--train-size", 200, "--test-size", 100]
    assert cli(*common, "--epochs", 3, "--run-dir", tmp_path / "straight")[0] == 0
    assert cli(*common, "--epochs", 1, "--run-dir", tmp_path / "split")[0] == 0
    assert cli("train", "addition", "--resume", tmp_path / "split", "--epochs", 3)[0] == 0

    def losses(run):
        return [(e["event"], e["step"], e["loss"]) for e in read_metrics(run)]

    assert losses(tmp_path / "split") == losses(tmp_path / "straight")
    weights = [(tmp_path / r / "model.safetensors").read_bytes() for r in ("split", "straight")]
    assert weights[0] == weights[1]


def test_resume_errors(tiny_run, tmp_path, cli):
    run, _ = tiny_run
    before = (run / "metrics.jsonl").read_text()
    rc, _, err = cli("train", "addition", "--run-dir", run)
    assert_usage_error(rc, err, "--run-dir", "--resume")
    assert_usage_error(*cli("train", "copy", "--resume", run)[::2], "addition", "copy")
    rc, _, err = cli("train", "--resume", tmp_path / "missing")
    assert_usage_error(rc, err, "--resume", "missing")
    assert (run / "metrics.jsonl").read_text() == before


def test_resume_refuses_options_it_would_ignore(tiny_run, cli):
    run, _ = tiny_run
    before = (run / "metrics.jsonl").read_text()
    rc, _, err = cli("train", "--resume", run, "--lr", "0.5", "--cell", "gru")
    assert_usage_error(rc, err, "only --epochs and --max-steps", "--cell", "--lr")
    rc, _, err = cli("train", "--resume", run, "--run-dir", run / "elsewhere")
    assert_usage_error(rc, err, "--run-dir")
    assert (run / "metrics.jsonl").read_text() == before


def test_without_a_progress_bar_each_evaluation_and_checkpoint_gets_a_line(tmp_path, cli):
    run = tmp_path / "logged"
    rc, _, err = cli("train", "addition", *TINY_ADDITION, "--run-dir", run, "--no-progress")
    assert rc == 0, err
    evaluations = [line for line in err.splitlines() if line.startswith("step ")]
    steps = [e["step"] for e in read_metrics(run) if e.get("event") == "eval"]
    assert len(evaluations) == len(steps) > 0
    for line, step in zip(evaluations, steps):
        assert line.startswith(f"step {step} epoch ")
        for part in ("train loss", "validation loss", "lr ", "steps/s"):
            assert part in line, (part, line)
    assert "saved checkpoint step" in err
    rc, _, quiet = cli("train", "addition", *TINY_ADDITION, "--run-dir", tmp_path / "q", "--quiet")
    assert rc == 0 and quiet == ""


def test_the_same_command_with_resume_appended_continues_the_run(tmp_path, cli):
    run = tmp_path / "again"
    toml = tmp_path / "options.toml"
    toml.write_text('cell = "gru"\nhidden_size = 6\n', encoding="utf-8")
    argv = ["train", "addition", *TINY_ADDITION, "--seed", "7", "--config", toml, "--run-dir", run]
    assert cli(*argv)[0] == 0
    rc, _, err = cli(*argv, "--resume", run, "--epochs", "3")
    assert rc == 0, err
    assert read_metrics(run)[-1]["epoch"] == 3
    # a changed value is refused, naming the given and the saved value; nothing is written
    before = (run / "metrics.jsonl").read_text()
    rc, _, err = cli(*argv[:-4], "--seed", "8", "--resume", run)
    assert_usage_error(rc, err, "--seed 8 (the run's: 7)")
    toml.write_text('cell = "lstm"\n', encoding="utf-8")
    rc, _, err = cli("train", "--config", toml, "--resume", run)
    assert_usage_error(rc, err, "--cell lstm (the run's: gru)")
    assert (run / "metrics.jsonl").read_text() == before
