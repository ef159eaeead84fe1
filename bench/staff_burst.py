"""The staff chat under Telegram's real limits: a burst of appeals and an operator at work.

Eight residents (two photos and a pin each) submit within one second, with the bot's default
limits (1 message a second per chat with a short burst, 20 a minute per group, 30 a second in
all). Measured: how long after its submit each card is in the staff chat, and, while cards are
still queued, how long an operator's «Accept» takes to show on its card. The targets are in
seconds of Telegram's own pacing, so they are absolute rather than ratios.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.harness import LUTSK, STAFF_CHAT
from bench.limited import bot_at_telegram_limits
from standins.telegram import FakeUser, SentMessage, TelegramStandIn

CARD_TARGET_S = 25.0
# How an accepted card's text begins, in any language.
ACCEPTED = "📥"
PRESS_TARGET_S = 2.0


@dataclass(frozen=True)
class BurstResult:
    card_delays: list[float]
    press_delay: float | None
    errors: int


def _card(tg: TelegramStandIn, chat: int, number: str) -> SentMessage | None:
    for message in tg.messages(chat):
        if message.buttons() and (message.text or "").split(" · ")[0].endswith(number):
            return message
    return None


async def staff_burst(appeals: int = 8) -> BurstResult:
    errors = 0
    async with bot_at_telegram_limits("bench-staff-", staff_members=[1]) as tg:
        operator = tg.user(1, first_name="Oksana")
        residents = [tg.user(300_000 + i, language_code="en") for i in range(appeals)]

        async def prepare(user: FakeUser) -> None:
            await tg.send_text(user, "/start")
            await tg.send_contact(user, f"+38050{user.id % 10_000_000:07d}")
            for data in ("new", "cat:other"):
                await tg.press_button(user, tg.last_message(user.id), data, check=False)
            await tg.send_location(user, *LUTSK)
            await tg.send_photo(user)
            await tg.send_photo(user)
            await tg.press_button(user, tg.last_message(user.id), "mdone", check=False)
            await tg.send_text(user, "A water main burst, the street is flooded.")

        await asyncio.gather(*(prepare(user) for user in residents))
        # Everyone at the review step: all submit within one second.
        submitted: dict[int, float] = {}

        async def submit(user: FakeUser) -> None:
            submitted[user.id] = time.monotonic()
            delivery = await tg.press_button(user, tg.last_message(user.id), "submit", check=False)
            if delivery.status != 200:
                raise RuntimeError(f"submit answered {delivery.status}")

        await asyncio.gather(*(submit(user) for user in residents))
        numbers: dict[int, str] = {}
        for user in residents:
            for message in tg.messages(user.id):
                for word in (message.text or "").split():
                    if word.startswith("1580-"):
                        numbers[user.id] = word.rstrip(".,")
        errors += appeals - len(numbers)
        arrived: dict[int, float] = {}
        press_delay: float | None = None
        pressed_at: float | None = None
        deadline = time.monotonic() + 120.0
        while len(arrived) < len(numbers) and time.monotonic() < deadline:
            now = time.monotonic()
            for user_id, number in numbers.items():
                if user_id not in arrived and _card(tg, STAFF_CHAT, number) is not None:
                    arrived[user_id] = now
            if pressed_at is None and arrived and len(arrived) < len(numbers):
                # The first card is out and others are queued: the operator accepts it.
                first = min(arrived, key=arrived.__getitem__)
                card = _card(tg, STAFF_CHAT, numbers[first])
                assert card is not None
                action = next(d for _, d in card.buttons() if d.startswith("s_acc:"))
                pressed_at = time.monotonic()
                await tg.press_button(operator, card, action)
                first_number = numbers[first]
            if pressed_at is not None and press_delay is None:
                card = _card(tg, STAFF_CHAT, first_number)
                if card is not None and (card.text or "").startswith(ACCEPTED):
                    press_delay = time.monotonic() - pressed_at
            await asyncio.sleep(0.05)
        while pressed_at is not None and press_delay is None:
            if time.monotonic() > deadline:
                break
            card = _card(tg, STAFF_CHAT, first_number)
            if card is not None and (card.text or "").startswith(ACCEPTED):
                press_delay = time.monotonic() - pressed_at
            await asyncio.sleep(0.05)
        errors += len(numbers) - len(arrived)
        delays = sorted(arrived[u] - submitted[u] for u in arrived)
        return BurstResult(delays, press_delay, errors)


def report(result: BurstResult) -> str:
    cards = ", ".join(f"{d:.1f}" for d in result.card_delays)
    last = max(result.card_delays) if result.card_delays else float("nan")
    press = "not seen" if result.press_delay is None else f"{result.press_delay:.1f} s"
    return (
        f"staff chat, bot's default limits: {len(result.card_delays)} cards in the chat "
        f"{cards} s after submit (last {last:.1f} s; target {CARD_TARGET_S:.0f} s); an "
        f"operator's «Accept» showed on its card after {press} while cards were queued "
        f"(target {PRESS_TARGET_S:.0f} s); errors: {result.errors}"
    )


if __name__ == "__main__":
    print(report(asyncio.run(staff_burst())))
