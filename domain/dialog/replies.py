"""Neutral replies: what the dialog wants shown. Renderers turn them into each channel's calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.actions import Action
from domain.dialog.events import MediaItem, MediaKind


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
    # Shown before the text (as an album where the channel has them).
    media: tuple[MediaItem, ...] = field(default_factory=tuple)
    # The answer to a button press: where a channel can edit the message that carried the
    # button, this reply replaces it instead of arriving as a new message.
    in_place: bool = False

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]

    def to_data(self) -> dict[str, Any]:
        """JSON-safe form, for replies that wait in the outbox."""
        return {
            "text": self.text,
            "buttons": [[[b.label, b.action.pack()] for b in row] for row in self.buttons],
            "request": self.request.value if self.request else None,
            "request_label": self.request_label,
            "media": [[m.kind.value, m.file_ref] for m in self.media],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Reply:
        buttons = []
        for row in data.get("buttons", []):
            parsed = []
            for label, packed in row:
                action = Action.parse(packed)
                if action is not None:
                    parsed.append(Button(label, action))
            buttons.append(tuple(parsed))
        return cls(
            text=data["text"],
            buttons=tuple(buttons),
            request=Request(data["request"]) if data.get("request") else None,
            request_label=data.get("request_label", ""),
            media=tuple(MediaItem(MediaKind(kind), ref) for kind, ref in data.get("media", [])),
        )


def rows(*buttons: Button, per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out `per_row` to a row."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
