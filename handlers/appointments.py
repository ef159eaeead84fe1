"""Telegram staff-chat handlers for appointments: /appointments, /close_day, the buttons on a
booking and on a confirmation, and replies to the desk's prompts. Registered before the
appeals' staff router, which takes every other operator's button and command."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, Message

from bot.telegram.middleware import TelegramTurn
from bot.telegram.render import edit_text
from bot.telegram.staff_gate import Verdict
from domain.actions import Action
from domain.appointment_desk import (
    ACTS,
    COMMANDS,
    AppointmentDesk,
    AppointmentDeskResult,
)
from domain.appointments import AppointmentService
from domain.desk import Operator
from domain.dialog.replies import Reply
from domain.i18n import gettext
from handlers.desk_replies import PromptStore, say
from handlers.staff import StaffRuntime, command_of, refusal_of
from storage.uow import UnitOfWork

_ = gettext


def _desk(staff: StaffRuntime, turn: TelegramTurn) -> AppointmentDesk:
    if staff.appointments is None:
        raise RuntimeError("appointments are not configured")
    service = AppointmentService(
        turn.uow.appointments, turn.uow.outbox, staff.translator, staff.clock, staff.appointments
    )
    return AppointmentDesk(
        service,
        turn.uow.appointment_pending,
        staff.clock,
        pending_ttl=staff.pending_ttl,
        locale=staff.locale,
    )


async def appointment_button(query: CallbackQuery) -> dict[str, Any] | bool:
    action = Action.parse(query.data)
    if action is None or action.act not in ACTS:
        return False
    return {"action": action}


async def for_appointments(message: Message, staff: StaffRuntime, turn: TelegramTurn) -> bool:
    """A command of this desk, or a reply to one of its prompts, in the staff chat."""
    if message.chat.id != staff.chat_id or staff.appointments is None:
        return False
    command = command_of(message)
    if command is not None and command[0] in COMMANDS:
        return True
    replied = message.reply_to_message
    if replied is None:
        return False
    return await _desk(staff, turn).waits_for(staff.chat_id, replied.message_id)


def _say(
    turn: TelegramTurn,
    staff: StaffRuntime,
    result: AppointmentDeskResult,
    thread_id: int | None,
    reply_to: int | None,
) -> None:
    say(
        turn,
        staff.chat_id,
        result.say,
        prompt=result.prompt_for,
        prompts=_appointment_pending,
        uows=staff.uows,
        thread_id=thread_id,
        reply_to=reply_to,
    )


def _appointment_pending(uow: UnitOfWork) -> PromptStore:
    return uow.appointment_pending


async def on_button(
    query: CallbackQuery,
    action: Action,
    staff: StaffRuntime,
    turn: TelegramTurn,
    staff_member: Verdict,
) -> None:
    message = query.message
    with staff.translator.use(staff.locale):
        refusal = refusal_of(staff_member)
        if message is None or message.chat.id != staff.chat_id or staff.appointments is None:
            refusal = _("Only operators of the contact centre can do this.")
        if refusal is not None or message is None:
            turn.pending.add(
                AnswerCallbackQuery(callback_query_id=query.id, text=refusal, show_alert=True)
            )
            return
        desk = _desk(staff, turn)
        who = Operator(staff.chat_id, query.from_user.id, query.from_user.full_name)
        result = await desk.press(action.act, action.arg, who)
        turn.pending.add(
            AnswerCallbackQuery(
                callback_query_id=query.id, text=result.toast, show_alert=result.alert
            )
        )
        edit: Reply | None = result.edit
        if edit is None and result.settle is not None and isinstance(message, Message):
            edit = Reply(f"{message.text or ''}\n\n{result.settle}")
        if edit is not None:
            turn.pending.add(edit_text(staff.chat_id, message.message_id, edit))
        thread_id = getattr(message, "message_thread_id", None)
        _say(turn, staff, result, thread_id, message.message_id)


async def on_message(
    message: Message, staff: StaffRuntime, turn: TelegramTurn, staff_member: Verdict
) -> None:
    user = message.from_user
    if user is None or user.is_bot:
        return
    with staff.translator.use(staff.locale):
        thread_id = message.message_thread_id
        refusal = refusal_of(staff_member)
        if refusal is not None:
            result = AppointmentDeskResult(say=[Reply(refusal)])
            _say(turn, staff, result, thread_id, message.message_id)
            return
        desk = _desk(staff, turn)
        who = Operator(staff.chat_id, user.id, user.full_name)
        command = command_of(message)
        replied = message.reply_to_message
        if command is not None and command[0] in COMMANDS:
            result = await desk.command(command[0], command[1], who)
        elif replied is not None:
            result = await desk.message(who, replied.message_id, message.text)
        else:
            return
        _say(turn, staff, result, thread_id, message.message_id)


def create_router() -> Router:
    router = Router(name="appointments-staff")
    router.callback_query.register(on_button, appointment_button)
    router.message.register(on_message, for_appointments)
    return router
