"""Options of ``bptt train``: built-in defaults, the task's defaults, a TOML file, the flags.

    resolved = defaults < the task's defaults < --config FILE.toml < flags given

Every option has one name (a ``bptt.tasks.all_options`` name: the TrainConfig field, the model
option or the task option); the flag is that name with dashes, the TOML key that name.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from bptt.bounded import TOML_LIMIT, read_bounded
from bptt.checks import parse_bytes
from bptt.nn import cell_name
from bptt.tasks import default_options, get_task

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


class UsageError(Exception):
    """Bad arguments: reported on one line, exit status 2."""


def resolve_options(task: str, args: argparse.Namespace) -> dict:
    """Defaults < the task's defaults < the TOML file < flags given on the command line."""
    options = default_options(get_task(task).defaults)
    if args.config is not None:
        options.update(load_toml(args.config, options))
    given = {k: v for k, v in vars(args).items() if k in options and v is not None}
    options.update(given)
    return canonical(options)


def canonical(options: dict) -> dict:
    """The options with the cell under its one name ('rnn' -> 'rnn_tanh'); an unknown cell is
    a usage error here, before anything is written."""
    if "cell" in options:
        try:
            options = {**options, "cell": cell_name(options["cell"])}
        except ValueError as e:
            raise UsageError(f"--cell: {e}".replace("cell: ", "", 1)) from None
    try:
        parse_bytes("--memory-budget", options.get("memory_budget"))
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    return options


def load_toml(path: Path, known: dict) -> dict:
    try:
        raw = read_bounded(path, TOML_LIMIT, "TOML file")
        values = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config: no such file: {path}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"--config: {path} is not UTF-8 text ({e.reason})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config: {path} is not valid TOML: {e}") from None
    except RecursionError:
        raise UsageError(
            f"--config: {path} is not valid TOML for bptt: nested too deeply"
        ) from None
    except ValueError as e:
        raise UsageError(f"--config: {e}") from None
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
