"""The parser of ``bptt``: every subcommand, each option's help showing its default.

``train``'s options come from their one definition each: the model and task options from
``bptt.tasks``, the training options from ``bptt.train.TrainConfig``'s field metadata.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bptt import __version__
from bptt.checks import check_nonnegative_int
from bptt.cli.options import UsageError
from bptt.insight.explain import CELLS as EXPLAIN_CELLS
from bptt.insight.explain import DEFAULTS, LANGUAGES, LIMITS
from bptt.insight.vanishing import CELLS as VANISHING_CELLS
from bptt.insight.vanishing import VanishingConfig
from bptt.nn import ALIASES as NN_ALIASES
from bptt.nn import CELLS as NN_CELLS
from bptt.tasks import MODEL_OPTIONS, TASK_OPTIONS, TASKS
from bptt.train import option_table


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _seed(text: str) -> int:
    """A --seed: numpy's generators take only integers >= 0."""
    try:
        return check_nonnegative_int("--seed", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None


def _nonempty_path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory, got an empty path")
    return Path(text)


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
        choices=tuple(TASKS),
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
        type=_nonempty_path,
        default=None,
        help="where to write the run (default: runs/TASK-TIMESTAMP)",
    )
    train.add_argument(
        "--resume",
        type=_nonempty_path,
        default=None,
        metavar="RUN",
        help="continue the run in this directory from its latest checkpoint "
        "(default: start afresh)",
    )
    train.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal; without it, "
        "one line per evaluation and checkpoint)",
    )
    train.add_argument(
        "--distributed",
        action="store_true",
        help="one run over every process of an MPI job (mpiexec -n K ...): each takes 1/K of "
        "every batch, gradients all-reduced each step; needs the mpi extra (default: off)",
    )
    train.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no per-evaluation lines on stderr (default: off)",
    )
    task_defaults = {name: task.defaults for name, task in TASKS.items()}
    for title, options in (
        ("model", MODEL_OPTIONS),
        ("training", option_table()),
        ("task", TASK_OPTIONS),
    ):
        group = train.add_argument_group(f"{title} options")
        for name, (default, help_text) in options.items():
            _add_option(group, name, default, help_text, task_defaults)

    ev = sub.add_parser(
        "eval",
        help="evaluate a run's best model on its test split",
        description="Load RUN's best model (model.safetensors) and its task's data as the run "
        "saved them, and print the model's loss and accuracy on the test split (or the "
        "validation split) as JSON.",
    )
    ev.add_argument("run", type=Path, help="run directory")
    ev.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="which split (default: test)",
    )

    sample = sub.add_parser(
        "sample",
        help="generate text from a character model",
        description="Generate characters from a text run's best model, one at a time, each "
        "drawn from the softmax at --temperature and fed back as the next input.",
    )
    sample.add_argument("run", type=Path, help="run directory of a text model")
    sample.add_argument("--prime", default="", help="text to start from (default: '')")
    sample.add_argument(
        "--temperature", type=float, default=0.8, help="softmax temperature (default: 0.8)"
    )
    sample.add_argument(
        "--length",
        type=int,
        default=500,
        help="characters to generate, at most 1,000,000 (default: 500)",
    )
    sample.add_argument("--seed", type=_seed, default=0, help="sampling seed (default: 0)")

    predict = sub.add_parser(
        "predict",
        help="add two integers with a trained adder",
        description="Feed the bits of A and B (least significant first) to an addition run's "
        "best model and print the sum it computes.",
    )
    predict.add_argument("run", type=Path, help="run directory of an addition model")
    predict.add_argument("a", type=int, help="first addend")
    predict.add_argument("b", type=int, help="second addend")

    gc = sub.add_parser(
        "gradcheck",
        help="check every cell's gradients by finite differences",
        description="For every cell, build a small random float64 network and compare each "
        "gradient of the hand-written backward pass with central finite differences; exit 1 "
        "if any relative error is too large.",
    )
    gc.add_argument("--seed", type=_seed, default=0, help="seed of the random network (default: 0)")

    _add_explain_parser(sub)
    _add_insight_parsers(sub)
    sub.add_parser(
        "info",
        help="versions, BLAS and optional extras",
        description="Print the versions of bptt, Python and NumPy, which optional extras are "
        "installed, the kernels float32 LSTM and GRU use, NumPy's BLAS, and the cells and tasks.",
    )
    return parser


def _add_explain_parser(sub) -> None:
    """The ``explain`` subcommand and its options, each help showing its default."""
    p = sub.add_parser(
        "explain",
        help="backpropagation through time worked with real numbers on a tiny network",
        description="Work the five steps of BPTT (forward, output error, the error sent back "
        "through the hidden states, each step's share of the weight gradients, one "
        "gradient-descent step) on a tiny network, every gradient checked by finite differences.",
    )
    p.add_argument(
        "--cell",
        type=lambda name: "rnn" if name == "rnn_tanh" else name,  # the one tanh RNN
        choices=tuple(EXPLAIN_CELLS),
        default=DEFAULTS["cell"],
        help=f"rnn (also rnn_tanh), lstm or gru (default: {DEFAULTS['cell']})",
    )
    p.add_argument(
        "--hidden-size",
        type=int,
        default=DEFAULTS["hidden_size"],
        help=f"hidden units, at most {LIMITS['hidden_size']} (default: {DEFAULTS['hidden_size']})",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=DEFAULTS["steps"],
        help=f"time steps, at most {LIMITS['steps']} (default: {DEFAULTS['steps']})",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=DEFAULTS["seed"],
        help=f"seed of the weights and the inputs (default: {DEFAULTS['seed']})",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=DEFAULTS["lr"],
        help=f"learning rate of the gradient-descent step (default: {DEFAULTS['lr']})",
    )
    p.add_argument(
        "--lang",
        choices=LANGUAGES,
        default="en",
        help="language of the explanation: en (English) or zh (Chinese) (default: en)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print every number (parameters and inputs included) as JSON instead (default: text)",
    )


def _add_insight_parsers(sub) -> None:
    """The ``plot``, ``report`` and ``vanishing`` subcommands, each help showing its default."""
    plot = sub.add_parser(
        "plot",
        help="write PNG pictures of a run",
        description="Write PNG pictures of RUN: the loss curves from metrics.jsonl, the "
        "gradient flow over time, and the hidden states and gates of one validation example.",
    )
    plot.add_argument("run", type=Path, help="run directory")
    plot.add_argument("--out", type=Path, default=None, help="folder (default: RUN/plots)")
    report = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Write one HTML file (pictures embedded) with RUN's config, curves, "
        "gradient flow, states and test figures.",
    )
    report.add_argument("run", type=Path, help="run directory")
    report.add_argument("--out", type=Path, default=None, help="file (default: RUN/report.html)")
    report.add_argument(
        "--seed", type=_seed, default=0, help="seed of the text sample of text runs (default: 0)"
    )
    for p in (plot, report):
        p.add_argument(
            "--example",
            type=int,
            default=0,
            help="which validation example the state pictures show (default: 0)",
        )

    d = VanishingConfig()
    v = sub.add_parser(
        "vanishing",
        help="measure the vanishing gradient of RNN, LSTM and GRU on the adding problem",
        description="Train a tanh RNN, an LSTM and a GRU briefly on the adding problem and "
        "measure how much of the error dL/dh_t reaches each time step; writes one run "
        "directory per cell, a comparison plot and an HTML report.",
    )
    v.add_argument(
        "--length", type=int, default=d.length, help=f"sequence length T (default: {d.length})"
    )
    v.add_argument(
        "--steps", type=int, default=d.steps, help=f"training steps per cell (default: {d.steps})"
    )
    v.add_argument(
        "--hidden-size",
        type=int,
        default=d.hidden_size,
        help=f"hidden units of every cell (default: {d.hidden_size})",
    )
    v.add_argument("--lr", type=float, default=d.lr, help=f"Adam's learning rate (default: {d.lr})")
    v.add_argument(
        "--forget-bias",
        type=float,
        default=None,
        help="initial LSTM forget-gate bias (default: none, PyTorch's initialisation)",
    )
    v.add_argument(
        "--cells",
        nargs="+",
        type=lambda name: NN_ALIASES.get(name, name),
        choices=tuple(NN_CELLS),
        default=list(VANISHING_CELLS),
        help=f"cells to compare, rnn as rnn_tanh (default: {' '.join(VANISHING_CELLS)})",
    )
    v.add_argument(
        "--seed", type=_seed, default=d.seed, help=f"seed of data and weights (default: {d.seed})"
    )
    v.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the runs, plot and report (default: runs/vanishing-TIMESTAMP)",
    )
