"""The checkpoint format's names and the loaded ``Checkpoint`` (the format: ``checkpoint.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bptt.io import CorruptFileError
from bptt.train.rng_state import generator_from_state

FORMAT = "bptt-checkpoint"
FORMAT_VERSION = 1
CHECKPOINTS = "checkpoints"
LATEST = "latest.json"
MANIFEST = "manifest.json"
MODEL = "model.safetensors"
OPTIMIZER = "optimizer.safetensors"
STREAM = "stream.safetensors"
STREAM_KEYS = re.compile(r"carry\.\d+|context\.(inputs|targets|mask)")
STATE = "state.json"
STEP_DIR = re.compile(r"step-(\d+)")
LEFTOVER_DIR = re.compile(r"\.step-\d+\.(tmp|old)-[0-9a-f]+")


class CheckpointError(CorruptFileError):
    """A checkpoint is incomplete, truncated, corrupted or edited, or is not one."""


@dataclass
class Checkpoint:
    """One loaded checkpoint; ``rng()`` rebuilds the saved ``numpy.random.Generator``."""

    step: int
    path: Path
    params: dict[str, np.ndarray]
    optimizer_state: dict  # {"meta": dict, "arrays": dict[str, np.ndarray]}
    rng_state: dict
    counters: dict
    config: dict
    vocabulary: dict | None
    stream: dict[str, np.ndarray]  # carry.<k>, context.* (see the module docstring); {} if none
    rank_rng_states: list[dict] | None = None  # every rank's generator (a data-parallel run)

    def rng(self) -> np.random.Generator:
        return generator_from_state(self.rng_state)


def step_dir_name(step: int) -> str:
    return f"step-{step:06d}"
