"""Held out means never trained on: the tasks' splits share no example, asserted on the arrays
the tasks build, and summary.json names the split of every figure."""

import json

import numpy as np
import pytest

from bptt.data import binary_addition, pair_codes
from bptt.tasks import default_options, get_task
from helpers import TINY_ADDITION


def _pairs(xs: np.ndarray) -> set:
    """Each sequence's bits of a and b (T, N, 2) -> the set of (a, b) as bytes."""
    return {xs[:, n].astype(np.int8).tobytes() for n in range(xs.shape[1])}


@pytest.mark.parametrize("bits, train_size", [(8, 4000), (4, 40)])
def test_addition_splits_share_no_pair(bits, train_size):
    opts = default_options(get_task("addition").defaults)
    opts.update(bits=bits, train_size=train_size, test_size=40 if bits == 4 else 10000)
    data = get_task("addition").load(opts, 0)
    train, val, test = (_pairs(s.inputs) for s in (data.train, data.validation, data.test))
    assert not train & val and not train & test and not val & test
    counts = data.extra["distinct_pairs"]
    assert counts == {"train": len(train), "validation": len(val), "test": len(test)}
    assert counts["train"] + counts["validation"] + counts["test"] <= 2 ** (2 * (bits - 1))


def test_binary_addition_exclude_never_draws_an_excluded_pair():
    rng = np.random.default_rng(0)
    _, _, a, b = binary_addition(300, rng, 5)  # 256 pairs: the draw covers most of them
    banned = pair_codes(a, b, 5)
    xs, ys, a2, b2 = binary_addition(500, rng, 5, exclude=banned)
    assert not np.isin(pair_codes(a2, b2, 5), banned).any()
    assert 0 < len(np.unique(pair_codes(a2, b2, 5))) <= 256 - len(np.unique(banned))
    with pytest.raises(ValueError, match="no pair is left"):
        binary_addition(1, rng, 2, exclude=np.arange(4))


def test_text_splits_are_disjoint_parts_of_the_text(tmp_path):
    text = "".join(chr(65 + i % 26) for i in range(4000))
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    opts = default_options(get_task("text").defaults)
    opts.update(text=str(tmp_path / "t.txt"), batch_size=2, seq_len=10)
    data = get_task("text").load(opts, 0)
    parts = [s.ids for s in (data.train, data.validation, data.test)]
    assert [len(p) for p in parts] == [3200, 400, 400]
    np.testing.assert_array_equal(np.concatenate(parts), data.vocabulary.encode(text))
    # three different arrays of the text, not one split reported twice
    assert data.test is not data.validation
    assert not np.shares_memory(parts[1], parts[2])


def test_summary_names_the_split_of_every_figure(tmp_path, cli):
    rc, out, err = cli("train", "addition", *TINY_ADDITION, "--run-dir", tmp_path / "r")
    assert rc == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["best"]["split"] == summary["final"]["split"] == "validation"
    assert summary["test"]["split"] == "test"
    assert set(summary["test"]["distinct_pairs"]) == {"train", "validation", "test"}
