"""Registration: a resident shares their phone number once before filing appeals. Part of the
one dialog; `Dialog` routes here while the account has no number."""

from __future__ import annotations

from collections.abc import Callable

from domain.dialog import linking
from domain.dialog.replies import Request
from domain.dialog.turn import Turn
from domain.i18n import gettext, ngettext
from domain.services import normalize_phone
from fsm_states import Registration

_ = gettext

S_PHONE = Registration.phone


def ask_phone(turn: Turn) -> None:
    turn.say(
        _(
            "To file appeals, please share your phone number once: press the button below. "
            "Operators use it only to clarify your appeal."
        ),
        request=Request.CONTACT,
        request_label=_("📱 Share my phone number"),
    )


async def on_input(turn: Turn, menu: Callable[[Turn], None]) -> None:
    """Everything an unregistered resident sends comes here: the shared contact registers
    them (then `menu`); anything else asks for it."""
    contact = turn.event.contact
    await turn.state.set_state(S_PHONE)
    if contact is None:
        if turn.event.command == "start":
            turn.lead(
                _("Welcome to the city contact centre {phone}!").format(
                    phone=turn.config.contact_centre_phone
                )
            )
        elif turn.event.command not in (None, "cancel"):
            turn.lead(_("First, please share your phone number."))
        elif turn.event.command is None:
            turn.lead(_("Please share your phone number using the button below."))
        ask_phone(turn)
        return
    phone = normalize_phone(contact.phone)
    if not contact.is_own:
        turn.say(_("Please share your own phone number with the button, not someone else's."))
        ask_phone(turn)
        return
    if phone is None:
        turn.say(_("This does not look like a phone number."))
        ask_phone(turn)
        return
    registered = await turn.residents.register(turn.account, phone, verified=contact.verified)
    await turn.state.clear()
    # Its own message: on Telegram a message without buttons is what takes the
    # share-phone keyboard away; the menu follows.
    turn.say(_("Thank you! Your number {phone} is saved.").format(phone=phone))
    if registered.attached_calls:
        turn.lead(
            ngettext(
                "Your appeal made by phone, {numbers}, is now in «My appeals».",
                "Your appeals made by phone, {numbers}, are now in «My appeals».",
                len(registered.attached_calls),
            ).format(numbers=", ".join(registered.attached_calls))
        )
    menu(turn)
    if not contact.verified:
        # Last, so that on Viber (which shows the latest keyboard only) its button shows.
        await linking.offer(turn, registered.account)
