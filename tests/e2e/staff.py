"""The operators' side of the end-to-end tests: filing an appeal to work on, and reading the
staff chat (the operator is in tests.e2e.people)."""

from __future__ import annotations

from sqlalchemy import select

from standins.telegram import FakeChat, TelegramStandIn
from storage.models import Appeal
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, texts

__all__ = ["Operator", "file_appeal", "staff_chat", "staff_texts", "status_of"]

LUTSK = (50.7472, 25.3254)


async def file_appeal(
    resident: Resident, running: RunningBot, category: tuple[str, ...] = ("emergency",)
) -> str:
    await resident.register()
    await resident.press("new")
    await resident.press(f"cat:{category[0]}")
    if category[0] == "emergency":
        await resident.press("urgo")
    if len(category) > 1:
        await resident.press(f"sub:{category[1]}")
    await resident.send_location(*LUTSK)
    await resident.send_photo()
    await resident.press("mdone")
    await resident.say("Water is pouring from under the asphalt near house 7.")
    done = texts(await resident.press("submit"))
    await running.settle()
    number = next(word for word in done.split() if word.startswith("1580-"))
    resident.catch_up()
    return number


def staff_chat(tg: TelegramStandIn) -> FakeChat:
    return tg.chat(STAFF_CHAT)


def staff_texts(tg: TelegramStandIn, since: int = 0) -> str:
    return "\n".join(m.text or "" for m in tg.messages(STAFF_CHAT)[since:])


async def status_of(running: RunningBot, number: str) -> str:
    assert running.app is not None
    async with running.app.uows() as uow:
        query = select(Appeal.status).where(Appeal.number == number)
        return str((await uow.session.execute(query)).scalar_one())
