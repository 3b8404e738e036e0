"""The optimizer base class — parameter checks, state, saving and loading.

The update rules live in one module each (``sgd.py``, ``adam.py``, ...); this module holds
what every optimizer shares: the flat ``params`` dict updated in place, a per-parameter state
allocated up front in the parameter's dtype, the ``lr`` property that a schedule sets each
step, and ``state_dict`` / ``load_state_dict`` in the ``{"meta": ..., "arrays": ...}`` form
that checkpoints save.
"""

from __future__ import annotations

import importlib
import json
import math

import numpy as np

from bptt.checks import FLOAT_DTYPES, array_dict_problems, is_integer
from bptt.nn.kernels import numba_available


def _number(name: str, value, low: float = 0.0, high: float | None = None) -> float:
    """A finite real number in [low, high) (or [low, inf) when high is None)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    in_range = math.isfinite(value) and low <= value and (high is None or value < high)
    if not in_range:
        expected = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name}: expected a finite number {expected}, got {value}")
    return value


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _check_params(params) -> dict[str, np.ndarray]:
    if not isinstance(params, dict):
        raise TypeError(
            f"params: expected a dict name -> numpy.ndarray, got {type(params).__name__}"
        )
    if not params:
        raise ValueError("params: expected at least one parameter, got an empty dict")
    problems = []
    for name, theta in params.items():
        if not isinstance(name, str):
            problems.append(f"key {name!r}: expected a str name, got {type(name).__name__}")
        elif not isinstance(theta, np.ndarray):
            problems.append(f"{name!r}: expected numpy.ndarray, got {type(theta).__name__}")
        elif theta.dtype not in FLOAT_DTYPES:
            problems.append(f"{name!r}: expected dtype float32 or float64, got {theta.dtype}")
        elif not theta.flags.writeable:
            problems.append(f"{name!r}: expected a writeable array (it is updated in place)")
    if problems:
        raise TypeError("params: " + "; ".join(problems))
    return dict(params)  # our own key set; the arrays stay the caller's live ones


def load_rule(name: str):
    """The fused update rule ``name`` of ``bptt.optim.fused`` (imports numba on first use)."""
    return getattr(importlib.import_module("bptt.optim.fused"), name)


def _json_normal(value):
    """What a value becomes after a JSON round trip (tuples turn into lists)."""
    return json.loads(json.dumps(value))


class Optimizer:
    """Base: the params, the lr, the step count and the per-parameter state arrays.

    A subclass validates its hyperparameters, says which state arrays it keeps (and their
    initial value) through ``super().__init__``, and writes its update rule in ``_update``.
    One that names ``fused_rule`` (a function of ``bptt.optim.fused``) runs that fused loop
    instead when numba is installed and ``fused`` is True (the default then), for every
    parameter whose arrays are all C-contiguous, all of them in one call; the results are
    the same.
    """

    fused_rule: str | None = None  # the name of this rule's fused loop in bptt.optim.fused

    def __init__(
        self, params: dict[str, np.ndarray], lr: float, state_init: dict[str, float]
    ) -> None:
        self.params = _check_params(params)
        self.lr = lr
        self.fused = self.fused_rule is not None and numba_available()
        self.step_count = 0
        self._views: dict[str, tuple] = {}  # name -> (theta, flat views) for the fused rule
        # state[state_name][param_name], allocated up front so state_dict() has fixed keys
        self.state = {
            s: {name: np.full_like(theta, value) for name, theta in self.params.items()}
            for s, value in state_init.items()
        }

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _number("lr", value)

    hyperparameter_names: tuple[str, ...] = ()  # the attributes that, with lr, fix the update

    def hyperparameters(self) -> dict:
        """Everything but lr that fixes the update rule, JSON-able."""
        return _json_normal({name: getattr(self, name) for name in self.hyperparameter_names})

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict, t: int) -> None:
        """Update one parameter in place; ``state`` maps state name -> this parameter's array."""
        raise NotImplementedError

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """One update of every parameter from ``grads`` (which is never modified)."""
        self._check_grads(grads)
        self.step_count += 1
        fused = load_rule(self.fused_rule) if self.fused else None
        batch = []  # flat (theta, g, state) of the parameters the fused rule takes, in one call
        for name, theta in self.params.items():
            g = grads[name]
            flat = self._flat_views(name, theta) if fused is not None else None
            if flat is not None and g.flags.c_contiguous:
                batch.append((flat[0], g.reshape(-1), dict(zip(self.state, flat[1:]))))
            else:
                state = {s: arrays[name] for s, arrays in self.state.items()}
                self._update(theta, g, state, self.step_count)
        if batch:
            fused(self, batch, self.step_count)

    def _flat_views(self, name: str, theta: np.ndarray) -> tuple | None:
        """theta and its state arrays as flat views (made once), or None if one is not
        C-contiguous (its reshape would be a copy)."""
        made = self._views.get(name)
        if made is None or made[0] is not theta:  # a parameter array replaced by the caller
            arrays = (theta, *(per_param[name] for per_param in self.state.values()))
            contiguous = all(a.flags.c_contiguous for a in arrays)
            flat = tuple(a.reshape(-1) for a in arrays) if contiguous else None
            made = self._views[name] = (theta, flat)
        return made[1]

    def _check_grads(self, grads) -> None:
        if not isinstance(grads, dict):
            raise TypeError(
                f"grads: expected a dict name -> numpy.ndarray, got {type(grads).__name__}"
            )
        if grads.keys() == self.params.keys() and all(
            type(g) is np.ndarray and g.shape == p.shape and g.dtype == p.dtype
            for g, p in zip(grads.values(), self.params.values())
        ):  # the usual case, checked fast; the order of keys may differ, so by name below
            if list(grads) == list(self.params):
                return
        problems = array_dict_problems(self.params, grads, what="gradient", quote=True)
        if problems:
            raise ValueError("grads do not match params: " + "; ".join(problems))

    def state_dict(self) -> dict:
        """``{"meta": {class, hyperparameters, lr, step}, "arrays": {"<state>.<param>": copy}}``."""
        meta = {
            "class": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "lr": self.lr,
            "step": self.step_count,
        }
        arrays = {
            f"{s}.{name}": a.copy()
            for s, per_param in self.state.items()
            for name, a in per_param.items()
        }
        return {"meta": meta, "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        """Restore lr, step count and state arrays (copied in place); all problems reported at once.

        The saved class and hyperparameters must equal this optimizer's: build the optimizer
        from the same config, then load. Nothing changes unless everything checks out.
        """
        if not isinstance(state, dict) or set(state) != {"meta", "arrays"}:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"load_state_dict: expected a dict with keys ['arrays', 'meta'], got {got}"
            )
        meta, arrays = state["meta"], state["arrays"]
        if not isinstance(meta, dict) or not isinstance(arrays, dict):
            raise TypeError(
                "load_state_dict: expected dicts under 'meta' and 'arrays', got "
                f"{type(meta).__name__} and {type(arrays).__name__}"
            )
        problems = []
        if meta.get("class") != type(self).__name__:
            problems.append(f"class: expected {type(self).__name__!r}, got {meta.get('class')!r}")
        saved_hp, mine = meta.get("hyperparameters", {}), self.hyperparameters()
        for key in sorted(set(saved_hp) | set(mine)):
            if saved_hp.get(key) != mine.get(key):
                problems.append(
                    f"hyperparameter {key!r}: this optimizer has {mine.get(key)!r}, "
                    f"the saved state {saved_hp.get(key)!r}"
                )
        step, lr = meta.get("step"), meta.get("lr")
        if not is_integer(step) or step < 0:
            problems.append(f"step: expected a non-negative int, got {step!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < math.inf:
            problems.append(f"lr: expected a finite number >= 0, got {lr!r}")
        targets = {
            f"{s}.{n}": a for s, per_param in self.state.items() for n, a in per_param.items()
        }
        problems += array_dict_problems(targets, arrays, what="array", quote=True)
        if problems:
            raise ValueError("load_state_dict: " + "; ".join(problems))
        for key, target in targets.items():
            np.copyto(target, arrays[key])
        self.step_count = step
        self.lr = lr
