"""The benchmark's table: each run of the bot is compared with the baselines measured around
its burst (bench.cli), not with one baseline measured minutes earlier."""

from __future__ import annotations

from bench.report import Result, table


def _row(text: str, name: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_run_is_compared_with_the_mean_and_with_the_faster_of_its_baselines() -> None:
    run = Result("bot", updates=1800, seconds=4.0)  # 450 updates/s
    run.baselines_ups = (1200.0, 600.0)
    cells = _row(table([run]), "bot")
    assert cells[1:5] == ["450", "1200, 600", "0.50", "0.38"]


def test_each_run_has_its_own_baselines() -> None:
    first = Result("first", updates=900, seconds=1.0)
    first.baselines_ups = (1000.0, 1000.0)
    second = Result("second", updates=300, seconds=1.0)
    second.baselines_ups = (600.0,)
    text = table([first, second])
    assert _row(text, "first")[3:5] == ["0.90", "0.90"]
    assert _row(text, "second")[3:5] == ["0.50", "0.50"]


def test_a_run_without_a_baseline_has_no_ratio() -> None:
    run = Result("alone", updates=100, seconds=1.0)
    assert _row(table([run]), "alone")[1:5] == ["100", "—", "—", "—"]
