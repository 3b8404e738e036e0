"""Running ``bptt`` in-process in tests, and what a usage error must look like."""

from bptt.cli import main


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Run ``bptt argv`` in-process; returns (exit status, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_usage_error(rc: int, err: str, *words: str) -> None:
    """Exit 2 with exactly one line on stderr, 'bptt: error: ...', naming every word."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bptt: error:"), err
    for word in words:
        assert word in lines[0], (word, err)
