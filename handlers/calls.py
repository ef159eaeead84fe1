"""The staff chat's /call: an operator takes a phone appeal, and the bot walks them through the
form in their private chat with it. Kept apart from the staff router (one job per module)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.methods import DeleteMessage
from aiogram.types import Message

from bot.telegram.middleware import TelegramTurn
from bot.telegram.render import render
from domain.dialog.core import Dialog
from domain.dialog.events import Channel, Inbound
from domain.dialog.replies import Reply
from domain.draft import CallInfo
from domain.i18n import gettext
from domain.services import normalize_phone
from handlers.staff import StaffRuntime

_ = gettext


def _is_call(message: Message) -> bool:
    head = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    return head.split("@", 1)[0].lower() == "/call"


def create_router(rt: StaffRuntime, dialog: Dialog) -> Router:
    router = Router(name="calls")

    @router.message(F.chat.id == rt.chat_id, F.from_user, _is_call)
    async def on_call(
        message: Message, bot: Bot, fsm_storage: BaseStorage, turn: TelegramTurn
    ) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        thread_id = message.message_thread_id

        def say(text: str) -> None:
            turn.pending.add(
                *render(
                    rt.chat_id,
                    [Reply(text)],
                    private=False,
                    thread_id=thread_id,
                    reply_to=message.message_id,
                )
            )

        with rt.translator.use(rt.locale):
            if not await rt.is_operator(bot, user.id):
                say(_("Only operators of the contact centre can do this."))
                return
            parts = (message.text or "").split(maxsplit=1)
            phone = normalize_phone(parts[1]) if len(parts) > 1 else None
            if phone is None:
                say(_("Usage: /call +380501234567 (the caller's number)."))
                return
            say(
                _(
                    "☎️ {name}, continue the phone appeal in your private chat with the bot "
                    "(open it and press Start once if you never have)."
                ).format(name=user.first_name)
            )
        # The caller's number stays out of the staff chat's history.
        turn.pending.add(DeleteMessage(chat_id=rt.chat_id, message_id=message.message_id))
        private = Inbound(
            channel=Channel.TELEGRAM,
            user_id=str(user.id),
            locale_hint=user.language_code,
            display_name=user.first_name,
        )
        key = StorageKey(bot_id=bot.id, chat_id=user.id, user_id=user.id)
        info = CallInfo(phone=phone, operator_id=str(user.id), operator_name=user.full_name)
        replies = await dialog.start_call(private, info, FSMContext(fsm_storage, key), turn.uow)
        turn.pending.add(*render(user.id, replies))

    return router
