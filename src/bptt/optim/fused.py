"""SGD's and Adam's update as one fused loop per parameter (optional, needs numba).

NumPy runs ``theta -= lr * g`` as two passes over memory and Adam's rule as about ten; an
optimizer step is bound by memory, so each pass costs its full share. The loops here read
theta, g and the state once and write them once, over the threads numba is allowed
(``numba.set_num_threads``) for arrays of ``PARALLEL_MIN`` entries or more, as
torch.optim's foreach kernels do. They compute the update
rules of ``sgd.py`` and ``adam.py`` in the same order of operations and in the parameter's
dtype (every constant is cast to it first, as NumPy casts a Python float), so their results
equal the NumPy rules' (to float32 round-off where LLVM fuses a multiply-add).

Arrays are the parameters' flat views (``theta.reshape(-1)``), all of one length P.
This module imports numba at its top: load it with ``load()`` of ``bptt.optim.optimizer``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

OPTIONS = {"boundscheck": False, "error_model": "numpy", "nogil": True, "cache": True}
# below this many entries a parallel loop's start-up (and its threads' competition with
# OpenBLAS's spinning workers) costs more than the second thread gains: measured 2^18-2^20
PARALLEL_MIN = 2**19


def _sgd(theta, g, b, lr, momentum, damp, wd, first, nesterov):  # pragma: no cover - compiled
    for k in numba.prange(theta.size):
        gk = g[k]
        if wd != 0:
            gk = gk + wd * theta[k]
        if momentum != 0:
            bk = gk if first else b[k] * momentum + damp * gk
            b[k] = bk
            gk = gk + momentum * bk if nesterov else bk
        theta[k] = theta[k] - lr * gk


def _adam(
    theta, g, m, v, v_max, lr_t, beta1c, beta2, beta2c, sqrt_bc2, eps, wd, decay, ams
):  # pragma: no cover
    for k in numba.prange(theta.size):
        tk, gk = theta[k], g[k]
        if decay != 1:
            tk = tk * decay
        if wd != 0:
            gk = gk + wd * tk
        mk = m[k] + beta1c * (gk - m[k])
        vk = v[k] * beta2 + beta2c * gk * gk
        m[k], v[k] = mk, vk
        if ams:
            vk = max(v_max[k], vk)
            v_max[k] = vk
        theta[k] = tk - lr_t * (mk / (np.sqrt(vk) / sqrt_bc2 + eps))


def _compiled(fn):
    """fn compiled twice, a serial and a parallel loop; the parallel one for big arrays."""
    serial = numba.njit(**OPTIONS)(fn)
    parallel = numba.njit(parallel=True, **OPTIONS)(fn)
    return lambda theta, *rest: (parallel if theta.size >= PARALLEL_MIN else serial)(theta, *rest)


_sgd_loop, _adam_loop = _compiled(_sgd), _compiled(_adam)


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1)  # a view: params, grads and state are C-contiguous (checked by caller)


def sgd_update(opt, theta, g, state, t) -> None:
    """``SGD._update`` in one loop; ``opt`` gives the hyperparameters."""
    c = theta.dtype.type
    b = state.get("momentum_buffer", theta)
    _sgd_loop(
        _flat(theta), _flat(g), _flat(b), c(opt.lr), c(opt.momentum), c(1 - opt.dampening),
        c(opt.weight_decay), t == 1, opt.nesterov,
    )  # fmt: skip


def adam_update(opt, theta, g, state, t) -> None:
    """``Adam._update`` (and AdamW's) in one loop; ``opt`` gives the hyperparameters."""
    c = theta.dtype.type
    beta1, beta2 = opt.betas
    decoupled = opt.decoupled_weight_decay
    decay = 1 - opt.lr * opt.weight_decay if decoupled else 1.0
    wd = 0.0 if decoupled else opt.weight_decay
    m, v = state["exp_avg"], state["exp_avg_sq"]
    v_max = state.get("max_exp_avg_sq", v)
    _adam_loop(
        _flat(theta), _flat(g), _flat(m), _flat(v), _flat(v_max),
        c(opt.lr / (1 - beta1**t)), c(1 - beta1), c(beta2), c(1 - beta2),
        c(math.sqrt(1 - beta2**t)), c(opt.eps), c(wd), c(decay), opt.amsgrad,
    )  # fmt: skip
