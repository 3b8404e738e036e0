"""Check analytic gradients against central finite differences.

For a scalar loss f and an array p, the central difference along a direction v is

    (f(p + eps v) - f(p - eps v)) / (2 eps)  =  <grad f(p), v> + O(eps^2)

Its truncation error is about eps^2 |f'''| / 6 (the one-sided difference is O(eps)) and its
rounding error about eps_machine |f| / eps. They balance near eps = eps_machine^(1/3), about
1e-5 in float64, the default. For losses with |f| ~ 10, rounding then adds ~3e-10 to every
derivative, small or large (ten times less than at eps = 1e-6), and truncation ~1e-9 relative.
In float32 (eps_machine ~ 1e-7) the best achievable error is ~1e-5 relative: too coarse to
find bugs with, so float32 is refused.

Each named array gets two checks:

    direction  v ~ N(0, 1) over the WHOLE array: compares <g, v> with the central difference,
               so a wrong entry anywhere shows up, in two evaluations of f;
    entries    a few random single entries (v = one-hot), which say where an error sits.

Both are scored by the relative error

    rel(a, n) = |a - n| / max(|a|, |n|, floor)

where a is analytic and n numerical. ``floor`` keeps entries whose true derivative is ~0 (a
padded time step, a dead ReLU) from dividing rounding noise by zero: below it the comparison
becomes the absolute test |a - n| <= tol * floor.

Shapes: any; ``grads[name]`` has the shape of ``arrays[name]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

DEFAULT_FLOOR = 1e-3  # with tol=1e-6, near-zero derivatives must agree to 1e-9 absolutely


def _require_float64(name: str, a) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a float64 numpy.ndarray, got {type(a).__name__}")
    if a.dtype != np.float64:
        raise TypeError(
            f"{name}: expected dtype float64, got {a.dtype}; finite differences in lower "
            f"precision are dominated by rounding error (build the model with dtype=np.float64)"
        )
    return a


def _evaluate(f: Callable[[], float]) -> float:
    value = np.asarray(f())
    if value.size != 1:
        raise ValueError(f"loss_fn: expected a scalar, got an array of shape {value.shape}")
    value = float(value.reshape(()))
    if not np.isfinite(value):
        raise ValueError(f"loss_fn: expected a finite loss, got {value}")
    return value


def directional_derivative(
    f: Callable[[], float], array: np.ndarray, v: np.ndarray, eps: float = 1e-5
) -> float:
    """(f(p + eps v) - f(p - eps v)) / (2 eps), perturbing ``array`` in place and restoring it."""
    _require_float64("array", array)
    saved = array.copy()
    try:
        array += eps * v
        f_plus = _evaluate(f)
        np.copyto(array, saved)
        array -= eps * v
        f_minus = _evaluate(f)
    finally:
        np.copyto(array, saved)  # bit-exact restore: p + eps - eps need not equal p
    return (f_plus - f_minus) / (2.0 * eps)


def numerical_gradient(
    f: Callable[[], float],
    array: np.ndarray,
    eps: float = 1e-5,
    indices: Iterable[tuple[int, ...]] | None = None,
) -> np.ndarray:
    """Central differences of the scalar f() with respect to entries of ``array``.

    ``f`` takes no arguments and must read ``array`` (which is perturbed in place and restored
    exactly). With ``indices=None`` every entry is differenced and the result has the shape of
    ``array``; otherwise ``indices`` is a sequence of index tuples and the result is 1-D, one
    value per index.
    """
    _require_float64("array", array)
    all_entries = indices is None
    index_list = list(np.ndindex(array.shape)) if all_entries else [tuple(i) for i in indices]
    out = np.empty(len(index_list))
    for k, idx in enumerate(index_list):
        saved = array[idx]
        try:
            array[idx] = saved + eps
            f_plus = _evaluate(f)
            array[idx] = saved - eps
            f_minus = _evaluate(f)
        finally:
            array[idx] = saved
        out[k] = (f_plus - f_minus) / (2.0 * eps)
    return out.reshape(array.shape) if all_entries else out


def relative_error(analytic, numerical, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """|a - n| / max(|a|, |n|, floor), elementwise."""
    a, n = np.asarray(analytic), np.asarray(numerical)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


@dataclass
class Comparison:
    """One analytic-versus-numerical number: a direction (``index=None``) or a single entry."""

    index: tuple[int, ...] | None
    analytic: float
    numerical: float
    rel_error: float


@dataclass
class ArrayCheck:
    """The comparisons made for one named array; the first is the random direction."""

    name: str
    shape: tuple[int, ...]
    comparisons: list[Comparison]

    @property
    def max_rel_error(self) -> float:
        return max(c.rel_error for c in self.comparisons)


@dataclass
class GradcheckReport:
    """Every array's comparisons; ``ok`` when each max relative error is <= tol."""

    checks: dict[str, ArrayCheck]
    tol: float
    eps: float
    floor: float

    @property
    def max_rel_errors(self) -> dict[str, float]:
        return {name: c.max_rel_error for name, c in self.checks.items()}

    @property
    def failed(self) -> list[str]:
        return [name for name, err in self.max_rel_errors.items() if not err <= self.tol]

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"FAILED for {', '.join(self.failed)}"
        lines = [
            f"gradient check (eps={self.eps:g}, tol={self.tol:g}, floor={self.floor:g}): {verdict}"
        ]
        width = max((len(n) for n in self.checks), default=4)
        for name, check in self.checks.items():
            mark = "  " if check.max_rel_error <= self.tol else "!!"
            lines.append(
                f"{mark} {name:<{width}} {str(check.shape):<14} max rel error "
                f"{check.max_rel_error:.2e}"
            )
            if check.max_rel_error > self.tol:
                for c in check.comparisons:
                    where = "random direction" if c.index is None else f"entry {c.index}"
                    lines.append(
                        f"     {where:<20} analytic {c.analytic:+.10e}  numerical "
                        f"{c.numerical:+.10e}  rel {c.rel_error:.2e}"
                    )
        return "\n".join(lines)


def check_gradients(
    loss_fn: Callable[[], float],
    arrays: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    *,
    eps: float = 1e-5,
    tol: float = 1e-6,
    entries_per_array: int = 3,
    floor: float = DEFAULT_FLOOR,
    rng: np.random.Generator | None = None,
) -> GradcheckReport:
    """Compare ``grads`` with finite differences of ``loss_fn()`` for every array in ``arrays``.

    ``loss_fn`` takes no arguments and reads the arrays in place (e.g. model parameters, an
    input, an initial state). Each array gets one random-direction check and
    ``entries_per_array`` single-entry checks; ``rng`` (default: seed 0, so a report is
    reproducible) picks them. Returns a report; see ``assert_gradients_close`` to raise.
    """
    if arrays.keys() != grads.keys():
        raise ValueError(
            f"grads: expected exactly the keys of arrays {sorted(arrays)}, got {sorted(grads)}"
        )
    for name in arrays:
        _require_float64(name, arrays[name])
        _require_float64(f"grads[{name!r}]", grads[name])
        if grads[name].shape != arrays[name].shape:
            raise ValueError(
                f"grads[{name!r}]: expected shape {arrays[name].shape}, got {grads[name].shape}"
            )
    if not isinstance(entries_per_array, int) or entries_per_array < 0:
        raise ValueError(
            f"entries_per_array: expected a non-negative integer, got {entries_per_array!r}"
        )
    if not eps > 0 or not tol > 0 or not floor > 0:
        raise ValueError(f"eps, tol, floor: expected positive numbers, got {eps}, {tol}, {floor}")
    rng = rng if rng is not None else np.random.default_rng(0)

    checks = {}
    for name, p in arrays.items():
        g = grads[name]
        v = rng.standard_normal(p.shape)  # (shape of p)
        a = float(np.sum(g * v))
        n = directional_derivative(loss_fn, p, v, eps)
        comparisons = [Comparison(None, a, n, float(relative_error(a, n, floor)))]
        count = min(entries_per_array, p.size)
        flat = rng.choice(p.size, size=count, replace=False)
        indices = [tuple(int(i) for i in np.unravel_index(k, p.shape)) for k in flat]
        numeric = numerical_gradient(loss_fn, p, eps, indices)
        for idx, n_i in zip(indices, numeric):
            a_i = float(g[idx])
            comparisons.append(
                Comparison(idx, a_i, float(n_i), float(relative_error(a_i, n_i, floor)))
            )
        checks[name] = ArrayCheck(name, p.shape, comparisons)
    return GradcheckReport(checks, tol, eps, floor)


def assert_gradients_close(
    loss_fn: Callable[[], float],
    arrays: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    **kwargs,
) -> GradcheckReport:
    """``check_gradients`` that raises AssertionError carrying the report when any check fails."""
    report = check_gradients(loss_fn, arrays, grads, **kwargs)
    if not report.ok:
        raise AssertionError(str(report))
    return report
