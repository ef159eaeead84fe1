"""The load: residents walking the whole dialog (or parking mid-dialog) against the bot, and
the outbox sender delivering a queue, measured."""

from __future__ import annotations

import asyncio
import gc
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.harness import (
    LUTSK,
    STAFF_CHAT,
    TOKEN,
    BotProcess,
    bot_env,
    migrate,
    quiet,
    wait_for_webhook,
)
from bench.processes import tree_memory_kb
from bench.report import Result
from standins.ports import free_port
from standins.telegram import FakeUser, TelegramStandIn

Step = Callable[[TelegramStandIn, FakeUser], Awaitable[Any]]


def _press(data: str) -> Step:
    async def press(tg: TelegramStandIn, user: FakeUser) -> Any:
        return await tg.press_button(user, tg.last_message(user.id), data, check=False)

    return press


DIALOG: list[Step] = [
    lambda tg, u: tg.send_text(u, "/start"),
    lambda tg, u: tg.send_contact(u, f"+38050{u.id % 10_000_000:07d}"),
    _press("new"),
    _press("cat:other"),
    lambda tg, u: tg.send_location(u, *LUTSK),
    lambda tg, u: tg.send_photo(u),
    _press("mdone"),
    lambda tg, u: tg.send_text(u, "A water main burst, the street is flooded near the stop."),
    _press("submit"),
]
# Parked residents stop at the category step of a new appeal: registered, mid-dialog.
PARK: list[Step] = DIALOG[:3]
# Seconds a resident takes before each next message or tap.
THINK = (1.0, 3.0)


async def play(
    tg: TelegramStandIn,
    users: list[FakeUser],
    steps: list[Step],
    result: Result,
    concurrency: int,
    think: tuple[float, float] | None = None,
) -> None:
    """Every user goes through the steps in order; `concurrency` of them at a time. With
    `think`, each waits a random time in that range before each step, as people do."""
    gate = asyncio.Semaphore(concurrency)
    pace = random.Random(1580)
    # The load generator and the stand-in share this process: the garbage an earlier scenario
    # left (the 10,000 parked residents' messages are hundreds of thousands of objects) would
    # otherwise be collected in the middle of whichever measurement comes next, slowing the
    # load, not the bot, for part of it.
    gc.collect()

    async def one(user: FakeUser) -> None:
        async with gate:
            for step in steps:
                if think is not None:
                    await asyncio.sleep(pace.uniform(*think))
                started = time.perf_counter()
                try:
                    delivery = await step(tg, user)
                except Exception as exc:
                    result.errors += 1
                    result.error_kinds[type(exc).__name__] += 1
                    return
                result.latencies.append(time.perf_counter() - started)
                result.updates += 1
                status = getattr(delivery, "status", 200)
                if status != 200:
                    result.errors += 1
                    result.error_kinds[f"HTTP {status}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(user) for user in users))
    result.seconds += time.perf_counter() - started


async def run_scenario(
    name: str,
    command: list[str],
    extra_env: dict[str, str],
    residents: int,
    parked: int,
    concurrency: int,
    *,
    needs_migrations: bool = True,
    profile: Path | None = None,
    typing_result: Result | None = None,
    after_burst: Callable[[], Awaitable[Any]] | None = None,
) -> Result:
    """The bot's process under the load: the burst, then (once its outbox is drained and the
    bot is idle) `after_burst` (the baseline measured again: cli), typing and parking."""
    result = Result(name)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        async with TelegramStandIn(TOKEN) as tg:
            tg.group(STAFF_CHAT, members=[1])
            port = free_port()
            env = bot_env(port, tg, workdir, extra_env)
            if needs_migrations:
                await migrate(env, workdir)
            async with BotProcess(command, env, workdir) as bot:
                await wait_for_webhook(tg, bot)
                users = [tg.user(100_000 + i, language_code="en") for i in range(residents)]
                # A short warm-up so imports and first connections are not measured.
                warm = Result("warm-up")
                await play(tg, [tg.user(90_000 + i) for i in range(5)], DIALOG, warm, 5)
                spy = None
                if profile is not None:
                    # Sample the bot's own process while the load runs (collapsed stacks).
                    spy = await asyncio.create_subprocess_exec(
                        shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(bot.pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--subprocesses",
                        "--output",
                        str(profile),
                        "--nonblocking",
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.DEVNULL,
                    )
                    await asyncio.sleep(1.0)
                await play(tg, users, DIALOG, result, concurrency)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    await spy.wait()
                result.appeals = sum(
                    1
                    for u in users
                    if any(
                        "1580-" in (m.text or "") or m.text == "ok" for m in tg.messages(u.id)[-2:]
                    )
                )
                if after_burst is not None:
                    await quiet(tg)
                    await after_burst()
                if typing_result is not None:
                    # Measure typing in a steady state: after the burst's staff cards are out.
                    await quiet(tg)
                    typists = [tg.user(500_000 + i, language_code="en") for i in range(residents)]
                    await play(tg, typists, DIALOG, typing_result, residents, think=THINK)
                result.peak_rss_kb = tree_memory_kb(bot.pid, "VmHWM")
                if parked:
                    before = tree_memory_kb(bot.pid, "VmRSS")
                    crowd = [tg.user(1_000_000 + i) for i in range(parked)]
                    parking = Result("parking")
                    await play(tg, crowd, PARK, parking, concurrency)
                    result.errors += parking.errors
                    result.error_kinds.update(
                        {f"parking: {kind}": n for kind, n in parking.error_kinds.items()}
                    )
                    result.parked = parked
                    result.parked_growth_kb = tree_memory_kb(bot.pid, "VmRSS") - before
                    result.peak_rss_kb = max(result.peak_rss_kb, tree_memory_kb(bot.pid, "VmHWM"))
    finally:
        if result.errors or (typing_result is not None and typing_result.errors):
            result.log = keep_log(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def keep_log(workdir: Path) -> str | None:
    """The bot's log of a run that had errors, copied out of its work folder (removed)."""
    log = workdir / "bot.log"
    if not log.exists():
        return None
    kept = Path(tempfile.mkdtemp(prefix="bench-log-")) / "bot.log"
    shutil.copy(log, kept)
    return str(kept)


async def outbox_rate(limit: float, rows: int, chats: int) -> tuple[float, float]:
    """Deliver `rows` queued notifications with a global limit of `limit`/s: (rate, limit)."""
    from bot.app import build_application
    from bot.config import Settings
    from domain.dialog.events import Channel
    from domain.dialog.replies import Reply
    from storage.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    try:
        async with TelegramStandIn(TOKEN) as tg:
            users = [tg.user(200_000 + i) for i in range(chats)]
            settings = Settings(
                _env_file=None,
                telegram_bot_token=TOKEN,
                telegram_api_url=tg.base_url,
                database_url=f"sqlite+aiosqlite:///{workdir / 'outbox.db'}",
                telegram_rate_global_per_second=limit,
                telegram_rate_chat_per_second=100_000,
                outbox_poll_seconds=0.01,
            )
            app = build_application(settings)
            try:
                await upgrade(app.engine)
                async with app.uows() as uow:
                    for index in range(rows):
                        user = users[index % chats]
                        await uow.outbox.add(
                            channel=Channel.TELEGRAM,
                            chat=str(user.id),
                            kind="replies",
                            payload={"replies": [Reply(f"notification {index}").to_data()]},
                            now=app.clock(),
                        )
                    await uow.commit()
                started = time.perf_counter()
                app.start_background()
                await app.sender.wait_idle(within=600)
                elapsed = time.perf_counter() - started
                sent = len(tg.calls_of("sendMessage"))
                assert sent == rows, f"{sent} of {rows} delivered"
            finally:
                await app.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows / elapsed, limit
