"""The resident's side of linking accounts: offer, ask for a code, type it, unlink. Part of the
one dialog; `Dialog` routes here. The rules live in `domain/identity.py`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.actions import Act, Action
from domain.dialog.replies import Button
from domain.entities import Account
from domain.i18n import gettext
from domain.identity import CodeOutcome, RequestOutcome, channel_name
from fsm_states.linking import Linking

if TYPE_CHECKING:
    from domain.dialog.turn import Turn

_ = gettext

S_CODE = Linking.code
LINKING_STATES = frozenset({S_CODE})
COMMANDS = frozenset({"link", "unlink"})
ACTS = frozenset({Act.LINK, Act.UNLINK})


def _menu_row() -> tuple[Button, ...]:
    return (Button(_("🏠 Menu"), Action(Act.MENU)),)


def _cancel_row() -> tuple[Button, ...]:
    return (Button(_("✖️ Cancel"), Action(Act.CANCEL)),)


async def offer(turn: Turn, account: Account) -> None:
    """After a claimed number: if it is verified elsewhere, offer to prove it is the same
    person. Nothing is joined until the code comes back."""
    target = await turn.identity.link_candidate(account)
    if target is None:
        return
    turn.say(
        _(
            "This number is confirmed in {channel}. If that is you too, link the accounts to "
            "see all your appeals here: we will send a one-time code to your {channel} chat "
            "with the bot."
        ).format(channel=channel_name(target.channel)),
        (Button(_("🔗 Link accounts"), Action(Act.LINK)),),
        _menu_row(),
    )


async def start(turn: Turn, act: Act) -> bool:
    """/link, /unlink or their buttons; True when the dialog now waits for a code."""
    account = await turn.identity.fresh(turn.account)
    if act is Act.UNLINK:
        others = await turn.identity.unlink(account)
        if not others:
            turn.say(_("Your account is not linked to any other."))
        else:
            turn.say(_("Unlinked. Each messenger now shows only the appeals filed from it."))
        return False
    outcome, target = await turn.identity.request_code(account)
    if outcome is RequestOutcome.SENT and target is not None:
        await turn.state.set_state(S_CODE)
        await turn.state.set_data({})
        prompt(turn, target.channel)
        return True
    if outcome is RequestOutcome.ALREADY_LINKED:
        turn.say(_("Your accounts are already linked."))
    elif outcome is RequestOutcome.TOO_MANY:
        turn.say(_("Too many codes were asked for in the last hour. Please try again later."))
    else:
        turn.say(
            _(
                "There is nothing to link: no other messenger has confirmed your number. Link "
                "from the account whose number is not confirmed (e.g. Viber) after sharing the "
                "number in Telegram."
            )
        )
    return False


def prompt(turn: Turn, channel: str) -> None:
    turn.say(
        _(
            "We sent a one-time code to your {channel} chat with the bot. Type it here. "
            "Not you? Press «Cancel»."
        ).format(channel=channel_name(channel)),
        _cancel_row(),
    )


async def on_input(turn: Turn) -> bool:
    """A message while a code is awaited; True when linking is over (either way)."""
    action = turn.event.action
    if action is not None and action.act in (Act.CANCEL, Act.BACK, Act.MENU):
        await turn.identity.cancel_code(turn.account)
        await turn.state.clear()
        turn.say(_("Cancelled."))
        return True
    text = turn.event.text
    if text is None:
        turn.say(_("Please type the code as digits."), _cancel_row())
        return False
    result = await turn.identity.try_code(turn.account, text)
    if result.outcome is CodeOutcome.WRONG:
        turn.say(
            _("Wrong code. Attempts left: {count}.").format(count=result.attempts_left),
            _cancel_row(),
        )
        return False
    await turn.state.clear()
    if result.outcome is CodeOutcome.LINKED and result.target is not None:
        turn.say(
            _("Linked! Your appeals from {channel} are now shown here too.").format(
                channel=channel_name(result.target.channel)
            )
        )
    elif result.outcome is CodeOutcome.EXHAUSTED:
        turn.say(
            _("Too many wrong codes: this code no longer works. You can ask for a new one later."),
            (Button(_("🔗 Link accounts"), Action(Act.LINK)),),
        )
    elif result.outcome is CodeOutcome.EXPIRED:
        turn.say(
            _("The code has expired. Ask for a new one."),
            (Button(_("🔗 Link accounts"), Action(Act.LINK)),),
        )
    else:
        turn.say(_("No code is awaited now."))
    return True
