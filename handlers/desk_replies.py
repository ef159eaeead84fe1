"""A desk's messages as Telegram calls, for every desk's handlers (appeals, executors,
appointments): the first message may be a prompt whose message id the desk must learn, since
replies to it answer the pending action."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.telegram.middleware import TelegramTurn
from bot.telegram.render import render
from domain.dialog.replies import Reply
from storage.uow import UnitOfWork, UnitOfWorkFactory


class Prompt(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def token(self) -> str: ...


class PromptStore(Protocol):
    async def set_prompt(self, pending_id: int, token: str, message_id: int) -> None: ...


def say(
    turn: TelegramTurn,
    chat_id: int,
    replies: Sequence[Reply],
    *,
    prompt: Prompt | None,
    prompts: Callable[[UnitOfWork], PromptStore],
    uows: UnitOfWorkFactory,
    thread_id: int | None = None,
    reply_to: int | None = None,
) -> None:
    """`prompts` picks the store that keeps the prompt's message id (in a unit of work of its
    own: the message is sent after the update's commit)."""
    for index, reply in enumerate(replies):
        calls = render(chat_id, [reply], private=False, thread_id=thread_id, reply_to=reply_to)
        if index == 0 and prompt is not None and calls:
            *before, last = calls
            turn.pending.add(*before)

            async def then(sent: Any, asked: Prompt = prompt) -> None:
                message_id = getattr(sent, "message_id", None)
                if not isinstance(message_id, int):
                    return
                async with uows() as uow:
                    await prompts(uow).set_prompt(asked.id, asked.token, message_id)
                    await uow.commit()

            turn.pending.add_then(last, then)
        else:
            turn.pending.add(*calls)
