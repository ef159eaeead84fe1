"""The hot path alone (issue 12): the bare-aiogram baseline and the bot on SQLite, back to back
in one run, N residents at once through the whole dialog; optionally the same number typing at
a human pace. `python -m bench.hot --residents 200 --typing`.

Shorter than `make bench` (no PostgreSQL, no parked residents, no outbox scenarios), so that a
change can be measured against the commit before it within minutes on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bench.__main__ import THINK, Result, run_scenario, table, typing_table
from bot.config import PROJECT_ROOT


async def main(args: argparse.Namespace) -> int:
    python = sys.executable
    baseline = await run_scenario(
        "baseline: bare aiogram, one reply per update",
        [python, "-m", "bench.baseline"],
        {"PYTHONPATH": str(PROJECT_ROOT)},
        args.residents,
        0,
        args.residents,
        needs_migrations=False,
    )
    typing = Result("this bot, SQLite") if args.typing else None
    bot = await run_scenario(
        "this bot, SQLite",
        [python, str(PROJECT_ROOT / "main.py")],
        {},
        args.residents,
        0,
        args.residents,
        profile=args.profile,
        typing_result=typing,
    )
    print(table([bot], baseline))
    if typing is not None:
        print(f"\ntyping at a human pace ({THINK[0]:.0f}-{THINK[1]:.0f} s between steps):\n")
        print(typing_table([typing]))
    return 1 if bot.errors or (typing is not None and typing.errors) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--typing", action="store_true", help="also residents at a human pace")
    parser.add_argument("--profile", type=Path, help="py-spy raw stacks of the bot, written here")
    sys.exit(asyncio.run(main(parser.parse_args())))
