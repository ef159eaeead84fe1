"""Neutral replies: what the dialog wants shown. Renderers turn them into each channel's calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.actions import Action


class Request(StrEnum):
    """A platform control that hands the bot something of the resident's."""

    CONTACT = "contact"
    LOCATION = "location"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: Action


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    # A control button (share phone / share location) with its label; channels without one
    # fall back to asking in words.
    request: Request | None = None
    request_label: str = ""
    media: tuple[str, ...] = field(default_factory=tuple)

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


def rows(*buttons: Button, per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out `per_row` to a row."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
