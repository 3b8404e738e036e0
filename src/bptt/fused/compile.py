"""How every fused kernel is compiled: one place for numba's options.

    boundscheck=False        the cell's step checks shapes once, outside the loops
    error_model="numpy"      x / 0 gives inf as in NumPy; the Python model's check per
                             division would stop LLVM from vectorising the loops
    nogil=True               a kernel may run beside other threads
    cache=True               compiled code is saved next to the source (or in numba's user
                             cache where that is read-only), so only the first run compiles;
                             where neither is writable, each process compiles in memory
"""

from __future__ import annotations

import numba

OPTIONS = {"boundscheck": False, "error_model": "numpy", "nogil": True}


def kernel(fn):
    """Compile ``fn`` lazily, once per argument dtype and layout, with the options above."""
    try:
        return numba.njit(cache=True, **OPTIONS)(fn)
    except RuntimeError:  # numba found no writable cache directory for this file
        return numba.njit(cache=False, **OPTIONS)(fn)
