"""Tiny float64 training runs for the data-parallel tests, as a script ``mpiexec`` starts.

    python distributed_run.py OUT.npz [--kinds classifier tagger regressor] [--steps 50]
        [--run-dir DIR] [--resume] [--distributed]
        [--fault kill|term|raise --fault-rank R --at-step S]

Each kind trains a model with the parts of the trainer that ranks change: a classifier on
ragged sequences whose last batch has a single row (rank 1's share of it is empty), a tagger
with truncated BPTT (k1 < k2, the context crossing batches) over stateful streams, and a
per-step regressor on ragged sequences (its loss averages over steps, not rows). Rank 0
writes every kind's final parameters and summary into OUT.npz (a plain numeric archive).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import numpy as np

from bptt.data import adding_problem
from bptt.nn import SequenceClassifier, SequenceRegressor, SequenceTagger
from bptt.train import ArrayBatches, Communicator, StreamBatches, TrainConfig, Trainer

F64 = np.float64


def classifier():
    rng = np.random.default_rng(1)
    M, T = 41, 7  # batches of 8: the last one has 1 row
    xs = rng.standard_normal((T, M, 3))
    ys = rng.integers(0, 4, M)
    lengths = rng.integers(2, T + 1, M)
    data = ArrayBatches(xs, ys, 8, lengths=lengths)
    model = SequenceClassifier("lstm", 3, 5, 4, dtype=F64, rng=np.random.default_rng(2))
    config = dict(optimizer="adam", lr=0.01, clip_norm=0.5, eval_every=7)
    return model, data, data, config


def tagger():
    ids = np.random.default_rng(3).integers(0, 6, 400)
    data = StreamBatches(ids, 5, 12)  # 5 streams: ranks take 3 and 2
    model = SequenceTagger("gru", 4, 6, 6, vocab_size=6, dtype=F64, rng=np.random.default_rng(4))
    config = dict(optimizer="sgd", lr=0.5, momentum=0.9, k1=4, k2=7, eval_every=10)
    return model, data, StreamBatches(ids[:100], 5, 12), config


def regressor():
    xs, ys = adding_problem(30, 6, np.random.default_rng(5), dtype=F64)
    lengths = np.random.default_rng(6).integers(2, 7, 30)
    targets = np.repeat(ys[None, :, None], 6, axis=0)  # (T, M, 1): every step
    data = ArrayBatches(xs, targets, 7, lengths=lengths, per_step_targets=True)
    model = SequenceRegressor(
        "rnn_tanh", 2, 4, 1, readout="every", dtype=F64, rng=np.random.default_rng(7)
    )
    return model, data, data, dict(optimizer="adamw", lr=0.02, weight_decay=0.01)


def dropout():
    """A language model with embedding and output dropout: each rank draws its own masks."""
    ids = np.random.default_rng(8).integers(0, 6, 300)
    data = StreamBatches(ids, 4, 10)
    model = SequenceTagger(
        "lstm",
        4,
        4,
        6,
        vocab_size=6,
        embedding_dropout=0.3,
        output_dropout=0.3,
        dropout=0.0,
        dtype=F64,
        rng=np.random.default_rng(9),
    )
    return model, data, data, dict(optimizer="adam", lr=0.01)


KINDS = {"classifier": classifier, "tagger": tagger, "regressor": regressor, "dropout": dropout}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--kinds", nargs="+", default=["classifier", "tagger", "regressor"])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--run-dir", default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--distributed", action="store_true")
    p.add_argument("--fault", choices=("kill", "term", "raise"), default=None)
    p.add_argument("--fault-rank", type=int, default=1)
    p.add_argument("--at-step", type=int, default=10)
    args = p.parse_args()
    comm = Communicator() if args.distributed else None
    rank = 0 if comm is None else comm.rank
    out = {}
    for kind in args.kinds:
        model, train, val, options = KINDS[kind]()
        config = TrainConfig(epochs=100, max_steps=args.steps, seed=11, **options)
        run_dir = None if args.run_dir is None else os.path.join(args.run_dir, kind)
        trainer = Trainer(model, config, train, val, run_dir=run_dir, progress=False, comm=comm)
        if args.resume:
            trainer.restore(run_dir)
        if args.fault is not None and args.fault_rank == rank:
            _fault_at(trainer, args.at_step, args.fault)
        summary = trainer.fit()
        out.update({f"{kind}/{k}": v for k, v in model.params.items()})
        out[f"{kind}/summary"] = np.frombuffer(json.dumps(summary).encode(), dtype=np.uint8)
    if rank == 0:
        np.savez(args.out, **out)
    return 0


def _fault_at(trainer: Trainer, step: int, fault: str) -> None:
    """Just before step ``step``'s all-reduce on this rank: SIGKILL (a dead rank), SIGTERM (a
    stop request) or an exception (an error on this rank alone)."""
    update = trainer._update

    def faulty(*a):
        if trainer.counters["step"] + 1 == step:
            if fault == "raise":
                raise RuntimeError(f"a planted error before step {step}")
            os.kill(os.getpid(), signal.SIGKILL if fault == "kill" else signal.SIGTERM)
        return update(*a)

    trainer._update = faulty


if __name__ == "__main__":
    sys.exit(main())
