"""benchmarks/torch_reference.py keeps working: a tiny run on hand-made MNIST files.

No accuracy is asserted (the images are noise); only that it exits 0, trains on bptt's own
split (the step count follows from the training images left after the validation ones), and
writes one row per cell with accuracies that are fractions of the split sizes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import write_mnist

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "torch_reference.py"
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def test_tiny_run_trains_on_bptts_split_and_saves_a_row_per_cell(tmp_path):
    pytest.importorskip("torch")
    folder = write_mnist(tmp_path / "mnist", n_train=64, n_test=32)
    out_json = tmp_path / "out" / "results.json"
    out_json.parent.mkdir()
    argv = ["--data-dir", str(folder), "--no-verify", "--validation-size", "16"]
    argv += ["--epochs", "2", "--batch-size", "16", "--hidden-size", "8", "--threads", "1"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--json", str(out_json)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ONE_THREAD},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "48 train / 16 validation / 32 test" in done.stdout
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["cell"] for r in rows] == ["lstm", "gru", "rnn_tanh"]
    for r in rows:
        assert r["steps"] == 2 * 3  # 48 training images in batches of 16, two epochs
        assert 1 <= r["best_epoch"] <= 2
        assert (r["validation_accuracy"] * 16) % 1 == pytest.approx(0, abs=1e-9)
        assert (r["test_accuracy"] * 32) % 1 == pytest.approx(0, abs=1e-9)
    assert list(out_json.parent.iterdir()) == [out_json]  # the atomic write left no temp file


def test_refuses_hand_made_files_without_no_verify(tmp_path):
    folder = write_mnist(tmp_path / "mnist")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--data-dir", str(folder), "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ONE_THREAD},
    )
    assert done.returncode != 0
    assert "MD5" in done.stderr
