"""The training loop — the explainer's last step, gradient descent, made practical.

One optimizer step:

    loss, grads = model.loss_and_grads(batch, state)      forward, summed loss, BPTT
    grad_norm   = clip(grads)                              global norm before clipping
    lr          = schedule(step);  optimizer.step(grads)   update the shared weights

with truncated BPTT (k1, k2) splitting a batch into several such steps, stateful streams
carrying ``state`` between batches as values, evaluation every epoch or every N steps, early
stopping on a validation metric, ``metrics.jsonl`` events, checkpoints that resume bit for
bit, and Ctrl-C or SIGTERM that finishes the step, saves a checkpoint and reports status
"interrupted" (``stop_signal`` says which). A diverging run stops with ``NonFiniteError``
(``divergence.py``).
``diagnostics_every`` N adds a gradient-flow event every N steps (``flow.FlowMonitor``).

``comm`` (``distributed.Communicator``, K > 1 ranks): data-parallel training equal to one
process with the whole batch. Each rank trains on its share of every batch, one all-reduce per
step sums the gradients and figures (``distributed.GradientAllreduce``), evaluation is sharded
and reduced; rank 0 alone writes files and prints. Ctrl-C or SIGTERM on any rank stops every
rank at the same step; an error on some ranks only aborts the whole job (no rank hangs).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from bptt.io import append_jsonl, atomic_write_json, load_weights, save_weights
from bptt.nn import Batch, SequenceRegressor
from bptt.optim import (
    SCHEDULES,
    clip_grad_norm,
    clip_grad_value,
    global_norm,
    make_optimizer,
    make_schedule,
)
from bptt.train.config import TrainConfig
from bptt.train.distributed import GradientAllreduce, rank_generator
from bptt.train.divergence import NonFiniteError, check_update, check_validation
from bptt.train.evaluate import evaluate
from bptt.train.flow import FlowMonitor
from bptt.train.log import RunLog
from bptt.train.optimizer_options import optimizer_kwargs
from bptt.train.progress import progress_bar
from bptt.train.resume import Resumable
from bptt.train.summary import run_summary
from bptt.train.tbptt import TruncatedBPTT


class Trainer(Resumable):
    """Fits ``model`` on ``train_data`` (ArrayBatches / StreamBatches); see the module doc."""

    def __init__(
        self,
        model,
        config: TrainConfig,
        train_data,
        val_data=None,
        *,
        run_dir: str | Path | None = None,
        progress: bool | None = None,
        extra_config: dict | None = None,
        vocabulary: dict | None = None,
        quiet: bool = False,
        comm=None,
    ):
        self.model, self.config = model, config
        self.train_data, self.val_data = train_data, val_data
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.rank = 0 if comm is None else comm.rank
        self.comm = comm if comm is not None and comm.size > 1 else None  # one rank: as without
        self.part = None if self.comm is None else (comm.rank, comm.size)
        self.reduce = None  # the all-reduce of every step, with ranks
        if self.comm is not None:
            self.reduce = GradientAllreduce(self.comm, model.params, model.reduction)
            model.rnn.rng = rank_generator(model.rnn.rng, self.rank)
        quiet = quiet or self.rank > 0  # rank 0 alone shows progress and log lines
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.progress = self.progress and not quiet
        self.log = RunLog(not self.progress and not quiet)  # lines on stderr instead of a bar
        self.extra_config = extra_config or {}
        self.vocabulary = vocabulary
        c = config
        if c.early_stopping_metric == "accuracy" and isinstance(model, SequenceRegressor):
            raise ValueError(
                "early_stopping_metric: expected 'loss' for a regressor (it has no accuracy), "
                "got 'accuracy'"
            )
        self.optimizer = make_optimizer(c.optimizer, model.params, lr=c.lr, **optimizer_kwargs(c))
        self.tbptt = None if c.k1 is None else TruncatedBPTT(c.k1, c.k2)
        self.schedule = self._make_schedule()
        self.flow = None  # off: no tapes are ever requested
        if c.diagnostics_every:
            self.flow = FlowMonitor(model, c.diagnostics_every, lambda: self.counters["step"] + 1)
        self.learner = self.model if self.flow is None else self.flow  # who computes gradients
        if self.comm is not None and train_data.stateful and train_data.batch_size < comm.size:
            raise ValueError(
                f"batch_size: expected at least one stream per rank ({comm.size} ranks), "
                f"got {train_data.batch_size} streams"
            )
        self.counters = {
            "step": 0,
            "epoch": 0,
            "batch": 0,
            "window": 0,  # truncated BPTT: windows of the current batch already applied
            "best": None,
            "best_step": None,
            "best_metrics": None,
            "bad_evals": 0,
            "last_eval": 0,
            "evaluated_at": None,
            "final_metrics": None,
            "first_loss": None,  # the divergence check's references: the untrained loss,
            "best_loss": None,  # and the lowest training loss so far
        }
        self.carry = None  # recurrent state flowing between batches of a stateful stream
        self.best_params = None  # the best weights, kept here when there is no run directory
        self._interrupted = False  # agreed by every rank at a step (a signal's own rank: soon)
        self._signalled = False  # this rank caught SIGINT or SIGTERM
        self.stop_signal = None  # signal.SIGINT or SIGTERM when one stopped the run
        self._saved: tuple[str, Path] | None = None  # (counters as JSON, path) of the last save

    def _make_schedule(self):
        """The schedule, given the TrainConfig fields its dataclass declares."""
        c = self.config
        total = c.max_steps or c.epochs * len(self.train_data) * self._updates_per_batch()
        options = {
            "total_steps": total,
            "warmup_steps": min(c.warmup_steps, max(total - 1, 0)),  # short runs: warm-up fits
            "step_size": c.step_size,
            "gamma": c.gamma,
            "min_lr": c.min_lr,
        }
        wanted = [f.name for f in dataclasses.fields(SCHEDULES.get(c.schedule, object))]
        return make_schedule(c.schedule, c.lr, **{k: options[k] for k in wanted if k != "lr"})

    def _updates_per_batch(self) -> int:
        if self.tbptt is None:
            return 1
        return self.tbptt.num_windows(next(iter(self.train_data.epoch(None))))

    # ----- one update -----------------------------------------------------------------------

    def _log(self, event: dict) -> None:
        if self.run_dir is not None and self.rank == 0:
            append_jsonl(self.run_dir / "metrics.jsonl", event)

    def _update(self, loss: float, grads: dict, metrics: dict, t0: float) -> float:
        """Reduce (with ranks), check, clip and step; -> the loss of the whole batch."""
        if self.reduce is not None:  # the whole global batch's figures, on every rank
            loss, grads, metrics, stop = self.reduce(loss, grads, metrics, self._signalled)
            self._interrupted = stop
        c, step = self.config, self.counters["step"]
        first, best = self.counters["first_loss"], self.counters["best_loss"]
        check_update(loss, grads, step + 1, best, first, c.divergence_factor, self.run_dir)
        if first is None:
            self.counters["first_loss"] = loss
        if best is None or loss < best:
            self.counters["best_loss"] = loss
        grad_norm = global_norm(grads)
        pending = None if self.flow is None else self.flow.before_step(grads)
        # clip the gradient
        if c.clip_norm is not None:
            clip_grad_norm(grads, c.clip_norm)
        if c.clip_value is not None:
            clip_grad_value(grads, c.clip_value)
        # step the optimizer at this step's learning rate
        self.optimizer.lr = self.schedule(step)
        self.optimizer.step(grads)
        self.counters["step"] = step + 1
        event = {
            "event": "train",
            "split": "train",
            "step": step + 1,
            "epoch": self.counters["epoch"],
            "loss": loss,
            "grad_norm": grad_norm,
            "lr": self.optimizer.lr,
            "seconds": time.perf_counter() - t0,
        }
        if "correct" in metrics:
            event["accuracy"] = metrics["correct"] / max(metrics["count"], 1)
        self._log(event)
        self.log.train(event)
        if pending is not None:
            self._log(self.flow.event(pending, step + 1, self.counters["epoch"]))
        return loss

    def _evaluate_and_track(self) -> bool:
        """Evaluate on the validation set and keep the best weights; True when early stopping
        says stop."""
        if self.val_data is None:
            return False
        c = self.config
        metrics = evaluate(self.model, self.val_data, self.comm)
        check_validation(metrics, self.counters["step"], self.run_dir)
        self.counters.update(evaluated_at=self.counters["step"], final_metrics=metrics)
        self._log(
            {
                "event": "eval",
                "split": "validation",
                "step": self.counters["step"],
                "epoch": self.counters["epoch"],
                **metrics,
            }
        )
        self.log.evaluation(self.counters, metrics, self.optimizer.lr)
        value, best = metrics[c.early_stopping_metric], self.counters["best"]
        better = best is None or (
            value < best if c.early_stopping_metric == "loss" else value > best
        )
        if not better:
            self.counters["bad_evals"] += 1
            return c.patience is not None and self.counters["bad_evals"] >= c.patience
        self.counters.update(
            best=value, best_step=self.counters["step"], bad_evals=0, best_metrics=metrics
        )
        if self.run_dir is None:
            self.best_params = self.model.state_dict()
        elif self.rank == 0:
            save_weights(self.run_dir / "model.safetensors", self.model.params)
        return False

    # ----- the loop -------------------------------------------------------------------------

    def _on_signal(self, signum, frame) -> None:
        self._signalled, self.stop_signal = True, signum
        if self.comm is None:  # with ranks, the next step's all-reduce tells every rank
            self._interrupted = True

    def fit(self, test: Callable | None = None) -> dict:
        """Train; returns the summary, also written to summary.json in the run directory.

        ``test(model) -> dict``, when given, is run on the best weights once training ends
        (unless interrupted) and its metrics go into the summary under "test" (with ranks, on
        rank 0 only)."""
        if self.comm is None:
            return self._fit(test)
        try:
            return self._fit(test)
        except NonFiniteError:
            raise  # every rank saw the same reduced loss and stops at the same step
        except BaseException as e:  # on this rank alone: the others would wait for it forever
            self.comm.abort(f"{type(e).__name__}: {e}")
            raise

    def _fit(self, test: Callable | None) -> dict:
        writer = self.run_dir is not None and self.rank == 0
        if writer:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.run_dir / "config.json", self.config_dict())
            if self.vocabulary is not None:
                atomic_write_json(self.run_dir / "vocabulary.json", self.vocabulary)
        old_handlers = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                old_handlers[sig] = signal.signal(sig, self._on_signal)
        except ValueError:  # not the main thread: Ctrl-C keeps its default meaning
            pass
        c, n = self.config, len(self.train_data)
        done = self.counters["epoch"] * n + self.counters["batch"]
        bar = progress_bar(self.progress, c.epochs * n, done)
        try:
            status = self._loop(bar)
        finally:
            bar.close()
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
        if (
            self.val_data is not None
            and status != "interrupted"
            and self.counters["evaluated_at"] != self.counters["step"]
        ):
            self._evaluate_and_track()  # the weights as they are when training stops
        self.save()
        summary = run_summary(status, self.counters)
        best = None if self.run_dir is None else self.run_dir / "model.safetensors"
        if writer and not best.exists():  # no validation set
            save_weights(best, self.model.params)
        if test is not None and status != "interrupted" and self.rank == 0:
            summary["test"] = test(self._load_best(best))
        if writer:
            atomic_write_json(self.run_dir / "summary.json", summary)
        return summary

    def _load_best(self, path: Path | None):
        """The model with the best weights: from the run directory, or kept in memory."""
        best = load_weights(path) if path is not None else self.best_params
        if best is not None:
            self.model.load_state_dict(best)
        return self.model.eval()

    def _loop(self, bar) -> str:
        """Epochs of batches from where the counters stand; the status the run ends with."""
        c, counters = self.config, self.counters
        while counters["epoch"] < c.epochs:
            if counters["batch"] == 0 and counters["window"] == 0:
                self._reset_stream()
            shard = {} if self.part is None else {"part": self.part}  # this rank's rows
            batches = self.train_data.epoch(c.seed, counters["epoch"], counters["batch"], **shard)
            for batch in batches:
                status = self._train_on(batch, bar)
                if status is not None:
                    return status
            counters.update(epoch=counters["epoch"] + 1, batch=0)
            # evaluate once per epoch unless every N steps
            if not c.eval_every:
                stop = self._evaluate_and_track()
                self.save()
                if stop:
                    return "early_stopped"
        return "completed"

    def _reset_stream(self) -> None:
        """A new epoch of a stream starts from the zero state and no context."""
        self.carry = None
        if self.tbptt is not None:
            self.tbptt.reset()

    def _batch_updates(self, batch: Batch) -> Iterator[tuple[float, dict, dict]]:
        """(loss, grads, metrics) of every update of one batch: one for the whole batch, or one
        per truncated-BPTT window after the ``counters["window"]`` already applied."""
        state = self.carry if self.train_data.stateful else None
        if batch.inputs.shape[1] == 0:  # this rank's share of a last batch of < K rows
            for _ in range(1 if self.tbptt is None else self.tbptt.num_windows(batch)):
                yield self._no_rows()
            return
        if self.tbptt is None:
            loss, grads, self.carry, metrics = self.learner.loss_and_grads(batch, state)
            yield loss, grads, metrics
            return
        done = self.counters["window"]  # > 0 when resuming inside this batch
        if not self.train_data.stateful and done == 0:
            self.tbptt.reset()  # independent sequences share no context
        for update in self.tbptt.updates(self.learner, batch, state, skip=done):
            self.carry = self.tbptt.state  # what the next window (or checkpoint) starts from
            yield update

    def _no_rows(self) -> tuple[float, dict, dict]:
        """A rank's update on no rows: nothing to add to the other ranks' sums."""
        grads = {k: np.zeros_like(p) for k, p in self.model.params.items()}
        metrics = {"loss": 0.0, "count": 0, "items": 0}
        return 0.0, grads, metrics

    def _stopping(self) -> bool:
        c = self.config
        return self._interrupted or (
            c.max_steps is not None and self.counters["step"] >= c.max_steps
        )

    def _train_on(self, batch: Batch, bar) -> str | None:
        """Every update of one batch, then the checks between batches; a status to stop with,
        or None to go on."""
        c, counters = self.config, self.counters
        t0 = time.perf_counter()
        self.model.train()
        # forward, backward and update, once per window (once in all without truncation)
        for update in self._batch_updates(batch):
            loss = self._update(*update, t0)
            if self.tbptt is not None:
                counters["window"] += 1
            if self._stopping():
                break
        if self.tbptt is not None and counters["window"] < self.tbptt.num_windows(batch):
            return "interrupted" if self._interrupted else "max_steps"  # stopped inside it
        counters.update(batch=counters["batch"] + 1, window=0)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        # evaluate and checkpoint every eval_every steps
        stop = False
        if c.eval_every and counters["step"] - counters["last_eval"] >= c.eval_every:
            counters["last_eval"] = counters["step"]
            stop = self._evaluate_and_track()
            self.save()
        if self._interrupted:
            return "interrupted"
        if stop:
            return "early_stopped"
        return "max_steps" if self._stopping() else None
