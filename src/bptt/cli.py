"""Level 9: the ``bptt`` command line, a thin shell over library calls.

    bptt train TASK [options]     train on addition | adding | copy | mnist | text
    bptt eval RUN                 evaluate a run's best model on its test split
    bptt sample RUN               generate text from a character model
    bptt predict RUN A B          add two integers with a trained binary adder
    bptt gradcheck                check every cell's gradients against finite differences
    bptt explain                  the five steps of BPTT worked with real numbers
    bptt plot RUN                 PNG pictures: curves, gradient flow, states and gates
    bptt report RUN               one self-contained HTML page about a run
    bptt vanishing                dL/dh_t of RNN, LSTM and GRU on the adding problem
    bptt info                     versions, BLAS, optional extras

Options resolve as: built-in defaults < the task's defaults < a TOML ``--config`` file < flags
given on the command line. The resolved options are printed and saved in ``config.json``.
Errors print one line and exit 2 (bad input) or 1 (training failed); Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bptt import __version__
from bptt.cli_options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    MODEL_OPTIONS,
    TASKS,
    UsageError,
    all_options,
    train_options,
)
from bptt.commands import (
    cmd_eval,
    cmd_gradcheck,
    cmd_info,
    cmd_predict,
    cmd_sample,
    cmd_train,
)
from bptt.commands_explain import add_explain_parser, cmd_explain
from bptt.commands_plot import add_plot_parsers, cmd_plot, cmd_report, cmd_vanishing

__all__ = ["main", "build_parser", "all_options"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


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
        ("training", train_options()),
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

    add_explain_parser(sub)
    add_plot_parsers(sub)
    sub.add_parser("info", help="versions, BLAS and optional extras")
    return parser


COMMANDS = {
    "train": cmd_train,
    "eval": cmd_eval,
    "sample": cmd_sample,
    "predict": cmd_predict,
    "gradcheck": cmd_gradcheck,
    "explain": cmd_explain,
    "plot": cmd_plot,
    "report": cmd_report,
    "vanishing": cmd_vanishing,
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
    except BrokenPipeError:  # the reader went away (bptt ... | head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (
        DatasetNotFoundError,
        CheckpointError,
        ImportError,
        ValueError,
        TypeError,
        OSError,
    ) as e:
        message = " ".join(str(e).split())
        print(f"bptt: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
