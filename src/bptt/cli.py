"""Level 9: the ``bptt`` command line, a thin shell over library calls.

    bptt train TASK [options]     train on addition | adding | copy | mnist | text
    bptt eval RUN                 evaluate a run's best model on its test split
    bptt sample RUN               generate text from a character model
    bptt predict RUN A B          add two integers with a trained binary adder
    bptt gradcheck                check every cell's gradients against finite differences
    bptt info                     versions, BLAS, optional extras

Options resolve as: built-in defaults < the task's defaults < a TOML ``--config`` file < flags
given on the command line. The resolved options are printed and saved in ``config.json``.
Errors print one line and exit 2 (bad input) or 1 (training failed); Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from bptt import __version__

MODEL_OPTIONS = {
    "cell": ("lstm", "recurrent cell: rnn_tanh, rnn_relu, lstm or gru"),
    "hidden_size": (128, "hidden units per layer and direction"),
    "num_layers": (1, "stacked recurrent layers"),
    "bidirectional": (False, "read the sequence in both directions"),
    "dropout": (0.0, "dropout between recurrent layers, in training only"),
    "dtype": ("float32", "float32 or float64"),
    "batch_size": (64, "sequences per minibatch"),
}
TASKS = ("addition", "adding", "copy", "mnist", "text")
EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


class UsageError(Exception):
    """Bad arguments: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _train_options() -> dict:
    from bptt.train import TrainConfig

    helps = {
        "epochs": "passes over the training set",
        "max_steps": "stop after this many optimizer steps (0: no limit)",
        "optimizer": "sgd, adagrad, rmsprop, adam or adamw",
        "lr": "learning rate (the peak rate with a schedule)",
        "weight_decay": "L2 penalty (decoupled for adamw)",
        "momentum": "momentum for sgd and rmsprop",
        "schedule": "constant, step, exponential or cosine_warmup",
        "warmup_steps": "linear warm-up steps of cosine_warmup",
        "step_size": "steps between decays of the step schedule",
        "gamma": "decay factor of the step and exponential schedules",
        "min_lr": "final learning rate of cosine_warmup",
        "clip_norm": "clip the global gradient norm to this (0: off)",
        "clip_value": "clip every gradient entry to +-this (0: off)",
        "k1": "truncated BPTT: new steps per update (0: whole batch)",
        "k2": "truncated BPTT: steps backpropagated through, >= k1 (0: k1)",
        "eval_every": "optimizer steps between evaluations (0: once per epoch)",
        "early_stopping_metric": "validation metric for the best model: loss or accuracy",
        "patience": "evaluations without improvement before stopping (0: never stop)",
        "seed": "seed of data, initialisation, shuffling and dropout",
        "keep_checkpoints": "checkpoints kept in the run directory",
    }
    out = {}
    for f in dataclasses.fields(TrainConfig):
        # An off-by-None field is shown as 0; its type must stay float where the field is one,
        # or --clip-norm 0.5 would be refused as "invalid int value".
        off = 0.0 if str(f.type).startswith("float") else 0
        default = f.default if f.default is not None else off
        out[f.name] = (default, helps[f.name])
    return out


def all_options() -> dict:
    from bptt.tasks import TASK_OPTIONS

    return {**MODEL_OPTIONS, **_train_options(), **TASK_OPTIONS}


def _add_option(group, name: str, default, help_text: str, task_defaults: dict) -> None:
    flag = "--" + name.replace("_", "-")
    per_task = {t: d[name] for t, d in task_defaults.items() if name in d}
    shown = f"default: {default!r}"
    if per_task:
        shown += "; per task: " + ", ".join(f"{t} {v!r}" for t, v in per_task.items())
    if isinstance(default, bool):
        group.add_argument(
            flag, action=argparse.BooleanOptionalAction, default=None, help=f"{help_text} ({shown})"
        )
    else:
        group.add_argument(
            flag,
            type=type(default),
            default=None,
            metavar=name.upper(),
            help=f"{help_text} ({shown})",
        )


def build_parser() -> argparse.ArgumentParser:
    from bptt.tasks import TASK_DEFAULTS, TASK_OPTIONS

    parser = _Parser(
        prog="bptt",
        description="Recurrent networks trained with "
        "backpropagation through time written out by hand in NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"bptt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train a model on a task",
        description="Train a model; options shown with their defaults.",
    )
    train.add_argument(
        "task",
        nargs="?",
        choices=TASKS,
        help="the task to train on (default: with --resume, the run's own task)",
    )
    train.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML file of options, keys as the long flags with underscores (default: none)",
    )
    train.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="where to write the run (default: runs/TASK-TIMESTAMP)",
    )
    train.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN",
        help="continue the run in this directory from its latest checkpoint "
        "(default: start afresh)",
    )
    train.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    for title, options in (
        ("model", MODEL_OPTIONS),
        ("training", _train_options()),
        ("task", TASK_OPTIONS),
    ):
        group = train.add_argument_group(f"{title} options")
        for name, (default, help_text) in options.items():
            _add_option(group, name, default, help_text, TASK_DEFAULTS)

    ev = sub.add_parser("eval", help="evaluate a run's best model on its test split")
    ev.add_argument("run", type=Path, help="run directory")
    ev.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="which split (default: test)",
    )

    sample = sub.add_parser("sample", help="generate text from a character model")
    sample.add_argument("run", type=Path, help="run directory of a text model")
    sample.add_argument("--prime", default="", help="text to start from (default: '')")
    sample.add_argument(
        "--temperature", type=float, default=0.8, help="softmax temperature (default: 0.8)"
    )
    sample.add_argument(
        "--length", type=int, default=500, help="characters to generate (default: 500)"
    )
    sample.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")

    predict = sub.add_parser("predict", help="add two integers with a trained adder")
    predict.add_argument("run", type=Path, help="run directory of an addition model")
    predict.add_argument("a", type=int, help="first addend")
    predict.add_argument("b", type=int, help="second addend")

    gc = sub.add_parser("gradcheck", help="check every cell's gradients by finite differences")
    gc.add_argument("--seed", type=int, default=0, help="seed of the random network (default: 0)")

    sub.add_parser("info", help="versions, BLAS and optional extras")
    return parser


def resolve_options(task: str, args: argparse.Namespace) -> dict:
    """Defaults < the task's defaults < the TOML file < flags given on the command line."""
    from bptt.tasks import TASK_DEFAULTS

    options = {name: default for name, (default, _) in all_options().items()}
    options.update(TASK_DEFAULTS[task])
    if args.config is not None:
        options.update(load_toml(args.config, options))
    given = {k: v for k, v in vars(args).items() if k in options and v is not None}
    options.update(given)
    return options


def load_toml(path: Path, known: dict) -> dict:
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config: no such file: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config: {path} is not valid TOML: {e}") from None
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"--config: unknown keys in {path}: {', '.join(unknown)}")
    for key, value in values.items():
        # an integer is a fine float (lr = 1), but a bool is not a number here (lr = true)
        if isinstance(known[key], float) and type(value) is int:
            values[key] = value = float(value)
        if type(value) is not type(known[key]):
            raise UsageError(
                f"--config: {key} in {path}: expected {type(known[key]).__name__}, got {value!r}"
            )
    return values


def _train_config(options: dict):
    from bptt.train import TrainConfig

    values = {}
    for f in dataclasses.fields(TrainConfig):
        v = options[f.name]
        values[f.name] = None if f.default is None and v == 0 else v
    return TrainConfig(**values)


def cmd_train(args: argparse.Namespace) -> int:
    from bptt.tasks import addition_report, build_model, load_task
    from bptt.train import Trainer

    if args.resume is not None:
        config_path = args.resume / "config.json"
        if not config_path.is_file():
            raise UsageError(
                f"--resume: expected a run directory with config.json, got {args.resume}"
            )
        saved = json.loads(config_path.read_text())
        options = {
            **saved["options"],
            **{
                k: v
                for k, v in vars(args).items()
                if k in ("epochs", "max_steps") and v is not None
            },
        }
        task, run_dir = saved["task"], args.resume
        if args.task not in (None, task):
            raise UsageError(f"--resume: expected task {task} (the run's), got {args.task}")
    elif args.task is None:
        raise UsageError(f"train: expected a task ({', '.join(TASKS)}) or --resume RUN")
    else:
        task, options = args.task, resolve_options(args.task, args)
        run_dir = args.run_dir or Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
        if (run_dir / "config.json").exists():
            raise UsageError(
                f"--run-dir: {run_dir} already holds a run; use --resume "
                "to continue it or choose another directory"
            )
    config = _train_config(options)
    print(f"bptt train {task}: " + json.dumps(options, sort_keys=True))
    data = load_task(task, options, config.seed)
    model = build_model(data, options, np.random.default_rng([config.seed, 3000]))
    vocab = None if data.vocabulary is None else {"chars": "".join(data.vocabulary.chars)}
    trainer = Trainer(
        model,
        config,
        data.train,
        data.validation,
        run_dir=run_dir,
        progress=args.progress,
        vocabulary=vocab,
        extra_config={"task": task, "options": options},
    )
    if args.resume is not None:
        trainer.restore(run_dir)
    summary = trainer.fit()
    if summary["status"] != "interrupted":
        from bptt.train import evaluate

        summary["test"] = evaluate(_best(model, run_dir), data.test)
        if task == "addition":
            summary["test"].update(addition_report(model, data.extra["test_pairs"]))
            _print_sums(model, data.extra["test_pairs"], options["bits"])
    from bptt.io import atomic_write_json

    atomic_write_json(run_dir / "summary.json", summary)
    print(json.dumps(summary, sort_keys=True))
    print(f"run directory: {run_dir}")
    return EXIT_INTERRUPTED if summary["status"] == "interrupted" else 0


def _print_sums(model, pairs, bits: int, count: int = 8) -> None:
    from bptt.tasks import predict_sum

    _, _, a, b = pairs
    for i in range(min(count, len(a))):
        got = predict_sum(model, int(a[i]), int(b[i]), bits)
        mark = "ok" if got == a[i] + b[i] else f"wrong, expected {a[i] + b[i]}"
        print(f"  {a[i]:>4} + {b[i]:>4} = {got:>4}   {mark}")


def _best(model, run_dir: Path):
    """Load the run's best weights (model.safetensors) into the model."""
    from bptt.io import load_weights

    model.load_state_dict(load_weights(run_dir / "model.safetensors"))
    return model.eval()


def load_run(run_dir: Path):
    """Rebuild a run's model from config.json and its best weights.

    Returns (task, options, data, model)."""
    from bptt.tasks import build_model, load_task

    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise UsageError(f"RUN: expected a run directory with config.json, got {run_dir}")
    saved = json.loads(config_path.read_text())
    task, options = saved["task"], saved["options"]
    data = load_task(task, options, options["seed"])
    model = build_model(data, options, np.random.default_rng(0))
    return task, options, data, _best(model, run_dir)


def cmd_eval(args) -> int:
    from bptt.tasks import addition_report
    from bptt.train import evaluate

    task, options, data, model = load_run(args.run)
    split = data.test if args.split == "test" else data.validation
    result = evaluate(model, split)
    if task == "addition" and args.split == "test":
        result.update(addition_report(model, data.extra["test_pairs"]))
    print(json.dumps({"task": task, "split": args.split, **result}, sort_keys=True))
    return 0


def cmd_sample(args) -> int:
    from bptt.tasks import sample_text

    task, options, data, model = load_run(args.run)
    if task != "text":
        raise UsageError(f"sample: expected a run of the text task, got a {task} run")
    if args.length < 1:
        raise UsageError(f"--length: expected a positive integer, got {args.length}")
    rng = np.random.default_rng(args.seed)
    print(sample_text(model, data.vocabulary, args.prime, args.length, args.temperature, rng))
    return 0


def cmd_predict(args) -> int:
    from bptt.tasks import predict_sum

    task, options, data, model = load_run(args.run)
    if task != "addition":
        raise UsageError(f"predict: expected a run of the addition task, got a {task} run")
    print(predict_sum(model, args.a, args.b, options["bits"]))
    return 0


def cmd_gradcheck(args) -> int:
    from bptt.gradcheck import check_gradients
    from bptt.models import CELLS, make_recurrent

    ok = True
    for cell in CELLS:
        rng = np.random.default_rng(args.seed)
        layer = make_recurrent(
            cell, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, rng=rng
        )
        x = rng.standard_normal((5, 3, 3))
        lengths = np.array([5, 2, 4])
        w = rng.standard_normal((5, 3, 8))

        def loss(layer=layer, x=x, lengths=lengths, w=w):
            return float((layer.forward(x, None, lengths)[0] * w).sum())

        out, _, cache = layer.forward(x, None, lengths)
        d_x, _, grads = layer.backward(w, cache)
        report = check_gradients(loss, {**layer.params, "x": x}, {**grads, "x": d_x}, rng=rng)
        worst = max(report.max_rel_errors.values())
        ok &= report.ok
        print(
            f"{cell:9s} 2 layers, bidirectional, ragged: max relative error {worst:.2e} "
            f"{'ok' if report.ok else 'FAILED'}"
        )
    return 0 if ok else EXIT_FAILED


def cmd_info(args) -> int:
    import importlib.util
    import platform

    print(f"bptt {__version__}, Python {platform.python_version()}, numpy {np.__version__}")
    for extra in ("safetensors", "tqdm", "matplotlib", "torch"):
        found = importlib.util.find_spec(extra) is not None
        print(f"  {extra}: {'installed' if found else 'not installed'}")
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        print(f"  BLAS: {blas.get('name')} {blas.get('version', '')}")
    except Exception:  # show_config's layout differs across numpy versions
        pass
    print("  cells: rnn_tanh, rnn_relu, lstm, gru; tasks: " + ", ".join(TASKS))
    return 0


COMMANDS = {
    "train": cmd_train,
    "eval": cmd_eval,
    "sample": cmd_sample,
    "predict": cmd_predict,
    "gradcheck": cmd_gradcheck,
    "info": cmd_info,
}


def main(argv: list[str] | None = None) -> int:
    from bptt.data import DatasetNotFoundError
    from bptt.io import CheckpointError
    from bptt.train import NonFiniteError

    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(f"bptt: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bptt: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except NonFiniteError as e:
        print(f"bptt: training stopped: {e}", file=sys.stderr)
        return EXIT_FAILED
    except (DatasetNotFoundError, CheckpointError, ValueError, TypeError, OSError) as e:
        message = " ".join(str(e).split())
        print(f"bptt: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
