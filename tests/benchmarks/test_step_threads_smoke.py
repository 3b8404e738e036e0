"""benchmarks/step_threads.py keeps working: one block of one call per thread count.

No timing is asserted; only that it exits 0 and prints a row per (config, cell) of
step_time.py with both products' times and whether the thread counts gave the same bits.
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "step_threads.py"


def test_prints_a_row_per_config_and_cell_with_the_bits_compared():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeats", "1", "--blocks", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if not line.startswith("#")][1:]
    expected = {
        (c, cell) for c in ("mnist", "charlm", "large") for cell in ("rnn_tanh", "lstm", "gru")
    }
    assert {(r[0], r[1]) for r in rows} == expected
    for r in rows:
        assert len(r) == 12 and r[-1] in ("yes", "NO")
        assert all(float(v) > 0 for v in r[5:11])
