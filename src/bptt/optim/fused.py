"""SGD's and Adam's update as fused loops over every parameter at once (optional, needs numba).

NumPy runs ``theta -= lr * g`` as two passes over memory and Adam's rule as about ten; an
optimizer step is bound by memory, so each pass costs its full share. The loops here read
theta, g and the state once and write them once, on one thread. They compute the update
rules of ``sgd.py`` and ``adam.py`` in the same order of operations and in the parameter's
dtype (every constant is cast to it first, as NumPy casts a Python float), so their results
equal the NumPy rules' (to float32 round-off where LLVM fuses a multiply-add).

One compiled call updates a group of up to ``GROUP`` parameters of one dtype (a tuple of
their flat views, ``theta.reshape(-1)``, padded with empty arrays), so a model's step costs
one call per group rather than one per parameter: numba's call overhead (about 8 us, for
unboxing nine arguments) was most of a small model's step.

Why not a parallel loop over numba's threads, as torch.optim's foreach kernels use its
threads: a training step calls the optimizer right after backward's GEMMs, while OpenBLAS's
worker threads still spin on the other cores, and a numba thread that needs such a core
waits for the scheduler. Measured on a 2-core AMD EPYC, 2 threads, right after a
(64, 512) x (512, 2048) GEMM: 3.6-7.1 ms for a parallel SGD update of 2^18-2^22 entries
against 0.03-0.83 ms serial (alone, without the GEMM, the parallel one is 1.6-2.7x faster).
torch has no such race: MKL and its foreach kernels share one OpenMP pool.
This module imports numba at its top: load it with ``load_rule`` of ``bptt.optim.optimizer``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

OPTIONS = {"boundscheck": False, "error_model": "numpy", "nogil": True, "cache": True}


@numba.njit(**OPTIONS)
def _sgd(theta, g, b, lr, momentum, damp, wd, first, nesterov):  # pragma: no cover - compiled
    for k in range(theta.size):
        gk = g[k]
        if wd != 0:
            gk = gk + wd * theta[k]
        if momentum != 0:
            bk = gk if first else b[k] * momentum + damp * gk
            b[k] = bk
            gk = gk + momentum * bk if nesterov else bk
        theta[k] = theta[k] - lr * gk


@numba.njit(**OPTIONS)
def _adam(
    theta, g, m, v, v_max, lr_t, beta1c, beta2, beta2c, sqrt_bc2, eps, wd, decay, ams
):  # pragma: no cover
    for k in range(theta.size):
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


GROUP = 8  # parameters per compiled call: one signature per dtype, whatever the model


@numba.njit(**OPTIONS)
def _sgd_group(thetas, gs, bs, lr, momentum, damp, wd, first, nesterov):  # pragma: no cover
    for i in range(len(thetas)):
        _sgd(thetas[i], gs[i], bs[i], lr, momentum, damp, wd, first, nesterov)


@numba.njit(**OPTIONS)
def _adam_group(
    thetas, gs, ms, vs, v_maxs, lr_t, beta1c, beta2, beta2c, sqrt_bc2, eps, wd, decay, ams
):  # pragma: no cover - compiled
    for i in range(len(thetas)):
        _adam(
            thetas[i], gs[i], ms[i], vs[i], v_maxs[i],
            lr_t, beta1c, beta2, beta2c, sqrt_bc2, eps, wd, decay, ams,
        )  # fmt: skip


def _update_all(group_loop, arrays_per_param, constants) -> None:
    """Run a rule on every parameter, in groups of up to GROUP of one dtype.

    arrays_per_param   one tuple (theta, g, *state) of flat views (P,) per parameter
    constants(c)       the rule's scalar arguments, each cast by c (the dtype's scalar type)
    """
    groups: dict[np.dtype, list] = {}
    for flat in arrays_per_param:
        groups.setdefault(flat[0].dtype, []).append(flat)
    for dtype, flats in groups.items():
        scalars = constants(dtype.type)
        padding = (np.empty(0, dtype),) * len(flats[0])  # a parameter of no entries
        for start in range(0, len(flats), GROUP):
            chunk = flats[start : start + GROUP]
            chunk += [padding] * (GROUP - len(chunk))
            group_loop(*zip(*chunk), *scalars)


def sgd_update(opt, params, t) -> None:
    """``SGD._update`` on every flat (theta, g, state) of ``params``; ``opt`` gives the
    hyperparameters."""
    arrays = [(theta, g, state.get("momentum_buffer", theta)) for theta, g, state in params]

    def constants(c):
        return (
            c(opt.lr), c(opt.momentum), c(1 - opt.dampening), c(opt.weight_decay), t == 1,
            opt.nesterov,
        )  # fmt: skip

    _update_all(_sgd_group, arrays, constants)


def adam_update(opt, params, t) -> None:
    """``Adam._update`` (and AdamW's) on every (theta, g, state) of ``params``."""
    beta1, beta2 = opt.betas
    decoupled = opt.decoupled_weight_decay
    decay = 1 - opt.lr * opt.weight_decay if decoupled else 1.0
    wd = 0.0 if decoupled else opt.weight_decay
    arrays = [
        (theta, g, s["exp_avg"], s["exp_avg_sq"], s.get("max_exp_avg_sq", s["exp_avg_sq"]))
        for theta, g, s in params
    ]

    def constants(c):
        return (
            c(opt.lr / (1 - beta1**t)), c(1 - beta1), c(beta2), c(1 - beta2),
            c(math.sqrt(1 - beta2**t)), c(opt.eps), c(wd), c(decay), opt.amsgrad,
        )  # fmt: skip

    _update_all(_adam_group, arrays, constants)
