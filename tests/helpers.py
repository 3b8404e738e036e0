"""What tests import by name: plain functions, some needed while a module is being collected
(``backends_for`` builds parametrize lists, ``require_numba`` skips a whole module), which a
conftest.py cannot export cleanly. Fixtures live in conftest.py. ``pythonpath = ["tests"]`` in
pyproject.toml makes ``from helpers import ...`` work from every folder of the tree.

    backends        backends_for, require_numba, require
    the CLI         assert_usage_error; TINY_ADDITION; printed_config, printed_summary,
                    read_metrics, train_steps (what a ``bptt train`` printed and wrote)
    tiny training   addition_data, addition_model, stream_data, stream_model, train, resumed,
                    train_losses, assert_same_params
    MNIST files     NAMES, idx_bytes, write_mnist (small hand-made IDX files)
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bptt.data import binary_addition
from bptt.io import read_jsonl
from bptt.nn import SequenceTagger, numba_available
from bptt.nn.kernels import FUSED_CELLS
from bptt.train import ArrayBatches, StreamBatches, Trainer

# ----- backends -------------------------------------------------------------------------------
# The backends each gradient test runs on: NumPy always, and the fused numba kernels for the
# cells that have them. Without numba the numba cases skip and say so, except in CI (CI=true),
# where they fail: the dev extra installs numba, so CI must run them.


def backends_for(cell: str) -> list[str]:
    return ["numpy", "numba"] if cell in FUSED_CELLS else ["numpy"]


def skip_or_fail_in_ci(reason: str, why_in_ci: str, allow_module_level: bool = False) -> None:
    """Skip saying ``reason``; in CI (CI=true), where everything a test needs is installed,
    fail instead, saying ``why_in_ci`` too: a skipped check must not pass for a run one."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; {why_in_ci}")
    pytest.skip(reason, allow_module_level=allow_module_level)


def require_numba():
    """The numba module, or a skip (a failure in CI) naming what is missing."""
    if not numba_available():
        skip_or_fail_in_ci(
            'the numba backend needs numba (pip install "bptt[fast]")',
            "CI must run these tests, and the dev extra installs it",
            allow_module_level=True,
        )
    import numba

    return numba


def require(backend: str) -> None:
    if backend == "numba":
        require_numba()


# ----- the CLI --------------------------------------------------------------------------------
# The runner itself is the ``cli`` fixture (conftest.py).

TINY_ADDITION = ["--epochs", "2", "--train-size", "200", "--test-size", "100"]


def assert_usage_error(rc: int, err: str, *words: str) -> None:
    """Exit 2 with exactly one line on stderr, 'bptt: error: ...', naming every word."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bptt: error:"), err
    for word in words:
        assert word in lines[0], (word, err)


def printed_config(out: str, task: str) -> dict:
    """The options ``bptt train`` printed: JSON after the prefix, wrapped over lines."""
    prefix = f"bptt train {task}: "
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    text = lines[first][len(prefix) :]
    for line in lines[first + 1 :]:
        if text.endswith("}"):
            break
        text += line
    return json.loads(text)


def printed_summary(out: str) -> dict:
    return json.loads(next(line for line in out.splitlines() if line.startswith('{"best"')))


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def train_steps(run: Path) -> list[int]:
    return [e["step"] for e in read_metrics(run) if e["event"] == "train"]


# ----- tiny training runs (the Trainer's tests) -------------------------------------------------

F64 = np.float64
V = 5  # vocabulary of the synthetic streams


def addition_data(n=32, batch_size=8, bits=5, seed=0):
    xs, ys, _, _ = binary_addition(n, np.random.default_rng(seed), bits, dtype=F64)
    return ArrayBatches(xs, ys, batch_size, per_step_targets=True)


def addition_model(seed=0, cell="rnn_tanh", **kw):
    return SequenceTagger(cell, 2, 5, 2, dtype=F64, rng=np.random.default_rng(seed), **kw)


def stream_data(n_ids=60, batch_size=2, seq_len=6, seed=0):
    ids = np.random.default_rng(seed).integers(0, V, size=n_ids)
    return StreamBatches(ids, batch_size, seq_len)


def stream_model(seed=0, cell="gru"):
    return SequenceTagger(cell, 3, 4, V, vocab_size=V, dtype=F64, rng=np.random.default_rng(seed))


def train(model, config, train_data, val_data=None, run_dir=None, **kw):
    trainer = Trainer(model, config, train_data, val_data, run_dir=run_dir, progress=False, **kw)
    return trainer, trainer.fit()


def resumed(model, config, train_data, val_data, run_dir, checkpoint):
    """A Trainer built from scratch that restores ``checkpoint`` and trains on."""
    trainer = Trainer(model, config, train_data, val_data, run_dir=run_dir, progress=False)
    trainer.restore(checkpoint)
    return trainer, trainer.fit()


def train_losses(run_dir):
    return {
        e["step"]: e["loss"] for e in read_jsonl(run_dir / "metrics.jsonl") if e["event"] == "train"
    }


def assert_same_params(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def signal_a_training_run(run_dir: Path, signum: int, timeout: float) -> tuple[int, str]:
    """Start ``python -m bptt train addition`` (a long tiny run) into run_dir, send it
    ``signum`` once its first metrics line is written; -> (exit status, its stderr). Each
    wait is bounded by ``timeout`` seconds, and the process never outlives the call."""
    args = [sys.executable, "-m", "bptt", "train", "addition", "--epochs", "2000",
            "--run-dir", str(run_dir), "--bits", "4", "--train-size", "64", "--test-size", "10",
            "--hidden-size", "4", "--batch-size", "8", "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + timeout
        metrics = run_dir / "metrics.jsonl"
        while not (metrics.exists() and metrics.stat().st_size > 0):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"no metrics line within {timeout} s"
            time.sleep(0.02)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err.decode()


def require_mpiexec(what: str) -> str:
    """mpiexec's path, or a skip (a failure in CI, where the dev extra installs MPI) saying
    that ``what`` needs mpi4py and mpiexec."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        mpiexec = None
    else:
        mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        skip_or_fail_in_ci(
            f'{what} need mpi4py and mpiexec (pip install "bptt[mpi]")',
            "CI must run them, and the dev extra installs them",
        )
    return mpiexec


# ----- MNIST files ---------------------------------------------------------------------------
NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(a: np.ndarray) -> bytes:
    a = np.asarray(a, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape)
    return header + a.tobytes()


def write_mnist(folder: Path, n_train: int = 64, n_test: int = 32, **override: bytes) -> Path:
    """Random 28 x 28 images with labels 0..9; ``override`` replaces a file's bytes by key.
    The training images go in gzipped, the rest raw, since either form is accepted."""
    rng = np.random.default_rng(0)
    files = {
        "train_images": idx_bytes(rng.integers(0, 256, (n_train, 28, 28))),
        "train_labels": idx_bytes(rng.integers(0, 10, n_train)),
        "test_images": idx_bytes(rng.integers(0, 256, (n_test, 28, 28))),
        "test_labels": idx_bytes(rng.integers(0, 10, n_test)),
        **override,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, data in files.items():
        if key == "train_images":
            (folder / f"{NAMES[key]}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / NAMES[key]).write_bytes(data)
    return folder
