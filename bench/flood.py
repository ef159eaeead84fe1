"""A flooding user and another resident meanwhile, under the bot's default limits.

One user sends 500 messages as fast as the webhook takes them (40 at a time, Telegram's
default number of webhook connections); meanwhile another resident, registered before,
sends a message every 1.2 s (a person's pace, and the chat's own budget of one message a
second refills in between, so the figure is the flood's effect, not that resident's pacing).
The figure is that resident's reply latency: from sending the update to the reply arriving
at the stand-in (target under 1 s).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.limited import bot_at_telegram_limits
from standins.telegram import FakeUser, TelegramStandIn

TARGET_S = 1.0


@dataclass(frozen=True)
class FloodResult:
    flood_messages: int
    flood_seconds: float
    flooder_replies: int
    latencies: list[float]
    errors: int


async def flood(messages: int = 500, connections: int = 40, samples: int = 15) -> FloodResult:
    errors = 0
    async with bot_at_telegram_limits("bench-flood-", staff_members=[1]) as tg:
        flooder = tg.user(700_001, language_code="en")
        resident = tg.user(700_002, language_code="en")
        await tg.send_text(resident, "/start")
        await tg.send_contact(resident, "+380501112233")
        await asyncio.sleep(2.0)  # the resident's chat budget refills
        gate = asyncio.Semaphore(connections)

        flood_done: list[float] = []

        async def one(n: int) -> int:
            async with gate:
                delivery = await tg.send_text(flooder, f"spam {n}")
                flood_done.append(time.monotonic())
                return int(getattr(delivery, "status", 200))

        async def resident_meanwhile() -> list[float]:
            latencies: list[float] = []
            await asyncio.sleep(0.2)  # the flood is under way
            for _ in range(samples):
                before = len(tg.messages(resident.id))
                started = time.monotonic()
                await tg.send_text(resident, "/start")
                await tg.wait_for_messages(resident.id, before + 1, timeout=60)
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(1.2)
            return latencies

        started = time.monotonic()
        flooding = asyncio.gather(*(one(n) for n in range(messages)))
        latencies = await resident_meanwhile()
        statuses = await flooding
        flood_seconds = max(flood_done) - started
        errors += sum(1 for status in statuses if status != 200)
        return FloodResult(
            messages,
            flood_seconds,
            len(_bot_messages(tg, flooder)),
            sorted(latencies),
            errors,
        )


def _bot_messages(tg: TelegramStandIn, user: FakeUser) -> list[object]:
    return list(tg.messages(user.id))


def report(result: FloodResult) -> str:
    lat = result.latencies
    p50 = lat[len(lat) // 2] if lat else float("nan")
    worst = lat[-1] if lat else float("nan")
    return (
        f"flood, bot's default limits: one user sent {result.flood_messages} messages in "
        f"{result.flood_seconds:.1f} s (got {result.flooder_replies} replies); another "
        f"resident's reply meanwhile: p50 {p50:.2f} s, worst {worst:.2f} s of {len(lat)} "
        f"(target under {TARGET_S:.0f} s); errors: {result.errors}"
    )


if __name__ == "__main__":
    print(report(asyncio.run(flood())))
