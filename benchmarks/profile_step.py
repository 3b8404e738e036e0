"""Benchmark, not a test: where the LSTM training step's time goes, bptt beside PyTorch.

Per phase of one training step of benchmarks/step_time.py's network (float32), each phase
timed on its own with the real weights and buffers of the layer, T calls for the per-step
phases:

    input proj     x W_ih^T + b for all T steps (one GEMM)          cell.project_inputs
    rec fwd        h_{t-1} W_hh^T into the gate buffer, T times      np.matmul(out=)
    gates fwd      the elementwise step, T times                     cell.pointwise.forward
    gates bwd      the elementwise backward, T times                 cell.pointwise.backward
    rec bwd        d_a W_hh, T times                                 the backward's product
    weight grads   dW_ih, dW_hh, db over all steps (one GEMM each)   cell.weight_grads
    head + loss    Linear forward/backward, softmax cross-entropy
    rest           whole step - the phases above: copies, allocation, Python

Torch: the whole step, and its products alone (torch.mm at the same sizes: T recurrent
products forward and backward, the input projection, the weight gradients); "rest" is the
step less those products, i.e. its elementwise work and framework overhead together. On CPU
torch's LSTM runs oneDNN's fused RNN primitive where it can; the step and inference with
oneDNN off are torch's own per-step loop, the like-for-like peer of bptt's.

FLOPs of the GEMM phases, counted from the shapes (G = 4 gates): input proj 2 T N D G H, rec
fwd and rec bwd 2 T N H G H each, weight grads 2 T N G H (D + H); their GFLOP/s are given
with the share of the float32 GEMM peak (np.matmul 1024^3, median of 5) measured in the same
run at the same thread count.

GEMM table: GFLOP/s of the recurrent product h (N, H) @ W (H, 4H) and of the backward
d_a (N, 4H) @ W_hh (4H, H), numpy with the weight as a transposed view or stored contiguous
in the orientation multiplied, and torch.mm, at 1 and 2 threads.

    python benchmarks/profile_step.py                     # mnist, charlm, large; 1 and 2 threads
    python benchmarks/profile_step.py --configs mnist --threads 1 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from machine import gemm_peak_gflops, machine_info, set_threads
from step_time import CONFIGS, BpttNet, TorchNet, make_data

from bptt.nn import softmax_cross_entropy

PHASES = ("input proj", "rec fwd", "gates fwd", "gates bwd", "rec bwd", "weight grads", "head")


def median_s(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bptt_phases(net: BpttNet, x: np.ndarray, y: np.ndarray, repeats: int) -> dict[str, float]:
    """Seconds per phase of one step (see the module docstring)."""
    rnn, cell = net.rnn, net.rnn.cell
    w = rnn._weights(0, 0)
    T, N, _ = x.shape
    H = rnn.hidden_size
    out, _, cache = rnn.forward(x)
    scan = cache.scans[0]
    (hs, cs), (gates, tanh_c) = scan.states, scan.acts
    W_hh_T = w.W_hh.T  # the orientation scan_forward's cell multiplies by
    ax = cell.project_inputs(w, x)  # (T, N, 4H)
    buf = np.empty_like(gates[0])  # (N, 4H)
    c_out, h_out, tc_out = (np.empty((N, H), np.float32) for _ in range(3))
    d_ax = np.empty_like(ax)  # (T, N, 4H)
    dh = np.full((N, H), 1e-3, np.float32)
    dc_prev = np.empty_like(dh)

    def rec_fwd():
        for t in range(T):
            np.matmul(hs[t], W_hh_T, out=buf)

    def gates_fwd():
        for t in range(T):
            buf[...] = gates[t]
            cell.pointwise.forward(buf, ax[t], cs[t], c_out, tc_out, h_out)

    def gates_bwd():
        for t in range(T):
            cell.pointwise.backward(dh, dh, gates[t], cs[t], tanh_c[t], d_ax[t], dc_prev)

    def rec_bwd():
        for t in range(T):
            _ = d_ax[t] @ w.W_hh

    def head():
        feats = out if net.every_step else out[-1]
        logits, head_cache = net.head.forward(feats)
        _, d_logits = softmax_cross_entropy(logits, y)
        net.head.backward(d_logits, head_cache)

    def gates_fwd_only():  # the copy into buf is not part of the step
        for t in range(T):
            buf[...] = gates[t]

    times = {
        "input proj": median_s(lambda: cell.project_inputs(w, x), repeats),
        "rec fwd": median_s(rec_fwd, repeats),
        "gates fwd": median_s(gates_fwd, repeats) - median_s(gates_fwd_only, repeats),
        "gates bwd": median_s(gates_bwd, repeats),
        "rec bwd": median_s(rec_bwd, repeats),
        "weight grads": median_s(lambda: cell.weight_grads(w, x, hs[:T], d_ax, d_ax), repeats),
        "head": median_s(head, repeats),
    }
    times["step"] = median_s(lambda: net.train_step(x, y), repeats)
    times["rest"] = times["step"] - sum(times[p] for p in PHASES)
    times["infer"] = median_s(lambda: net.infer(x), repeats)
    return times


def torch_phases(torch, tnet: TorchNet, x, y, cfg, repeats: int) -> dict[str, float]:
    """torch's whole step and its products alone at the same sizes."""
    T, N, D, H = cfg.T, cfg.N, cfg.D, cfg.H
    randn = torch.randn
    h, W_hh, d_a = randn(N, H), randn(4 * H, H), randn(N, 4 * H)
    X, W_ih, dA, HS = randn(T * N, D), randn(4 * H, D), randn(T * N, 4 * H), randn(T * N, H)

    def rec_fwd():
        for _ in range(T):
            torch.mm(h, W_hh.t())

    def rec_bwd():
        for _ in range(T):
            torch.mm(d_a, W_hh)

    with torch.no_grad():
        times = {
            "input proj": median_s(lambda: torch.addmm(dA[0], X, W_ih.t()), repeats),
            "rec fwd": median_s(rec_fwd, repeats),
            "rec bwd": median_s(rec_bwd, repeats),
            "weight grads": median_s(lambda: (dA.t() @ X, dA.t() @ HS), repeats),
        }
    products = sum(times.values())
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    times["step"] = median_s(lambda: tnet.train_step(tx, ty), repeats)
    times["rest"] = times["step"] - products
    with torch.backends.mkldnn.flags(enabled=False):  # its own per-step loop, as ours
        times["step, oneDNN off"] = median_s(lambda: tnet.train_step(tx, ty), repeats)
    times["infer"] = median_s(lambda: tnet.infer(tx), repeats)
    with torch.backends.mkldnn.flags(enabled=False):
        times["infer, oneDNN off"] = median_s(lambda: tnet.infer(tx), repeats)
    return times


def gemm_rows(torch, cfg, repeats: int) -> list[tuple[str, float]]:
    """GFLOP/s of the forward and backward recurrent products, several layouts."""
    N, H = cfg.N, cfg.H
    rng = np.random.default_rng(0)
    h = rng.standard_normal((N, H), dtype=np.float32)
    d_a = rng.standard_normal((N, 4 * H), dtype=np.float32)
    W = rng.standard_normal((4 * H, H), dtype=np.float32)  # W_hh as stored (G*H, H)
    W_T = np.ascontiguousarray(W.T)  # (H, 4H)
    W_F = np.asfortranarray(W)  # W_hh with column-major storage
    out_f, out_b = np.empty((N, 4 * H), np.float32), np.empty((N, H), np.float32)
    flops = 2.0 * N * H * 4 * H
    cases = {
        "fwd numpy h @ W.T (view)": lambda: np.matmul(h, W.T, out=out_f),
        "fwd numpy h @ W_T (contig)": lambda: np.matmul(h, W_T, out=out_f),
        "bwd numpy d_a @ W (C)": lambda: np.matmul(d_a, W, out=out_b),
        "bwd numpy d_a @ W (F)": lambda: np.matmul(d_a, W_F, out=out_b),
    }
    if torch is not None:
        th, tW, tWT, td = (torch.from_numpy(a) for a in (h, W, W_T, d_a))
        cases["fwd torch.mm(h, W.t())"] = lambda: torch.mm(th, tW.t())
        cases["fwd torch.mm(h, W_T)"] = lambda: torch.mm(th, tWT)
        cases["bwd torch.mm(d_a, W)"] = lambda: torch.mm(td, tW)
    return [(name, flops / median_s(fn, 5 * repeats) / 1e9) for name, fn in cases.items()]


def phase_flops(cfg) -> dict[str, float]:
    """FLOPs of the GEMM phases of one LSTM training step (G = 4), from the shapes."""
    T, N, D, H, G = cfg.T, cfg.N, cfg.D, cfg.H, 4
    recurrent = 2.0 * T * N * H * G * H
    return {
        "input proj": 2.0 * T * N * D * G * H,
        "rec fwd": recurrent,
        "rec bwd": recurrent,
        "weight grads": 2.0 * T * N * G * H * (D + H),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="thread counts")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per phase (median)")
    p.add_argument("--no-torch", action="store_true", help="bptt only")
    args = p.parse_args(argv)
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            pass
    info = machine_info(torch)
    print(f"# cpu: {info['cpu']}; numpy {info['numpy']}; BLAS: {info['blas']}")
    env = " ".join(f"{k}={v}" for k, v in info["env"].items()) or "none"
    print(f"# env: {env}; torch: {info.get('torch', 'not used')}")
    for threads in args.threads:
        set_threads(threads, torch)
        peak = gemm_peak_gflops()
        print(f"\n# {threads} thr: float32 GEMM peak {peak:.1f} GFLOP/s", end="")
        print(" (np.matmul 1024^3, median of 5)")
        for name in args.configs:
            cfg = CONFIGS[name]
            rng = np.random.default_rng(0)
            net = BpttNet("lstm", cfg, rng)
            x, y = make_data(cfg, rng)
            print(f"\n## LSTM {name} (N={cfg.N} T={cfg.T} D={cfg.D} H={cfg.H}), {threads} thr")
            b = bptt_phases(net, x, y, args.repeats)
            t = None
            if torch is not None:
                t = torch_phases(
                    torch, TorchNet(torch, "lstm", cfg, net.params), x, y, cfg, args.repeats
                )
            flops = phase_flops(cfg)
            print(f"{'phase':17s} {'bptt ms':>8s} {'share':>6s} {'torch ms':>9s} GFLOP/s %peak")
            for phase in (
                *PHASES,
                "rest",
                "step",
                "step, oneDNN off",
                "infer",
                "infer, oneDNN off",
            ):
                tt = f"{1e3 * t[phase]:9.3f}" if t and phase in t else f"{'-':>9s}"
                if phase in b:
                    share = f"{100 * b[phase] / b['step']:5.1f}%" if phase != "infer" else ""
                    rate = ""
                    if phase in flops:
                        gflops = flops[phase] / b[phase] / 1e9
                        rate = f" {gflops:7.1f} {100 * gflops / peak:4.0f}%"
                    print(f"{phase:17s} {1e3 * b[phase]:8.3f} {share:>6s} {tt}{rate}")
                elif t:
                    print(f"{phase:17s} {'-':>8s} {'':6s} {tt}")
            print(f"{'GEMM (N, H) product':30s} GFLOP/s")
            for case, gflops in gemm_rows(torch, cfg, args.repeats):
                print(f"{case:30s} {gflops:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
