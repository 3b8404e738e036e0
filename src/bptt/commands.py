"""The subcommands of ``bptt``: each turns parsed arguments into library calls."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bptt import __version__, fused
from bptt.cli_options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    TASKS,
    UsageError,
    resolve_options,
    train_config,
)


def cmd_train(args: argparse.Namespace) -> int:
    from bptt.io import require_safetensors
    from bptt.tasks import addition_report, build_model, load_task
    from bptt.train import Trainer

    require_safetensors()  # fail before training, not at the first checkpoint

    if args.resume is not None:
        config_path = args.resume / "config.json"
        if not config_path.is_file():
            raise UsageError(
                f"--resume: expected a run directory with config.json, got {args.resume}"
            )
        saved = json.loads(config_path.read_text())
        given = {k: v for k, v in vars(args).items() if k in saved["options"] and v is not None}
        fixed = sorted(set(given) - {"epochs", "max_steps"})
        if fixed or args.config is not None or args.run_dir is not None:
            flags = ["--" + k.replace("_", "-") for k in fixed]
            flags += [f for f, v in (("--config", args.config), ("--run-dir", args.run_dir)) if v]
            raise UsageError(
                "--resume continues a run with its saved options; only --epochs and "
                f"--max-steps may change, got {', '.join(flags)}"
            )
        options = {**saved["options"], **given}
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
    config = train_config(options)
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


def load_run(run_dir: Path, *, need_data: bool = True):
    """Rebuild a run's model from config.json and its best weights.

    Returns (task, options, data, model). With ``need_data=False`` a text run is rebuilt from
    its saved vocabulary.json alone, without reading the text it was trained on."""
    from bptt.data import Vocabulary
    from bptt.tasks import build_model, load_task, text_task_data

    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise UsageError(f"RUN: expected a run directory with config.json, got {run_dir}")
    saved = json.loads(config_path.read_text())
    task, options = saved["task"], saved["options"]
    vocab_path = run_dir / "vocabulary.json"
    if task == "text" and not need_data and vocab_path.is_file():
        data = text_task_data(Vocabulary.from_json(vocab_path.read_text()), options)
    else:
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

    task, options, data, model = load_run(args.run, need_data=False)
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
    for extra in ("safetensors", "tqdm", "matplotlib", "numba", "torch"):
        found = importlib.util.find_spec(extra) is not None
        print(f"  {extra}: {'installed' if found else 'not installed'}")
    backend = fused.resolve_backend("auto", np.float32)
    print(f"  elementwise kernels of float32 LSTM/GRU (backend='auto'): {backend}")
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        print(f"  BLAS: {blas.get('name')} {blas.get('version', '')}")
    except Exception:  # show_config's layout differs across numpy versions
        pass
    print("  cells: rnn_tanh, rnn_relu, lstm, gru; tasks: " + ", ".join(TASKS))
    return 0
