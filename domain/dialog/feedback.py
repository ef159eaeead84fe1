"""The resident's side of an appeal already filed: "fixed / not fixed" and answering an
operator. Part of the one dialog; `Dialog` routes here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.actions import Act, Action
from domain.dialog.events import MediaKind
from domain.dialog.replies import Button
from domain.entities import AppealState, NewMedia
from domain.i18n import gettext
from domain.lifecycle import ActorRef
from domain.statuses import FINAL_STATUSES, Actor, Status, status_label
from fsm_states.appeal import Feedback

if TYPE_CHECKING:
    from domain.dialog.turn import Turn

_ = gettext

S_REOPEN = Feedback.reopen_reason
S_ANSWER = Feedback.answer
FEEDBACK_STATES = frozenset({S_REOPEN, S_ANSWER})
REASON_MIN = 10
TEXT_MAX = 2000
REOPEN_MEDIA_MAX = 3


def _cancel_row() -> tuple[Button, ...]:
    return (Button(_("✖️ Cancel"), Action(Act.CANCEL)),)


def resident_actor(turn: Turn) -> ActorRef:
    return ActorRef(Actor.RESIDENT, str(turn.account.id))


async def own_appeal(turn: Turn, appeal_id: int | None) -> AppealState | None:
    """The appeal if it is this resident's; nobody learns anything about anyone else's."""
    if appeal_id is None or turn.account.resident_id is None:
        return None
    appeal = await turn.appeals.state(appeal_id)
    if appeal is None or appeal.resident_id != turn.account.resident_id:
        return None
    return appeal


async def start(turn: Turn, action: Action) -> bool:
    """Handle FIXED / NOT_FIXED / REPLY; False when the appeal is not the resident's."""
    appeal = await own_appeal(turn, action.int_arg())
    if appeal is None:
        turn.say(_("Appeal not found."))
        return False
    if action.act is Act.REPLY:
        if appeal.status in FINAL_STATUSES:
            turn.say(
                _("Appeal {number} is already {status}; please file a new one if needed.").format(
                    number=appeal.number, status=status_label(appeal.status)
                )
            )
            return False
        await turn.state.set_state(S_ANSWER)
        await turn.state.set_data({"appeal_id": appeal.id})
        prompt_answer(turn, appeal.number)
        return True
    if appeal.status is not Status.DONE:
        turn.say(
            _("This question is already answered: appeal {number} is {status}.").format(
                number=appeal.number, status=status_label(appeal.status)
            )
        )
        return False
    if action.act is Act.FIXED:
        await turn.lifecycle.transition(appeal.id, Status.CLOSED, resident_actor(turn))
        await turn.state.clear()
        turn.say(_("Thank you! Appeal {number} is closed.").format(number=appeal.number))
        return False
    await turn.state.set_state(S_REOPEN)
    await turn.state.set_data({"appeal_id": appeal.id, "media": []})
    prompt_reopen(turn, appeal.number)
    return True


def prompt_reopen(turn: Turn, number: str) -> None:
    turn.say(
        _(
            "What is still wrong with appeal {number}? Describe it ({min} to {max} characters); "
            "you can also send a photo."
        ).format(number=number, min=REASON_MIN, max=TEXT_MAX),
        _cancel_row(),
    )


def prompt_answer(turn: Turn, number: str) -> None:
    turn.say(
        _("Write your answer to the operator about appeal {number}:").format(number=number),
        _cancel_row(),
    )


async def reprompt(turn: Turn, current: str) -> None:
    data = await turn.state.get_data()
    appeal = await own_appeal(turn, data.get("appeal_id"))
    number = appeal.number if appeal else "—"
    if current == S_REOPEN:
        prompt_reopen(turn, number)
    else:
        prompt_answer(turn, number)


async def on_input(turn: Turn, current: str) -> bool:
    """A message in a feedback step; True when the step is finished."""
    data = await turn.state.get_data()
    appeal = await own_appeal(turn, data.get("appeal_id"))
    if appeal is None:
        await turn.state.clear()
        turn.say(_("Appeal not found."))
        return True
    event = turn.event
    if current == S_ANSWER:
        text = ((event.text if event.text is not None else event.caption) or "").strip()
        if not text and not event.media:
            turn.say(_("Please write your answer, or send a photo."))
            prompt_answer(turn, appeal.number)
            return False
        if len(text) > TEXT_MAX:
            turn.say(
                _("The text is too long: {length} characters, the limit is {max}.").format(
                    length=len(text), max=TEXT_MAX
                )
            )
            return False
        items = [
            NewMedia(m.kind, turn.account.channel, m.file_ref, m.unique_id) for m in event.media
        ]
        await turn.lifecycle.relay_to_staff(appeal.id, text, resident_actor(turn), items)
        await turn.state.clear()
        turn.lead(_("Your answer is sent to the operator."))
        return True
    if appeal.status is not Status.DONE:
        await turn.state.clear()
        turn.say(
            _("This question is already answered: appeal {number} is {status}.").format(
                number=appeal.number, status=status_label(appeal.status)
            )
        )
        return True
    media: list[list[str]] = list(data.get("media", []))
    if event.media:
        for item in event.media:
            if len(media) < REOPEN_MEDIA_MAX:
                media.append([item.kind.value, item.file_ref])
        await turn.state.set_data({**data, "media": media})
        if event.media_group_id is None or len(media) == 1:
            turn.say(_("Photo added. Now describe what is wrong."), _cancel_row())
        return False
    text = (event.text or "").strip()
    if len(text) < REASON_MIN or len(text) > TEXT_MAX:
        turn.say(
            _("Please describe the problem in {min} to {max} characters.").format(
                min=REASON_MIN, max=TEXT_MAX
            ),
            _cancel_row(),
        )
        return False
    photos = [NewMedia(MediaKind(kind), turn.account.channel, ref, None) for kind, ref in media]
    await turn.lifecycle.transition(
        appeal.id, Status.REOPENED, resident_actor(turn), note=text, media=photos
    )
    await turn.state.clear()
    turn.say(
        _("Appeal {number} is reopened; the operators are told what is wrong.").format(
            number=appeal.number
        )
    )
    return True
