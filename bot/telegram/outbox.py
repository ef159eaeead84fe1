"""Delivering outbox rows through the Telegram Bot API: resident pushes, staff-chat messages,
and the staff card (posted once, then edited in place)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.methods import CreateForumTopic, GetChat
from aiogram.types import Message

from bot.api_errors import Outcome
from bot.media import MediaStore
from bot.outbox.sender import (
    Checkpoint,
    CredentialsRefused,
    Gate,
    NotReady,
    PermanentFailure,
    RateLimited,
    RetryLater,
    Then,
)
from bot.redact import Redactor
from bot.telegram.calls import KIND_CALLS, ApiCall, Call, load_calls, method_name
from bot.telegram.delivery import limit_key
from bot.telegram.errors import API_ERRORS, classify
from bot.telegram.render import inline_markup, media_calls, render, too_big
from bot.telegram.session import answer_unread, call_api
from domain.clock import Clock
from domain.dialog.events import Channel, MediaItem
from domain.dialog.replies import Reply
from domain.entities import OutboxItem, StaffView
from domain.i18n import Translator, gettext, ngettext
from domain.kinds import MediaRole
from domain.lifecycle import KIND_CARD, KIND_CARD_EDIT, KIND_REPLIES
from domain.staff import CAPTION_LIMIT, CARD_TEXT_LIMIT, card_buttons, card_text
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)
_ = gettext


def _report(view: StaffView) -> tuple[MediaItem, ...]:
    """The media the resident filed the appeal with: what the card shows."""
    return tuple(MediaItem(m.kind, m.file_ref) for m in view.media if m.role == MediaRole.REPORT)


class MessageGone(Exception):
    """The staff message (or its whole forum topic) was deleted by an admin."""

    def __init__(self, text: str, thread_id: int | None) -> None:
        super().__init__(text)
        self.thread_id = thread_id


class Blocked(PermanentFailure):
    """The chat takes nothing from the bot (blocked, deactivated, kicked): no call to it will
    go through, so a row of several calls stops at the first."""


class AlreadyShown(PermanentFailure):
    """An edit to what the message already shows (e.g. two edits rendered the same text)."""


def _remember(messages: list[Message], appeal_id: int, kind: str) -> Then:
    """Staff-chat messages an operator's reply may answer, so that it finds the appeal."""

    async def remember(uow: UnitOfWork) -> None:
        for message in messages:
            await uow.staff.remember(message.chat.id, message.message_id, appeal_id, kind)

    return remember


class TelegramTransport:
    def __init__(
        self,
        bot: Bot,
        uows: UnitOfWorkFactory,
        translator: Translator,
        clock: Clock,
        *,
        staff_chat_id: int | None,
        staff_locale: str,
        timezone: ZoneInfo,
        media: MediaStore,
    ) -> None:
        self._media = media
        self._bot = bot
        self._uows = uows
        self._translator = translator
        self._clock = clock
        self._staff_chat_id = staff_chat_id
        self._staff_locale = staff_locale
        self._timezone = timezone
        self._staff_is_forum: bool | None = None
        self._redact = Redactor([bot.token])

    def limit_key(self, item: OutboxItem) -> tuple[str, bool]:
        return limit_key(item.chat)

    async def deliver(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        try:
            await self._deliver(item, gate, checkpoint)
        except MessageGone as exc:
            # An admin deleted the forum topic (or the card itself): post the card again.
            await self._recover(item, exc)
            raise NotReady(f"{exc}; the card is posted again") from exc
        except NotReady:
            if await self._card_never_comes(item):
                raise PermanentFailure("the appeal's card was never posted") from None
            raise

    async def _card_never_comes(self, item: OutboxItem) -> bool:
        if item.kind == KIND_CARD or item.appeal_id is None or not self._is_staff(item):
            return False
        async with self._uows() as uow:
            return not await uow.outbox_queue.card_queued(item.appeal_id, item.chat)

    async def _recover(self, item: OutboxItem, gone: MessageGone) -> None:
        assert self._staff_chat_id is not None
        async with self._uows() as uow:
            if gone.thread_id is not None:
                await uow.outbox_queue.forget_topic(self._staff_chat_id, gone.thread_id)
            if item.kind == KIND_CARD:
                await uow.outbox.set_progress(item.id, 0)  # all of it, into the new topic
            elif item.appeal_id is not None:
                await uow.outbox_queue.repost_card(item.appeal_id, item.chat, self._clock())
            await uow.commit()
        logger.warning("outbox %d: %s; posting the card again", item.id, gone)

    async def card_failed(self, item: OutboxItem, error: str, uow: UnitOfWork) -> None:
        """Tell the staff chat that an appeal's card could not be posted, so that no appeal
        goes unseen (the notice names no appeal: it must not wait for that card)."""
        if item.appeal_id is None or self._staff_chat_id is None:
            return
        number = await uow.appeals.number_of(item.appeal_id)
        if number is None:
            return
        with self._translator.use(self._staff_locale):
            text = _(
                "⚠️ The card of appeal {number} could not be posted here ({error}). "
                "See it with /history {number}."
            ).format(number=number, error=error[:200])
        await uow.outbox.add(
            channel=Channel.TELEGRAM,
            chat=str(self._staff_chat_id),
            kind=KIND_REPLIES,
            payload={"replies": [Reply(text).to_data()], "card": None},
            now=self._clock(),
        )

    async def _deliver(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        kinds: dict[str, Callable[[OutboxItem, Gate, Checkpoint], Awaitable[None]]] = {
            KIND_CALLS: self._calls,
            KIND_REPLIES: self._replies,
            KIND_CARD: self._post_card,
            KIND_CARD_EDIT: self._edit_card,
        }
        deliver = kinds.get(item.kind)
        if deliver is None:
            raise PermanentFailure(f"unknown outbox kind {item.kind!r}")
        await deliver(item, gate, checkpoint)

    async def _calls(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        """An update's replies that its worker did not get to send (it crashed, or older rows
        of the chat had to go first). A call Telegram refuses is skipped, as it would have been
        at once (a spinner's answer to a query that is too old by now, an edited message that
        is gone): the rest still goes out."""
        calls = load_calls(item.payload.get("calls"))
        for index in range(item.progress, len(calls)):
            try:
                await self._call(calls[index], gate, read=False)
            except Blocked:
                raise
            except (PermanentFailure, MessageGone) as exc:
                logger.info("outbox %d: %s skipped: %s", item.id, calls[index].method, exc)
            await checkpoint(index + 1)

    async def _call(self, method: Call, gate: Gate, *, read: bool = True) -> Any:
        """One Bot API call, with Telegram's answers sorted into the sender's outcomes. Error
        texts are stored and logged: the token is masked out of them. Unless `read`, the
        answer is not parsed (None is returned): the call goes as its JSON body."""
        await gate()
        unread = answer_unread.set(not read)
        try:
            return await call_api(self._bot, method)
        except API_ERRORS as exc:
            failure = classify(exc)
            text = self._redact(str(exc))
            thread_id = getattr(method, "message_thread_id", None)
            match failure.outcome:
                case Outcome.FLOOD_WAIT:
                    raise RateLimited(failure.retry_after or 1.0) from exc
                case Outcome.RETRY:
                    raise RetryLater(text) from exc
                case Outcome.CREDENTIALS:
                    # The token itself is refused (being rotated, or revoked): no row is at
                    # fault.
                    raise CredentialsRefused(text) from exc
                case Outcome.BLOCKED:
                    raise Blocked(text) from exc
                case Outcome.TOPIC_GONE if isinstance(thread_id, int):
                    raise MessageGone(text, thread_id) from exc
                case Outcome.MESSAGE_GONE:
                    raise MessageGone(text, None) from exc
                case Outcome.NOT_MODIFIED:
                    raise AlreadyShown(text) from exc
                case _:
                    raise PermanentFailure(text) from exc
        finally:
            answer_unread.reset(unread)

    async def _run(
        self,
        item: OutboxItem,
        calls: list[Call],
        gate: Gate,
        checkpoint: Checkpoint,
        appeal_id: int | None = None,
        kind: str = "notice",
    ) -> list[Message]:
        """Make the calls not made yet; remember staff-chat messages so replies find the appeal."""
        sent: list[Message] = []
        for index in range(item.progress, len(calls)):
            result = await self._call(calls[index], gate)
            messages = result if isinstance(result, list) else [result]
            found = [m for m in messages if isinstance(m, Message)]
            if appeal_id is not None and self._is_staff(item):
                checkpoint.then(_remember(found, appeal_id, kind))
            sent.extend(found)
            if index + 1 < len(calls):
                await checkpoint(index + 1)
            # The last call's record is the row's: marked sent with what it made known.
        return sent

    def _is_staff(self, item: OutboxItem) -> bool:
        return self._staff_chat_id is not None and item.chat == str(self._staff_chat_id)

    async def _replies(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        raw = item.payload.get("replies")
        replies = [Reply.from_data(r) for r in raw] if isinstance(raw, list) else []
        appeal_id = item.payload.get("card")
        thread_id = reply_to = None
        if isinstance(appeal_id, int):
            async with self._uows() as uow:
                appeal = await uow.appeals.get(appeal_id)
            if appeal is None:
                raise PermanentFailure(f"appeal {appeal_id} is gone")
            if appeal.staff_message_id is None:
                raise NotReady("the appeal's card is not posted yet")
            thread_id, reply_to = appeal.staff_thread_id, appeal.staff_message_id
        chat_id = int(item.chat)
        locale = self._staff_locale
        if not self._is_staff(item) and any(too_big(r.media, self._media.path) for r in replies):
            async with self._uows() as uow:
                locale = await uow.accounts.locale_of(Channel.TELEGRAM, item.chat) or locale
        calls = render(
            chat_id,
            replies,
            private=chat_id > 0,
            thread_id=thread_id,
            reply_to=reply_to,
            local_files=self._media.path,
            too_big_note=lambda count: self._too_big_note(count, locale),
        )
        await self._run(item, calls, gate, checkpoint, item.appeal_id, "relay")

    async def _view(self, appeal_id: int | None) -> StaffView:
        if appeal_id is None:
            raise PermanentFailure("a card row without an appeal")
        async with self._uows.reading() as uow:
            view = await uow.appeals.staff_view(appeal_id)
        if view is None:
            raise PermanentFailure(f"appeal {appeal_id} is gone")
        return view

    def _too_big_note(self, count: int, locale: str) -> str:
        with self._translator.use(locale):
            return ngettext(
                "📎 {count} file too big to show here",
                "📎 {count} files too big to show here",
                count,
            ).format(count=count)

    def _card(self, view: StaffView, now: datetime, limit: int = CARD_TEXT_LIMIT) -> Reply:
        """The card's text and buttons; files too big for Telegram are named on it, on
        every edit too (the count comes from the stored files, so it stays the same)."""
        left_out = too_big(_report(view), self._media.path)
        note = "\n" + self._too_big_note(left_out, self._staff_locale) if left_out else ""
        with self._translator.use(self._staff_locale) as locale:
            text = card_text(view, locale, now, self._timezone, limit - len(note))
        return Reply(text + note, card_buttons(view))

    async def _thread_for(self, view: StaffView, gate: Gate) -> int | None:
        """The category's forum topic when the staff chat is a forum, created on first use."""
        assert self._staff_chat_id is not None
        if self._staff_is_forum is None:
            chat = await self._call(GetChat(chat_id=self._staff_chat_id), gate)
            self._staff_is_forum = bool(getattr(chat, "is_forum", False))
        if not self._staff_is_forum:
            return None
        async with self._uows() as uow:
            thread_id = await uow.staff.topic(self._staff_chat_id, view.root_category_id)
            category = await uow.categories.by_id(view.root_category_id)
        if thread_id is not None:
            return thread_id
        with self._translator.use(self._staff_locale) as locale:
            name = category.name(locale) if category else "—"
        topic = await self._call(
            CreateForumTopic(chat_id=self._staff_chat_id, name=name[:128]), gate
        )
        async with self._uows() as uow:
            await uow.staff.set_topic(
                self._staff_chat_id, view.root_category_id, topic.message_thread_id
            )
            await uow.commit()
        return int(topic.message_thread_id)

    async def _post_card(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        """As few messages as Telegram allows: one photo or video carries the card as its
        caption (1 message); several go as an album followed by the card (2); the pin is a
        map link in the text, not a message of its own."""
        view = await self._view(item.appeal_id)
        if view.appeal.staff_message_id is not None:
            return  # posted before a crash could mark the row sent
        chat_id = int(item.chat)
        thread_id = await self._thread_for(view, gate)
        common: dict[str, Any] = {"message_thread_id": thread_id} if thread_id else {}
        now = self._clock()
        report = _report(view)
        calls = media_calls(chat_id, report, common, self._media.path)
        # One message of a single file carries the card as its caption (a photo, a video, or
        # a photo too big for sendPhoto sent as a document: all take captions and edits).
        caption = len(calls) == 1 and method_name(calls[0]) != "sendMediaGroup"
        if caption:
            card = self._card(view, now, CAPTION_LIMIT)
            with_card = {**common, "caption": card.text, "reply_markup": inline_markup(card)}
            calls = media_calls(chat_id, report, with_card, self._media.path)
        else:
            card = self._card(view, now)
            params = {"chat_id": chat_id, "text": card.text, "reply_markup": inline_markup(card)}
            calls.append(ApiCall("sendMessage", {**params, **common}))
        card_index = len(calls) - 1
        sent = await self._run(item, calls, gate, checkpoint, item.appeal_id, "card")
        if item.progress <= card_index and sent:
            card_message = sent[-1]

            async def set_card(uow: UnitOfWork) -> None:
                await uow.appeals.set_card(
                    view.appeal.id, chat_id, thread_id, card_message.message_id, caption=caption
                )

            checkpoint.then(set_card)

    async def _edit_card(self, item: OutboxItem, gate: Gate, _checkpoint: Checkpoint) -> None:
        """One call: a retry makes it again, so there is no progress to keep."""
        view = await self._view(item.appeal_id)
        appeal = view.appeal
        if appeal.staff_message_id is None or appeal.staff_chat_id is None:
            raise NotReady("the card is not posted yet")
        target = {"chat_id": appeal.staff_chat_id, "message_id": appeal.staff_message_id}
        if appeal.staff_card_caption:
            card = self._card(view, self._clock(), CAPTION_LIMIT)
            fields = {"caption": card.text, "reply_markup": inline_markup(card)}
            method = ApiCall("editMessageCaption", {**target, **fields})
        else:
            card = self._card(view, self._clock())
            fields = {"text": card.text, "reply_markup": inline_markup(card)}
            method = ApiCall("editMessageText", {**target, **fields})
        with contextlib.suppress(AlreadyShown):
            await self._call(method, gate, read=False)
