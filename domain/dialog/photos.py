"""«✏️ Change photos»: the files of a draft one by one, so the resident can remove one without
losing the others, and «⏭ Skip» that would drop files asks first. Part of the one dialog."""

from __future__ import annotations

import hashlib

from domain.actions import CONFIRMED, Act, Action
from domain.dialog.events import MediaItem, MediaKind
from domain.dialog.replies import Button, rows
from domain.draft import Draft
from domain.i18n import gettext

_ = gettext


def _token(position: int, item: MediaItem) -> str:
    """A button's argument: the file's position and a short hash of it, so that a button left
    from before a removal never removes a different file."""
    digest = hashlib.sha256(item.file_ref.encode()).hexdigest()[:8]
    return f"{position}.{digest}"


def remove_buttons(draft: Draft) -> tuple[tuple[Button, ...], ...]:
    """One «🗑» per file, numbered as they were sent (and as the album shows them)."""
    buttons = [
        Button(
            (_("🗑 Photo {n}") if item.kind is MediaKind.PHOTO else _("🗑 Video {n}")).format(
                n=position + 1
            ),
            Action(Act.MEDIA_REMOVE, _token(position, item)),
        )
        for position, item in enumerate(draft.media)
    ]
    return rows(*buttons, per_row=3)


def remove(draft: Draft, arg: str) -> int | None:
    """Remove the file a button names; its number (from 1), or None for a stale button."""
    head, _sep, _digest = arg.partition(".")
    if not head.isdigit() or int(head) >= len(draft.media):
        return None
    position = int(head)
    if _token(position, draft.media[position]) != arg:
        return None
    del draft.media[position]
    return position + 1


def skip_question(count: int) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """What «Skip» asks when it would drop the files already sent."""
    return (
        _("Remove all {count} files from the appeal and go on without photos?").format(count=count),
        (
            (Button(_("🗑 Yes, remove them"), Action(Act.MEDIA_SKIP, CONFIRMED)),),
            (Button(_("↩️ No, keep them"), Action(Act.DRAFT_CONTINUE)),),
        ),
    )
