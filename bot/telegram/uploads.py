"""Files the bot keeps (Viber residents' media) against Telegram's upload limits: a photo
over the photo limit goes as a document, a file over the upload limit is not uploaded at
all. Without this, one large picture makes its whole card fail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.media import MediaUnavailableError, is_local
from domain.dialog.events import MediaItem, MediaKind

# Telegram's limits for bots on the public Bot API (decimal megabytes, the safe reading:
# a file just under 10 MiB but over 10 MB goes as a document, which loses nothing).
PHOTO_UPLOAD_LIMIT = 10_000_000
UPLOAD_LIMIT = 50_000_000

# A stored file's path for a local reference (media that came through Viber).
LocalFiles = Callable[[str], Path]


@dataclass(frozen=True, slots=True)
class Fitted:
    """Media sorted by how Telegram can take it."""

    shown: tuple[MediaItem, ...] = ()  # as photos and videos
    documents: tuple[MediaItem, ...] = ()  # photos too big for sendPhoto
    too_big: int = 0  # files over the upload limit: not uploaded


def _size(ref: str, local_files: LocalFiles) -> int | None:
    try:
        return local_files(ref).stat().st_size
    except (OSError, MediaUnavailableError):
        return None  # a missing file fails on upload, as before: nothing to sort


def fit_uploads(media: tuple[MediaItem, ...], local_files: LocalFiles | None) -> Fitted:
    """Telegram file ids are Telegram's already and go as they are; only stored files are
    measured."""
    shown: list[MediaItem] = []
    documents: list[MediaItem] = []
    too_big = 0
    for item in media:
        size = None
        if local_files is not None and is_local(item.file_ref):
            size = _size(item.file_ref, local_files)
        if size is not None and size > UPLOAD_LIMIT:
            too_big += 1
        elif size is not None and item.kind is MediaKind.PHOTO and size > PHOTO_UPLOAD_LIMIT:
            documents.append(item)
        else:
            shown.append(item)
    return Fitted(tuple(shown), tuple(documents), too_big)
