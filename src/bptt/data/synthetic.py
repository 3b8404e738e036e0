"""Synthetic sequence tasks, each a pure function of a numpy Generator.

All arrays are time-major. T steps, N sequences.

Binary addition (the explainer's program): a + b = c written least significant bit first, so
at step t the network sees bit t of a and b and must emit bit t of c; the carry is what it
has to remember. a, b < 2**(bits-1), so c < 2**bits fits in ``bits`` bits.

    xs[t, n] = (a_n >> t & 1, b_n >> t & 1)      (T=bits, N, 2)
    ys[t, n] = c_n >> t & 1                       (T=bits, N)

There are M^2 pairs, M = 2**(bits-1) (16,384 at 8 bits). ``exclude`` (pair codes a*M + b,
``pair_codes``) keeps pairs out of a draw: a held-out split drawn with the training pairs
excluded is disjoint from them.

Adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): channel 0 holds values drawn
uniformly from [0, 1), channel 1 marks exactly two steps, one in each half of the sequence;
the target is the sum of the two marked values.

    xs[:, n, 0] ~ U[0, 1)   xs[i, n, 1] = xs[j, n, 1] = 1, i < T//2 <= j   (T=length, N, 2)
    ys[n] = xs[i, n, 0] + xs[j, n, 0]                                        (N,)

Copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): remember ``length`` symbols
across ``delay`` steps. Token 0 is the blank, 1..n_symbols are the symbols, n_symbols + 1 is
the delimiter that says "now repeat". With S = length, T = 2*S + delay:

    inputs   s_1 .. s_S | 0 x (delay - 1) | delimiter | 0 x S       (T, N)
    targets  0 x (S + delay)                          | s_1 .. s_S  (T, N)

A model that never remembers anything scores the baseline loss S*log(n_symbols) / T per step.
"""

from __future__ import annotations

import numpy as np

from bptt.checks import check_positive_int

MAX_BITS = 62  # values and their sums stay inside int64


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng: expected a numpy.random.Generator (numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def _check_bits(bits) -> int:
    bits = check_positive_int("bits", bits)
    if bits > MAX_BITS:
        raise ValueError(f"bits: expected at most {MAX_BITS} (to fit int64), got {bits}")
    return bits


def int_to_bits(values, bits: int) -> np.ndarray:
    """Non-negative integers (*S) -> their bits (bits, *S) int64, least significant first."""
    bits = _check_bits(bits)
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"values: expected integers, got dtype {values.dtype}")
    values = values.astype(np.int64)
    if values.size and (values.min() < 0 or values.max() >= 2**bits):
        raise ValueError(
            f"values: expected integers in [0, 2**{bits}) to fit {bits} bits, "
            f"got min {values.min()} and max {values.max()}"
        )
    shifts = np.arange(bits, dtype=np.int64).reshape((bits,) + (1,) * values.ndim)
    return (values[None] >> shifts) & 1  # (bits, *S)


def bits_to_int(bits_array) -> np.ndarray:
    """Bits (bits, *S) of 0/1, least significant first along axis 0 -> integers (*S) int64."""
    b = np.asarray(bits_array)
    if b.ndim < 1:
        raise ValueError(f"bits_array: expected at least 1-D (bits, ...), got shape {b.shape}")
    _check_bits(b.shape[0])
    if b.size and not np.isin(b, (0, 1)).all():
        raise ValueError("bits_array: expected only 0 and 1, got other values")
    shifts = np.arange(b.shape[0], dtype=np.int64).reshape((-1,) + (1,) * (b.ndim - 1))
    return (b.astype(np.int64) << shifts).sum(axis=0)  # (*S)


def pair_codes(a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """Pairs (a, b) -> one integer each, a * 2**(bits-1) + b (N,) int64: distinct pairs,
    distinct codes."""
    return np.asarray(a, dtype=np.int64) * 2 ** (bits - 1) + np.asarray(b, dtype=np.int64)


def _draw_pairs(n: int, rng: np.random.Generator, bits: int, exclude) -> tuple:
    """n pairs uniformly from the M^2 pairs outside ``exclude`` (with replacement)."""
    M = 2 ** (bits - 1)
    banned = np.unique(np.asarray([] if exclude is None else exclude, dtype=np.int64))
    if banned.size >= M * M:
        raise ValueError(
            f"exclude: expected fewer than all {M * M} pairs of {bits} bits, got all of them "
            "excluded (no pair is left to draw)"
        )
    codes = np.empty(0, dtype=np.int64)
    while codes.size < n:  # rejection: the kept draws are uniform over the allowed pairs
        draw = rng.integers(0, M * M, size=n - codes.size, dtype=np.int64)
        codes = np.concatenate([codes, draw[~np.isin(draw, banned)]])
    return codes // M, codes % M  # (n,), (n,)


def binary_addition(
    n: int, rng: np.random.Generator, bits: int = 8, dtype=np.float32, exclude=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n sums a + b -> (xs (bits, n, 2) dtype, ys (bits, n) int64 bits of a+b, a (n,), b (n,)).

    ``exclude``: pair codes (``pair_codes``) never drawn; None draws from all pairs."""
    n = check_positive_int("n", n)
    rng = _check_rng(rng)
    bits = _check_bits(bits)
    if bits < 2:
        raise ValueError(f"bits: expected at least 2 (a, b < 2**(bits-1)), got {bits}")
    if exclude is None:
        a = rng.integers(0, 2 ** (bits - 1), size=n, dtype=np.int64)  # (n,)
        b = rng.integers(0, 2 ** (bits - 1), size=n, dtype=np.int64)  # (n,)
    else:
        a, b = _draw_pairs(n, rng, bits, exclude)
    xs = np.stack([int_to_bits(a, bits), int_to_bits(b, bits)], axis=-1).astype(dtype)  # (T, n, 2)
    ys = int_to_bits(a + b, bits)  # (T, n)
    return xs, ys, a, b


def adding_problem(
    n: int, length: int, rng: np.random.Generator, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """n sequences of ``length`` steps -> (xs (length, n, 2), ys (n,)), both ``dtype``."""
    n = check_positive_int("n", n)
    length = check_positive_int("length", length)
    rng = _check_rng(rng)
    if length < 2:
        raise ValueError(f"length: expected at least 2 (one marker in each half), got {length}")
    half = length // 2
    xs = np.zeros((length, n, 2), dtype=dtype)  # (T, N, 2)
    xs[:, :, 0] = rng.random((length, n))
    first = rng.integers(0, half, size=n)  # (N,) in the first half
    second = rng.integers(half, length, size=n)  # (N,) in the second half
    cols = np.arange(n)
    xs[first, cols, 1] = 1
    xs[second, cols, 1] = 1
    ys = (xs[first, cols, 0] + xs[second, cols, 0]).astype(dtype)  # (N,)
    return xs, ys


def copy_task(
    n: int, rng: np.random.Generator, delay: int = 20, length: int = 10, n_symbols: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """n copy sequences -> (inputs (T, n), targets (T, n)) int64, T = 2*length + delay.

    Input vocabulary: n_symbols + 2 tokens (blank, symbols, delimiter); targets use only the
    first n_symbols + 1 (blank and symbols). See the module docstring for the layout.
    """
    n = check_positive_int("n", n)
    rng = _check_rng(rng)
    delay = check_positive_int("delay", delay)
    length = check_positive_int("length", length)
    n_symbols = check_positive_int("n_symbols", n_symbols)
    T = 2 * length + delay
    symbols = rng.integers(1, n_symbols + 1, size=(length, n), dtype=np.int64)  # (S, N)
    inputs = np.zeros((T, n), dtype=np.int64)  # (T, N)
    inputs[:length] = symbols
    inputs[length + delay - 1] = n_symbols + 1
    targets = np.zeros((T, n), dtype=np.int64)  # (T, N)
    targets[length + delay :] = symbols
    return inputs, targets
