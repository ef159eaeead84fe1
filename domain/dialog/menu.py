"""The main menu, help and the choice of language. Part of the one dialog; `Dialog` routes
here on /start, /help, /language and their buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from domain.actions import Act, Action
from domain.dialog import registration
from domain.dialog.replies import Button
from domain.dialog.turn import Turn
from domain.i18n import gettext

_ = gettext

LANGUAGE_NAMES = {"uk": "Українська", "en": "English"}


def menu(turn: Turn, *first: tuple[Button, ...]) -> None:
    turn.say(
        _("Main menu. What would you like to do?"),
        *first,
        (Button(_("📝 New appeal"), Action(Act.NEW_APPEAL)),),
        (Button(_("📋 My appeals"), Action(Act.MY_APPEALS)),),
        (Button(_("📅 Appointment with officials"), Action(Act.APPOINTMENTS)),),
        (
            Button(_("ℹ️ Help"), Action(Act.HELP)),
            Button(_("🌐 Language"), Action(Act.LANGUAGE)),
        ),
    )


async def language(turn: Turn, choice: str, then: Callable[[Turn], Awaitable[None]]) -> None:
    """Offer the languages, or switch to `choice` and go on with `then` in it (the step the
    resident was on, asked again in the new language)."""
    if choice not in LANGUAGE_NAMES:
        turn.say(
            _("Choose the language:"),
            tuple(
                Button(name, Action(Act.LANGUAGE, code)) for code, name in LANGUAGE_NAMES.items()
            ),
        )
        return
    await turn.residents.set_locale(turn.account, choice)
    with turn.translator.use(choice) as locale:
        turn.locale = locale
        turn.say(_("The language is now English."))
        await then(turn)


def help_(turn: Turn) -> None:
    turn.say(
        _(
            "This bot takes appeals to the city contact centre {phone}: potholes, street "
            "lights, water, heating, waste, public transport, yards and more.\n\n"
            "Choose a category, show the place, add photos and describe the problem; you "
            "get an appeal number and a due date, and you can follow its status in "
            "«My appeals».\n\n"
            "Commands: /start, /new, /my, /language, /cancel, /help.\n"
            "For emergencies that threaten life, call 101, 102, 103 or 112."
        ).format(phone=turn.config.contact_centre_phone)
    )
    if turn.account.registered:
        menu(turn)
    else:
        registration.ask_phone(turn)
