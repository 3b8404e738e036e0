"""benchmarks/distributed.py keeps working: run tiny (--smoke), its 2-rank runs under the
mpich wheel's ``mpiexec -n 2``, the whole script killed after a timeout.

No timing is asserted: only that it exits 0, prints and saves every run of every config, that
2 ranks end with the parameters of 1 process, that the all-reduce shares are fractions, and
that the projection behaves as its formula must (less efficient with more ranks, more
efficient on the faster network). Without mpi4py and mpiexec it skips, except in CI.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import require_mpiexec

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "distributed.py"
RUNS = {"1p x 2t", "1p x 1t", "2r x 1t", "2r x 1t weak"}
ENV_DROP = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE")  # not an MPI process itself


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    mpiexec = require_mpiexec("the distributed benchmark smoke tests")
    out = tmp_path_factory.mktemp("distributed") / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    args = ["--smoke", "--timeout", "120", "--mpiexec", mpiexec, "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, json.loads(out.read_text()), out


def test_every_run_of_every_config_is_printed_and_saved(smoke):
    stdout, saved, out = smoke
    assert [r["config"] for r in saved["rows"]] == ["mnist", "charlm"]
    assert list(out.parent.iterdir()) == [out]  # the atomic write left no temp file
    assert "networks assumed" in stdout and "numpy" in stdout
    for row in saved["rows"]:
        assert set(row["runs"]) == RUNS
        for label in RUNS:
            assert f"{row['config']:<7} lstm     {label}" in stdout
            run = row["runs"][label]
            assert run["samples_s"] > 0 and run["median_step_s"] > 0
            assert len(run["allreduce_share"]) == (2 if label.startswith("2r") else 1)
            assert all(0 <= s <= 1 for s in run["allreduce_share"])
            if label.startswith("2r"):  # the transfer: the waiting taken out
                assert 0 <= run["transfer_share"] <= min(run["allreduce_share"])
        two = row["runs"]["2r x 1t"]
        assert two["buffer_bytes"] >= 4 * two["param_count"]  # float32 gradients, + figures
        assert two["isolated_allreduce_s"] > 0


def test_two_ranks_end_with_the_parameters_of_one_process(smoke):
    for row in smoke[1]["rows"]:
        assert row["max_param_diff_2r_vs_1p"] <= 1e-5  # float32: round-off only


def test_projection_loses_efficiency_with_ranks_and_gains_it_with_bandwidth(smoke):
    for row in smoke[1]["rows"]:
        networks = row["projection"]["networks"]
        assert len(networks) == 2
        slow, fast = (
            [net["ranks"][p]["weak_efficiency"] for p in ("8", "64", "512")]
            for net in networks.values()
        )
        assert all(0 < e <= 1 for e in slow + fast)
        assert slow == sorted(slow, reverse=True) and fast == sorted(fast, reverse=True)
        assert all(f > s for s, f in zip(slow, fast))
        times = [net["ranks"]["64"]["allreduce_s"] for net in networks.values()]
        assert times[0] > times[1] > 0
