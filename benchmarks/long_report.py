"""The text and the picture of benchmarks/long_sequences.py: header, rows, summary, plot."""

from __future__ import annotations

import io

MiB = 2**20
COLUMNS = [
    ("cell", 5),
    ("T", 6),
    ("budget", 8),
    ("policy", 8),
    ("step s", 8),
    ("x full", 7),
    ("recomp", 8),
    ("/T", 6),
    ("kept MiB", 9),
    ("kept %", 7),
    ("tmalloc", 8),
    ("rss MiB", 8),
    ("note", 0),
]


def table_line(texts: list[str]) -> str:
    out = []
    for i, (text, (_, width)) in enumerate(zip(texts, COLUMNS)):
        out.append(text.ljust(width) if i in (0, 2, 3, 12) else text.rjust(width))
    return " ".join(out).rstrip()


def mib(n) -> str:
    return "-" if n is None else f"{n / MiB:.2f}"


def row_line(row: dict) -> str:
    texts = [row["cell"], str(row["T"]), row["budget"], row["policy"]]
    if not row.get("fits", True):
        note = f"does not fit: needs {mib(row['needs'])} MiB"
        if row["policy"] == "every_k":
            note += " (at the best k)"
        return table_line(texts + ["-"] * 8 + [note])
    plan = row.get("plan", {})
    steps = plan.get("recomputed_steps")
    texts += [f"{row['step_s']:.3f}", _fmt(row.get("time_ratio"), "{:.2f}")]
    texts += [
        "-" if steps is None else str(steps),
        "-" if steps is None else f"{steps / row['T']:.2f}",
    ]
    texts += [mib(row.get("cache_nbytes")), _fmt(row.get("kept_ratio"), "{:.2%}")]
    texts += [mib(row.get("tracemalloc_peak_bytes")), mib(row["rss_growth_bytes"])]
    note = f"{len(row['times_s'])} timed"
    if row.get("same_as"):
        note += f"; same plan as {row['same_as']}, measured once"
    return table_line(texts + [note])


def _fmt(value, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def header_lines(info: dict, args, torch_note: str, backend: str, sizes: dict) -> list[str]:
    lines = [
        "# bptt long-sequence benchmark: one training step (forward + backward of sum(output)),"
        " float32; a benchmark, not a test",
        f"# cpu: {info['cpu']}, {info['logical_cores']} logical cores "
        f"({info['usable_cores']} usable); python {info['python']}",
        f"# numpy {info['numpy']}; BLAS: {info['blas']}; OPENBLAS_CORETYPE: {info['pin']}",
        f"# bptt backend: {args.backend} -> {backend}; torch: {torch_note}; "
        f"numba threads: {info.get('numba_threads', '-')}",
        f"# sizes: N={sizes['N']} D={sizes['D']} H={sizes['H']}; T in {args.lengths}; "
        f"budgets {args.budgets}",
        f"# method: a fresh process per measurement; up to {args.repeats} timed steps "
        f"(none more after {args.max_seconds:g} s), median; seed {args.seed}",
        "# columns: step s = median seconds per training step; x full = over bptt full BPTT's;",
        "#   recomp = forward steps backward recomputes (per layer), /T = as a multiple of T;",
        "#   kept = cache.nbytes (what forward keeps for backward), kept % = of full BPTT's;",
        "#   tmalloc = tracemalloc peak of the step's allocations; rss = growth of peak RSS",
        "#   (VmHWM) over the steps, both counting the output (T, N, H)",
    ]
    if info["env"]:
        lines.insert(4, "# env: " + " ".join(f"{k}={v}" for k, v in info["env"].items()))
    return lines + [table_line([name for name, _ in COLUMNS])]


def _find(rows, cell, T, budget, policy):
    for row in rows:
        if (row["cell"], row["T"], row["budget"], row["policy"]) == (cell, T, budget, policy):
            return row
    return None


def summary_lines(rows: list[dict]) -> list[str]:
    """Per cell and T: full BPTT against 64MiB and the minimum, torch; DP against every-k."""
    lines = ["", "# summary: kept and time as ratios of bptt's full BPTT; rss in MiB"]
    keys = sorted({(r["cell"], r["T"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for cell, T in keys:
        full = _find(rows, cell, T, "full", "full")
        if full is None:
            continue
        out = T * 32 * 256 * 4  # the output (T, N, H) float32 at the benchmark's sizes
        text = f"# {cell} T={T}: full {full['step_s']:.2f} s, rss {mib(full['rss_growth_bytes'])}"
        for budget in ("64MiB", "min"):
            row = _find(rows, cell, T, budget, "dp")
            if row and row.get("fits") and "step_s" in row:
                text += (
                    f"; {budget}: kept {row['kept_ratio']:.2%}, time x{row['time_ratio']:.2f},"
                    f" rss {mib(row['rss_growth_bytes'])} ({mib(row['rss_growth_bytes'] - out)}"
                    " beyond the output)"
                )
        torch = _find(rows, cell, T, "full", "autograd")
        if torch:
            text += (
                f"; torch {torch['step_s']:.2f} s (x{torch['time_ratio']:.2f}),"
                f" rss {mib(torch['rss_growth_bytes'])}"
            )
        lines.append(text)
    lines.append("# dp against every_k at the same budget (recomputed steps):")
    for cell, T in keys:
        budgets = [r["budget"] for r in rows if (r["cell"], r["T"]) == (cell, T)]
        for budget in dict.fromkeys(budgets):
            dp, ek = _find(rows, cell, T, budget, "dp"), _find(rows, cell, T, budget, "every_k")
            if not (dp and ek and dp.get("fits")):
                continue
            steps = dp["plan"]["recomputed_steps"]
            if ek.get("fits"):
                other = ek["plan"]["recomputed_steps"]
                verdict = f"every_k {other} ({other - steps} more)"
            else:
                verdict = f"every_k does not fit (needs {mib(ek['needs'])} MiB at best k)"
            lines.append(f"#   {cell} T={T} {budget}: dp {steps}, {verdict}")
    return lines


def plot(rows: list[dict], path: str, info: dict) -> None:
    """Time per time step against memory kept: one panel per cell, one line per T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bptt.io import atomic_write_bytes

    cells = sorted({r["cell"] for r in rows})
    fig, axes = plt.subplots(1, len(cells), figsize=(5.2 * len(cells), 3.8), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        lengths = sorted({r["T"] for r in rows if r["cell"] == cell})
        for i, T in enumerate(lengths):
            color = f"C{i}"
            mine = [r for r in rows if (r["cell"], r["T"]) == (cell, T) and "step_s" in r]
            dp = sorted(
                (r["cache_nbytes"] / MiB, 1e3 * r["step_s"] / T)
                for r in mine
                if r["lib"] == "bptt" and r["policy"] in ("dp", "full")
            )
            ek = [
                (r["cache_nbytes"] / MiB, 1e3 * r["step_s"] / T)
                for r in mine
                if r["policy"] == "every_k"
            ]
            if dp:
                ax.plot(*zip(*dp), "o-", color=color, label=f"T={T:,} dp / full")
            if ek:
                ax.plot(*zip(*ek), "x", color=color, ms=9, label=f"T={T:,} every-k")
            for r in mine:
                if r["lib"] == "torch":
                    ax.axhline(1e3 * r["step_s"] / T, color=color, ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("memory kept for backward, MiB (cache.nbytes, log)")
        ax.set_ylabel("ms per time step (training step / T, log)")
        ax.set_title(f"{cell.upper()}, H=256, N=32, float32 (dotted: torch autograd)", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"BPTT under a memory budget, {info['cpu']}, median step per point", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
