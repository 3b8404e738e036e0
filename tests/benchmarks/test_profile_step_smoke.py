"""benchmarks/profile_step.py keeps working: one config, one thread, one call per phase.

No timing is asserted; only that it exits 0, prints the GEMM peak it measured and a row per
phase, and gives the GEMM phases a positive GFLOP/s and share of that peak.
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "profile_step.py"
GEMM_PHASES = ("input proj", "rec fwd", "rec bwd", "weight grads")


def test_prints_every_phase_and_the_gemm_phases_share_of_the_peak():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--configs", "mnist", "--threads", "1"]
        + ["--repeats", "1", "--no-torch"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("# 1 thr: float32 GEMM peak ") for line in lines)
    rows = {line[:17].strip(): line[17:].split() for line in lines if line[:17].strip()}
    for phase in ("gates fwd", "gates bwd", "head", "rest", "step", "infer"):
        assert phase in rows, done.stdout
    for phase in GEMM_PHASES:
        ms, gflops, share = float(rows[phase][0]), float(rows[phase][-2]), rows[phase][-1]
        assert ms > 0 and gflops > 0 and share.endswith("%") and float(share[:-1]) > 0
