"""The subcommands of ``bptt``: each turns parsed arguments into a few library calls."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import platform
import secrets
import sys
import time
from pathlib import Path

import numpy as np

from bptt import __version__
from bptt.cli.options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    UsageError,
    canonical,
    load_toml,
    resolve_options,
)
from bptt.cli.resume import restore_run, resume_target
from bptt.insight import (
    VanishingConfig,
    check_gradients,
    config_dict,
    explain,
    measure,
    render,
    require_matplotlib,
    run_report,
    write_outputs,
    write_run_plots,
)
from bptt.io import atomic_write_bytes, json_text, require_safetensors
from bptt.nn import ALIASES, CELLS, make_recurrent, resolve_backend
from bptt.tasks import (
    TASKS,
    absolute_data_paths,
    build_model,
    check_fingerprints,
    fingerprints,
    get_task,
    load_run,
    predict_sum,
    read_run_config,
    sample_text,
    test_metrics,
    used_options,
)
from bptt.train import (
    Communicator,
    RunLock,
    TrainConfig,
    Trainer,
    agreed,
    check_new_run_dir,
    launched_world_size,
    new_run_dir,
    remove_stray_temps,
)


def _run_options(args: argparse.Namespace) -> tuple[str, dict, Path | None, dict]:
    """(task, resolved options, run directory or None for a new default one, what config.json
    keeps beside them) of a new run or of the run to resume."""
    if args.resume is None:
        if args.task is None:
            raise UsageError(f"train: expected a task ({', '.join(TASKS)}) or --resume RUN")
        check_new_run_dir(args.run_dir)
        options = absolute_data_paths(resolve_options(args.task, args))
        return args.task, options, args.run_dir, {"run_id": secrets.token_hex(8)}
    run_dir, _ = resume_target(args.resume)
    if not (run_dir / "config.json").is_file():
        raise UsageError(f"--resume: expected a run directory with config.json, got {run_dir}")
    saved = read_run_config(run_dir)
    given = {k: v for k, v in vars(args).items() if k in saved["options"] and v is not None}
    if args.config is not None:  # the file's values count as given, under the flags
        given = {**load_toml(args.config, saved["options"]), **given}
    given = canonical(given)
    # the same command with --resume appended is fine; only a changed value is refused
    changed = sorted(
        k
        for k, v in given.items()
        if k not in ("epochs", "max_steps") and not _same(v, saved["options"][k])
    )
    moved = args.run_dir is not None and args.run_dir.resolve() != run_dir.resolve()
    if changed or moved:
        flags = [
            f"--{k.replace('_', '-')} {given[k]} (the run's: {saved['options'][k]})"
            for k in changed
        ]
        flags += [f"--run-dir {args.run_dir} (the run's: {run_dir})"] if moved else []
        raise UsageError(
            "--resume continues a run with its saved options; only --epochs and "
            f"--max-steps may change, got {', '.join(flags)}"
        )
    if args.task not in (None, saved["task"]):
        raise UsageError(f"--resume: expected task {saved['task']} (the run's), got {args.task}")
    check_fingerprints(saved.get("data"), str(run_dir / "config.json"))
    kept = {k: saved[k] for k in ("run_id", "data") if k in saved}
    return saved["task"], {**saved["options"], **given}, run_dir, kept


def _same(given, saved) -> bool:
    """A given option equals the saved one (a path as typed equals its saved string)."""
    if isinstance(given, Path):
        return str(given) == str(saved) or given.resolve() == Path(str(saved)).resolve()
    return given == saved and type(given) is type(saved)


def _communicator(args: argparse.Namespace) -> Communicator | None:
    """The MPI job's communicator with --distributed; refuses a launch under mpiexec without
    it, which would be K independent copies writing one run directory."""
    world = launched_world_size()
    if not args.distributed:
        if world > 1:
            raise UsageError(
                f"train: this process is one of {world} started by mpiexec (or srun); pass "
                "--distributed to train one run across them, or start a single process "
                "without mpiexec (K copies would each write the same run directory)"
            )
        return None
    try:
        return Communicator()
    except ImportError as e:
        raise UsageError(str(e)) from None


def cmd_train(args: argparse.Namespace) -> int:
    require_safetensors()  # fail before training, not at the first checkpoint
    comm = _communicator(args)
    rank = 0 if comm is None else comm.rank
    # every rank sets up; an error on any rank stops all before any file is written
    task, options, run_dir, kept = agreed(comm, lambda: _run_options(args))
    if comm is not None and "run_id" in kept:  # rank 0's id names the run on every rank
        kept["run_id"] = comm.allgather_json(kept["run_id"])[0]
    config = TrainConfig.from_options(options)  # every option checked before a file is written
    if rank == 0:
        print(f"bptt train {task}: " + _config_text(used_options(task, options)))

    def setup():
        data = get_task(task).load(options, config.seed)
        model = build_model(data, options, np.random.default_rng([config.seed, 3000]))
        vocab = None if data.vocabulary is None else {"chars": "".join(data.vocabulary.chars)}
        if args.resume is None:
            kept["data"] = fingerprints(task, options)
        plan_line = _memory_plan_line(model, data.train, config)  # too small: stops here
        trainer = Trainer(
            model,
            config,
            data.train,
            data.validation,
            progress=False if args.quiet else args.progress,
            vocabulary=vocab,
            extra_config={"task": task, "options": options, **kept},
            quiet=args.quiet,
            comm=comm,
        )
        return data, model, trainer, plan_line

    data, model, trainer, plan_line = agreed(comm, setup)
    if rank == 0 and plan_line:
        print(plan_line)
    if rank == 0 and args.resume is None:
        run_dir = new_run_dir(run_dir, task)
    if comm is not None:  # rank 0 named the new run directory
        run_dir = Path(comm.allgather_json(str(run_dir))[0])
    with RunLock(run_dir) if rank == 0 else contextlib.nullcontext():
        trainer.run_dir = run_dir  # only now: everything above is checked and nothing written

        def tidy():
            if rank == 0 and args.resume is None:
                check_new_run_dir(run_dir)  # again, holding the lock: no other run got in first
                remove_stray_temps(run_dir)  # a try killed before it wrote config.json
            elif args.resume is not None:
                restore_run(trainer, args, run_dir, tidy=rank == 0)

        agreed(comm, tidy)
        summary = trainer.fit(test=lambda best: test_metrics(task, best, data))
    if rank > 0:  # rank 0 prints for the job
        return EXIT_INTERRUPTED if summary["status"] == "interrupted" else 0
    if task == "addition" and "test" in summary:
        _print_sums(model, data.extra["test_pairs"], options["bits"])
        t, d = summary["test"], summary["test"]["distinct_pairs"]
        print(
            f"exact sums on the {t['pairs']} held-out test pairs: {t['exact_sums']:.2%} "
            f"(distinct pairs: {d['train']} train, {d['validation']} validation, {d['test']} "
            "test; no pair in two splits)"
        )
    print(json.dumps(summary, sort_keys=True))
    print(f"run directory: {run_dir}")
    if summary["status"] == "interrupted":
        return 128 + trainer.stop_signal if trainer.stop_signal else EXIT_INTERRUPTED
    return 0


def _memory_plan_line(model, train, config: TrainConfig) -> str | None:
    """Under --memory-budget: the plan forward runs for one update (the first batch, or its
    truncated-BPTT window of k2 steps), in one line; None with full BPTT."""
    rnn = getattr(model, "rnn", None)
    if getattr(rnn, "memory_budget", None) is None:
        return None
    T, N = next(iter(train.epoch(None))).inputs.shape[:2]  # (T, N, ...)
    if config.k1:
        T = min(T, config.k2 or config.k1)
    return f"memory plan for T={T}, N={N}: {rnn.memory_plan(T, N).describe()}"


def _config_text(options: dict, width: int = 100) -> str:
    """The options as JSON, wrapped into lines of about ``width`` characters (json.loads of the
    text gives the options back)."""
    lines, line = [], ""
    for key in sorted(options):
        item = json.dumps({key: options[key]})[1:-1]
        if line and len(line) + len(item) + 2 > width:
            lines.append(line + ",")
            line = ""
        line = item if not line else f"{line}, {item}"
    return "{" + "\n ".join([*lines, line]) + "}"


def _print_sums(model, pairs, bits: int, count: int = 8) -> None:
    _, _, a, b = pairs
    for i in range(min(count, len(a))):
        got = predict_sum(model, int(a[i]), int(b[i]), bits)
        mark = "ok" if got == a[i] + b[i] else f"wrong, expected {a[i] + b[i]}"
        print(f"  {a[i]:>4} + {b[i]:>4} = {got:>4}   {mark}")


def cmd_eval(args) -> int:
    task, options, data, model = load_run(args.run)
    result = test_metrics(task, model, data, args.split)
    print(json.dumps({"task": task, "split": args.split, **result}, sort_keys=True))
    return 0


MAX_SAMPLE_LENGTH = 1_000_000


def cmd_sample(args) -> int:
    task, options, data, model = load_run(args.run, need_data=False)
    if task != "text":
        raise UsageError(f"sample: expected a run of the text task, got a {task} run")
    if not 1 <= args.length <= MAX_SAMPLE_LENGTH:  # one model step per character: no endless run
        raise UsageError(
            f"--length: expected 1 to {MAX_SAMPLE_LENGTH:,} characters, got {args.length}"
        )
    rng = np.random.default_rng(args.seed)
    print(sample_text(model, data.vocabulary, args.prime, args.length, args.temperature, rng))
    return 0


def cmd_predict(args) -> int:
    task, options, data, model = load_run(args.run)
    if task != "addition":
        raise UsageError(f"predict: expected a run of the addition task, got a {task} run")
    print(predict_sum(model, args.a, args.b, options["bits"]))
    return 0


def cmd_gradcheck(args) -> int:
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
    print(f"bptt {__version__}, Python {platform.python_version()}, numpy {np.__version__}")
    for extra in ("safetensors", "tqdm", "matplotlib", "numba", "torch"):
        found = importlib.util.find_spec(extra) is not None
        print(f"  {extra}: {'installed' if found else 'not installed'}")
    backend = resolve_backend("auto", np.float32)
    print(f"  elementwise kernels of float32 LSTM/GRU (backend='auto'): {backend}")
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        print(f"  BLAS: {blas.get('name')} {blas.get('version', '')}")
    except Exception:  # show_config's layout differs across numpy versions
        pass
    aliases = {cell: alias for alias, cell in ALIASES.items()}
    names = [f"{c} (alias {aliases[c]})" if c in aliases else c for c in CELLS]
    print(f"  cells: {', '.join(names)}; tasks: " + ", ".join(TASKS))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    ex = explain(args.cell, args.hidden_size, args.steps, args.seed, args.lr)
    if args.json:
        print(json_text(ex.to_json(), what="explain", indent=None))
    else:
        print(render(ex, args.lang), end="")
    return 0 if ex.fd_ok else EXIT_FAILED


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _require_matplotlib() -> None:
    """Before any work: a missing matplotlib is a one-line error, not a traceback."""
    try:
        require_matplotlib()
    except ImportError as e:
        raise UsageError(str(e)) from None


def cmd_plot(args: argparse.Namespace) -> int:
    _require_matplotlib()
    for path in write_run_plots(args.run, args.out, example=args.example, log=_stderr):
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    _require_matplotlib()
    out = args.run / "report.html" if args.out is None else args.out
    page = run_report(args.run, example=args.example, seed=args.seed, log=_stderr)
    print(atomic_write_bytes(out, page.encode("utf-8")))
    return 0


def cmd_vanishing(args: argparse.Namespace) -> int:
    _require_matplotlib()
    try:
        config = VanishingConfig(
            length=args.length,
            steps=args.steps,
            hidden_size=args.hidden_size,
            lr=args.lr,
            forget_bias=args.forget_bias,
            seed=args.seed,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    out = args.out or Path("runs") / f"vanishing-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out: {out} is not empty; choose another directory")
    print("bptt vanishing: " + json.dumps(config_dict(config), sort_keys=True))
    T = config.length

    def log(r):
        print(
            f"  {r.cell:9s} ||dL/dh_0|| / ||dL/dh_{T - 1}|| = {r.after[0] / r.after[-1]:9.2e}"
            f"   {r.decay_after:6.2f} orders of magnitude after training"
            f" ({r.decay_before:.2f} at init; validation MSE "
            f"{r.validation.get('loss', float('nan')):.4f}; {r.seconds:.0f} s)",
            flush=True,
        )

    results = measure(config, out, args.cells, log=log)
    for path in write_outputs(out, results, config):
        print(path)
    return 0
