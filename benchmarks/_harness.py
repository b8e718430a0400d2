"""Interleaved, ratio-based timing for a noisy shared machine.

Every meshsec figure is measured right next to its raw twin (the library it
builds on) in alternating rounds; the figure reported is the median of the
per-round ratios, so a burst of load on the box hits both sides of a round
and cancels out. Absolute times are printed only as context beside a ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

Op = Callable[[], object]


def _time_batch(op: Op, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        op()
    return (time.perf_counter() - start) / inner


def calibrate(op: Op, target_seconds: float = 0.01) -> int:
    """Pick an inner loop count so that one batch takes about target_seconds."""
    inner = 1
    while True:
        elapsed = _time_batch(op, inner) * inner
        if elapsed >= target_seconds or inner >= 1 << 20:
            return inner
        inner *= 2


def compare(mine: Op, raw: Op, *, rounds: int = 31, target_seconds: float = 0.01) -> Figure:
    """Time mine and raw in alternating rounds; return the median per-round ratio."""
    inner = max(calibrate(mine, target_seconds), calibrate(raw, target_seconds))
    ratios, mine_times, raw_times = [], [], []
    for i in range(rounds):
        # Alternate which side goes first so warm-up order cancels too.
        if i % 2:
            r, m = _time_batch(raw, inner), _time_batch(mine, inner)
        else:
            m, r = _time_batch(mine, inner), _time_batch(raw, inner)
        ratios.append(m / r)
        mine_times.append(m)
        raw_times.append(r)
    return Figure(
        ratio=statistics.median(ratios),
        mine=statistics.median(mine_times),
        raw=statistics.median(raw_times),
    )


def per_op(op: Op, *, rounds: int = 15, target_seconds: float = 0.01) -> float:
    """Median seconds per call over several batches (for figures with no raw twin)."""
    inner = calibrate(op, target_seconds)
    return statistics.median(_time_batch(op, inner) for _ in range(rounds))


class Figure:
    """One comparison: median ratio mine/raw and the median times behind it."""

    def __init__(self, *, ratio: float, mine: float, raw: float) -> None:
        self.ratio, self.mine, self.raw = ratio, mine, raw


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def row(name: str, figure: Figure, *, target: str, raw_name: str) -> str:
    """One printed line: the ratio first, the times only as context."""
    return (
        f"  {name:<48} {figure.ratio:6.2f}x {raw_name}  "
        f"(meshsec {fmt_time(figure.mine)} vs {fmt_time(figure.raw)}; target {target})"
    )
