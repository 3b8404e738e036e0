"""The trainer's checkpoints: everything a step leaves behind, saved and restored exactly.

``Resumable`` is the part of ``Trainer`` that turns its state into a checkpoint (the format:
``checkpoint.py``) and back:

    params, optimizer state, counters, config, vocabulary     the same on every rank
    stream: carry.<k> (L*K, N, H), context.* (Tc, N[, ...])   each rank holds its columns
    the dropout generator                                    one per rank

With ranks (``self.comm``), saving is collective: the streams' columns and every rank's
generator state are gathered to rank 0, which alone writes. Restoring, every rank reads the
checkpoint and takes its share of the N streams as the current number of ranks splits them,
so a run resumed with another number of ranks continues the same run; a rank the saved run
did not have starts its generator as a fresh rank does (``distributed.rank_generator``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from bptt.nn import Batch
from bptt.train import checkpoint as ckpt
from bptt.train.distributed import gather_stream, rank_generator, stream_share
from bptt.train.resume_check import check_resumable
from bptt.train.rng_state import generator_from_state, generator_state


class Resumable:
    """Mixed into Trainer: ``save`` and ``restore`` (see the module docstring)."""

    def config_dict(self) -> dict:
        return {"train": dataclasses.asdict(self.config), **self.extra_config}

    def stream_state(self) -> dict[str, np.ndarray]:
        """This rank's carried state and truncated-BPTT context, as checkpoints keep them."""
        stream = {}
        if self.carry is not None:
            carry = self.carry if isinstance(self.carry, tuple) else (self.carry,)
            stream.update({f"carry.{k}": v for k, v in enumerate(carry)})
        context = None if self.tbptt is None else self.tbptt.context
        if context is not None:  # k2 > k1: the next window reaches back into these steps
            stream.update({"context.inputs": context.inputs, "context.targets": context.targets})
            if context.mask is not None:
                stream["context.mask"] = context.mask
        return stream

    def save(self) -> Path | None:
        """Checkpoint the run; a second call with nothing changed since returns the same one.
        With ranks every rank must call it (it gathers), and rank 0 writes."""
        if self.run_dir is None:
            return None
        counters = json.dumps(self.counters, sort_keys=True, default=str)
        if self._saved is not None and self._saved[0] == counters:
            return self._saved[1]
        stream, rng = self.stream_state(), generator_state(self.model.rnn.rng)
        rank_rngs = None
        if self.comm is not None:
            stream, rank_rngs = gather_stream(self.comm, stream), self.comm.allgather_json(rng)
        path = self.run_dir / ckpt.CHECKPOINTS / ckpt.step_dir_name(self.counters["step"])
        if self.rank == 0:
            path = ckpt.save_checkpoint(
                self.run_dir,
                self.counters["step"],
                params=self.model.params,
                optimizer_state=self.optimizer.state_dict(),
                rng_state=rng,
                counters=dict(self.counters),
                config=self.config_dict(),
                vocabulary=self.vocabulary,
                stream=stream,
                keep_last=self.config.keep_checkpoints,
                rank_rng_states=rank_rngs,
            )
        self._saved = (counters, path)
        self.log.saved(self.counters["step"])
        return path

    def restore(self, path: str | Path) -> None:
        """Continue exactly where a checkpoint (or the latest one of a run directory) left off;
        with ranks, every rank reads it and takes its share."""
        c = ckpt.load_checkpoint(path)
        check_resumable(c, self.extra_config.get("run_id"))
        self.model.load_state_dict(c.params)
        self.optimizer.load_state_dict(c.optimizer_state)
        saved_rngs = c.rank_rng_states or [c.rng_state]
        if self.rank < len(saved_rngs):
            self.model.rnn.rng = generator_from_state(saved_rngs[self.rank])
        else:
            self.model.rnn.rng = rank_generator(generator_from_state(c.rng_state), self.rank)
        self.counters = {"window": 0, "first_loss": None, **c.counters}  # older ones lack them
        # checkpoints from before the best-loss reference: the first loss is an upper bound
        self.counters.setdefault("best_loss", self.counters["first_loss"])
        stream = c.stream if self.comm is None else stream_share(c.stream, *self.part)
        carry = [stream[k] for k in sorted(k for k in stream if k.startswith("carry."))]
        self.carry = None if not carry else (tuple(carry) if len(carry) == 2 else carry[0])
        if self.tbptt is not None:
            self.tbptt.reset()
            # the state before the context (see TruncatedBPTT), or after the last window done
            self.tbptt.state = self.carry
            if "context.inputs" in stream:
                s = stream
                self.tbptt.context = Batch(
                    s["context.inputs"], s["context.targets"], None, s.get("context.mask")
                )
        self.log.resumed(self.counters["step"], path)
