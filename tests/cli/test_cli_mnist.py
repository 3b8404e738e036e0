"""``bptt train mnist`` offline: missing, malformed and small hand-made IDX files, no network.

The command line always verifies the MD5s of the real MNIST files, so small hand-made files
are refused as "not the MNIST file". Where a test needs them read, it switches verification off
the way a ``--no-verify`` flag would: ``load_mnist(..., verify=False)`` behind ``bptt.tasks.mnist``.
"""

import contextlib
import io
import json

import numpy as np
import pytest

import bptt.data.mnist
import bptt.tasks.mnist
from bptt.cli import main
from bptt.data import load_mnist
from helpers import NAMES, assert_usage_error, idx_bytes, write_mnist

TINY = ["--validation-size", "16", "--epochs", "1", "--hidden-size", "8", "--batch-size", "16"]


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Any download attempt fails loudly, and the cache is a fresh folder of the test's own."""
    asked = []

    def no_network(url):
        asked.append(url)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(bptt.data.mnist, "_urllib_fetch", no_network)
    monkeypatch.setenv("BPTT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return asked


@pytest.fixture
def unverified(monkeypatch):
    """What ``--no-verify`` would do: read IDX files that are not the published MNIST."""

    def unverified_load(*args, **kwargs):
        return load_mnist(*args, **{**kwargs, "verify": False})

    monkeypatch.setattr(bptt.tasks.mnist, "load_mnist", unverified_load)


def test_an_empty_data_dir_names_the_missing_files(tmp_path, cli, offline):
    (tmp_path / "empty").mkdir()
    rc, _, err = cli("train", "mnist", "--data-dir", tmp_path / "empty", "--run-dir", "r")
    assert_usage_error(rc, err, "MNIST not found", str(tmp_path / "empty"), *NAMES.values())
    assert offline == [] and not (tmp_path / "r").exists()


def test_without_data_dir_the_download_is_tried_and_its_failure_reported(tmp_path, cli, offline):
    rc, _, err = cli("train", "mnist", "--run-dir", "r")
    assert_usage_error(rc, err, str(tmp_path / "cache" / "mnist"), "network disabled")
    assert offline and all(url.startswith("https://") for url in offline)
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))
    assert not (tmp_path / "r").exists()


def test_hand_made_files_fail_the_md5_check(tmp_path, cli):
    folder = write_mnist(tmp_path / "mnist")
    rc, _, err = cli("train", "mnist", "--data-dir", folder, *TINY, "--run-dir", "r")
    assert_usage_error(rc, err, "MD5", NAMES["train_images"])
    assert not (tmp_path / "r").exists()


def bad_magic() -> bytes:
    data = bytearray(idx_bytes(np.zeros((64, 28, 28))))
    data[3] = 1  # images announced as 1-D
    return bytes(data)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"train_images": bad_magic()}, [NAMES["train_images"], "magic number", "0x00000801"]),
        (
            {"test_labels": idx_bytes(np.zeros(32))[:-5]},
            [NAMES["test_labels"], "truncated", "expected 40 bytes"],
        ),
        (
            {"test_labels": idx_bytes(np.zeros(31))},
            ["test", "as many labels as images", "32 images and 31 labels"],
        ),
        ({"train_labels": idx_bytes(np.full(64, 12))}, ["labels", "0..9", "12"]),
    ],
)
def test_malformed_files_are_named(tmp_path, cli, unverified, override, words):
    folder = write_mnist(tmp_path / "mnist", **override)
    rc, _, err = cli("train", "mnist", "--data-dir", folder, *TINY, "--run-dir", "r")
    assert_usage_error(rc, err, *words)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("view", ["rows", "pixels"])
def test_small_valid_files_train_and_evaluate(tmp_path, cli, unverified, offline, view):
    folder = write_mnist(tmp_path / "mnist")
    run = tmp_path / "run"
    argv = ["train", "mnist", "--data-dir", folder, "--view", view, *TINY, "--run-dir", run]
    rc, out, err = cli(*argv)
    assert rc == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["steps"] == 3  # 64 - 16 training images in batches of 16
    assert 0 <= summary["test"]["accuracy"] <= 1
    rc, out, err = cli("eval", run)
    result = json.loads(out)
    assert rc == 0 and result["task"] == "mnist"
    assert result["loss"] == pytest.approx(summary["test"]["loss"], rel=1e-6)
    assert offline == []


def test_validation_size_as_large_as_the_training_set_is_rejected(tmp_path, cli, unverified):
    folder = write_mnist(tmp_path / "mnist")
    argv = ["train", "mnist", "--data-dir", folder, "--validation-size", 64, "--run-dir", "r"]
    assert_usage_error(*cli(*argv)[::2], "validation_size", "64")


def train_help() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["train", "--help"])
    return out.getvalue()


@pytest.mark.skipif("--no-verify" not in train_help(), reason="the CLI has no --no-verify yet")
def test_no_verify_flag_reads_hand_made_files(tmp_path, cli):
    folder = write_mnist(tmp_path / "mnist")
    argv = ["train", "mnist", "--data-dir", folder, "--no-verify", *TINY, "--run-dir", "r"]
    rc, _, err = cli(*argv)
    assert rc == 0, err
