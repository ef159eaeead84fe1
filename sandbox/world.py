"""The sandbox's world: the Telegram and Viber stand-ins, the people in them, and the real
bot in webhook mode against them on a database of its own. Every action a person takes goes
through `Sandbox.perform`, which the page and transcript replays both use."""

from __future__ import annotations

import asyncio
import shutil
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.app import Application, build_application, prepare, serving
from bot.config import Settings
from sandbox.clock import SandboxClock
from sandbox.samples import sample_png
from sandbox.transcript import Recorder, chat_lines
from standins._common import Signal
from standins.ports import free_port
from standins.telegram import FakeChat, FakeUser, TelegramStandIn
from standins.viber import ViberStandIn, ViberUser
from storage.migrate import upgrade

TOKEN = "158080:sandbox-token"
VIBER_TOKEN = "sandbox-viber-token"
STAFF_CHAT = -1001580
WEBHOOK_SECRET = "sandbox-webhook-secret"
SETTLE_SECONDS = 15.0


ACTIONS = frozenset(
    {
        "clock",
        "tg.text",
        "tg.press",
        "tg.contact",
        "tg.location",
        "tg.photo",
        "tg.album",
        "tg.video",
        "viber.open",
        "viber.text",
        "viber.press",
        "viber.contact",
        "viber.location",
        "viber.photo",
        "viber.video",
    }
)


class ActionError(ValueError):
    """What a person tried cannot happen (Telegram or Viber would not let them)."""


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    user_id: int
    name: str
    role: str


RESIDENT = Person("resident", 1001, "Olena", "resident")
OPERATORS = (Person("oksana", 900, "Oksana", "operator"), Person("petro", 901, "Petro", "operator"))
STRANGER = Person("stranger", 902, "Stranger", "stranger")
PEOPLE = (RESIDENT, *OPERATORS, STRANGER)


def bot_settings(
    base: Settings, data_dir: Path, tg: TelegramStandIn, viber: ViberStandIn
) -> Settings:
    """The bot's own settings in the sandbox: the stand-ins, a database of its own, one worker."""
    port = free_port()
    return base.model_copy(
        update={
            "telegram_bot_token": SecretStr(TOKEN),
            "telegram_api_url": tg.base_url,
            "staff_chat_id": STAFF_CHAT,
            "viber_auth_token": SecretStr(VIBER_TOKEN),
            "viber_api_url": viber.base_url,
            # Residents' pictures come from the Viber stand-in's media server.
            "viber_media_hosts": (viber.base_url,),
            "database_url": f"sqlite+aiosqlite:///{data_dir / 'sandbox.db'}",
            "redis_url": None,
            "media_dir": data_dir / "media",
            "webhook_base_url": f"http://127.0.0.1:{port}",
            "webhook_secret": SecretStr(WEBHOOK_SECRET),
            "web_host": "127.0.0.1",
            "web_port": port,
            "web_workers": 1,
            "outbox_poll_seconds": 0.1,
            "outbox_backoff_seconds": 0.2,
            # One person clicks; Telegram's group limit would only make the page wait.
            "telegram_rate_chat_per_second": 100.0,
            "telegram_rate_group_per_minute": 6000.0,
            "telegram_rate_global_per_second": 100.0,
        }
    )


class Sandbox:
    """Start, reset and play the world; `changed` wakes the page's live view."""

    def __init__(
        self, settings: Settings, data_dir: Path, clock: SandboxClock | None = None
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.clock = clock or SandboxClock()
        self.recorder = Recorder()
        self.generation = 0
        self._lock = asyncio.Lock()
        self._tg: TelegramStandIn | None = None
        self._viber: ViberStandIn | None = None
        self._app: Application | None = None
        self._serving: AbstractAsyncContextManager[web.AppRunner] | None = None
        self.viber_user: ViberUser | None = None
        self.ready = False
        self.changed = Signal()
        """Notified after every action and reset (the clock moves without messages)."""

    # ------------------------------------------------------------------ lifecycle

    @property
    def tg(self) -> TelegramStandIn:
        assert self._tg is not None, "the sandbox is not running"
        return self._tg

    @property
    def viber(self) -> ViberStandIn:
        assert self._viber is not None, "the sandbox is not running"
        return self._viber

    @property
    def app(self) -> Application:
        assert self._app is not None, "the sandbox is not running"
        return self._app

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._tg = TelegramStandIn(TOKEN, bot_username="city1580_sandbox_bot")
        await self._tg.start()
        self._viber = ViberStandIn(VIBER_TOKEN)
        await self._viber.start()
        for person in PEOPLE:
            self._tg.user(person.user_id, first_name=person.name, language_code="uk")
        # A forum, so that the bot opens a topic per category as it does in a real one.
        self._tg.group(
            STAFF_CHAT,
            title="15-80 operators",
            is_forum=True,
            members=[p.user_id for p in OPERATORS],
        )
        self.viber_user = self._viber.user(name="Taras", language="uk")
        app = build_application(
            bot_settings(self.settings, self.data_dir, self._tg, self._viber), clock=self.clock
        )
        self._app = app
        await upgrade(app.engine)
        await prepare(app)
        self._serving = serving(app, "127.0.0.1", app.settings.web_port)
        await self._serving.__aenter__()
        app.start_background()
        self.recorder.start(self.clock())
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self._serving is not None:
            await self._serving.__aexit__(None, None, None)
            self._serving = None
        if self._app is not None:
            await self._app.close()
            self._app = None
        for server in (self._viber, self._tg):
            if server is not None:
                await server.stop()
        self._tg = self._viber = None

    async def reset(self) -> None:
        """Everything back to an empty city: a new database, new chats, the clock at now."""
        async with self._lock:
            await self.stop()
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.clock.offset = timedelta()
            await self.start()
            self.generation += 1
        self.changed.notify()

    async def settle(self) -> None:
        """Wait until the bot has sent everything it queued."""
        await self.app.sender.wait_idle(SETTLE_SECONDS)

    # --------------------------------------------------------------------- acting

    def person(self, key: str) -> FakeUser:
        for person in PEOPLE:
            if person.key == key:
                return FakeUser(person.user_id, person.name, "uk")
        raise ActionError(f"nobody called {key!r} here")

    def staff_chat(self) -> FakeChat:
        return self.tg.chat(STAFF_CHAT)

    def views(self) -> dict[str, list[str]]:
        """Every chat as lines of text, for transcripts."""
        assert self.viber_user is not None
        return chat_lines(self.tg, [RESIDENT.user_id, STAFF_CHAT], self.viber, self.viber_user)

    async def perform(
        self, action: dict[str, Any], *, at: datetime | None = None
    ) -> dict[str, Any]:
        """Do one person's action, wait until the bot has answered, record it."""
        async with self._lock:
            moment = at or self.clock()
            self.clock.pinned = moment
            before = self.views()
            try:
                try:
                    result = await self._dispatch(action)
                except ValueError as exc:  # the stand-ins refuse what the messenger would not
                    raise ActionError(str(exc)) from exc
                await self.settle()
                self.recorder.record(moment, action, result, before, self.views())
            finally:
                if at is None:
                    self.clock.pinned = None
                self.changed.notify()
            return result

    async def _dispatch(self, action: dict[str, Any]) -> dict[str, Any]:
        kind = str(action.get("do", ""))
        if kind not in ACTIONS:
            raise ActionError(f"unknown action {kind!r}; known: {', '.join(sorted(ACTIONS))}")
        if kind == "clock":
            hours = float(action["hours"])
            self.clock.advance(timedelta(hours=hours))
            ticked = await self.app.maintenance.tick()
            return {"reminded": len(ticked.reminded), "closed": len(ticked.closed)}
        if kind.startswith("tg."):
            return await self._telegram(kind, action)
        if kind.startswith("viber."):
            return await self._viber_action(kind, action)
        raise ActionError(f"unknown action {kind!r}")

    async def _telegram(self, kind: str, action: dict[str, Any]) -> dict[str, Any]:
        tg = self.tg
        user = self.person(str(action["as"]))
        chat_id = int(action.get("chat", user.id))
        chat = None if chat_id == user.id else tg.chat(chat_id)
        reply_to = action.get("reply_to")
        reply = int(reply_to) if reply_to else None
        if chat is not None and user.id not in chat.members and kind != "tg.press":
            raise ActionError(
                f"Telegram lets only members write in the staff group; {user.first_name} is not one"
            )
        if kind == "tg.text":
            thread = int(action["thread"]) if action.get("thread") else None
            await tg.send_text(
                user, str(action["text"]), chat=chat, reply_to=reply, thread_id=thread
            )
        elif kind == "tg.press":
            message = next(
                (m for m in tg.messages(chat_id) if m.message_id == int(action["message"])), None
            )
            if message is None:
                raise ActionError("that message is gone")
            data = self._button_data(message.reply_markup, action)
            # A stranger presses a card they saw (say, forwarded): the bot must refuse them.
            member = chat is None or user.id in chat.members
            delivery = await tg.press_button(user, message, data, check=member)
            answer = await tg.wait_for_callback_answer(delivery, timeout=SETTLE_SECONDS)
            return {"answer": {"text": answer.get("text"), "alert": bool(answer.get("show_alert"))}}
        elif kind == "tg.contact":
            await tg.send_contact(user, str(action.get("phone") or "+380501234567"))
        elif kind == "tg.location":
            await tg.send_location(user, float(action["lat"]), float(action["lon"]), chat=chat)
        elif kind == "tg.photo":
            picture = sample_png(str(action["sample"]))
            caption = action.get("caption") or None
            await tg.send_photo(user, chat=chat, reply_to=reply, caption=caption, data=picture)
        elif kind == "tg.album":
            # Sent one after another, as the updates of an album arrive from Telegram.
            picture = sample_png(str(action["sample"]))
            count = max(2, min(int(action.get("count", 2)), 10))
            await tg.send_album(user, ["photo"] * count, chat=chat, data=picture)
        elif kind == "tg.video":
            await tg.send_video(user, chat=chat, reply_to=reply)
        else:
            raise ActionError(f"unknown action {kind!r}")
        return {}

    @staticmethod
    def _button_data(markup: dict[str, Any] | None, action: dict[str, Any]) -> str:
        """The pressed button's data. The press is recorded by place too ("button": [row,
        column]), which a replay goes by: some buttons carry a token that differs each time."""
        rows = (markup or {}).get("inline_keyboard") or []
        data = str(action["data"])
        for r, row in enumerate(rows):
            for c, button in enumerate(row):
                if button.get("callback_data") == data:
                    action["button"] = [r, c]
                    return data
        place = action.get("button")
        if isinstance(place, list) and len(place) == 2:
            r, c = int(place[0]), int(place[1])
            if r < len(rows) and c < len(rows[r]) and "callback_data" in rows[r][c]:
                return str(rows[r][c]["callback_data"])
        return data

    async def _viber_action(self, kind: str, action: dict[str, Any]) -> dict[str, Any]:
        viber, user = self.viber, self.viber_user
        assert user is not None
        if kind == "viber.open":
            await viber.open_conversation(user)
        elif kind == "viber.text":
            await viber.send_text(user, str(action["text"]))
        elif kind == "viber.press":
            await viber.press(user, str(action["body"]))
        elif kind == "viber.contact":
            await viber.send_contact(user)
        elif kind == "viber.location":
            await viber.send_location(user, float(action["lat"]), float(action["lon"]))
        elif kind == "viber.photo":
            name = str(action["sample"])
            media = viber.media(f"{name}.png", sample_png(name), content_type="image/png")
            await viber.send_picture(user, media=media)
        elif kind == "viber.video":
            await viber.send_video(user)
        else:
            raise ActionError(f"unknown action {kind!r}")
        return {}
