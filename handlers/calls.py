"""The staff chat's phone-desk commands, kept apart from the staff router (one job per module):

- /call +380…: an operator takes a phone appeal, and the bot walks them through the form in
  their private chat with it;
- /link <number> <number>: after calling the resident back and confirming that both appeals
  are theirs, an operator makes their owners one resident (recorded).
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey
from aiogram.methods import DeleteMessage
from aiogram.types import Message

from bot.telegram.middleware import TelegramTurn
from bot.telegram.render import render
from bot.telegram.staff_gate import Verdict
from domain.dialog.core import Dialog
from domain.dialog.events import Channel, Inbound
from domain.dialog.replies import Reply
from domain.draft import CallInfo
from domain.i18n import N_, gettext
from domain.identity import IdentityService, OperatorLinkOutcome
from domain.services import normalize_phone
from handlers.staff import StaffRuntime

_ = gettext


def _command(message: Message) -> str:
    head = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    return head.split("@", 1)[0].lower()


_LINK_ANSWERS = {
    OperatorLinkOutcome.LINKED: N_(
        "🔗 Linked by {name}: appeals {first} and {second} now belong to one resident, who is "
        "told so in their chats and can undo it with /unlink."
    ),
    OperatorLinkOutcome.NOT_FOUND: N_("No appeal with one of these numbers."),
    OperatorLinkOutcome.SAME: N_("These appeals already belong to one resident."),
    OperatorLinkOutcome.NO_RESIDENT: N_(
        "Neither appeal has a resident in a messenger yet: nothing to link."
    ),
}


async def is_call(message: Message, staff: StaffRuntime) -> bool:
    """/call in the staff chat, by a person."""
    return _in_staff_chat(message, staff) and _command(message) == "/call"


async def is_link(message: Message, staff: StaffRuntime) -> bool:
    """/link in the staff chat, by a person."""
    return _in_staff_chat(message, staff) and _command(message) == "/link"


def _in_staff_chat(message: Message, staff: StaffRuntime) -> bool:
    return message.chat.id == staff.chat_id and message.from_user is not None


async def on_call(
    message: Message,
    bot: Bot,
    fsm_storage: BaseStorage,
    events_isolation: BaseEventIsolation,
    turn: TelegramTurn,
    staff_member: Verdict,
    staff: StaffRuntime,
    dialog: Dialog,
) -> None:
    user = message.from_user
    if user is None or user.is_bot:
        return
    thread_id = message.message_thread_id

    def say(text: str) -> None:
        turn.pending.add(
            *render(
                staff.chat_id,
                [Reply(text)],
                private=False,
                thread_id=thread_id,
                reply_to=message.message_id,
            )
        )

    with staff.translator.use(staff.locale):
        if staff_member is not Verdict.OPERATOR:
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
    turn.pending.add(DeleteMessage(chat_id=staff.chat_id, message_id=message.message_id))
    private = Inbound(
        channel=Channel.TELEGRAM,
        user_id=str(user.id),
        locale_hint=user.language_code,
        display_name=user.first_name,
    )
    key = StorageKey(bot_id=bot.id, chat_id=user.id, user_id=user.id)
    info = CallInfo(phone=phone, operator_id=str(user.id), operator_name=user.full_name)
    # The operator's private chat is locked as its own updates lock it, until this update has
    # committed: an update of that chat in hand would otherwise write its dialog state over
    # the call's (or the call over it).
    await turn.hold(events_isolation.lock(key=key))
    replies = await dialog.start_call(private, info, FSMContext(fsm_storage, key), turn.uow)
    turn.pending.add(*render(user.id, replies))


async def on_link(
    message: Message, turn: TelegramTurn, staff_member: Verdict, staff: StaffRuntime
) -> None:
    user = message.from_user
    if user is None or user.is_bot:
        return
    with staff.translator.use(staff.locale):
        if staff_member is not Verdict.OPERATOR:
            text = _("Only operators of the contact centre can do this.")
        else:
            numbers = (message.text or "").split()[1:]
            if len(numbers) != 2 or numbers[0] == numbers[1]:
                text = _("Usage: /link 1580-2026-000123 1580-2026-000456")
            else:
                identity = IdentityService(turn.uow, staff.translator, staff.clock)
                outcome = await identity.operator_link(
                    numbers[0], numbers[1], str(user.id), user.full_name
                )
                text = gettext(_LINK_ANSWERS[outcome]).format(
                    name=user.full_name, first=numbers[0], second=numbers[1]
                )
        turn.pending.add(
            *render(
                staff.chat_id,
                [Reply(text)],
                private=False,
                thread_id=message.message_thread_id,
                reply_to=message.message_id,
            )
        )


def create_router() -> Router:
    """Needs workflow data `staff` (StaffRuntime) and `dialog` (Dialog)."""
    router = Router(name="calls")
    router.message.register(on_call, is_call)
    router.message.register(on_link, is_link)
    return router
