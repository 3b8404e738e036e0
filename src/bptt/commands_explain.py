"""``bptt explain``: the five steps of BPTT worked with real numbers (see ``bptt.explain``)."""

from __future__ import annotations

import argparse

from bptt.cli_options import EXIT_FAILED
from bptt.explain import CELLS, DEFAULTS, LIMITS
from bptt.explain_strings import LANGUAGES


def add_explain_parser(sub) -> None:
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
        choices=tuple(CELLS),
        default=DEFAULTS["cell"],
        help=f"rnn (tanh), lstm or gru (default: {DEFAULTS['cell']})",
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
        type=int,
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


def cmd_explain(args: argparse.Namespace) -> int:
    from bptt.explain import explain
    from bptt.explain_text import render
    from bptt.io import json_text

    ex = explain(args.cell, args.hidden_size, args.steps, args.seed, args.lr)
    if args.json:
        print(json_text(ex.to_json(), what="explain", indent=None))
    else:
        print(render(ex, args.lang), end="")
    return 0 if ex.fd_ok else EXIT_FAILED
