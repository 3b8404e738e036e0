"""One BLAS thread or more for the per-step products? (a benchmark, not a test)

The time loop multiplies small matrices at every step: forward h (N, H) @ W_hh^T (H, G*H),
backward d_a (N, G*H) @ W_hh (G*H, H). With a pool of several BLAS threads, a product this
small could run faster on one (no partitioning, no waking the others). This times both
products at each shape of ``step_time.py`` (mnist, charlm, large x RNN, LSTM, GRU) on 1 and on
``--threads`` threads, in alternating blocks (OpenBLAS's threads set by threadpoolctl between
blocks), and prints the medians, their ratio, and whether each thread count gives the same
bits. Shapes: N batch, H hidden, G gates (1 RNN, 4 LSTM, 3 GRU).

    python benchmarks/step_threads.py [--threads 2] [--repeats 50] [--blocks 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import numpy as np
from machine import machine_info
from step_time import CONFIGS, GATES
from threadpoolctl import threadpool_limits


def time_threads(products: dict, counts: tuple[int, ...], blocks: int, repeats: int) -> dict:
    """{name: fn} -> {(name, threads): median seconds}, blocks alternating thread counts."""
    times = {(name, n): [] for name in products for n in counts}
    for block in range(blocks):
        for n in counts if block % 2 == 0 else counts[::-1]:
            with threadpool_limits(n, user_api="blas"):
                for name, fn in products.items():
                    fn()  # the pool's size has just changed: one untimed call
                    for _ in range(repeats):
                        start = time.perf_counter()
                        fn()
                        times[(name, n)].append(time.perf_counter() - start)
    return {key: statistics.median(ts) for key, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="the pool to compare with 1")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per block")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks per count")
    args = parser.parse_args()
    info = machine_info(None)
    print(f"# cpu: {info['cpu']}; {info['blas']}")
    print(f"# medians of {args.blocks} alternating blocks x {args.repeats} calls; float32, us")
    counts = (1, args.threads)
    print(
        f"{'config':8s} {'cell':9s} {'N':>4s} {'H':>4s} {'G*H':>5s}"
        f" {'fwd 1':>8s} {f'fwd {counts[1]}':>8s} {'ratio':>6s}"
        f" {'bwd 1':>8s} {f'bwd {counts[1]}':>8s} {'ratio':>6s} {'same bits':>9s}"
    )
    rng = np.random.default_rng(0)
    for cfg in CONFIGS.values():
        for cell, G in GATES.items():
            N, H = cfg.N, cfg.H
            h = rng.standard_normal((N, H), dtype=np.float32)  # (N, H)
            W = rng.standard_normal((G * H, H), dtype=np.float32)  # (G*H, H) W_hh
            W_T = np.ascontiguousarray(W.T)  # (H, G*H), as the loop stores it
            d_a = rng.standard_normal((N, G * H), dtype=np.float32)  # (N, G*H)
            a, dh = np.empty((N, G * H), np.float32), np.empty((N, H), np.float32)
            products = {
                "fwd": partial(np.matmul, h, W_T, out=a),
                "bwd": partial(np.matmul, d_a, W, out=dh),
            }
            bits = []
            for n in counts:
                with threadpool_limits(n, user_api="blas"):
                    bits.append((h @ W_T, d_a @ W))
            same = all(np.array_equal(x, y) for x, y in zip(*bits))
            t = time_threads(products, counts, args.blocks, args.repeats)
            cols = []
            for name in products:
                one, many = t[(name, 1)] * 1e6, t[(name, counts[1])] * 1e6
                cols += [f"{one:8.1f}", f"{many:8.1f}", f"{one / many:6.2f}"]
            print(
                f"{cfg.name:8s} {cell:9s} {N:4d} {H:4d} {G * H:5d} {' '.join(cols)}"
                f" {'yes' if same else 'NO':>9s}",
                flush=True,
            )
    print(f"# ratio = time on 1 thread / time on {counts[1]} (>1: the pool is faster)")


if __name__ == "__main__":
    main()
