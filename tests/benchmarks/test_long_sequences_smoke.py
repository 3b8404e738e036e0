"""benchmarks/long_sequences.py keeps working: a tiny run as a subprocess, as CI runs it.

No timing is asserted; only that it exits 0, writes a row per (budget, policy) with the
fields the README quotes, that a budgeted cache keeps less than full BPTT's, that a budget
below the minimum is reported as not fitting, and that the picture is written.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "long_sequences.py"
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
MEASURED = {"times_s", "step_s", "cache_nbytes", "tracemalloc_peak_bytes", "rss_growth_bytes"}


def run_benchmark(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--threads", "1", "--repeats", "1", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ONE_THREAD},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_tiny_run_saves_every_row_with_a_budgeted_cache_smaller_than_full(tmp_path):
    out_json = tmp_path / "results.json"
    budgets = ["1KiB", "min", "4MiB", "full"]
    stdout = run_benchmark(
        "--cells", "lstm", "--lengths", "40", "--budgets", *budgets, "--json", str(out_json)
    )
    assert "# summary" in stdout and "dp against every_k" in stdout
    rows = json.loads(out_json.read_text())["rows"]
    bptt = {(r["budget"], r["policy"]): r for r in rows if r["lib"] == "bptt"}
    expected = {(b, p) for b in budgets[:-1] for p in ("dp", "every_k")} | {("full", "full")}
    assert set(bptt) == expected
    torch_rows = [r for r in rows if r["lib"] == "torch"]
    assert len(torch_rows) == (1 if importlib.util.find_spec("torch") else 0)

    full = bptt[("full", "full")]
    assert MEASURED <= set(full) and full["plan"]["recomputed_steps"] == 0
    assert not bptt[("1KiB", "dp")]["fits"] and bptt[("1KiB", "dp")]["needs"] > 1024
    minimum = bptt[("min", "dp")]
    assert minimum["fits"] and MEASURED <= set(minimum)
    assert minimum["budget_bytes"] == minimum["plan"]["predicted_peak_bytes"]
    assert 0 < minimum["cache_nbytes"] < full["cache_nbytes"]
    assert minimum["cache_nbytes"] == minimum["plan"]["predicted_kept_bytes"]
    assert minimum["plan"]["recomputed_steps"] > 40  # the minimum recomputes some steps often
    assert minimum["tracemalloc_peak_bytes"] < full["tracemalloc_peak_bytes"]
    for row in bptt.values():
        if row["fits"]:
            assert row["rss_growth_bytes"] >= 0 and row["step_s"] > 0
            assert row["cache_nbytes"] <= full["cache_nbytes"]


def test_plot_is_written_and_bad_budget_refused(tmp_path):
    png = tmp_path / "long.png"
    run_benchmark("--cells", "gru", "--lengths", "8", "--budgets", "min", "full", "--no-torch",
                  "--plot", str(png))  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [png]  # the atomic write left no temp file
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--budgets", "lots", "--json", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "expected a positive number of bytes" in done.stderr
    assert not (tmp_path / "x.json").exists()
