"""How every fused kernel is compiled: one place for numba's options and its disk cache.

    boundscheck=False        the cell's step checks shapes once, outside the loops
    error_model="numpy"      x / 0 gives inf as in NumPy; the Python model's check per
                             division would stop LLVM from vectorising the loops
    nogil=True               a kernel may run beside other threads
    fastmath={"contract"}    a * b + c may become one fused multiply-add (one rounding
                             instead of two); nothing else of fastmath: NaN and inf still
                             propagate as in NumPy, and no sum is reordered

Compiled code is cached on disk (next to the source, or in numba's user cache where that is
read-only), so only the first run compiles (about 3 s for the LSTM's and GRU's float32
kernels). numba keys a cached kernel by its own bytecode and source file only, so a change to
the tanh it inlines from ``approx.py`` would leave the old machine code in use; ``DependentCache``
adds a digest of ``approx.py`` and this file to the key. Where no cache directory is writable,
or numba's caching internals differ from the ones this was written against, each process
compiles in memory instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba

OPTIONS = {"boundscheck": False, "error_model": "numpy", "nogil": True, "fastmath": {"contract"}}
SOURCES = ("approx.py", "compile.py")  # what every kernel depends on besides its own module
SOURCES_DIGEST = hashlib.sha256(
    b"".join((Path(__file__).parent / name).read_bytes() for name in SOURCES)
).hexdigest()


def _dependent_cache_class():
    from numba.core.caching import FunctionCache

    class DependentCache(FunctionCache):
        """numba's function cache, its index key extended by SOURCES_DIGEST."""

        def _index_key(self, sig, codegen):
            key = super()._index_key(sig, codegen)
            return (*key[:-1], (*key[-1], SOURCES_DIGEST))

    return DependentCache


def kernel(fn):
    """Compile ``fn`` lazily, once per argument dtype and layout, with the options above."""
    dispatcher = numba.njit(**OPTIONS)(fn)
    try:
        dispatcher._cache = _dependent_cache_class()(fn)
    except (ImportError, AttributeError, TypeError, RuntimeError):
        pass  # RuntimeError: numba found no writable cache directory; the rest: other internals
    return dispatcher
