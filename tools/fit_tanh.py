"""Fit the rational tanh of ``bptt.nn.kernels.approx`` and report its float32 error.

    tanh(x) ~ x * P(y) / Q(y),  y = x^2,  Q(0) = 1,  P and Q of degree 4,  x in [0, 9]

Linearised least squares on f * Q - P = 0 (f = tanh(x) / x), weighted by the relative error,
re-weighted towards the largest errors until the maximum relative error settles (Lawson's
method). Then P, Q are rounded to float32 and evaluated in float32 on 4 million points of
[-12, 12], against float64 tanh, next to NumPy's float32 np.tanh.

    python tools/fit_tanh.py
"""

from __future__ import annotations

import numpy as np

DEGREE = 4
CLAMP = 9.0


def fit(degree: int = DEGREE, iterations: int = 60) -> tuple[np.ndarray, np.ndarray, float]:
    x = np.concatenate([np.linspace(0, 1, 20001)[1:], np.linspace(1, CLAMP, 40001)])
    y = x * x
    f = np.tanh(x) / x
    powers = np.stack([y**k for k in range(degree + 1)], axis=1)  # (M, degree + 1)
    A = np.concatenate([powers, -f[:, None] * powers[:, 1:]], axis=1)
    weights, Q = np.ones_like(y), np.ones_like(y)
    for _ in range(iterations):
        scale = weights / (Q * f)  # relative error of f * Q - P, divided by Q
        coef, *_ = np.linalg.lstsq(A * scale[:, None], f * scale, rcond=None)
        p, q = coef[: degree + 1], np.concatenate([[1.0], coef[degree + 1 :]])
        P, Q = powers @ p, powers @ q
        err = np.abs(P / Q - f) / f
        weights *= 1 + 3 * err / err.max()
        weights /= weights.mean()
    return p, q, float(err.max())


def float32_tanh(x: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    x = np.clip(x, -CLAMP, CLAMP).astype(np.float32)
    y = x * x
    P, Q = np.zeros_like(x), np.zeros_like(x)
    for c in p[::-1].astype(np.float32):
        P = P * y + c
    for c in q[::-1].astype(np.float32):
        Q = Q * y + c
    return x * P / Q


def ulp_error(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    return np.abs(approx - exact) / np.spacing(np.abs(exact).astype(np.float32))


def main() -> None:
    p, q, rel = fit()
    print(f"P = {tuple(p.tolist())}\nQ = {tuple(q.tolist())}")
    print(f"max relative error in float64 on [0, {CLAMP}]: {rel:.2e}")
    x = np.linspace(-12, 12, 4_000_001, dtype=np.float32)
    exact = np.tanh(x.astype(np.float64))
    ours = float32_tanh(x, p, q)
    print(
        f"float32 evaluation: max {ulp_error(ours, exact).max():.2f} ulp, "
        f"max absolute {np.abs(ours - exact).max():.2e}"
    )
    print(f"numpy float32 np.tanh: max {ulp_error(np.tanh(x), exact).max():.2f} ulp")


if __name__ == "__main__":
    main()
