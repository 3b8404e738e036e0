"""Every CLI test runs in a folder of its own, and ``tiny_run`` is a two-epoch adder run."""

from pathlib import Path

import pytest

from helpers import TINY_ADDITION


@pytest.fixture(autouse=True)
def in_tmp_cwd(tmp_path, monkeypatch):
    """A run without --run-dir goes to ./runs: keep that inside the test's own folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tiny_run(tmp_path, cli) -> tuple[Path, str]:
    run = tmp_path / "tiny"
    rc, out, err = cli("train", "addition", *TINY_ADDITION, "--run-dir", run)
    assert rc == 0, err
    return run, out
