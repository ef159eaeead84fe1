"""The people of the end-to-end tests, with the same verbs on every channel: a resident in
Telegram, a resident in Viber, an operator in the staff chat.

A resident writes (`say`), taps (`press`, by action id), shares a phone or a location, sends a
photo or a sticker, and reads what the bot answered since they last looked (`new`); `catch_up`
marks everything so far as read, `last_reply` is the bot's latest message to them. Each verb
returns what the bot answered to it. Only public helpers of the stand-ins are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from standins.telegram import FakeUser, SentMessage, TelegramStandIn
from standins.viber import SentMessage as ViberMessage
from standins.viber import ViberStandIn, ViberUser

if TYPE_CHECKING:
    from tests.e2e.conftest import RunningBot

STAFF_CHAT = -1001580


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(m.text or "" for m in messages)


def buttons(messages: list[SentMessage]) -> set[str]:
    return {data for m in messages for _, data in m.buttons()}


class Resident:
    """A resident in Telegram: writes, taps, and reads what the bot answered."""

    def __init__(self, tg: TelegramStandIn, user: FakeUser) -> None:
        self.tg = tg
        self.user = user
        self._seen = 0

    @property
    def chat_id(self) -> int:
        return self.user.id

    def new(self) -> list[SentMessage]:
        """The bot's messages since the resident last looked."""
        messages = self.tg.messages(self.chat_id)
        fresh = messages[self._seen :]
        self._seen = len(messages)
        return fresh

    def catch_up(self) -> None:
        """Everything so far is read: `new` starts after it."""
        self._seen = len(self.tg.messages(self.chat_id))

    def last_reply(self) -> SentMessage:
        return self.tg.last_message(self.chat_id)

    async def say(self, text: str) -> list[SentMessage]:
        delivery = await self.tg.send_text(self.user, text)
        assert delivery.status == 200
        return self.new()

    async def press(self, data: str) -> list[SentMessage]:
        """Tap the newest button carrying this action id."""
        for message in reversed(self.tg.messages(self.chat_id)):
            if data in {d for _, d in message.buttons()}:
                before = (message.text, message.reply_markup)
                delivery = await self.tg.press_button(self.user, message, data)
                assert delivery.status == 200
                fresh = self.new()
                # The bot answers a press on its own screens by editing that message.
                if (message.text, message.reply_markup) != before and message not in fresh:
                    return [message, *fresh]
                return fresh
        raise AssertionError(f"no button {data!r} in chat {self.chat_id}")

    async def share_phone(self, phone: str = "+380501234567") -> list[SentMessage]:
        await self.tg.send_contact(self.user, phone)
        return self.new()

    async def send_location(self, lat: float, lon: float) -> list[SentMessage]:
        await self.tg.send_location(self.user, lat, lon)
        return self.new()

    async def send_photo(self) -> list[SentMessage]:
        await self.tg.send_photo(self.user)
        return self.new()

    async def send_sticker(self) -> list[SentMessage]:
        await self.tg.send_sticker(self.user)
        return self.new()

    async def register(self) -> None:
        await self.say("/start")
        await self.share_phone()


class ViberResident:
    """A resident in Viber, with the Telegram resident's verbs; answers come as text."""

    def __init__(self, viber: ViberStandIn, user: ViberUser) -> None:
        self.viber = viber
        self.user = user
        self._seen = 0

    def new(self) -> str:
        """The text of the bot's messages since the resident last looked."""
        messages = self.viber.messages(self.user)
        fresh = messages[self._seen :]
        self._seen = len(messages)
        return "\n".join(m.text or "" for m in fresh)

    def catch_up(self) -> None:
        self._seen = len(self.viber.messages(self.user))

    def last_reply(self) -> ViberMessage:
        return self.viber.last_message(self.user)

    async def say(self, text: str) -> str:
        delivery = await self.viber.send_text(self.user, text)
        assert delivery.status == 200
        return self.new()

    async def press(self, body: str) -> str:
        """Tap the button whose ActionBody is `body` (an action id, or "share-phone")."""
        delivery = await self.viber.press(self.user, body)
        assert delivery.status == 200
        return self.new()

    async def share_phone(self, phone: str | None = None) -> str:
        delivery = await self.viber.send_contact(self.user, phone)
        assert delivery.status == 200
        return self.new()

    async def send_location(self, lat: float, lon: float) -> str:
        delivery = await self.viber.send_location(self.user, lat, lon)
        assert delivery.status == 200
        return self.new()

    async def send_photo(self) -> str:
        photo = self.viber.media("photo.jpg", b"\xff\xd8" + b"jpeg" * 500)
        delivery = await self.viber.send_picture(self.user, media=photo)
        assert delivery.status == 200
        return self.new()

    async def send_sticker(self) -> str:
        delivery = await self.viber.send_sticker(self.user)
        assert delivery.status == 200
        return self.new()

    async def register(self) -> None:
        await self.viber.open_conversation(self.user)
        await self.press("/start")
        await self.press("share-phone")


class Operator:
    """An operator in the staff chat: presses a card's buttons, replies to cards and to the
    bot's prompts, confirms; each verb waits until the bot has delivered what it queued."""

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

    def last_reply(self) -> SentMessage:
        return self.last_from_bot()

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
