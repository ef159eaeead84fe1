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
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url

from bench import fairness
from bench.processes import tree_memory_kb
from bot.config import PROJECT_ROOT
from standins.telegram import FakeUser, TelegramStandIn

TOKEN = "123456:bench-token"
SECRET = "bench-secret"
STAFF_CHAT = -1001580
LUTSK = (50.7472, 25.3254)
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Result:
    name: str
    updates: int = 0
    appeals: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    peak_rss_kb: int = 0
    parked_growth_kb: int | None = None
    parked: int = 0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def ups(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


def services_reachable() -> bool:
    import socket

    for url in (make_url(POSTGRES_ADMIN), make_url(REDIS_URL)):
        try:
            with socket.create_connection((url.host or "127.0.0.1", url.port or 0), timeout=1):
                pass
        except OSError:
            return False
    return True


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """The bot (or the baseline) in its own process, serving webhooks on a free port."""

    def __init__(self, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.command = command
        self.env = env
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> BotProcess:
        log = (self.workdir / "bot.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *self.command, cwd=self.workdir, env=self.env, stdout=log, stderr=log
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


async def wait_for_webhook(tg: TelegramStandIn, bot: BotProcess) -> None:
    async with asyncio.timeout(90):
        while tg.webhook_url is None:
            assert bot.process is not None
            if bot.process.returncode is not None:
                raise RuntimeError((bot.workdir / "bot.log").read_text()[-3000:])
            await asyncio.sleep(0.05)


async def quiet(tg: TelegramStandIn, seconds: float = 1.0, limit: float = 120.0) -> None:
    """Until the bot has made no Bot API call for `seconds` (its outbox is drained)."""
    deadline = time.monotonic() + limit
    calls = -1
    while calls != len(tg.calls) and time.monotonic() < deadline:
        calls = len(tg.calls)
        await asyncio.sleep(seconds)


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

    async def one(user: FakeUser) -> None:
        async with gate:
            for step in steps:
                if think is not None:
                    await asyncio.sleep(pace.uniform(*think))
                started = time.perf_counter()
                try:
                    delivery = await step(tg, user)
                except Exception:
                    result.errors += 1
                    return
                result.latencies.append(time.perf_counter() - started)
                result.updates += 1
                if getattr(delivery, "status", 200) != 200:
                    result.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(user) for user in users))
    result.seconds += time.perf_counter() - started


def bot_env(port: int, tg: TelegramStandIn, workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "VIBER_", "DATABASE_", "REDIS_", "WEB"))
    }
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": tg.base_url,
            "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
            "WEBHOOK_SECRET": SECRET,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "STAFF_CHAT_ID": str(STAFF_CHAT),
            "MEDIA_DIR": str(workdir / "media"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            # High limits: the benchmark measures the bot, not Telegram's per-chat pacing.
            "TELEGRAM_RATE_CHAT_PER_SECOND": "100000",
            "TELEGRAM_RATE_GROUP_PER_MINUTE": "6000000",
            "TELEGRAM_RATE_GLOBAL_PER_SECOND": "100000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


async def migrate(env: dict[str, str], workdir: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "storage.migrate",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    if await process.wait() != 0:
        raise RuntimeError("migrations failed")


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
) -> Result:
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
                    result.parked = parked
                    result.parked_growth_kb = tree_memory_kb(bot.pid, "VmRSS") - before
                    result.peak_rss_kb = max(result.peak_rss_kb, tree_memory_kb(bot.pid, "VmHWM"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


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


async def postgres_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    url = make_url(POSTGRES_ADMIN).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False), drop


async def redis_cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


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


def table(results: list[Result], baseline: Result) -> str:
    lines = [
        "| run | updates/s | × baseline | appeals/s | p50 ms | p95 ms | p99 ms | errors "
        "| peak RSS MiB | growth per parked resident |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in [baseline, *results]:
        growth = (
            f"{r.parked_growth_kb * 1024 / r.parked:.0f} B ({r.parked} parked)"
            if r.parked_growth_kb is not None and r.parked
            else "—"
        )
        lines.append(
            f"| {r.name} | {r.ups:.0f} | {r.ups / baseline.ups:.2f} | "
            f"{r.appeals / r.seconds if r.seconds else 0:.1f} | {r.pct(0.5):.1f} | "
            f"{r.pct(0.95):.1f} | {r.pct(0.99):.1f} | {r.errors} | "
            f"{r.peak_rss_kb / 1024:.0f} | {growth} |"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    python = sys.executable
    real_bot = [python, str(PROJECT_ROOT / "main.py")]
    print(
        f"{args.residents} residents at once, {len(DIALOG)} updates each; "
        f"{args.parked} parked mid-dialog afterwards",
        flush=True,
    )
    baseline = Result("baseline: skipped", updates=1, seconds=1.0)
    if not args.only_bot:
        baseline = await run_scenario(
            "baseline: bare aiogram, one reply per update",
            [python, "-m", "bench.baseline"],
            {"PYTHONPATH": str(PROJECT_ROOT)},
            args.residents,
            0,
            args.residents,
            needs_migrations=False,
        )
    typing = [Result("this bot, SQLite")]
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
        )
    ]
    if not args.no_postgres and not services_reachable():
        print("PostgreSQL or Redis is unreachable: the PostgreSQL + Redis runs are left out")
        args.no_postgres = True
    if not args.no_postgres:
        for workers in (1, 2):
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
                    )
                )
            finally:
                await drop()
                await redis_cleanup(prefix)
    print()
    print(table(results, baseline))
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
    from bench.staff_burst import report, staff_burst

    burst = await staff_burst()
    print(report(burst))
    from bench import flood

    flooded = await flood.flood()
    print(flood.report(flooded))
    errors = sum(r.errors for r in [*results, *typing]) + burst.errors + flooded.errors
    return 1 if errors else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--parked", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--only-bot", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--profile", type=Path, help="py-spy collapsed stacks of the SQLite run, written here"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
