"""Emergencies first: a category the city marks urgent shows the emergency numbers before the
dialog goes on, because the contact centre is not an emergency service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.actions import Act, Action
from domain.dialog.replies import Button
from domain.i18n import gettext
from fsm_states.appeal import AppealForm

if TYPE_CHECKING:
    from domain.dialog.turn import Turn

_ = gettext

S_URGENT = AppealForm.urgent


def prompt(turn: Turn, category: str, nav: tuple[Button, ...]) -> None:
    turn.say(
        _(
            "⚠️ «{category}». If anyone is in danger, call first:\n"
            "🚒 101 — fire and rescue\n"
            "👮 102 — police\n"
            "🚑 103 — ambulance\n"
            "🔥 104 — gas emergency\n"
            "🆘 112 — any emergency\n\n"
            "The contact centre passes appeals to the city's services; it does not send "
            "rescuers. When nobody is in danger, go on with the appeal."
        ).format(category=category),
        (Button(_("➡️ Go on with the appeal"), Action(Act.URGENT_GO)),),
        nav,
    )
