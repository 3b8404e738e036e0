"""Fixtures shared by the whole test tree, drawn from the package's own registries.

    cell    every cell of ``bptt.nn.CELLS``, one test each (a new cell is tested by every test
            that takes ``cell``); a test that covers a subset parametrizes ``cell`` itself
    cli     ``cli(*argv) -> (exit status, stdout, stderr)``: ``bptt argv`` run in-process

The tree mirrors the package: tests/nn (tests/nn/gradients: the properties every cell's
gradients must have), tests/data, tests/optim, tests/train, tests/insight, tests/cli, tests/io
(bptt.io), tests/benchmarks (the scripts in benchmarks/); at the top level only tests of the
whole package. Plain helper functions are in helpers.py. There are no __init__.py files, so
every test file's name must be unique across the tree.
"""

import pytest

from bptt.cli import main
from bptt.nn import CELLS


@pytest.fixture(params=list(CELLS))
def cell(request) -> str:
    return request.param


@pytest.fixture
def cli(capsys):
    """Run ``bptt argv`` in-process; returns (exit status, stdout, stderr)."""

    def run(*argv) -> tuple[int, str, str]:
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run
