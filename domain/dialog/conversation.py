"""Nothing the resident types is lost: words after an operator's message reach the operator,
free text in the menu can start an appeal, and mid-step the bot asks which was meant.
Part of the one dialog; `Dialog` routes here."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from domain.actions import Act, Action
from domain.dialog.events import MediaItem
from domain.dialog.feedback import TEXT_MAX, resident_actor
from domain.dialog.replies import Button
from domain.draft import Draft
from domain.entities import NewMedia
from domain.i18n import gettext

if TYPE_CHECKING:
    from domain.dialog.turn import Turn

_ = gettext

# Kept in the dialog's data (with no step) while the resident decides what the text was.
FREE_TEXT_KEY = "free_text"


def said(turn: Turn) -> tuple[str, tuple[MediaItem, ...]]:
    """What the resident sent that could be meant for someone: words (or a caption), media."""
    event = turn.event
    text = (event.text if event.text is not None else event.caption) or ""
    return text.strip(), event.media


async def relay(turn: Turn, appeal_id: int, text: str, media: tuple[MediaItem, ...]) -> bool:
    """Pass the resident's words and media to the operators of one of their appeals."""
    if len(text) > TEXT_MAX:
        turn.say(
            _(
                "The text is too long: {length} characters, the limit is {max}. Please shorten "
                "it and send it again."
            ).format(length=len(text), max=TEXT_MAX)
        )
        return False
    items = [NewMedia(m.kind, turn.account.channel, m.file_ref, m.unique_id) for m in media]
    appeal = await turn.lifecycle.relay_to_staff(appeal_id, text, resident_actor(turn), items)
    turn.lead(_("💬 Sent to the operator about appeal {number}.").format(number=appeal.number))
    return True


async def outside_steps(turn: Turn) -> tuple[Button, ...] | None:
    """A message outside any step. None when it has no use; otherwise it was given to the
    operator who wrote last (an empty row), or is offered as the start of an appeal (the row
    with that button). The caller shows the menu, with the row first."""
    text, media = said(turn)
    if not text and not media:
        return None
    last = await turn.lifecycle.last_operator_message(turn.account)
    if last is not None:
        # As if the resident had pressed «↩️ Answer» under the operator's message.
        await relay(turn, last.appeal_id, text, media)
        return ()
    if not text or media:
        return None
    await turn.state.set_data({FREE_TEXT_KEY: text[:TEXT_MAX]})
    turn.lead(_("Would you like to file an appeal about this? Your text will be its description."))
    return (Button(_("📝 Start an appeal with this text"), Action(Act.START_WITH_TEXT)),)


async def free_text(turn: Turn) -> str | None:
    """The text offered as the start of an appeal, if the offer still stands."""
    value = (await turn.state.get_data()).get(FREE_TEXT_KEY)
    return value if isinstance(value, str) and value else None


async def ask_which(turn: Turn, draft: Draft) -> bool:
    """Mid-step, after an operator's message the resident has not answered: ask once whether
    what they sent was for the operator or for this step. True when asked."""
    event = turn.event
    if event.action is not None or draft.call is not None:
        return False
    text, media = said(turn)
    if not text and not media:
        return False
    held = draft.held_text is not None or bool(draft.held_media)
    if held and event.media_group_id is not None and event.media_group_id == draft.held_group:
        # The rest of the album whose first item is held: held with it, asked about once.
        draft.held_media.extend(media)
        if text and draft.held_text is None:
            draft.held_text = text
        await turn.state.set_data(draft.to_data())
        return True
    last = await turn.lifecycle.last_operator_message(turn.account)
    if last is None or last.answered or last.event_id <= draft.relay_seen:
        return False
    draft.relay_seen = last.event_id
    draft.held_text = text or None
    draft.held_media = list(media)
    draft.held_group = event.media_group_id
    await turn.state.set_data(draft.to_data())
    turn.say(
        _(
            "An operator wrote to you about appeal {number}. Is this your answer to them, or "
            "part of the appeal you are filing now?"
        ).format(number=last.number),
        (Button(_("💬 To the operator"), Action(Act.TO_OPERATOR, str(last.appeal_id))),),
        (Button(_("📝 For this appeal"), Action(Act.TO_STEP)),),
    )
    return True


def held_event(turn: Turn, draft: Draft) -> bool:
    """Put back what was held while the question waited, as if it came now; False when
    nothing is held (an old button)."""
    if draft.held_text is None and not draft.held_media:
        return False
    turn.event = replace(
        turn.event,
        action=None,
        text=draft.held_text if not draft.held_media else None,
        caption=draft.held_text if draft.held_media else None,
        media=tuple(draft.held_media),
        media_group_id=None,
    )
    draft.held_text = None
    draft.held_media = []
    draft.held_group = None
    return True
