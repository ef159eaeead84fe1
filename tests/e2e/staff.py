"""The operators' side of the end-to-end tests: an operator in the staff chat, filing an
appeal to work on, and reading the staff chat."""

from __future__ import annotations

from sqlalchemy import select

from standins.telegram import FakeChat, FakeUser, SentMessage, TelegramStandIn
from storage.models import Appeal
from tests.e2e.conftest import STAFF_CHAT, Resident, RunningBot, texts

LUTSK = (50.7472, 25.3254)


class Operator:
    def __init__(self, tg: TelegramStandIn, user: FakeUser, running: RunningBot) -> None:
        self.tg = tg
        self.user = user
        self.running = running

    def card(self, number: str) -> SentMessage:
        for message in reversed(self.tg.messages(STAFF_CHAT)):
            if message.text and message.text.split(" · ")[0].endswith(number) and message.buttons():
                return message
        raise AssertionError(f"no card for {number}")

    async def press(self, number: str, data: str) -> dict[str, object]:
        delivery = await self.tg.press_button(self.user, self.card(number), data)
        assert delivery.status == 200
        answer = await self.tg.wait_for_callback_answer(delivery)
        await self.running.settle()
        return answer

    async def reply(self, number: str, text: str) -> None:
        await self.tg.send_text(
            self.user, text, chat=self.tg.chat(STAFF_CHAT), reply_to=self.card(number)
        )
        await self.running.settle()

    async def reply_photo(self, number: str, caption: str | None = None) -> None:
        await self.tg.send_photo(
            self.user, caption=caption, chat=self.tg.chat(STAFF_CHAT), reply_to=self.card(number)
        )
        await self.running.settle()

    async def say(self, text: str) -> None:
        await self.tg.send_text(self.user, text, chat=self.tg.chat(STAFF_CHAT))
        await self.running.settle()

    def last_from_bot(self) -> SentMessage:
        return self.tg.messages(STAFF_CHAT)[-1]

    async def answer(self, text: str) -> None:
        """Reply to the bot's newest message in the staff chat (its prompt)."""
        await self.tg.send_text(
            self.user, text, chat=self.tg.chat(STAFF_CHAT), reply_to=self.last_from_bot()
        )
        await self.running.settle()

    def confirmation(self) -> SentMessage:
        for message in reversed(self.tg.messages(STAFF_CHAT)):
            if any(data.startswith("s_ok:") for _, data in message.buttons()):
                return message
        raise AssertionError("no confirmation in the staff chat")

    async def confirm(self, *, drop: bool = False) -> dict[str, object]:
        message = self.confirmation()
        wanted = "s_no:" if drop else "s_ok:"
        data = next(d for _, d in message.buttons() if d.startswith(wanted))
        delivery = await self.tg.press_button(self.user, message, data)
        answer = await self.tg.wait_for_callback_answer(delivery)
        await self.running.settle()
        return answer


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
    resident._seen = len(resident.tg.messages(resident.chat_id))
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
