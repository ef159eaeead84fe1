"""Phone appeals in the dialog: an operator walks the same form steps for a caller in a private
chat with the bot, plus the caller's name. Only the staff's /call starts one (it puts `CallInfo`
into the draft); a resident cannot. `Dialog` routes here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.actions import Act, Action
from domain.dialog.replies import Button
from domain.draft import Draft
from domain.i18n import gettext
from fsm_states.call import CallForm

if TYPE_CHECKING:
    from domain.dialog.turn import Turn

_ = gettext

S_CALLER = CallForm.caller_name
NAME_MIN = 2
NAME_MAX = 128


def needs_name(draft: Draft) -> bool:
    return draft.call is not None and draft.call.caller_name is None and not draft.call.name_skipped


def started_text(draft: Draft) -> str:
    phone = draft.call.phone if draft.call else "—"
    return _(
        "☎️ Phone appeal for the caller at {phone}. The same steps as in the bot; the caller's "
        "name comes last. /cancel drops it."
    ).format(phone=phone)


def prompt_name(turn: Turn, nav: tuple[Button, ...]) -> None:
    turn.say(
        _("The caller's name (as they gave it), or «Skip» if they did not."),
        (Button(_("⏭ Skip"), Action(Act.CALLER_SKIP)),),
        nav,
    )


def on_name(turn: Turn, draft: Draft) -> bool:
    """The caller's name; True when the step is done."""
    call = draft.call
    if call is None:
        return True
    action = turn.event.action
    if action is not None and action.act is Act.CALLER_SKIP:
        call.caller_name = None
        call.name_skipped = True
        return True
    name = " ".join((turn.event.text or "").split())
    if not NAME_MIN <= len(name) <= NAME_MAX:
        turn.say(
            _("Please type the caller's name ({min} to {max} characters), or press «Skip».").format(
                min=NAME_MIN, max=NAME_MAX
            )
        )
        return False
    call.caller_name = name
    return True


def review_lines(draft: Draft) -> list[str]:
    call = draft.call
    if call is None:
        return []
    return [
        _("☎️ By phone from {name}, {phone}").format(
            name=call.caller_name or _("a caller who gave no name"), phone=call.phone
        )
    ]


def filed_text(number: str, due: str) -> str:
    return _(
        "✅ Phone appeal registered.\n\nNumber: {number}\nDue by: {due}\n\nTell the caller the "
        "number and the due date. If they share this number with the bot in Telegram, the "
        "appeal appears in their «My appeals»."
    ).format(number=number, due=due)
