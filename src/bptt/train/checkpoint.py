"""Checkpoints — everything needed to resume training exactly, in one directory.

    run_dir/checkpoints/
        latest.json               {"path": "step-000123", "step": 123}
        step-000123/
            model.safetensors     params under PyTorch names (torch loads them as they are)
            optimizer.safetensors optimizer arrays (moments, ...)
            stream.safetensors    a stateful stream's carried state and truncated-BPTT
                                  context (only when there is one)
            state.json            step, optimizer meta, RNG state, counters, config, vocabulary
            manifest.json         size and sha256 of each file above; written last

Saving: every file is encoded in memory first (bad input changes nothing on disk), written into
a hidden ".step-000123.tmp-<random>" directory, fsynced, and the directory is renamed into
place with os.replace. A crash therefore never leaves a half checkpoint under a final name;
a "step-*" directory without a valid manifest.json is incomplete by definition. Then
latest.json is replaced atomically and all but the newest ``keep_last`` checkpoints are removed
(renamed aside first, so a crash mid-delete leaves no partial checkpoint either). One writer
per run directory.

Loading: resolve the directory (a run directory -> latest.json -> else the highest complete
step), read manifest.json, check every listed file's presence, size and sha256, then decode
the very bytes that were checked. Nothing is ever unpickled.

Stream state: ``carry.<k>`` (the recurrent state carried into the next batch or window,
k-th array of the state tuple) and ``context.inputs`` / ``context.targets`` / ``context.mask``
(the steps a truncated-BPTT window reaches back into). Checkpoints written before
stream.safetensors existed kept these keys among the optimizer arrays; loading moves them here.

RNG state is ``Generator.bit_generator.state`` as JSON (``rng_state.py``). A data-parallel
run (``distributed.py``) adds ``rank_rngs`` to state.json: the dropout generator of every rank,
rank 0's being ``rng`` itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bptt.bounded import read_bounded
from bptt.checks import is_integer
from bptt.io import (
    CorruptFileError,
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
    json_bytes,
    json_from_bytes,
    naming,
    read_json,
    weights_bytes,
    weights_from_bytes,
)
from bptt.train.checkpoint_format import (  # noqa: F401 (re-exported)
    CHECKPOINTS,
    FORMAT,
    FORMAT_VERSION,
    LATEST,
    LEFTOVER_DIR,
    MANIFEST,
    MODEL,
    OPTIMIZER,
    STATE,
    STEP_DIR,
    STREAM,
    STREAM_KEYS,
    Checkpoint,
    CheckpointError,
    step_dir_name,
)
from bptt.train.rng_state import to_json


def _check_step(step) -> int:
    if not is_integer(step):
        raise TypeError(f"step: expected a non-negative integer, got {type(step).__name__}")
    if step < 0:
        raise ValueError(f"step: expected a non-negative integer, got {step}")
    return int(step)


def _check_dict(name: str, value, allow_none: bool = False) -> dict | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, Mapping):
        expected = "a dict or None" if allow_none else "a dict"
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__}")
    return dict(value)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hidden_name(root: Path, name: str, kind: str) -> Path:
    return root / f".{name}.{kind}-{secrets.token_hex(6)}"


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The ``checkpoints/step-*`` directories of a run, sorted by step (complete or not)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m[1]), p) for p in root.iterdir() if (m := STEP_DIR.fullmatch(p.name))]
    return [p for _, p in sorted(f for f in found if f[1].is_dir())]


def save_checkpoint(
    run_dir: str | os.PathLike,
    step: int,
    *,
    params: Mapping[str, np.ndarray],
    optimizer_state: Mapping,
    rng_state: Mapping,
    counters: Mapping,
    config: Mapping,
    vocabulary: Mapping | None = None,
    stream: Mapping[str, np.ndarray] | None = None,
    keep_last: int | None = 3,
    rank_rng_states: list | None = None,
) -> Path:
    """Write checkpoint ``step`` of a run atomically (see the module docstring); returns its
    directory. ``keep_last=None`` keeps every checkpoint."""
    step = _check_step(step)
    if keep_last is not None and (not is_integer(keep_last) or keep_last < 1):
        raise ValueError(f"keep_last: expected a positive integer or None, got {keep_last!r}")
    optimizer_state = _check_dict("optimizer_state", optimizer_state)
    if set(optimizer_state) != {"meta", "arrays"}:
        raise ValueError(
            "optimizer_state: expected exactly the keys ['arrays', 'meta'], "
            f"got {sorted(map(str, optimizer_state))}"
        )
    if isinstance(rng_state, np.random.Generator):
        raise TypeError("rng_state: expected a dict, got a Generator; pass generator_state(rng)")
    state = {
        "step": step,
        "optimizer": _check_dict("optimizer_state['meta']", optimizer_state["meta"]),
        "rng": to_json(_check_dict("rng_state", rng_state)),
        "counters": _check_dict("counters", counters),
        "config": _check_dict("config", config),
        "vocabulary": _check_dict("vocabulary", vocabulary, allow_none=True),
    }
    if rank_rng_states is not None:
        state["rank_rngs"] = [
            to_json(_check_dict("rank_rng_states[r]", r)) for r in rank_rng_states
        ]
    stream = _check_dict("stream", stream, allow_none=True) or {}
    unknown = sorted(k for k in stream if not STREAM_KEYS.fullmatch(str(k)))
    if unknown:
        raise ValueError(f"stream: expected keys carry.<k> and context.*, got {unknown}")
    files = {
        MODEL: weights_bytes(params, {"format": "pt"}),
        OPTIMIZER: weights_bytes(optimizer_state["arrays"], {"format": "pt"}),
        STATE: json_bytes(state, what=STATE),
    }
    if stream:
        files[STREAM] = weights_bytes(stream, {"format": "pt"})
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "step": step,
        "files": {n: {"sha256": _sha256(b), "size": len(b)} for n, b in files.items()},
    }
    root = Path(run_dir) / CHECKPOINTS
    final = root / step_dir_name(step)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = _hidden_name(root, final.name, "tmp")
        os.mkdir(tmp)
    except OSError as e:
        raise naming(e, final) from e
    try:
        for name, data in files.items():
            atomic_write_bytes(tmp / name, data)
        atomic_write_json(tmp / MANIFEST, manifest)  # last: its presence marks the set complete
        _move_into_place(tmp, final)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):  # the checkpoint's name, not its temporary folder's
            inside = e.filename is not None and Path(e.filename).parent == tmp
            raise naming(e, final / Path(e.filename).name if inside else final) from e
        raise
    fsync_dir(root)
    atomic_write_json(root / LATEST, {"path": final.name, "step": step})
    _prune(root, keep_last, final)
    return final


def _move_into_place(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.replace(tmp, final)
        return
    if not _is_ours(final):
        raise CheckpointError(
            f"{final}: exists and is not a checkpoint bptt wrote; it is left as it is "
            "(move it away to save this step)"
        )
    # Saving a step again (a resumed run reaching it twice): a directory cannot replace a
    # non-empty one, so the old one is set aside first.
    old = _hidden_name(final.parent, final.name, "old")
    os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _prune(root: Path, keep_last: int | None, just_written: Path) -> None:
    for p in root.iterdir():
        if LEFTOVER_DIR.fullmatch(p.name) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)  # left by a save that crashed
    if keep_last is None:
        return
    # only checkpoints bptt wrote: a valid manifest listing every file of the directory
    others = [p for p in list_checkpoints(root.parent) if p != just_written and _is_ours(p)]
    for p in others[: max(0, len(others) - (keep_last - 1))]:
        old = _hidden_name(root, p.name, "old")
        os.replace(p, old)
        shutil.rmtree(old, ignore_errors=True)


def _is_ours(ckpt_dir: Path) -> bool:
    """A checkpoint this format wrote and nothing else: its files are exactly the manifest's."""
    try:
        listed = set(_read_manifest(ckpt_dir)["files"]) | {MANIFEST}
    except (CheckpointError, OSError):
        return False
    return not ckpt_dir.is_symlink() and {p.name for p in ckpt_dir.iterdir()} <= listed


def _read_manifest(ckpt_dir: Path) -> dict:
    path = ckpt_dir / MANIFEST
    if not path.is_file():
        raise CheckpointError(
            f"{path}: missing; the checkpoint is incomplete (its save was interrupted, "
            "or the file was removed)"
        )
    try:
        manifest = read_json(path)
    except (ValueError, OSError) as e:
        raise CheckpointError(str(e)) from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format_version {manifest.get('format_version')!r}, this bptt reads "
            f"{FORMAT_VERSION}"
        )
    files = manifest.get("files")
    ok = (
        isinstance(manifest.get("step"), int)
        and isinstance(files, dict)
        and all(isinstance(e, dict) for e in files.values())
    )
    if not ok:
        raise CheckpointError(f"{path}: expected 'step' (int) and 'files' (a dict of dicts)")
    for name in (MODEL, OPTIMIZER, STATE):
        if name not in files:
            raise CheckpointError(f"{path}: does not list {name}")
    return manifest


def _read_verified(ckpt_dir: Path, name: str, entry: dict) -> bytes:
    """The bytes of one listed file, after checking them against the manifest entry."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", "..", MANIFEST):
        raise CheckpointError(f"{ckpt_dir / MANIFEST}: lists an invalid file name {name!r}")
    path = ckpt_dir / name
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (listed in {MANIFEST}); the checkpoint is broken")
    size = entry.get("size")
    if not is_integer(size) or size < 0:
        raise CheckpointError(f"{ckpt_dir / MANIFEST}: expected a size for {name}, got {size!r}")
    try:  # at most one byte more than the manifest says: a longer file is wrong anyway
        data = read_bounded(path, size + 1, "checkpoint file")
    except ValueError as e:
        raise CheckpointError(str(e)) from e
    if len(data) != entry.get("size"):
        raise CheckpointError(
            f"{path}: {len(data)} bytes, but {MANIFEST} says {entry.get('size')}; "
            "the file is truncated or was changed"
        )
    if _sha256(data) != entry.get("sha256"):
        raise CheckpointError(
            f"{path}: sha256 {_sha256(data)} does not match {MANIFEST} "
            f"({entry.get('sha256')}); the file is corrupted or was changed"
        )
    return data


def _is_complete(ckpt_dir: Path) -> bool:
    """A manifest that reads, and every listed file present at its size (no hashing)."""
    try:
        manifest = _read_manifest(ckpt_dir)
    except CheckpointError:
        return False
    files = manifest["files"].items()
    return all(
        (ckpt_dir / n).is_file() and (ckpt_dir / n).stat().st_size == e.get("size")
        for n, e in files
    )


def complete_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The run's checkpoints that look whole (a manifest, every file at its size), by step."""
    return [p for p in list_checkpoints(run_dir) if _is_complete(p)]


def point_latest(ckpt_dir: str | os.PathLike) -> None:
    """Make ``latest.json`` name the checkpoint ``ckpt_dir`` (a roll-back to it)."""
    ckpt_dir = Path(ckpt_dir)
    step = _read_manifest(ckpt_dir)["step"]
    atomic_write_json(ckpt_dir.parent / LATEST, {"path": ckpt_dir.name, "step": step})


def find_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint directory meant by ``path``: a checkpoint directory itself, or a run
    directory, whose ``checkpoints/latest.json`` names it, else its highest complete step."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint: no such file or directory: {path}")
    if (path / MANIFEST).exists() or STEP_DIR.fullmatch(path.name):
        return path
    root = path / CHECKPOINTS
    if not root.is_dir():
        raise CheckpointError(
            f"{path}: expected a checkpoint directory (with {MANIFEST}) or a run directory "
            f"(with {CHECKPOINTS}/), found neither"
        )
    try:
        latest = read_json(root / LATEST)
        step = _check_step(latest["step"])
        if (root / step_dir_name(step)).is_dir():
            return root / step_dir_name(step)
    except (OSError, ValueError, TypeError, KeyError):
        pass  # a missing or stale pointer: fall back to scanning the directories
    for candidate in reversed(list_checkpoints(path)):
        if _is_complete(candidate):
            return candidate
    raise CheckpointError(f"{root}: no complete checkpoint found")


def _arrays(blobs: dict, ckpt_dir: Path, name: str) -> dict[str, np.ndarray]:
    try:
        return weights_from_bytes(blobs[name], ckpt_dir / name)
    except CorruptFileError as e:
        raise CheckpointError(str(e)) from e


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load and verify a checkpoint (a checkpoint directory or a run directory); raises
    CheckpointError naming the file that is missing, truncated, corrupted or edited."""
    ckpt_dir = find_checkpoint(path)
    manifest = _read_manifest(ckpt_dir)
    blobs = {name: _read_verified(ckpt_dir, name, e) for name, e in manifest["files"].items()}
    params = _arrays(blobs, ckpt_dir, MODEL)
    optimizer_arrays = _arrays(blobs, ckpt_dir, OPTIMIZER)
    if STREAM in blobs:
        stream = _arrays(blobs, ckpt_dir, STREAM)
    else:  # written before stream.safetensors: the stream rode along with the optimizer
        stream = {
            k: optimizer_arrays.pop(k) for k in list(optimizer_arrays) if STREAM_KEYS.fullmatch(k)
        }
    try:
        state = json_from_bytes(blobs[STATE], ckpt_dir / STATE)
    except ValueError as e:
        raise CheckpointError(str(e)) from e
    keys = {"step", "optimizer", "rng", "counters", "config", "vocabulary"}
    if not isinstance(state, dict) or set(state) - {"rank_rngs"} != keys:
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{ckpt_dir / STATE}: expected the keys {sorted(keys)}, got {got}")
    if state["step"] != manifest["step"]:
        raise CheckpointError(
            f"{ckpt_dir / STATE}: step {state['step']!r}, but {MANIFEST} says {manifest['step']}"
        )
    return Checkpoint(
        step=manifest["step"],
        path=ckpt_dir,
        params=params,
        optimizer_state={"meta": state["optimizer"], "arrays": optimizer_arrays},
        rng_state=state["rng"],
        counters=state["counters"],
        config=state["config"],
        vocabulary=state["vocabulary"],
        stream=stream,
        rank_rng_states=_rank_rngs(state.get("rank_rngs"), ckpt_dir / STATE),
    )


def _rank_rngs(value, path: Path) -> list[dict] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
        raise CheckpointError(f"{path}: rank_rngs: expected a non-empty list of dicts")
    return value
