"""The text table of benchmarks/step_time.py: its header (machine, method, columns) and rows."""

from __future__ import annotations

METRICS = ("train", "sgd", "adam", "infer")  # the order of step_time.py's timed phases
MiB = 2**20

COLUMNS = [("config", 18), ("cell", 9)]
for _metric in METRICS:
    COLUMNS += [(f"{_metric}:bptt", 11), ("torch", 8), ("t/b", 6)]
COLUMNS += [("GFLOP/s", 8), ("%peak", 6), ("mem:bptt", 9)]
RSS_COLUMNS = [("rss:bptt", 9), ("torch", 8)]


def table_line(texts: list[str], memory: bool) -> str:
    widths = [w for _, w in COLUMNS + (RSS_COLUMNS if memory else [])]
    return " ".join(
        t.ljust(w) if i < 2 else t.rjust(w) for i, (t, w) in enumerate(zip(texts, widths))
    )


def format_row(row: dict, memory: bool) -> str:
    ms, ratio = row["median_ms"], row["ratio_torch_over_bptt"]
    texts = [row["config"], row["cell"]]
    for m in METRICS:
        texts.append(f"{ms['bptt'][m]:.3f}")
        texts += [f"{ms['torch'][m]:.3f}", f"{ratio[m]:.2f}"] if ratio else ["-", "-"]
    texts += [f"{row['bptt_gflops']:.2f}", f"{100 * row['bptt_peak_share']:.1f}"]
    texts.append(f"{row['bptt_tracemalloc_peak_bytes'] / MiB:.2f}")
    if memory:
        rss = row["rss_growth_bytes"]
        texts += [f"{rss[lib] / MiB:.2f}" if lib in rss else "-" for lib in ("bptt", "torch")]
    return table_line(texts, memory)


def header_lines(info: dict, args, torch_note: str) -> list[str]:
    lines = [
        "# bptt step-time benchmark (float32; medians per step; a benchmark, not a test)",
        f"# cpu: {info['cpu']}, {info['logical_cores']} logical cores "
        f"({info['usable_cores']} usable); python {info['python']}",
        f"# numpy {info['numpy']}; BLAS: {info['blas']}; {'OPENBLAS_CORETYPE'}: {info['pin']}",
        f"# bptt backend: {args.backend} -> LSTM/GRU elementwise steps on {args.resolved_backend}",
        f"# torch: {torch_note}; numba threads: {info.get('numba_threads', '-')}",
    ]
    if info["env"]:
        lines.append("# env: " + " ".join(f"{k}={v}" for k, v in info["env"].items()))
    lines += [
        f"# float32 GEMM peak (np.matmul 1024^3, median of {args.peak_repeats}): "
        f"{args.peak_gflops:.1f} GFLOP/s",
        f"# method: {args.blocks} alternating blocks x {args.repeats} repeats per library after "
        f"{args.warmup} warm-up, {args.pause} s pause before each block; seed {args.seed}",
        "# columns: ms per step for train (fwd+loss+bwd), sgd (optim.SGD.step), adam"
        " (optim.Adam.step), infer (fwd only);",
        "#   t/b = torch ms / bptt ms (>1: bptt faster); GFLOP/s and %peak of bptt's train step",
        "#   (FLOPs counted analytically: backward = 2x forward, less the input gradient);",
        "#   mem:bptt = tracemalloc peak MiB of numpy allocations during one bptt train step",
    ]
    if args.memory:
        lines.append(
            "#   rss = growth of peak RSS (VmHWM reset before the step; MiB) over one train step"
            " in a fresh process per library, after a T=1 N=1 warm-up step"
        )
    columns = COLUMNS + (RSS_COLUMNS if args.memory else [])
    return lines + [table_line([name for name, _ in columns], args.memory)]
