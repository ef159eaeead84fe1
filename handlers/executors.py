"""Telegram handlers of the departments' executors' chats: card buttons, replies to the bot's
questions, commands, membership changes.

Membership of the chat was checked before the unit of work (bot.telegram.executor_gate); here
the chat is matched to its department and the event is translated for the executors' desk,
whose answer becomes Telegram calls. Executors' chats use the city's default language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Router
from aiogram.methods import AnswerCallbackQuery, EditMessageText
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.telegram.membership import StaffMembership
from bot.telegram.middleware import TelegramTurn
from bot.telegram.staff_gate import Verdict
from domain.actions import EXECUTOR_ACTS, Action
from domain.clock import Clock
from domain.desk import DeskResult
from domain.dialog.replies import Reply
from domain.executors import Executor, ExecutorDesk
from domain.i18n import Translator, gettext
from domain.lifecycle import Lifecycle, LifecycleConfig
from handlers.desk_replies import say
from handlers.staff import command_of, pending_prompts, photo_of
from storage.uow import UnitOfWorkFactory

_ = gettext


@dataclass(slots=True)
class ExecutorRuntime:
    """What the executors' handlers need (workflow data `executors`)."""

    locale: str
    translator: Translator
    clock: Clock
    lifecycle: LifecycleConfig
    # One membership per department chat, keyed by the chat's id.
    chats: dict[int, StaffMembership]
    uows: UnitOfWorkFactory
    pending_ttl: timedelta = timedelta(minutes=10)

    def desk(self, turn: TelegramTurn) -> tuple[Lifecycle, ExecutorDesk]:
        lifecycle = Lifecycle(turn.uow, self.translator, self.clock, self.lifecycle)
        desk = ExecutorDesk(lifecycle, turn.uow.pending, self.clock, pending_ttl=self.pending_ttl)
        return lifecycle, desk


def _refusal(verdict: Verdict) -> str | None:
    if verdict is Verdict.OPERATOR:
        return None
    if verdict is Verdict.UNKNOWN:
        return _(
            "Could not check that you are an executor of this department: Telegram did not "
            "answer in time. Please try again in a moment."
        )
    return _("Only the executors of this department can do this.")


def _say(
    turn: TelegramTurn,
    runtime: ExecutorRuntime,
    chat_id: int,
    result: DeskResult,
    reply_to: int | None,
) -> None:
    say(
        turn,
        chat_id,
        result.say,
        prompt=result.prompt_for,
        prompts=pending_prompts,
        uows=runtime.uows,
        reply_to=reply_to,
    )


async def executor_button(query: CallbackQuery) -> dict[str, Any] | bool:
    """A press of an executors' button, wherever it was pressed (forged ones included)."""
    action = Action.parse(query.data)
    if action is None or action.act not in EXECUTOR_ACTS:
        return False
    return {"action": action}


async def in_executor_chat(message: Message, executors: ExecutorRuntime) -> bool:
    return message.chat.id in executors.chats


async def executor_chat_member(event: ChatMemberUpdated, executors: ExecutorRuntime) -> bool:
    return event.chat.id in executors.chats


async def on_button(
    query: CallbackQuery,
    action: Action,
    executors: ExecutorRuntime,
    turn: TelegramTurn,
    executor_member: Verdict,
) -> None:
    message = query.message
    with executors.translator.use(executors.locale):
        refusal = _refusal(executor_member)
        lifecycle, desk = executors.desk(turn)
        department = (
            await lifecycle.department_by_chat(message.chat.id) if message is not None else None
        )
        if department is None or message is None:
            refusal = _("Only the executors of this department can do this.")
        if refusal is not None or department is None or message is None:
            turn.pending.add(
                AnswerCallbackQuery(callback_query_id=query.id, text=refusal, show_alert=True)
            )
            return
        who = Executor(
            message.chat.id,
            query.from_user.id,
            query.from_user.full_name,
            department,
            executors.locale,
        )
        result = await desk.press(action.act, action.arg, who)
        turn.pending.add(
            AnswerCallbackQuery(
                callback_query_id=query.id, text=result.toast, show_alert=result.alert
            )
        )
        if result.settle is not None and isinstance(message, Message) and message.text:
            turn.pending.add(
                EditMessageText(
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    text=f"{message.text}\n\n{result.settle}"[:4096],
                )
            )
        _say(turn, executors, message.chat.id, result, message.message_id)


async def on_message(
    message: Message, executors: ExecutorRuntime, turn: TelegramTurn, executor_member: Verdict
) -> None:
    if executor_member is Verdict.NOT_ASKED:
        return  # executors talking among themselves
    user = message.from_user
    if user is None:
        return
    chat_id = message.chat.id
    with executors.translator.use(executors.locale):
        refusal = _refusal(executor_member)
        lifecycle, desk = executors.desk(turn)
        department = await lifecycle.department_by_chat(chat_id)
        if refusal is not None or department is None:
            text = refusal or _("Only the executors of this department can do this.")
            _say(turn, executors, chat_id, DeskResult(say=[Reply(text)]), message.message_id)
            return
        who = Executor(chat_id, user.id, user.full_name, department, executors.locale)
        command = command_of(message)
        if command is not None:
            result = await desk.command(command[0], who)
        else:
            replied = message.reply_to_message
            said = message.caption if message.photo or message.video else message.text
            result = await desk.message(
                who,
                replied_to=replied.message_id if replied is not None else None,
                text=said,
                photo=photo_of(message),
            )
        if result.toast and not result.say:
            result.say.append(Reply(result.toast))
        _say(turn, executors, chat_id, result, message.message_id)


async def on_member_change(event: ChatMemberUpdated, executors: ExecutorRuntime) -> None:
    membership = executors.chats.get(event.chat.id)
    if membership is None:
        return
    member = event.new_chat_member
    await membership.changed(
        member.user.id, str(member.status), bool(getattr(member, "is_member", False))
    )


def create_router() -> Router:
    router = Router(name="executors")
    router.callback_query.register(on_button, executor_button)
    router.message.register(on_message, in_executor_chat)
    router.chat_member.register(on_member_change, executor_chat_member)
    return router
