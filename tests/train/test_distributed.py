"""Data-parallel training over MPI: 2 ranks are the same run as 1 process with the whole batch.

Each MPI test spawns ``mpiexec -n 2`` (the mpich wheel's) on ``distributed_run.py`` or on
``python -m bptt`` with a timeout, so a hang fails the test instead of stalling the suite.
Without mpi4py and mpiexec these tests skip, except in CI, where the dev extra installs them.

The float64 parameters after 50 steps must agree to 1e-10: the two ranks group the sums of
each gradient differently, which moves them by round-off only (measured: <= 4e-15 here).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bptt.train import load_checkpoint
from bptt.train.distributed import launched_world_size, share
from helpers import assert_usage_error, require_mpiexec

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("distributed_run.py")
KINDS = ("classifier", "tagger", "regressor")
TOLERANCE = 1e-10
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def run(ranks: int | None, *args, timeout: int = 120) -> subprocess.CompletedProcess:
    """``args`` under ``mpiexec -n ranks`` (None: a plain process), killed after timeout."""
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(ROOT / "src")}
    for k in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE"):  # not an MPI process itself
        env.pop(k, None)
    launcher = [] if ranks is None else [require_mpiexec("MPI tests"), "-n", str(ranks)]
    command = [*launcher, sys.executable, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def trained(ranks: int | None, out: Path, *args) -> dict[str, np.ndarray]:
    flags = ["--distributed"] if ranks is not None else []
    done = run(ranks, SCRIPT, out, *flags, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(np.load(out))


def summary(result: dict, kind: str) -> dict:
    return json.loads(result[f"{kind}/summary"].tobytes())


def largest_difference(a: dict, b: dict, kind: str) -> float:
    names = [k for k in a if k.startswith(f"{kind}/") and not k.endswith("/summary")]
    assert names and all(a[k].dtype == np.float64 for k in names)
    return max(float(np.abs(a[k] - b[k]).max()) for k in names)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The reference: every kind trained 50 steps in one plain process."""
    return trained(None, tmp_path_factory.mktemp("one") / "one.npz")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """The same runs over 2 ranks, and a language model with dropout."""
    out = tmp_path_factory.mktemp("two") / "two.npz"
    return trained(2, out, "--kinds", *KINDS, "dropout")


def test_two_ranks_end_with_the_parameters_of_one_process(one_process, two_ranks):
    two = two_ranks
    for kind in KINDS:
        assert largest_difference(one_process, two, kind) <= TOLERANCE, kind
        s1, s2 = summary(one_process, kind), summary(two, kind)
        assert s1["steps"] == s2["steps"] == 50 and s2["status"] == "max_steps"
        # the sharded, reduced evaluation gives the one-process figures
        for key, value in s1["final"].items():
            assert s2["final"][key] == pytest.approx(value, rel=1e-12, abs=0), (kind, key)


@pytest.mark.parametrize(("first", "then"), [(2, None), (None, 2)], ids=["2->1", "1->2"])
def test_a_run_resumed_with_another_number_of_ranks_continues_the_same_run(
    one_process, tmp_path, first, then
):
    # 20 steps: inside a batch of the tagger's truncated BPTT (3 windows a batch), so the
    # carried state and the context are split between ranks differently after the resume
    trained(first, tmp_path / "first.npz", "--steps", "20", "--run-dir", tmp_path)
    resumed = trained(then, tmp_path / "then.npz", "--run-dir", tmp_path, "--resume")
    for kind in KINDS:
        assert largest_difference(one_process, resumed, kind) <= TOLERANCE, kind
        assert summary(resumed, kind)["steps"] == 50


def test_sigterm_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    args = ["--kinds", "classifier", "--run-dir", tmp_path, "--fault", "term", "--at-step", "10"]
    result = trained(2, tmp_path / "two.npz", *args)
    s = summary(result, "classifier")
    assert s["status"] == "interrupted" and s["steps"] == 10
    assert load_checkpoint(tmp_path / "classifier").step == 10  # rank 0 saved, after rank 1


@pytest.mark.parametrize("fault", ["kill", "raise"])
def test_a_rank_that_dies_or_fails_alone_ends_the_job_with_an_error(tmp_path, fault):
    args = ["--kinds", "classifier", "--run-dir", tmp_path, "--fault", fault]
    done = run(2, SCRIPT, tmp_path / "two.npz", "--distributed", *args, timeout=60)
    assert done.returncode != 0
    assert not (tmp_path / "two.npz").exists()
    if fault == "raise":  # the failing rank says what happened before the abort
        assert "rank 1 of 2: RuntimeError: a planted error before step 10" in done.stderr
    checkpoints = tmp_path / "classifier" / "checkpoints"
    if checkpoints.exists():  # whatever rank 0 saved before is complete
        assert load_checkpoint(tmp_path / "classifier").step < 10


TINY = [
    "--epochs",
    "1",
    "--batch-size",
    "16",
    "--train-size",
    "64",
    "--test-size",
    "32",
    "--dtype",
    "float64",
]


def test_bptt_train_distributed_is_the_one_process_run(tmp_path):
    one = run(None, "-m", "bptt", "train", "addition", *TINY, "--run-dir", tmp_path / "one")
    two = run(
        2, "-m", "bptt", "train", "addition", "--distributed", *TINY, "--run-dir", tmp_path / "two"
    )
    assert one.returncode == 0 and two.returncode == 0, two.stdout + two.stderr
    assert two.stdout.count("run directory:") == 1  # rank 0 alone prints
    from safetensors.numpy import load_file

    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("one", "two"))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) <= TOLERANCE
    events = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").open()]
    assert len([e for e in events if e["event"] == "train"]) == 4  # 64 rows / 16: one writer


def test_bptt_train_under_mpiexec_without_the_flag_is_refused(tmp_path):
    done = run(2, "-m", "bptt", "train", "addition", *TINY, "--run-dir", tmp_path / "run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--distributed" in done.stderr and "one of 2" in done.stderr
    assert not (tmp_path / "run").exists()


def test_distributed_without_mpi4py_names_the_extra(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py raises ImportError
    rc, out, err = cli("train", "addition", "--distributed", *TINY, "--run-dir", tmp_path / "r")
    assert_usage_error(rc, err, "--distributed", 'pip install "bptt[mpi]"')
    assert not (tmp_path / "r").exists()


def test_the_launchers_world_size_is_read_from_their_variables():
    assert launched_world_size({}) == 1
    assert launched_world_size({"PMI_SIZE": "4", "PMI_RANK": "2"}) == 4
    assert launched_world_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3
    assert launched_world_size({"PMI_SIZE": "1"}) == 1


@pytest.mark.parametrize(("n", "size"), [(8, 2), (5, 2), (1, 2), (7, 3), (2, 5)])
def test_the_shares_cover_every_row_once_and_differ_by_one_at_most(n, size):
    parts = [share(n, r, size) for r in range(size)]
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    widths = [hi - lo for lo, hi in parts]
    assert max(widths) - min(widths) <= 1 and widths == sorted(widths, reverse=True)


def test_dropout_masks_differ_per_rank_and_resume_exactly(two_ranks, tmp_path):
    args = ["--kinds", "dropout", "--run-dir", tmp_path]
    trained(2, tmp_path / "first.npz", *args, "--steps", "20")
    state = json.loads((load_checkpoint(tmp_path / "dropout").path / "state.json").read_text())
    assert len(state["rank_rngs"]) == 2 and state["rank_rngs"][0] == state["rng"]
    assert state["rank_rngs"][0] != state["rank_rngs"][1]  # each rank its own stream
    resumed = trained(2, tmp_path / "then.npz", *args, "--resume")
    assert largest_difference(two_ranks, resumed, "dropout") == 0.0  # the same ranks: bit for bit
