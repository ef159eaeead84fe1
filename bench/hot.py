"""The hot path alone (issue 12): the bare-aiogram baseline and the bot on SQLite, back to back
in one run, N residents at once through the whole dialog; optionally the same number typing at
a human pace. `python -m bench.hot --residents 200 --typing`.

Shorter than `make bench` (no PostgreSQL, no parked residents, no outbox scenarios), so that a
change can be measured against the commit before it within minutes. Besides updates/s it
reports the CPU seconds the bot's process spent per update during the burst: on a machine
shared with other work the throughput of both runs swings with the load, while the CPU an
update costs does much less, so the ratio of the two CPU figures is the steadier comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    REDIS_URL,
    STAFF_CHAT,
    TOKEN,
    BotProcess,
    bot_env,
    migrate,
    postgres_database,
    quiet,
    redis_cleanup,
    services_reachable,
    wait_for_webhook,
)
from bench.report import Result, table, typing_table
from bench.scenario import DIALOG, THINK, play
from bot.config import PROJECT_ROOT
from standins.ports import free_port
from standins.telegram import FakeUser, TelegramStandIn


def cpu_seconds(pid: int, task: int | None = None) -> float:
    """User and system CPU time of the process (or of one of its threads) so far."""
    where = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    fields = Path(where).read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each of the process's threads so far."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = cpu_seconds(pid, int(task.name))
        except (OSError, ValueError):
            continue
    return out


NUMBER = re.compile(r"1580-\d{4}-\d{6}")


async def staff_cards(
    tg: TelegramStandIn, users: list[FakeUser], limit: float = 120.0
) -> tuple[int, float | None]:
    """Wait (up to `limit` seconds) for the card of every appeal the residents were given;
    how many arrived, and after how long (None when some never did)."""
    numbers = {
        found
        for user in users
        for message in tg.messages(user.id)[-2:]
        for found in NUMBER.findall(message.text or "")
    }
    started = time.monotonic()

    def posted() -> set[str]:
        return {
            found
            for message in tg.messages(STAFF_CHAT)
            for found in NUMBER.findall(message.text or "")
        } & numbers

    with contextlib.suppress(TimeoutError):
        await tg.changed.wait_for(lambda: len(posted()) == len(numbers), limit)
    done = len(posted())
    return done, (time.monotonic() - started if done == len(numbers) else None)


@dataclass
class Run:
    burst: Result
    cpu_per_update_ms: float
    # The event loop's thread, then the others (aiosqlite's worker, executors) together.
    loop_cpu_per_update_ms: float = 0.0
    typing: Result | None = None
    # Staff cards of the burst's appeals that reached the staff chat, and when the last one
    # arrived (seconds after the burst's last answer); None when not all of them did.
    cards: int = 0
    last_card_after: float | None = None


async def scenario(
    name: str,
    command: list[str],
    extra: dict[str, str],
    residents: int,
    *,
    real: bool,
    typing: bool,
    profile: Path | None = None,
) -> Run:
    workdir = Path(tempfile.mkdtemp(prefix="bench-hot-"))
    try:
        async with TelegramStandIn(TOKEN) as tg:
            tg.group(STAFF_CHAT, members=[1])
            env = bot_env(free_port(), tg, workdir, extra)
            if real:
                await migrate(env, workdir)
            async with BotProcess(command, env, workdir) as bot:
                await wait_for_webhook(tg, bot)
                await play(tg, [tg.user(90_000 + i) for i in range(5)], DIALOG, Result(""), 5)
                burst = Result(name)
                users = [tg.user(100_000 + i, language_code="en") for i in range(residents)]
                spy = None
                if profile is not None:
                    # py-spy samples the bot's threads during the burst (collapsed stacks).
                    spy = await asyncio.create_subprocess_exec(
                        str(Path(sys.executable).parent / "py-spy"),
                        *("record", "--pid", str(bot.pid), "--format", "raw", "--rate", "200"),
                        *("--output", str(profile)),
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.DEVNULL,
                    )
                    await asyncio.sleep(1.0)
                before = cpu_seconds(bot.pid)
                threads_before = thread_cpu(bot.pid)
                await play(tg, users, DIALOG, burst, residents)
                cpu = cpu_seconds(bot.pid) - before
                loop_cpu = thread_cpu(bot.pid)[bot.pid] - threads_before[bot.pid]
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    await spy.wait()
                burst.appeals = sum(
                    1
                    for u in users
                    if any(
                        "1580-" in (m.text or "") or m.text == "ok" for m in tg.messages(u.id)[-2:]
                    )
                )
                run = Run(
                    burst,
                    1000 * cpu / max(burst.updates, 1),
                    1000 * loop_cpu / max(burst.updates, 1),
                )
                if real:
                    run.cards, run.last_card_after = await staff_cards(tg, users)
                if typing:
                    await quiet(tg)
                    run.typing = Result(name)
                    typists = [tg.user(500_000 + i, language_code="en") for i in range(residents)]
                    await play(tg, typists, DIALOG, run.typing, residents, think=THINK)
                return run
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def main(args: argparse.Namespace) -> int:
    python = sys.executable

    async def measure_baseline() -> Run:
        # Right before each run of the bot: the ratio compares two measurements seconds apart.
        return await scenario(
            "baseline: bare aiogram, one reply per update",
            [python, "-m", "bench.baseline"],
            {"PYTHONPATH": str(PROJECT_ROOT)},
            args.residents,
            real=False,
            typing=False,
        )

    baseline = await measure_baseline()
    bot = await scenario(
        "this bot, SQLite",
        [python, str(PROJECT_ROOT / "main.py")],
        {},
        args.residents,
        real=True,
        typing=args.typing,
        profile=args.profile,
    )
    bot.burst.baselines_ups = (baseline.burst.ups,)
    runs = [bot]
    if args.postgres:
        if not services_reachable():
            print("PostgreSQL or Redis is unreachable (README, Benchmark)")
            return 1
        before = await measure_baseline()
        database, drop = await postgres_database()
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        try:
            runs.append(
                await scenario(
                    "this bot, PostgreSQL + Redis, workers: 1",
                    [python, str(PROJECT_ROOT / "main.py")],
                    {"DATABASE_URL": database, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix},
                    args.residents,
                    real=True,
                    typing=args.typing,
                )
            )
            runs[-1].burst.baselines_ups = (before.burst.ups,)
        finally:
            await drop()
            await redis_cleanup(prefix)
    print(table([run.burst for run in runs]))
    for run in runs[1:]:
        print(
            f"\n{run.burst.name}: CPU per update {run.cpu_per_update_ms:.2f} ms, "
            f"of which the event loop's thread {run.loop_cpu_per_update_ms:.2f} ms"
        )
    for run in runs:
        last = (
            f"the last {run.last_card_after:.1f} s after the burst"
            if run.last_card_after is not None
            else "NOT ALL within the wait"
        )
        cards = f"{run.cards} of {run.burst.appeals}"
        print(f"\n{run.burst.name}: staff cards of the burst: {cards}, {last}")
    print(
        f"\nCPU of the bot's process per update during the burst: baseline "
        f"{baseline.cpu_per_update_ms:.2f} ms, this bot {bot.cpu_per_update_ms:.2f} ms "
        f"(× baseline by CPU: {baseline.cpu_per_update_ms / bot.cpu_per_update_ms:.2f}); "
        f"of which the event loop's thread: baseline {baseline.loop_cpu_per_update_ms:.2f} ms, "
        f"this bot {bot.loop_cpu_per_update_ms:.2f} ms"
    )
    typed = [run.typing for run in runs if run.typing is not None]
    if typed:
        print(f"\ntyping at a human pace ({THINK[0]:.0f}-{THINK[1]:.0f} s between steps):\n")
        print(typing_table(typed))
    failed = any(
        run.burst.errors
        or (run.typing is not None and run.typing.errors)
        or run.last_card_after is None
        for run in runs
    )
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--typing", action="store_true", help="also residents at a human pace")
    parser.add_argument("--profile", type=Path, help="py-spy raw stacks of the bot's burst")
    parser.add_argument(
        "--postgres", action="store_true", help="also the bot on PostgreSQL + Redis, one worker"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
