"""Appeals that come by phone: an operator files them for a caller, and they reach the caller's
messenger only through a number the caller verified there."""

from __future__ import annotations

from domain.i18n import gettext

_ = gettext


def no_chat_text(number: str) -> str:
    return _(
        "{number} came by phone and its caller has no chat with the bot: nothing was sent. "
        "Please call them back."
    ).format(number=number)
