"""benchmarks/step_time.py keeps working: run in smoke mode as a subprocess, as CI runs it.

No timing is asserted; only that it exits 0, prints one table row per (config, cell), writes
the same rows as JSON, and that bptt and torch agreed (the script raises before timing if not).
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "step_time.py"
CONFIGS = ["mnist", "charlm", "large"]
CELLS = ["rnn_tanh", "lstm", "gru"]


# one thread each: on a busy 2-core machine, spinning BLAS and OpenMP pools slow a run 3x
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def run_benchmark(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ONE_THREAD},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def table_rows(stdout: str) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[1] in CELLS:
            rows[(fields[0], fields[1])] = fields[2:]
    return rows


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None  # without paying for the import


def test_smoke_run_prints_and_saves_one_row_per_config_and_cell(tmp_path):
    out_json = tmp_path / "results.json"
    stdout = run_benchmark("--variants", "--json", str(out_json))
    labels = [c + v for c in CONFIGS for v in ("", "-2layer", "-bidir")]
    expected = {(label, cell) for label in labels for cell in CELLS}

    rows = table_rows(stdout)
    assert set(rows) == expected
    assert "GEMM peak" in stdout and "numpy" in stdout
    saved = json.loads(out_json.read_text())
    assert {(r["config"], r["cell"]) for r in saved["rows"]} == expected
    assert list(tmp_path.iterdir()) == [out_json]  # the atomic write left no temp file
    for row in saved["rows"]:
        assert row["train_flops"] > 0 and row["bptt_tracemalloc_peak_bytes"] > 0
        assert all(t > 0 for t in row["median_ms"]["bptt"].values())
        assert (row["ratio_torch_over_bptt"] is not None) == torch_available()


def test_no_torch_run_fills_the_torch_columns_with_dashes():
    stdout = run_benchmark(
        "--no-torch", "--configs", "mnist", "--cells", "gru", "--backend", "numpy"
    )
    assert "backend: numpy -> LSTM/GRU elementwise steps on numpy" in stdout
    rows = table_rows(stdout)
    assert list(rows) == [("mnist", "gru")]
    train_bptt, train_torch, ratio = rows[("mnist", "gru")][:3]
    assert float(train_bptt) > 0 and train_torch == "-" and ratio == "-"


def test_memory_option_adds_rss_columns_measured_in_fresh_processes(tmp_path):
    out_json = tmp_path / "results.json"
    args = ["--memory", "--configs", "mnist", "--cells", "lstm", "--json", str(out_json)]
    stdout = run_benchmark(*args)
    assert "rss:bptt" in stdout
    (row,) = json.loads(out_json.read_text())["rows"]
    libs = {"bptt", "torch"} if torch_available() else {"bptt"}
    assert set(row["rss_growth_bytes"]) == libs
    assert all(v >= 0 for v in row["rss_growth_bytes"].values())
