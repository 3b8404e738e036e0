"""The ``bptt`` command line, a thin shell over library calls: ``main`` runs one subcommand.

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
Errors print one line and exit 2 (bad input) or 1 (training failed, or the disk refused a
write: full, over quota, read-only, an I/O error); Ctrl-C exits 130. A file-system error names
the file and the system's reason ("RUN/metrics.jsonl: No space left on device").
"""

from __future__ import annotations

import errno
import os
import sys

from bptt.cli import commands
from bptt.cli.options import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, UsageError
from bptt.cli.parser import build_parser
from bptt.data import DatasetNotFoundError
from bptt.io import CorruptFileError
from bptt.train import NonFiniteError

# the disk, not the command line, is at fault
DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})


def os_error_message(e: OSError) -> str:
    """'FILE: reason' for an error naming its file, else the error's own words."""
    if e.strerror and e.filename is not None:
        return f"{os.fsdecode(e.filename)}: {e.strerror}"
    return str(e)


COMMANDS = {
    "train": commands.cmd_train,
    "eval": commands.cmd_eval,
    "sample": commands.cmd_sample,
    "predict": commands.cmd_predict,
    "gradcheck": commands.cmd_gradcheck,
    "explain": commands.cmd_explain,
    "plot": commands.cmd_plot,
    "report": commands.cmd_report,
    "vanishing": commands.cmd_vanishing,
    "info": commands.cmd_info,
}


def main(argv: list[str] | None = None) -> int:
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
    except OSError as e:
        print(f"bptt: error: {' '.join(os_error_message(e).split())}", file=sys.stderr)
        return EXIT_FAILED if e.errno in DISK_ERRORS else EXIT_USAGE
    except (
        DatasetNotFoundError,
        CorruptFileError,
        ImportError,
        ValueError,
        TypeError,
    ) as e:
        message = " ".join(str(e).split())
        print(f"bptt: error: {message}", file=sys.stderr)
        return EXIT_USAGE
