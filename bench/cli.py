"""`make bench`: N residents complete the whole dialog against the real bot in webhook mode.

The bot runs as its own process (as in production) against the stand-in Bot API server, which
lives in this process together with the load generator. The same load then runs against a bare
aiogram bot that answers every update with one message: the ratio between the two is the
figure that holds across machines. Latency is measured from the webhook POST until its answer;
with handle_in_background=False that answer comes after the bot's replies reached the stand-in.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from functools import partial
from pathlib import Path

from bench import fairness, flood
from bench.harness import REDIS_URL, postgres_database, redis_cleanup, services_reachable
from bench.report import Result, error_report, table, typing_table
from bench.scenario import DIALOG, THINK, outbox_rate, run_scenario
from bench.staff_burst import report, staff_burst
from bot.config import PROJECT_ROOT


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--parked", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--only-bot", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--profile", type=Path, help="py-spy collapsed stacks of the SQLite run, written here"
    )
    return parser


async def main(args: argparse.Namespace) -> int:
    python = sys.executable
    real_bot = [python, str(PROJECT_ROOT / "main.py")]
    print(
        f"{args.residents} residents at once, {len(DIALOG)} updates each; "
        f"{args.parked} parked mid-dialog afterwards",
        flush=True,
    )
    baselines: list[Result] = []

    async def baseline(around: list[float]) -> None:
        """The bare aiogram bot's updates/s under the same load, measured now: right before
        and right after each burst of the bot (its process idle), so that a ratio compares
        measurements seconds apart."""
        if args.only_bot:
            return
        result = await run_scenario(
            "baseline: bare aiogram, one reply per update",
            [python, "-m", "bench.baseline"],
            {"PYTHONPATH": str(PROJECT_ROOT)},
            args.residents,
            0,
            args.residents,
            needs_migrations=False,
        )
        baselines.append(result)
        around.append(result.ups)

    typing = [Result("this bot, SQLite")]
    around: list[float] = []
    await baseline(around)
    results = [
        await run_scenario(
            "this bot, SQLite",
            real_bot,
            {},
            args.residents,
            args.parked,
            args.residents,
            profile=args.profile,
            typing_result=typing[0],
            after_burst=partial(baseline, around),
        )
    ]
    results[0].baselines_ups = tuple(around)
    if not args.no_postgres and not services_reachable():
        print("PostgreSQL or Redis is unreachable: the PostgreSQL + Redis runs are left out")
        args.no_postgres = True
    if not args.no_postgres:
        for workers in (1, 2):
            around = []
            await baseline(around)
            database, drop = await postgres_database()
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            name = f"this bot, PostgreSQL + Redis, workers: {workers}"
            typing.append(Result(name))
            try:
                results.append(
                    await run_scenario(
                        name,
                        real_bot,
                        {
                            "DATABASE_URL": database,
                            "REDIS_URL": REDIS_URL,
                            "REDIS_PREFIX": prefix,
                            "WEB_WORKERS": str(workers),
                        },
                        args.residents,
                        args.parked if workers == 1 else 0,
                        args.residents,
                        typing_result=typing[-1],
                        after_burst=partial(baseline, around),
                    )
                )
                results[-1].baselines_ups = tuple(around)
            finally:
                await drop()
                await redis_cleanup(prefix)
    print()
    print(table(results))
    if baselines:
        print(
            "\nthe baseline (bare aiogram, one reply per update), updates/s in the order measured: "
            + ", ".join(f"{b.ups:.0f}" for b in baselines)
        )
    print()
    print(
        f"{args.residents} residents typing at once (each waits {THINK[0]:.0f}-{THINK[1]:.0f} s "
        "before each message or tap), latency of each update:"
    )
    print()
    print(typing_table(typing))
    print()
    for limit in (30.0, 1000.0):
        rate, configured = await outbox_rate(limit, rows=int(max(limit * 4, 300)), chats=100)
        print(
            f"outbox sender: {rate:.0f} notifications/s with a limit of {configured:.0f}/s "
            f"({rate / configured:.2f} of the limit)"
        )
    print(fairness.report(await fairness.resident_behind_staff()))
    burst = await staff_burst()
    print(report(burst))
    flooded = await flood.flood()
    print(flood.report(flooded))
    runs = [*baselines, *results, *typing]
    errors = sum(r.errors for r in runs) + burst.errors + flooded.errors
    if errors:
        print(error_report(runs))
    return 1 if errors else 0


def run(argv: list[str] | None = None) -> int:
    return asyncio.run(main(parser().parse_args(argv)))
