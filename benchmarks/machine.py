"""What the step-time benchmark measures about the machine and about memory.

machine_info(torch)     CPU, cores, numpy and its BLAS (kernel and threads), torch, env
gemm_peak_gflops()      float32 GEMM throughput this process reaches, for "% of peak"
tracemalloc_peak(fn)    peak of numpy's allocations during fn()
peak_rss_bytes()        this process's peak RSS (VmHWM on Linux, resettable)
time_blocks(...)        alternating timed blocks of each library
set_threads(n, torch)   BLAS (threadpoolctl), torch and numba on n threads each
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc

import numpy as np

ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "GOTO_", "NUMBA_")  # threads and core type
PIN = "OPENBLAS_CORETYPE"  # pins OpenBLAS's kernel, which it otherwise picks from the CPU


def set_threads(n: int, torch=None) -> None:
    """n threads for OpenBLAS (needs threadpoolctl), torch and numba's parallel loops."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(n, user_api="blas")
    if torch is not None:
        torch.set_num_threads(n)
    try:
        import numba
    except ImportError:
        return
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def tracemalloc_peak(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def peak_rss_bytes(reset: bool = False) -> int:
    """This process's peak RSS: VmHWM on Linux (optionally reset first), else ru_maxrss.

    ru_maxrss is not usable on Linux here: after fork + exec it starts from the parent's peak,
    so a child of a big benchmark process would show no growth at all.
    """
    if reset:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # sets VmHWM to the current RSS (Linux >= 4.0)
        except OSError:
            pass  # then the growth is measured from the peak so far, a lower bound
    try:
        with open("/proc/self/status") as f:
            return 1024 * next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:"))
    except (OSError, StopIteration):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def gemm_peak_gflops(n: int = 1024, repeats: int = 5) -> float:
    a, b = np.random.default_rng(0).standard_normal((2, n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2.0 * n**3 / statistics.median(times) / 1e9


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
        return "; ".join(
            f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, "
            f"{p.get('num_threads')} threads)"
            for p in pools
        )
    except ImportError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        extra = blas.get("openblas configuration", "")
        return f"{blas.get('name')} {blas.get('version')}" + (f" [{extra}]" if extra else "")
    except Exception as error:  # the format of show_config differs across numpy versions
        return f"unknown ({type(error).__name__})"


def machine_info(torch) -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_description(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
        "pin": os.environ.get(PIN, "not set"),
    }
    if torch is not None:
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    if "numba" in sys.modules:
        info["numba_threads"] = sys.modules["numba"].get_num_threads()
    return info


def time_blocks(libs: dict, blocks: int, repeats: int, warmup: int, pause: float) -> dict:
    """libs: {lib: {metric: fn}} -> {lib: {metric: [seconds per call]}}."""
    for fns in libs.values():
        for _ in range(warmup):
            for fn in fns.values():
                fn()
    times = {lib: {m: [] for m in fns} for lib, fns in libs.items()}
    order = list(libs)
    for block in range(blocks):
        for lib in order if block % 2 == 0 else order[::-1]:
            time.sleep(pause)
            for metric, fn in libs[lib].items():
                for _ in range(repeats):
                    start = time.perf_counter()
                    fn()
                    times[lib][metric].append(time.perf_counter() - start)
    return times
