"""Level 6: the training loop — the explainer's last step, gradient descent, made practical.

One optimizer step:

    loss, grads = model.loss_and_grads(batch, state)      forward, summed loss, BPTT
    grad_norm   = clip(grads)                              global norm before clipping
    lr          = schedule(step);  optimizer.step(grads)   update the shared weights

with truncated BPTT (k1, k2) splitting a batch into several such steps, stateful streams
carrying ``state`` between batches as values, evaluation every epoch or every N steps, early
stopping on a validation metric, ``metrics.jsonl`` events, checkpoints that resume bit for
bit, and Ctrl-C that finishes the step, saves a checkpoint and reports status "interrupted".
``diagnostics_every`` N adds a gradient-flow event every N steps (``diagnostics.FlowMonitor``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bptt import checkpoint as ckpt
from bptt.clip import clip_grad_norm, clip_grad_value, global_norm
from bptt.diagnostics import FlowMonitor
from bptt.io import append_jsonl, atomic_write_json, save_weights
from bptt.models import Batch
from bptt.optim import make_optimizer
from bptt.progress import progress_bar
from bptt.schedules import make_schedule
from bptt.tbptt import TruncatedBPTT

SCHEDULE_OPTIONS = {  # which TrainConfig fields each schedule takes
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine_warmup": ("total_steps", "warmup_steps", "min_lr"),
}


class NonFiniteError(FloatingPointError):
    """A loss or gradient became NaN or infinite; the message names the step and parameter."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    max_steps: int | None = None  # stop after this many optimizer steps, whatever the epoch
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0  # SGD and RMSprop
    schedule: str = "constant"  # constant | step | exponential | cosine_warmup
    warmup_steps: int = 0  # capped below the run's total steps
    step_size: int = 1000  # StepLR
    gamma: float = 0.5  # StepLR and ExponentialLR
    min_lr: float = 0.0  # cosine
    clip_norm: float | None = None
    clip_value: float | None = None
    k1: int | None = None  # truncated BPTT: new steps per update (None: whole batch)
    k2: int | None = None  # steps backpropagated through (None: k1)
    eval_every: int | None = None  # optimizer steps between evaluations (None: every epoch)
    early_stopping_metric: str = "loss"  # a validation metric: loss or accuracy
    patience: int | None = None  # evaluations without improvement before stopping
    seed: int = 0
    keep_checkpoints: int = 3
    diagnostics_every: int | None = None  # optimizer steps between gradient-flow events

    def __post_init__(self):
        if self.early_stopping_metric not in ("loss", "accuracy"):
            raise ValueError(
                "early_stopping_metric: expected 'loss' or 'accuracy', "
                f"got {self.early_stopping_metric!r}"
            )
        if self.epochs < 1:
            raise ValueError(f"epochs: expected a positive integer, got {self.epochs}")
        if self.diagnostics_every is not None and self.diagnostics_every < 0:
            raise ValueError(
                f"diagnostics_every: expected >= 0 (0: off), got {self.diagnostics_every}"
            )


def evaluate(model, data) -> dict:
    """Mean loss (and accuracy where defined) over a dataset, in eval mode, state carried for
    stateful streams."""
    was_training = model.rnn.training
    model.eval()
    total, count, correct, state, m = 0.0, 0, 0, None, {}
    for batch in data.epoch(None):
        loss, final, m = model.loss(batch, state if data.stateful else None)
        state = final
        total += loss * m["count"]
        count += m["count"]
        correct += m.get("correct", 0)
    model.train(was_training)
    out = {"loss": total / max(count, 1)}
    if "correct" in m:
        out["accuracy"] = correct / max(count, 1)
    return out


class Trainer:
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
    ):
        self.model, self.config = model, config
        self.train_data, self.val_data = train_data, val_data
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.extra_config = extra_config or {}
        self.vocabulary = vocabulary
        c = config
        kw = {"weight_decay": c.weight_decay}
        if c.optimizer in ("sgd", "rmsprop"):
            kw["momentum"] = c.momentum
        self.optimizer = make_optimizer(c.optimizer, model.params, lr=c.lr, **kw)
        self.tbptt = None if c.k1 is None else TruncatedBPTT(c.k1, c.k2)
        total = c.max_steps or c.epochs * len(train_data) * self._updates_per_batch()
        options = {
            "total_steps": total,
            "warmup_steps": min(c.warmup_steps, max(total - 1, 0)),  # short runs: warm-up fits
            "step_size": c.step_size,
            "gamma": c.gamma,
            "min_lr": c.min_lr,
        }
        self.schedule = make_schedule(
            c.schedule, c.lr, **{k: options[k] for k in SCHEDULE_OPTIONS.get(c.schedule, ())}
        )
        self.flow = None  # off: no tapes are ever requested
        if c.diagnostics_every:
            self.flow = FlowMonitor(model, c.diagnostics_every, lambda: self.counters["step"] + 1)
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
        }
        self.carry = None  # recurrent state flowing between batches of a stateful stream
        self._interrupted = False
        self._saved: tuple[str, Path] | None = None  # (counters as JSON, path) of the last save

    def _updates_per_batch(self) -> int:
        if self.tbptt is None:
            return 1
        return self.tbptt.num_windows(next(iter(self.train_data.epoch(None))))

    # ----- checkpoints ----------------------------------------------------------------------

    def config_dict(self) -> dict:
        return {"train": dataclasses.asdict(self.config), **self.extra_config}

    def save(self) -> Path | None:
        """Checkpoint the run; a second call with nothing changed since returns the same one."""
        if self.run_dir is None:
            return None
        counters = json.dumps(self.counters, sort_keys=True, default=str)
        if self._saved is not None and self._saved[0] == counters:
            return self._saved[1]
        opt_state = self.optimizer.state_dict()
        extra = {}
        if self.carry is not None:
            carry = self.carry if isinstance(self.carry, tuple) else (self.carry,)
            extra.update({f"carry.{k}": v for k, v in enumerate(carry)})
        context = None if self.tbptt is None else self.tbptt.context
        if context is not None:  # k2 > k1: the next window reaches back into these steps
            extra.update({"context.inputs": context.inputs, "context.targets": context.targets})
            if context.mask is not None:
                extra["context.mask"] = context.mask
        if extra:
            opt_state = {"meta": opt_state["meta"], "arrays": {**opt_state["arrays"], **extra}}
        path = ckpt.save_checkpoint(
            self.run_dir,
            self.counters["step"],
            params=self.model.params,
            optimizer_state=opt_state,
            rng_state=ckpt.generator_state(self.model.rnn.rng),
            counters=dict(self.counters),
            config=self.config_dict(),
            vocabulary=self.vocabulary,
            keep_last=self.config.keep_checkpoints,
        )
        self._saved = (counters, path)
        return path

    def restore(self, path: str | Path) -> None:
        """Continue exactly where a checkpoint (or the latest one of a run directory) left off."""
        c = ckpt.load_checkpoint(path)
        self.model.load_state_dict(c.params)
        arrays = dict(c.optimizer_state["arrays"])
        carry = [arrays.pop(k) for k in sorted(k for k in arrays if k.startswith("carry."))]
        context = {k[8:]: arrays.pop(k) for k in list(arrays) if k.startswith("context.")}
        self.optimizer.load_state_dict({"meta": c.optimizer_state["meta"], "arrays": arrays})
        self.model.rnn.rng = ckpt.generator_from_state(c.rng_state)
        self.counters = {"window": 0, **c.counters}  # checkpoints before "window" have none
        self.carry = None if not carry else (tuple(carry) if len(carry) == 2 else carry[0])
        if self.tbptt is not None:
            self.tbptt.reset()
            # the state before the context (see TruncatedBPTT), or after the last window done
            self.tbptt.state = self.carry
            if context:
                self.tbptt.context = Batch(
                    context["inputs"], context["targets"], None, context.get("mask")
                )

    # ----- the loop -------------------------------------------------------------------------

    def _log(self, event: dict) -> None:
        if self.run_dir is not None:
            append_jsonl(self.run_dir / "metrics.jsonl", event)

    def _check_finite(self, loss: float, grads: dict) -> None:
        step = self.counters["step"] + 1  # the step being taken, numbered as in metrics.jsonl
        if not math.isfinite(loss):
            raise NonFiniteError(
                f"step {step}: the loss is {loss}; the last good checkpoint "
                "stays in the run directory"
            )
        for name, g in grads.items():
            if not np.isfinite(g).all():
                raise NonFiniteError(
                    f"step {step}: non-finite gradient in parameter {name!r}; "
                    "the last good checkpoint stays in the run directory"
                )

    def _update(self, loss: float, grads: dict, metrics: dict, t0: float) -> None:
        self._check_finite(loss, grads)
        c, step = self.config, self.counters["step"]
        grad_norm = global_norm(grads)
        pending = None if self.flow is None else self.flow.before_step(grads)
        if c.clip_norm is not None:
            clip_grad_norm(grads, c.clip_norm)
        if c.clip_value is not None:
            clip_grad_value(grads, c.clip_value)
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
        if pending is not None:
            self._log(self.flow.event(pending, step + 1, self.counters["epoch"]))

    def _evaluate_and_track(self) -> bool:
        """Evaluate on the validation set; True when early stopping says stop."""
        if self.val_data is None:
            return False
        c = self.config
        metrics = evaluate(self.model, self.val_data)
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
        value = metrics[c.early_stopping_metric]
        best = self.counters["best"]
        better = best is None or (
            value < best if c.early_stopping_metric == "loss" else value > best
        )
        if better:
            self.counters.update(
                best=value, best_step=self.counters["step"], bad_evals=0, best_metrics=metrics
            )
            if self.run_dir is not None:
                save_weights(self.run_dir / "model.safetensors", self.model.params)
        else:
            self.counters["bad_evals"] += 1
        return c.patience is not None and self.counters["bad_evals"] >= c.patience

    def _on_sigint(self, signum, frame) -> None:
        self._interrupted = True

    def fit(self) -> dict:
        """Train; returns the summary (also written to summary.json in the run directory)."""
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.run_dir / "config.json", self.config_dict())
            if self.vocabulary is not None:
                atomic_write_json(self.run_dir / "vocabulary.json", self.vocabulary)
        old_handler = None
        try:
            old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread: Ctrl-C keeps its default meaning
            pass
        try:
            status = self._loop()
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        if (
            self.val_data is not None
            and status != "interrupted"
            and self.counters["evaluated_at"] != self.counters["step"]
        ):
            self._evaluate_and_track()  # the weights as they are when training stops
        self.save()
        summary = {
            "status": status,
            "steps": self.counters["step"],
            "epochs": self.counters["epoch"],
            "best_step": self.counters["best_step"],
            "best": self.counters["best_metrics"],
            "final": self.counters["final_metrics"],
        }
        if self.run_dir is not None:
            if not (self.run_dir / "model.safetensors").exists():  # no validation set
                save_weights(self.run_dir / "model.safetensors", self.model.params)
            atomic_write_json(self.run_dir / "summary.json", summary)
        return summary

    def _loop(self) -> str:
        c, counters = self.config, self.counters
        learner = self.model if self.flow is None else self.flow  # who computes gradients
        bar = progress_bar(
            self.progress,
            c.epochs * len(self.train_data),
            counters["epoch"] * len(self.train_data) + counters["batch"],
        )
        try:
            while counters["epoch"] < c.epochs:
                if counters["batch"] == 0 and counters["window"] == 0:
                    self.carry = None
                    if self.tbptt is not None:
                        self.tbptt.reset()
                batches = self.train_data.epoch(c.seed, counters["epoch"], counters["batch"])
                for batch in batches:
                    t0 = time.perf_counter()
                    self.model.train()
                    state = self.carry if self.train_data.stateful else None
                    if self.tbptt is not None:
                        done = counters["window"]  # > 0 when resuming inside this batch
                        if not self.train_data.stateful and done == 0:
                            self.tbptt.reset()  # independent sequences share no context
                        windows = self.tbptt.updates(learner, batch, state, skip=done)
                        for loss, grads, metrics in windows:
                            self._update(loss, grads, metrics, t0)
                            counters["window"] += 1
                            if self._interrupted or (
                                c.max_steps is not None and counters["step"] >= c.max_steps
                            ):
                                break
                        self.carry = self.tbptt.state
                        if counters["window"] < self.tbptt.num_windows(batch):  # stopped inside
                            return "interrupted" if self._interrupted else "max_steps"
                        counters["window"] = 0
                    else:
                        loss, grads, self.carry, metrics = learner.loss_and_grads(batch, state)
                        self._update(loss, grads, metrics, t0)
                    counters["batch"] += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                    stop = False
                    if c.eval_every and counters["step"] - counters["last_eval"] >= c.eval_every:
                        counters["last_eval"] = counters["step"]
                        stop = self._evaluate_and_track()
                        self.save()
                    if self._interrupted:
                        return "interrupted"
                    if stop:
                        return "early_stopped"
                    if c.max_steps is not None and counters["step"] >= c.max_steps:
                        return "max_steps"
                counters.update(epoch=counters["epoch"] + 1, batch=0)
                if not c.eval_every:
                    stop = self._evaluate_and_track()
                    self.save()
                    if stop:
                        return "early_stopped"
            return "completed"
        finally:
            bar.close()
