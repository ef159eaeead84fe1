"""What a benchmark run measured, and the tables `make bench` prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    updates: int = 0
    appeals: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    # What each error was (an exception's type, or the webhook's HTTP status), and where the
    # bot's log of a run with errors was kept.
    error_kinds: Counter[str] = field(default_factory=Counter)
    log: str | None = None
    peak_rss_kb: int = 0
    parked_growth_kb: int | None = None
    parked: int = 0
    # The bare-aiogram baseline's updates/s, measured right before this run's burst and right
    # after it (cli): its ratio is taken against their mean, not against one baseline minutes
    # earlier, because this machine's speed swings within minutes (README, Benchmark).
    baselines_ups: tuple[float, ...] = ()

    @property
    def baseline_ups(self) -> float | None:
        return sum(self.baselines_ups) / len(self.baselines_ups) if self.baselines_ups else None

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def ups(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


def typing_table(results: list[Result]) -> str:
    lines = [
        "| run | updates | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.updates} | {r.pct(0.5):.1f} | {r.pct(0.95):.1f} | "
            f"{r.pct(0.99):.1f} | {r.errors} |"
        )
    return "\n".join(lines)


def error_report(results: list[Result]) -> str:
    """Each run with errors: what they were, and the bot's log kept for it."""
    lines = []
    for r in results:
        if r.errors:
            kinds = ", ".join(f"{kind}: {count}" for kind, count in r.error_kinds.most_common())
            kept = f"; the bot's log: {r.log}" if r.log else ""
            lines.append(f"{r.name}: {r.errors} errors ({kinds}){kept}")
    return "\n".join(lines)


def table(results: list[Result]) -> str:
    """One row per run of the bot; × baseline is its rate over the mean of the baseline's
    measured right before and right after its burst, × the faster its rate over the faster of
    them (the ratio at its least)."""
    lines = [
        "| run | updates/s | baseline before, after | × baseline | × the faster | appeals/s "
        "| p50 ms | p95 ms | p99 ms | errors | peak RSS MiB | growth per parked resident |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        growth = (
            f"{r.parked_growth_kb * 1024 / r.parked:.0f} B ({r.parked} parked)"
            if r.parked_growth_kb is not None and r.parked
            else "—"
        )
        around = ", ".join(f"{ups:.0f}" for ups in r.baselines_ups) or "—"
        ratio = f"{r.ups / r.baseline_ups:.2f}" if r.baseline_ups else "—"
        least = f"{r.ups / max(r.baselines_ups):.2f}" if r.baselines_ups else "—"
        lines.append(
            f"| {r.name} | {r.ups:.0f} | {around} | {ratio} | {least} | "
            f"{r.appeals / r.seconds if r.seconds else 0:.1f} | {r.pct(0.5):.1f} | "
            f"{r.pct(0.95):.1f} | {r.pct(0.99):.1f} | {r.errors} | "
            f"{r.peak_rss_kb / 1024:.0f} | {growth} |"
        )
    return "\n".join(lines)
