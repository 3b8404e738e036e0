"""``python -m bptt`` runs the command line."""

import sys

from bptt.cli.main import main

sys.exit(main())
