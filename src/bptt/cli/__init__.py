"""The ``bptt`` command line: a thin shell over the library.

main.py      ``main(argv)``: parse, run one subcommand, turn errors into exit statuses
parser.py    ``build_parser``: every subcommand and option, each help with its default
options.py   option resolution: defaults < the task's < a TOML file < flags
commands.py  the subcommands, a few library calls each
"""

from bptt.cli.main import main as main
from bptt.cli.parser import build_parser as build_parser
