"""Benchmark, not a test: time per training step, SGD step and inference, bptt against PyTorch.

Both libraries run the same float32 model on the same data, with bptt's weights copied into
torch (and checked: loss and dL/d weight_hh_l0 agree to rtol 1e-4 before any timing):

    out = rnn(x)                              x (T, N, D) -> out (T, N, K*H)
    logits = head(out[-1])  or  head(out)     (N, C) last step only, or (T, N, C) every step
    loss = mean softmax cross-entropy(logits, y)

    training step   forward + loss + backward to every parameter's gradient (no optimizer)
    SGD step        bptt.optim.SGD.step (bptt); torch.optim.SGD.step (torch, foreach)
    Adam step       bptt.optim.Adam.step (bptt); torch.optim.Adam.step (torch, foreach)
    inference       forward only (torch under torch.inference_mode)

Method: both libraries in one process, in alternating blocks (order ABBA...) of R repeats
each after warm-up, sleeping ``--pause`` seconds before each block because OpenBLAS worker
threads keep spinning for ~0.1 s after a call and would steal the other library's cores.
Reported times are medians per step over all blocks.

FLOPs of the training step, counted analytically per layer and direction (l = layer input):

    forward   2 T N (D_l + H) G H   for the GEMMs, plus 2 M K H C for the head (M = N or T N)
    backward  ~2 x forward (one GEMM for the input gradient, one for the weight gradient),
              less the first layer's input gradient, which neither library computes

and compared with a float32 GEMM peak measured at startup (np.matmul 1024^3, median of 5).

Memory: bptt's peak of numpy allocations during one training step (tracemalloc, always), and
with ``--memory`` the growth of peak RSS over one training step in a fresh process for each
library, after a T=1, N=1 warm-up step so one-time library set-up is not counted. Peak RSS is
Linux's VmHWM, reset to the current RSS just before the step (ru_maxrss where there is no /proc:
on Linux it would start from the parent's peak after fork + exec).

Shapes: T time, N batch, D input, H hidden, G gates (1 RNN, 4 LSTM, 3 GRU), K directions,
C classes.

    python benchmarks/step_time.py                        # everything; torch if importable
    python benchmarks/step_time.py --configs mnist --repeats 3
    python benchmarks/step_time.py --smoke                # tiny sizes, seconds, for CI
    python benchmarks/step_time.py --backend numpy        # the NumPy reference kernels
    python benchmarks/step_time.py --threads 1            # BLAS, torch and numba on 1 thread

Where OPENBLAS_CORETYPE pins OpenBLAS's kernel, a second pass runs without the pin
(and without OPENBLAS_L2_SIZE), so both kernels are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, replace

import numpy as np
from machine import (
    PIN,
    gemm_peak_gflops,
    machine_info,
    peak_rss_bytes,
    set_threads,
    time_blocks,
    tracemalloc_peak,
)
from step_table import METRICS, format_row, header_lines

from bptt.io import atomic_write_json
from bptt.nn import (
    BACKENDS,
    GRU,
    LSTM,
    RNN,
    Linear,
    make_cell,
    resolve_backend,
    softmax_cross_entropy,
)
from bptt.optim import SGD, Adam

CELLS = ("rnn_tanh", "lstm", "gru")
GATES = {c: make_cell(c).num_gates for c in CELLS}
LR = 1e-3
AGREE_RTOL = 1e-4


@dataclass(frozen=True)
class Config:
    name: str
    N: int
    T: int
    D: int
    H: int
    C: int
    every_step: bool  # loss on every step, else on the last step only
    num_layers: int = 1
    bidirectional: bool = False

    @property
    def label(self) -> str:
        layers = f"-{self.num_layers}layer" if self.num_layers > 1 else ""
        return self.name + layers + ("-bidir" if self.bidirectional else "")


CONFIGS = {
    "mnist": Config("mnist", N=128, T=28, D=28, H=128, C=10, every_step=False),
    "charlm": Config("charlm", N=32, T=100, D=64, H=256, C=76, every_step=True),
    "large": Config("large", N=64, T=50, D=256, H=512, C=10, every_step=False),
}
SMOKE_SIZES = {"N": 4, "T": 5, "D": 6, "H": 8}


def train_flops(cfg: Config, cell: str) -> float:
    """Forward GEMM FLOPs, plus backward's: twice forward's, less the first layer's input
    gradient (x is data, so neither library computes dL/dx)."""
    G, K = GATES[cell], 2 if cfg.bidirectional else 1
    forward = 0
    for layer in range(cfg.num_layers):
        D = cfg.D if layer == 0 else K * cfg.H
        forward += K * 2 * cfg.T * cfg.N * (D + cfg.H) * G * cfg.H
    M = cfg.T * cfg.N if cfg.every_step else cfg.N
    forward += 2 * M * K * cfg.H * cfg.C
    no_input_grad = K * 2 * cfg.T * cfg.N * cfg.D * G * cfg.H
    return 3.0 * forward - no_input_grad


def make_data(cfg: Config, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((cfg.T, cfg.N, cfg.D), dtype=np.float32)  # (T, N, D)
    y = rng.integers(0, cfg.C, (cfg.T, cfg.N) if cfg.every_step else (cfg.N,))  # (T, N) or (N,)
    return x, y


class BpttNet:
    """bptt's recurrent layer + linear head; parameters named like torch's ModuleDict."""

    def __init__(self, cell: str, cfg: Config, rng: np.random.Generator, backend: str = "auto"):
        kwargs = {"num_layers": cfg.num_layers, "bidirectional": cfg.bidirectional, "rng": rng}
        kwargs["backend"] = backend
        if cell == "rnn_tanh":
            self.rnn = RNN(cfg.D, cfg.H, nonlinearity="tanh", **kwargs)
        else:
            self.rnn = {"lstm": LSTM, "gru": GRU}[cell](cfg.D, cfg.H, **kwargs)
        self.head = Linear(self.rnn.num_directions * cfg.H, cfg.C, rng=rng)
        self.every_step = cfg.every_step
        self.params = {f"rnn.{k}": v for k, v in self.rnn.params.items()}
        self.params.update({f"head.{k}": v for k, v in self.head.params.items()})
        self.grads: dict[str, np.ndarray] = {}
        self.optimizer = SGD(self.params, lr=LR)
        self.adam = Adam(self.params, lr=LR)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        out, _, cache = self.rnn.forward(x)  # (T, N, K*H)
        logits, head_cache = self.head.forward(out if self.every_step else out[-1])
        loss, d_logits = softmax_cross_entropy(logits, y)
        d_feats, head_grads = self.head.backward(d_logits, head_cache)
        if self.every_step:
            d_out = d_feats  # (T, N, K*H)
        else:
            d_out = np.zeros_like(out)  # (T, N, K*H)
            d_out[-1] = d_feats
        _, _, rnn_grads = self.rnn.backward(d_out, cache, input_grad=False)  # x is data
        self.grads = {f"rnn.{k}": v for k, v in rnn_grads.items()}
        self.grads.update({f"head.{k}": v for k, v in head_grads.items()})
        return loss

    def sgd_step(self) -> None:
        self.optimizer.step(self.grads)

    def adam_step(self) -> None:
        self.adam.step(self.grads)

    def infer(self, x: np.ndarray) -> np.ndarray:
        out, _, _ = self.rnn.forward(x, for_backward=False)
        return self.head.forward(out if self.every_step else out[-1])[0]


class TorchNet:
    """The same network in torch, loaded from bptt's parameters."""

    def __init__(self, torch, cell: str, cfg: Config, params: dict[str, np.ndarray]):
        nn = torch.nn
        kwargs = {"num_layers": cfg.num_layers, "bidirectional": cfg.bidirectional}
        if cell == "rnn_tanh":
            rnn = nn.RNN(cfg.D, cfg.H, nonlinearity="tanh", **kwargs)
        else:
            rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](cfg.D, cfg.H, **kwargs)
        K = 2 if cfg.bidirectional else 1
        self.model = nn.ModuleDict({"rnn": rnn, "head": nn.Linear(K * cfg.H, cfg.C)})
        self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.adam = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.torch, self.C, self.every_step = torch, cfg.C, cfg.every_step

    def train_step(self, x, y) -> float:
        self.opt.zero_grad(set_to_none=True)
        out, _ = self.model["rnn"](x)  # (T, N, K*H)
        logits = self.model["head"](out if self.every_step else out[-1])
        loss = self.torch.nn.functional.cross_entropy(logits.reshape(-1, self.C), y.reshape(-1))
        loss.backward()
        return loss.item()

    def sgd_step(self) -> None:
        self.opt.step()

    def adam_step(self) -> None:
        self.adam.step()

    def infer(self, x):
        with self.torch.inference_mode():
            out, _ = self.model["rnn"](x)
            return self.model["head"](out if self.every_step else out[-1])

    def grad(self, name: str) -> np.ndarray:
        return self.model.get_parameter(name).grad.numpy()


def check_agreement(b: BpttNet, t: TorchNet, data, tdata, label: str) -> None:
    """Apples to apples: same loss and same dL/d weight_hh_l0 before anything is timed."""
    loss_b, loss_t = b.train_step(*data), t.train_step(*tdata)
    g_b, g_t = b.grads["rnn.weight_hh_l0"], t.grad("rnn.weight_hh_l0")
    rel = float(np.linalg.norm(g_b - g_t) / max(np.linalg.norm(g_t), 1e-30))
    if abs(loss_b - loss_t) > AGREE_RTOL * abs(loss_t) or rel > AGREE_RTOL:
        raise AssertionError(
            f"{label}: bptt and torch disagree: loss {loss_b!r} vs {loss_t!r}, "
            f"relative error of dL/d weight_hh_l0 {rel:.2e} (expected <= {AGREE_RTOL})"
        )


def rss_child(payload: str) -> None:
    """Fresh process: growth of peak RSS over one training step of one library."""
    job = json.loads(payload)
    cfg = Config(**job["config"])
    rng = np.random.default_rng(job["seed"])
    net = BpttNet(job["cell"], cfg, rng, job["backend"])
    x, y = make_data(cfg, rng)
    tiny = (x[:1, :1].copy(), y[:1, :1] if cfg.every_step else y[:1])
    if job["lib"] == "torch":
        import torch

        net = TorchNet(torch, job["cell"], cfg, net.params)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        tiny = tuple(torch.from_numpy(a) for a in tiny)
    net.train_step(*tiny)
    before = peak_rss_bytes(reset=True)
    net.train_step(x, y)
    print(json.dumps({"rss_growth": peak_rss_bytes() - before}))


def rss_growth(lib: str, cell: str, cfg: Config, seed: int, backend: str) -> int:
    job = {"lib": lib, "cell": cell, "config": asdict(cfg), "seed": seed, "backend": backend}
    payload = json.dumps(job)
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child-rss", payload],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child for {lib}/{cell} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])["rss_growth"]


def bench_one(cfg: Config, cell: str, torch, args) -> dict:
    rng = np.random.default_rng(args.seed)
    b = BpttNet(cell, cfg, rng, args.backend)
    x, y = make_data(cfg, rng)
    libs = {
        "bptt": {
            "train": lambda: b.train_step(x, y),
            "sgd": b.sgd_step,
            "adam": b.adam_step,
            "infer": lambda: b.infer(x),
        }
    }
    if torch is not None:
        t = TorchNet(torch, cell, cfg, b.params)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        check_agreement(b, t, (x, y), (tx, ty), f"{cfg.label}/{cell}")
        libs["torch"] = {
            "train": lambda: t.train_step(tx, ty),
            "sgd": t.sgd_step,
            "adam": t.adam_step,
            "infer": lambda: t.infer(tx),
        }
    times = time_blocks(libs, args.blocks, args.repeats, args.warmup, args.pause)
    ms = {
        lib: {m: 1e3 * statistics.median(s) for m, s in per.items()} for lib, per in times.items()
    }
    flops = train_flops(cfg, cell)
    gflops = flops / (ms["bptt"]["train"] / 1e3) / 1e9
    row = {"config": cfg.label, "cell": cell, "sizes": asdict(cfg), "train_flops": flops}
    row.update(median_ms=ms, samples_s=times, bptt_gflops=gflops)
    row["bptt_peak_share"] = gflops / args.peak_gflops
    row["ratio_torch_over_bptt"] = (
        {m: ms["torch"][m] / ms["bptt"][m] for m in METRICS} if "torch" in ms else None
    )
    row["bptt_tracemalloc_peak_bytes"] = tracemalloc_peak(lambda: b.train_step(x, y))
    if args.memory:
        row["rss_growth_bytes"] = {
            lib: rss_growth(lib, cell, cfg, args.seed, args.backend) for lib in libs
        }
    return row


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = p.add_argument
    add("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS), help="configs")
    add("--cells", nargs="+", choices=CELLS, default=list(CELLS), help="cells")
    add("--variants", action="store_true", help="add 2-layer and bidirectional configs")
    add("--repeats", type=int, default=5, help="timed calls per block")
    add("--blocks", type=int, default=5, help="alternating blocks per library")
    add("--warmup", type=int, default=2, help="untimed calls of each step first")
    add("--pause", type=float, default=0.2, help="seconds of sleep before each block")
    add("--seed", type=int, default=0, help="seed of the weights and data")
    add("--memory", action="store_true", help="add peak-RSS growth, in fresh processes")
    add("--smoke", action="store_true", help="tiny sizes, 1 block/repeat/warm-up, no pause")
    add("--no-torch", action="store_true", help="time bptt only")
    add("--torch-no-onednn", action="store_true", help="torch without oneDNN (its MKL path)")
    add(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="bptt's elementwise kernels: numpy, numba (fused), auto (numba when installed)",
    )
    add("--threads", type=int, default=None, help="threads of BLAS, torch and numba alike")
    add("--json", metavar="PATH", default=None, help="write results as JSON here, atomically")
    add("--child-rss", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in (n for n in ("repeats", "blocks") if getattr(args, n) < 1):
        p.error(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    if args.warmup < 0 or args.pause < 0:
        p.error(f"--warmup and --pause: expected >= 0, got {args.warmup} and {args.pause}")
    if args.smoke:
        args.blocks, args.repeats, args.warmup, args.pause = 1, 1, 1, 0.0
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child_rss is not None:
        rss_child(args.child_rss)
        return 0
    torch, torch_note = None, "not used (--no-torch)"
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch_note = "not importable: timing bptt only"
        else:
            torch_note = f"{torch.__version__}"
            torch.backends.mkldnn.enabled = not args.torch_no_onednn
            torch_note += ", oneDNN off" if args.torch_no_onednn else ""
    if args.threads is not None:
        set_threads(args.threads, torch)
    if torch is not None:
        torch_note += f", {torch.get_num_threads()} threads"
    args.resolved_backend = resolve_backend(args.backend, np.float32)
    if args.resolved_backend == "numba":
        import numba

        args.resolved_backend = f"numba {numba.__version__} (fused kernels)"
    args.peak_repeats = 3 if args.smoke else 5
    args.peak_gflops = gemm_peak_gflops(repeats=args.peak_repeats)
    info = machine_info(torch)
    print("\n".join(header_lines(info, args, torch_note)), flush=True)

    configs = []
    for name in args.configs:
        base = CONFIGS[name]
        base = replace(base, **SMOKE_SIZES) if args.smoke else base
        configs.append(base)
        if args.variants:
            configs += [replace(base, num_layers=2), replace(base, bidirectional=True)]
    rows = []
    for cfg in configs:
        for cell in args.cells:
            rows.append(bench_one(cfg, cell, torch, args))
            print(format_row(rows[-1], args.memory), flush=True)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "child_rss")}
        atomic_write_json(args.json, {"machine": info, "settings": settings, "rows": rows})
    if PIN in os.environ:  # the same run on the kernel OpenBLAS picks by itself
        print(f"\n# unpinned pass: without {PIN} and OPENBLAS_L2_SIZE", flush=True)
        env = {k: v for k, v in os.environ.items() if k not in (PIN, "OPENBLAS_L2_SIZE")}
        argv = sys.argv[1:] if argv is None else list(argv)
        if "--json" in argv:  # the unpinned rows go next to the pinned ones
            i = argv.index("--json") + 1
            argv[i] = argv[i].removesuffix(".json") + "-unpinned.json"
        return subprocess.run(
            [sys.executable, os.path.abspath(__file__), *argv], env=env
        ).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
