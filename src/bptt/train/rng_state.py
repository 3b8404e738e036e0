"""A ``numpy.random.Generator``'s state as JSON, and back: resuming continues the same draws.

The state is ``Generator.bit_generator.state``: PCG64's 128-bit integers are plain JSON
integers; the arrays of MT19937, Philox and SFC64 become lists.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

BIT_GENERATORS = {
    cls.__name__: cls
    for cls in (
        np.random.PCG64,
        np.random.PCG64DXSM,
        np.random.MT19937,
        np.random.Philox,
        np.random.SFC64,
    )
}


def to_json(obj):
    if isinstance(obj, Mapping):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def generator_state(rng: np.random.Generator) -> dict:
    """The JSON-able state of ``rng``; ``generator_from_state`` turns it back into a Generator."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    return to_json(rng.bit_generator.state)


def generator_from_state(state: Mapping) -> np.random.Generator:
    """A new Generator that continues exactly where the one that gave ``state`` stopped."""
    name = state.get("bit_generator") if isinstance(state, Mapping) else None
    if name not in BIT_GENERATORS:
        raise ValueError(
            "rng state: expected a dict with 'bit_generator' one of "
            f"{sorted(BIT_GENERATORS)}, got {name if isinstance(state, Mapping) else state!r}"
        )
    bit_generator = BIT_GENERATORS[name](0)
    try:
        bit_generator.state = dict(state)
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"rng state: not a valid {name} state ({e!r})") from e
    return np.random.Generator(bit_generator)
