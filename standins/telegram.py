"""A stand-in Telegram Bot API server for running the real bot against simulated people.

:class:`TelegramStandIn` is an ``aiohttp.web`` server speaking the Bot API wire
protocol closely enough that an unmodified aiogram ``Bot`` works against it::

    async with TelegramStandIn() as telegram:
        session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.base_url))
        bot = Bot(telegram.token, session=session)
        resident = telegram.user(1001, first_name="Olena")
        await telegram.send_text(resident, "/start")
        [greeting] = await telegram.wait_for_messages(resident.id, 1)

Both delivery modes work: long polling (``getUpdates``) and webhooks (``setWebhook``
makes every delivery an HTTP POST to the bot). The server validates requests like
Telegram and answers with Telegram's error wording, keeps a per-chat transcript of what
the bot sent (edits and deletions applied), records every call, and can inject faults
(rate limits, server errors, blocked users).

Deliberate simplifications: no inline mode, Markdown parse modes are accepted but not
rendered (HTML is parsed and validated like Telegram does), files sent by URL are not
downloaded, and there is no privacy mode in groups (the bot is an admin and sees all).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import ClientError, ClientResponse, ClientSession, ClientTimeout, MultipartReader, web

from standins._common import Served, Signal
from standins._telegram_html import utf16_len
from standins._telegram_methods import Answer, BotApiMethods
from standins._telegram_model import ApiCall, Delivery, FakeChat, FakeUser, SentMessage
from standins._telegram_state import ChatState, QueuedUpdate, StandInState, StoredMessage
from standins._telegram_wire import (
    ApiError,
    Upload,
    decode_params,
    describe,
    error_payload,
    read_multipart,
    read_request,
)

__all__ = [
    "ApiCall",
    "Delivery",
    "FakeChat",
    "FakeUser",
    "Hold",
    "SentMessage",
    "TelegramStandIn",
]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram accepts uploads up to 50 MB; leave room for the rest of the form.
_MAX_REQUEST_SIZE = 60 * 1024 * 1024
_FAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Hold:
    """Calls of one method wait until :meth:`release` (Telegram answering slowly);
    ``entered`` is set once the first held call has arrived."""

    entered: asyncio.Event
    released: asyncio.Event

    def release(self) -> None:
        self.released.set()


@dataclass(frozen=True)
class _Fault:
    status: int
    description: str
    retry_after: int | None


class TelegramStandIn(Served):
    """A Telegram Bot API server with simulated users and groups.

    Run it on the same event loop as the bot under test (``async with`` or
    :meth:`start`/:meth:`stop`), point aiogram at :attr:`base_url`, then play people
    with ``send_*``/:meth:`press_button` and read what the bot did with
    :meth:`messages`, :meth:`calls_of` and friends.
    """

    def __init__(
        self,
        token: str = "123456:stand-in-token",
        *,
        bot_username: str = "city1580_bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Configure (but do not start) the server; ``port=0`` picks a free port."""
        bot_id, separator, _secret = token.partition(":")
        if not separator or not bot_id.isdigit():
            msg = f"a bot token looks like '<bot id>:<secret>', got {token!r}"
            raise ValueError(msg)
        self.token = token
        self.bot_username = bot_username
        self.host = host
        self.port = port
        self.base_url = ""
        """``http://host:port`` once started, for ``TelegramAPIServer.from_base``."""
        self.calls: list[ApiCall] = []
        """Every Bot API request, in order of completion."""
        self.webhook_timeout = 60.0
        """Seconds to wait for the bot's webhook to answer one update."""
        self._state = StandInState(token, bot_username)
        self.bot_id = self._state.bot_id
        self._methods = BotApiMethods(self._state)
        self._faults: dict[str, deque[_Fault]] = {}
        self._holds: dict[str, Hold] = {}
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving; afterwards :attr:`base_url` and :attr:`port` are set."""
        if self._runner is not None:
            msg = "the stand-in is already running"
            raise RuntimeError(msg)
        self._state.closing = False
        app = web.Application(client_max_size=_MAX_REQUEST_SIZE)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a bot that gives up a long poll (e.g. stop_polling) must
        # not leave a getUpdates behind that would swallow the next update.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.port = int(port)
        self.base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self._http = ClientSession()
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; pending long polls return empty and waiters are released."""
        self._state.closing = True
        self._state.changed.notify()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------- configuration

    @property
    def changed(self) -> Signal:
        """Notified on every change of chats, messages and answers (for live viewers)."""
        return self._state.changed

    @property
    def blocked_users(self) -> set[int]:
        """Users who blocked the bot: sends to their private chats answer 403."""
        return self._state.blocked_users

    @blocked_users.setter
    def blocked_users(self, user_ids: Iterable[int]) -> None:
        self._state.blocked_users.clear()
        self._state.blocked_users.update(user_ids)

    @property
    def webhook_url(self) -> str | None:
        """The URL from the bot's ``setWebhook``, or ``None`` in polling mode."""
        return self._state.webhook.url if self._state.webhook else None

    @property
    def webhook_secret(self) -> str | None:
        """The ``secret_token`` from the bot's ``setWebhook``, if any."""
        return self._state.webhook.secret if self._state.webhook else None

    @property
    def allowed_updates(self) -> list[str] | None:
        """The update types the bot asked for (``None``: Telegram's default set)."""
        return self._state.allowed_updates

    @property
    def callback_answers(self) -> dict[str, dict[str, Any]]:
        """``answerCallbackQuery`` answers by query id: text, show_alert, url, cache_time."""
        return self._state.callback_answers

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status``.

        429 always carries ``parameters.retry_after`` (default 1 s) as Telegram's does;
        descriptions default to Telegram's (403 is "bot was blocked by the user").
        """
        entry = self._methods.lookup(method)
        if entry is None:
            msg = f"the stand-in does not serve {method!r}"
            raise ValueError(msg)
        if times < 1:
            msg = "times must be at least 1"
            raise ValueError(msg)
        if status == HTTPStatus.TOO_MANY_REQUESTS and retry_after is None:
            retry_after = 1
        if description is None:
            if status == HTTPStatus.TOO_MANY_REQUESTS:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _FAULT_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        queue = self._faults.setdefault(entry[0], deque())
        queue.extend([_Fault(status, description, retry_after)] * times)

    def hold(self, method: str) -> Hold:
        """Make calls of ``method`` wait until the returned hold is released."""
        entry = self._methods.lookup(method)
        if entry is None:
            msg = f"the stand-in does not serve {method!r}"
            raise ValueError(msg)
        hold = Hold(asyncio.Event(), asyncio.Event())
        self._holds[entry[0]] = hold
        return hold

    # ------------------------------------------------------------- HTTP endpoints

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(error_payload(ApiError(401, "Unauthorized")), status=401)
        try:
            raw, uploads = await read_request(request)
        except ApiError as error:
            return web.json_response(error_payload(error), status=error.code)
        status, payload = await self._call(request.match_info["method"], raw, uploads)
        return web.json_response(payload, status=status)

    async def _call(
        self, method: str, raw: dict[str, Any], uploads: dict[str, Upload]
    ) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call, record it, and build the answer."""
        entry = self._methods.lookup(method)
        if entry is None:
            self.calls.append(ApiCall(method, describe(raw), ok=False))
            return 404, error_payload(ApiError(404, "Not Found"))
        name, handler = entry
        params: dict[str, Any] = raw
        try:
            params = decode_params(raw, uploads)
            hold = self._holds.get(name)
            if hold is not None:
                hold.entered.set()
                await hold.released.wait()
            fault = self._next_fault(name)
            if fault is not None:
                raise ApiError(fault.status, fault.description, retry_after=fault.retry_after)
            result = await handler(params)
        except ApiError as error:
            self.calls.append(ApiCall(name, describe(params), ok=False))
            return error.code, error_payload(error)
        self.calls.append(ApiCall(name, describe(params), ok=True))
        if isinstance(result, Answer):
            return 200, {"ok": True, "result": result.result, "description": result.description}
        return 200, {"ok": True, "result": result}

    def _next_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        return queue.popleft() if queue else None

    async def _handle_file(self, request: web.Request) -> web.Response:
        record = self._state.files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or record is None:
            return web.json_response(error_payload(ApiError(404, "Not Found")), status=404)
        return web.Response(body=record.content(), content_type="application/octet-stream")

    # ------------------------------------------------------------- people & chats

    def user(
        self,
        user_id: int,
        *,
        first_name: str = "Resident",
        language_code: str | None = "uk",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        """Create (or update) a simulated user; their private chat id is ``user_id``."""
        if user_id <= 0:
            msg = "user ids are positive"
            raise ValueError(msg)
        return self._state.add_user(
            FakeUser(user_id, first_name, language_code, username, last_name)
        )

    def group(
        self,
        chat_id: int,
        *,
        title: str = "Staff",
        is_forum: bool = False,
        members: Iterable[int] = (),
        admins: Iterable[int] = (),
        username: str | None = None,
    ) -> FakeChat:
        """Create a supergroup with the bot as administrator.

        ``members`` get ``member`` from ``getChatMember`` (ids without a :meth:`user`
        are created with a default name), ``admins`` get ``administrator``; everyone
        else is ``left``.
        """
        if chat_id >= 0:
            msg = "supergroup ids are negative, e.g. -1001234567890"
            raise ValueError(msg)
        chat = FakeChat(
            id=chat_id,
            type="supergroup",
            title=title,
            is_forum=is_forum,
            username=username,
            members=set(members),
            admins=set(admins),
        )
        return self._state.add_group(chat)

    def chat(self, chat_id: int) -> FakeChat:
        """A known chat by id (a user's private chat or a group)."""
        return self._chat_state(chat_id).chat

    def open_topic(self, chat: FakeChat, name: str) -> int:
        """Create a forum topic as a group admin would; returns its ``message_thread_id``."""
        if not chat.is_forum:
            msg = f"chat {chat.id} is not a forum"
            raise ValueError(msg)
        state = self._chat_state(chat.id)
        thread_id = self._state.allocate_message_id(state)
        raw = {
            "message_id": thread_id,
            "from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
            "chat": chat.to_json(),
            "date": self._state.now(),
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "forum_topic_created": {"name": name, "icon_color": 0x6FB9F0},
        }
        chat.topics[thread_id] = name
        self._state.store(state, StoredMessage(raw, service=True))
        return thread_id

    def _chat_state(self, chat_id: int) -> ChatState:
        state = self._state.chats.get(chat_id)
        if state is None:
            msg = f"unknown chat {chat_id}: create it with user() or group() first"
            raise LookupError(msg)
        return state

    # ---------------------------------------------------------- people -> the bot

    def _user_message(
        self,
        user: FakeUser,
        content: dict[str, Any],
        *,
        chat: FakeChat | None,
        reply_to: int | SentMessage | None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """Build and store a message ``user`` writes; returns its JSON."""
        if self._state.users.get(user.id) != user:
            self._state.add_user(user)
        state = self._chat_state(chat.id if chat is not None else user.id)
        target = state.chat
        if target.type == "private" and target.id != user.id:
            msg = f"user {user.id} cannot write into the private chat of {target.id}"
            raise ValueError(msg)
        if target.type != "private" and user.id not in target.members:
            msg = f"user {user.id} is not a member of chat {target.id}; add_member() first"
            raise ValueError(msg)
        if thread_id is not None and thread_id not in target.topics:
            msg = f"chat {target.id} has no topic {thread_id}"
            raise ValueError(msg)
        reply: StoredMessage | None = None
        if reply_to is not None:
            reply_id = reply_to if isinstance(reply_to, int) else reply_to.message_id
            reply = self._state.find_message(target.id, reply_id)
            if reply is None:
                msg = f"chat {target.id} has no message {reply_id} to reply to"
                raise ValueError(msg)
        raw: dict[str, Any] = {
            "message_id": self._state.allocate_message_id(state),
            "from": user.to_json(),
            "chat": target.to_json(),
            "date": self._state.now(),
        }
        self._state.place(state, raw, thread_id=thread_id, reply_to=reply)
        raw.update(content)
        self._state.store(state, StoredMessage(raw))
        return raw

    def _message_update(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": self._state.next_update_id(), "message": message}

    def message_update(
        self, user: FakeUser, content: dict[str, Any], *, chat: FakeChat | None = None
    ) -> dict[str, Any]:
        """An update of a message ``user`` writes, stored as sent but not delivered: for a
        test that delivers (and redelivers) it itself."""
        return self._message_update(self._user_message(user, content, chat=chat, reply_to=None))

    async def send_text(
        self,
        user: FakeUser,
        text: str,
        *,
        chat: FakeChat | None = None,
        reply_to: int | SentMessage | None = None,
        thread_id: int | None = None,
    ) -> Delivery:
        """``user`` writes ``text`` (in their private chat unless ``chat`` is given).

        Text starting with ``/`` carries a ``bot_command`` entity, as Telegram adds one.
        """
        if not text.strip() or len(text) > 4096:
            msg = "Telegram clients send 1-4096 characters of non-blank text"
            raise ValueError(msg)
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        message = self._user_message(
            user, content, chat=chat, reply_to=reply_to, thread_id=thread_id
        )
        return await self.deliver(self._message_update(message))

    async def send_contact(
        self,
        user: FakeUser,
        phone_number: str,
        *,
        contact_user_id: int | Literal["self"] | None = "self",
        first_name: str | None = None,
        chat: FakeChat | None = None,
    ) -> Delivery:
        """``user`` shares a contact: their own by default (as the "share contact" button
        does); pass another ``contact_user_id`` (or ``None``) to forge someone else's."""
        owner_id = user.id if contact_user_id == "self" else contact_user_id
        owner = self._state.users.get(owner_id) if owner_id is not None else None
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or (owner.first_name if owner else "Contact"),
        }
        if owner is not None and owner.last_name:
            contact["last_name"] = owner.last_name
        if owner_id is not None:
            contact["user_id"] = owner_id
        message = self._user_message(user, {"contact": contact}, chat=chat, reply_to=None)
        return await self.deliver(self._message_update(message))

    async def send_location(
        self,
        user: FakeUser,
        latitude: float,
        longitude: float,
        *,
        chat: FakeChat | None = None,
        reply_to: int | SentMessage | None = None,
    ) -> Delivery:
        """``user`` shares a location."""
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        message = self._user_message(user, content, chat=chat, reply_to=reply_to)
        return await self.deliver(self._message_update(message))

    def _with_caption(
        self, content: dict[str, Any], caption: str | None, media_group_id: str | None
    ) -> dict[str, Any]:
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return content

    def _photo_content(
        self, caption: str | None, media_group_id: str | None, data: bytes | None = None
    ) -> dict[str, Any]:
        photo = self._state.register_photo(data)
        return self._with_caption({"photo": photo}, caption, media_group_id)

    def _video_content(self, caption: str | None, media_group_id: str | None) -> dict[str, Any]:
        thumbnail = self._state.register_file(
            "thumbnail", size=3_400, fields={"width": 320, "height": 180}
        )
        video = self._state.register_file(
            "video",
            size=1_850_000,
            fields={
                "width": 1280,
                "height": 720,
                "duration": 7,
                "thumbnail": thumbnail.media,
                "file_name": "video.mp4",
                "mime_type": "video/mp4",
            },
        )
        return self._with_caption({"video": video.media}, caption, media_group_id)

    async def send_photo(
        self,
        user: FakeUser,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        chat: FakeChat | None = None,
        reply_to: int | SentMessage | None = None,
        data: bytes | None = None,
    ) -> Delivery:
        """``user`` sends a photo (three PhotoSizes with fresh file ids); ``data`` is the
        original's bytes (synthesized when not given)."""
        content = self._photo_content(caption, media_group_id, data)
        message = self._user_message(user, content, chat=chat, reply_to=reply_to)
        return await self.deliver(self._message_update(message))

    async def send_video(
        self,
        user: FakeUser,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        chat: FakeChat | None = None,
        reply_to: int | SentMessage | None = None,
    ) -> Delivery:
        """``user`` sends a video."""
        content = self._video_content(caption, media_group_id)
        message = self._user_message(user, content, chat=chat, reply_to=reply_to)
        return await self.deliver(self._message_update(message))

    async def send_document(
        self,
        user: FakeUser,
        *,
        file_name: str = "appeal.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat: FakeChat | None = None,
        reply_to: int | SentMessage | None = None,
    ) -> Delivery:
        """``user`` sends a file."""
        document = self._state.register_file(
            "document", size=24_000, fields={"file_name": file_name, "mime_type": mime_type}
        )
        content = self._with_caption({"document": document.media}, caption, None)
        message = self._user_message(user, content, chat=chat, reply_to=reply_to)
        return await self.deliver(self._message_update(message))

    async def send_voice(
        self,
        user: FakeUser,
        *,
        duration: int = 3,
        chat: FakeChat | None = None,
        reply_to: int | SentMessage | None = None,
    ) -> Delivery:
        """``user`` sends a voice note."""
        voice = self._state.register_file(
            "voice", size=9_000, fields={"duration": duration, "mime_type": "audio/ogg"}
        )
        message = self._user_message(user, {"voice": voice.media}, chat=chat, reply_to=reply_to)
        return await self.deliver(self._message_update(message))

    async def send_sticker(
        self,
        user: FakeUser,
        *,
        emoji: str = "👍",
        chat: FakeChat | None = None,
        reply_to: int | SentMessage | None = None,
    ) -> Delivery:
        """``user`` sends a sticker."""
        sticker = self._state.register_file(
            "sticker",
            size=21_000,
            fields={
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "set_name": "StandInStickers",
            },
        )
        message = self._user_message(user, {"sticker": sticker.media}, chat=chat, reply_to=reply_to)
        return await self.deliver(self._message_update(message))

    async def send_album(
        self,
        user: FakeUser,
        kinds: Sequence[Literal["photo", "video"]],
        *,
        caption: str | None = None,
        concurrently: bool = False,
        chat: FakeChat | None = None,
        data: bytes | None = None,
    ) -> list[Delivery]:
        """``user`` sends an album: one message and one update per item, one media_group_id.

        ``caption`` goes on the first item, as Telegram clients do; ``data`` is the bytes
        of every photo (synthesized when not given). With
        ``concurrently=True`` all updates are released at once (one ``getUpdates``
        batch, or parallel webhook POSTs), which is how albums usually arrive.
        """
        if not kinds:
            msg = "an album needs at least one item"
            raise ValueError(msg)
        group_id = self._state.next_media_group_id()
        updates = []
        for index, kind in enumerate(kinds):
            item_caption = caption if index == 0 else None
            content = (
                self._photo_content(item_caption, group_id, data)
                if kind == "photo"
                else self._video_content(item_caption, group_id)
            )
            message = self._user_message(user, content, chat=chat, reply_to=None)
            updates.append(self._message_update(message))
        if concurrently:
            return await self._deliver_together(updates)
        return [await self.deliver(update) for update in updates]

    async def press_button(
        self,
        user: FakeUser,
        message: SentMessage,
        callback_data: str,
        *,
        check: bool = True,
    ) -> Delivery:
        """``user`` presses an inline button of ``message``: a ``callback_query`` update.

        With ``check=True`` the button must exist on the message's current keyboard
        (and the message must not be deleted); ``check=False`` lets you forge data.
        The bot's answer appears in :attr:`callback_answers` under the query id.
        """
        state = self._chat_state(message.chat_id)
        stored = state.messages.get(message.message_id)
        if check:
            if stored is None or stored.deleted or stored.sent is None:
                msg = f"message {message.message_id} in chat {message.chat_id} is gone"
                raise ValueError(msg)
            buttons = stored.sent.buttons()
            if callback_data not in {data for _, data in buttons}:
                msg = (
                    f"message {message.message_id} has no inline button with callback_data "
                    f"{callback_data!r}; it has {buttons!r}"
                )
                raise ValueError(msg)
            if state.chat.type != "private" and user.id not in state.chat.members:
                msg = f"user {user.id} is not a member of chat {state.chat.id}"
                raise ValueError(msg)
        query_id = self._state.next_query_id()
        self._state.pending_queries[query_id] = user.id
        update = {
            "update_id": self._state.next_update_id(),
            "callback_query": {
                "id": query_id,
                "from": user.to_json(),
                "message": stored.raw if stored is not None else message.raw,
                "chat_instance": self._state.chat_instance(message.chat_id),
                "data": callback_data,
            },
        }
        return await self.deliver(update)

    async def set_membership(
        self, chat: FakeChat, user: FakeUser, *, member: bool, by: FakeUser | None = None
    ) -> Delivery:
        """An admin adds ``user`` to the group or removes them: ``getChatMember`` changes
        and the bot gets a ``chat_member`` update, as Telegram sends to admin bots that
        ask for them in ``allowed_updates``."""
        if self._state.users.get(user.id) != user:
            self._state.add_user(user)
        old = "member" if user.id in chat.members else "left"
        if member:
            chat.add_member(user)
        else:
            chat.remove_member(user)
        actor = by or user
        update = {
            "update_id": self._state.next_update_id(),
            "chat_member": {
                "chat": chat.to_json(),
                "from": actor.to_json(),
                "date": self._state.now(),
                "old_chat_member": {"status": old, "user": user.to_json()},
                "new_chat_member": (
                    {"status": "member", "user": user.to_json()}
                    if member
                    else {"status": "kicked", "user": user.to_json(), "until_date": 0}
                ),
            },
        }
        return await self.deliver(update)

    # ------------------------------------------------------------------- delivery

    async def deliver(
        self,
        update: dict[str, Any],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - a documented convenience; applied via asyncio.timeout
    ) -> Delivery:
        """Deliver a raw update (also to redeliver one the bot already saw).

        Webhook mode: POSTs it and returns the bot's HTTP status. Polling mode: queues
        it and returns once a ``getUpdates`` fetched it (``TimeoutError`` after
        ``timeout`` s if nobody polls). Updates of types outside the bot's
        ``allowed_updates`` are not delivered, as on Telegram (``delivered=False``).
        """
        self._require_running()
        self._state.note_update_id(int(update["update_id"]))
        if not self._state.accepts(update):
            return Delivery(update, None, delivered=False)
        if self._state.webhook is not None:
            return Delivery(update, await self.post_webhook(update))
        entry = self._state.enqueue(update)
        return await self._await_fetch(entry, timeout)

    async def _deliver_together(
        self, updates: list[dict[str, Any]], seconds: float = 10.0
    ) -> list[Delivery]:
        self._require_running()
        accepted = [update for update in updates if self._state.accepts(update)]
        results: list[Delivery]
        if self._state.webhook is not None:
            statuses = await asyncio.gather(*(self.post_webhook(update) for update in accepted))
            results = [Delivery(u, s) for u, s in zip(accepted, statuses, strict=True)]
        else:
            # Queue everything before waiting so a single getUpdates returns the batch.
            entries = [self._state.enqueue(update) for update in accepted]
            results = list(await asyncio.gather(*(self._await_fetch(e, seconds) for e in entries)))
        by_id = {delivery.update_id: delivery for delivery in results}
        return [
            by_id.get(int(update["update_id"]), Delivery(update, None, delivered=False))
            for update in updates
        ]

    async def _await_fetch(self, entry: QueuedUpdate, seconds: float) -> Delivery:
        state = self._state

        def settled() -> bool:
            return entry.fetched or entry.dropped or state.closing or state.webhook is not None

        try:
            await state.changed.wait_for(settled, seconds)
        except TimeoutError:
            msg = (
                f"update {entry.update['update_id']} was not fetched within {seconds} s: "
                "is the bot polling getUpdates?"
            )
            raise TimeoutError(msg) from None
        if entry.fetched:
            return Delivery(entry.update, None)
        if entry.dropped:
            return Delivery(entry.update, None, delivered=False)
        if state.closing:
            msg = "the stand-in stopped before the update was fetched"
            raise RuntimeError(msg)
        # The bot switched to a webhook meanwhile: Telegram now pushes the update there.
        state.queue.remove(entry)
        return Delivery(entry.update, await self.post_webhook(entry.update))

    async def post_webhook(
        self,
        update: dict[str, Any],
        *,
        secret: str | Literal["configured"] | None = "configured",
    ) -> int:
        """POST ``update`` to the bot's webhook and return the HTTP status.

        ``secret`` overrides the ``X-Telegram-Bot-Api-Secret-Token`` header (``None``
        sends none) to test the bot's verification. A method call in a 2xx answer's
        body (aiogram's "reply in webhook response") is executed like Telegram does.
        """
        webhook = self._state.webhook
        if webhook is None:
            msg = "the bot has not set a webhook"
            raise RuntimeError(msg)
        http = self._require_running()
        token = webhook.secret if secret == "configured" else secret
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers[SECRET_HEADER] = token
        try:
            async with http.post(
                webhook.url,
                data=json.dumps(update),
                headers=headers,
                timeout=ClientTimeout(total=self.webhook_timeout),
            ) as response:
                if HTTPStatus.OK <= response.status < HTTPStatus.MULTIPLE_CHOICES:
                    self._state.acked.add(int(update["update_id"]))
                    self._state.changed.notify()
                    await self._run_webhook_reply(response)
                else:
                    webhook.last_error_date = self._state.now()
                    webhook.last_error_message = (
                        f"Wrong response from the webhook: {response.status} {response.reason}"
                    )
                return response.status
        except (ClientError, TimeoutError) as exc:
            webhook.last_error_date = self._state.now()
            webhook.last_error_message = f"Connection failed: {exc}"
            raise

    async def _run_webhook_reply(self, response: ClientResponse) -> None:
        """Execute a Bot API call the bot put into its webhook answer (result discarded)."""
        raw: dict[str, Any]
        uploads: dict[str, Upload] = {}
        if response.content_type.startswith("multipart/"):
            raw, uploads = await read_multipart(MultipartReader(response.headers, response.content))
        elif response.content_type == "application/json":
            body = await response.json()
            if not isinstance(body, dict):
                return
            raw = body
        else:
            return
        method = raw.pop("method", None)
        if isinstance(method, str) and method:
            await self._call(method, raw, uploads)

    async def wait_until_confirmed(
        self,
        update_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a documented convenience; applied via asyncio.timeout
    ) -> None:
        """Wait until the bot confirmed ``update_id``: a ``getUpdates`` with a higher
        offset (polling) or a 2xx webhook answer."""
        await self._state.changed.wait_for(lambda: self._state.is_confirmed(update_id), timeout)

    def _require_running(self) -> ClientSession:
        if self._http is None:
            msg = "the stand-in is not running: call start() or use 'async with'"
            raise RuntimeError(msg)
        return self._http

    # ----------------------------------------------------------------- transcript

    def calls_of(self, method: str) -> list[ApiCall]:
        """Recorded calls of one method (name matched case-insensitively)."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def messages(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent into the chat, oldest first, in the latest state
        (deleted messages stay, flagged ``deleted``)."""
        return self._state.bot_messages(chat_id)

    def last_message(self, chat_id: int) -> SentMessage:
        """The bot's latest message in the chat (``LookupError`` if there is none)."""
        sent = self.messages(chat_id)
        if not sent:
            msg = f"the bot has sent nothing to chat {chat_id}"
            raise LookupError(msg)
        return sent[-1]

    def history(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message of the chat as Message JSON, both sides, deleted ones left out."""
        state = self._chat_state(chat_id)
        return [stored.raw for _, stored in sorted(state.messages.items()) if not stored.deleted]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a documented convenience; applied via asyncio.timeout
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages into the chat."""
        try:
            await self._state.changed.wait_for(
                lambda: len(self.messages(chat_id)) >= count, timeout
            )
        except TimeoutError:
            got = [(m.kind, m.text) for m in self.messages(chat_id)]
            msg = f"chat {chat_id}: expected {count} bot messages within {timeout} s, got {got}"
            raise TimeoutError(msg) from None
        return self.messages(chat_id)

    async def wait_for_callback_answer(
        self,
        query: str | Delivery,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a documented convenience; applied via asyncio.timeout
    ) -> dict[str, Any]:
        """Wait until the bot answered a callback query (by id or the press's Delivery)."""
        query_id = query if isinstance(query, str) else str(query.update["callback_query"]["id"])
        answers = self._state.callback_answers
        try:
            await self._state.changed.wait_for(lambda: query_id in answers, timeout)
        except TimeoutError:
            msg = f"the bot did not answer callback query {query_id} within {timeout} s"
            raise TimeoutError(msg) from None
        return answers[query_id]

    def my_commands(
        self, *, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The command list the bot set for ``scope`` (default scope) and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return list(self._state.commands.get(key, []))

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file (an upload by the bot, or a user's file)."""
        record = self._state.files.get(file_id)
        if record is None:
            msg = f"unknown file_id {file_id!r}"
            raise LookupError(msg)
        return record.content()
