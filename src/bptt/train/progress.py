"""A progress bar on stderr (tqdm, the ``train`` extra) that does nothing when turned off."""

from __future__ import annotations

import sys


class NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix(self, **kw) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, total: int, initial: int):
    """tqdm on stderr when enabled (default: only when stderr is a terminal)."""
    if not enabled:
        return NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return NoBar()
    return tqdm(total=total, initial=initial, file=sys.stderr, unit="batch", dynamic_ncols=True)
