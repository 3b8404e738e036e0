"""The names of a stack's layers and directions, PyTorch's parameter suffixes: layer l,
direction k (0 forward, 1 reverse) is "l{l}" or "l{l}_reverse"."""

from __future__ import annotations


def direction_name(layer: int, direction: int) -> str:
    """Layer l, direction k -> "l{l}" or "l{l}_reverse" (PyTorch's parameter suffix)."""
    return f"l{layer}" + ("_reverse" if direction == 1 else "")


def direction_names(num_layers: int, num_directions: int) -> list[str]:
    """Index l * K + k -> its name: the order of parameters, tapes and forward caches."""
    return [direction_name(l, k) for l in range(num_layers) for k in range(num_directions)]
