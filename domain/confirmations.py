"""How a desk's confirmation button is answered, for every desk (appeals, executors,
appointments): the button carries the pending action's id and token; only the operator who
started it, in the chat where it was started, answers it, once, before it expires."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from domain.i18n import gettext

_ = gettext


class Confirmable(Protocol):
    """What a pending action shows of itself to the confirmation check."""

    @property
    def id(self) -> int: ...
    @property
    def token(self) -> str: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def operator_id(self) -> int: ...
    @property
    def operator_name(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


class Settled(Protocol):
    """What a desk answers a press with: a toast, and a line under the pressed message."""

    toast: str | None
    alert: bool
    settle: str | None


P = TypeVar("P", bound=Confirmable)
P_co = TypeVar("P_co", bound=Confirmable, covariant=True)
R = TypeVar("R", bound=Settled)


class ConfirmableStore(Protocol[P_co]):
    async def get(self, pending_id: int) -> P_co | None: ...

    async def delete(self, pending_id: int) -> None: ...


async def answer_confirmation(
    store: ConfirmableStore[P],
    arg: str,
    *,
    chat_id: int,
    user_id: int,
    name: str,
    now: datetime,
    drop: bool,
    expired_text: Callable[[P], Awaitable[str]],
    carry_out: Callable[[P], Awaitable[R]],
    result: Callable[..., R],
    when: Callable[[datetime], str],
) -> R:
    """`arg` is the button's "id.token"; `drop` is the «Cancel» button. The action is gone
    once answered, whatever the answer."""
    head, _sep, token = arg.partition(".")
    action = await store.get(int(head)) if head.isdigit() and len(head) <= 12 else None
    if action is None or action.token != token or action.chat_id != chat_id:
        return result(
            toast=_("This confirmation is no longer valid; nothing was changed."), alert=True
        )
    if action.operator_id != user_id:
        return result(
            toast=_("Only {name}, who started this, can answer it.").format(
                name=action.operator_name
            ),
            alert=True,
        )
    await store.delete(action.id)
    if action.expires_at <= now:
        return result(toast=await expired_text(action), alert=True, settle=_("⌛ Expired."))
    if drop:
        return result(
            toast=_("Cancelled; nothing was sent."),
            settle=_("✖️ Cancelled by {name}.").format(name=name),
        )
    outcome = await carry_out(action)
    if outcome.alert:
        outcome.settle = _("Not done: {reason}").format(reason=outcome.toast or "")
    else:
        outcome.settle = _("✔️ Confirmed by {name}, {time}.").format(name=name, time=when(now))
    return outcome
