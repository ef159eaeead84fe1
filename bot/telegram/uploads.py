"""Files the bot keeps (Viber residents' media) against Telegram's upload limits: a photo
over the photo limit goes as a document, a file over the upload limit is not uploaded at
all. Without this, one large picture makes its whole card fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiogram import Bot
from aiogram.types import FSInputFile

from bot.media import MediaUnavailableError, is_local
from domain.dialog.events import MediaItem, MediaKind

# Telegram's limits for bots on the public Bot API (decimal megabytes, the safe reading:
# a file just under 10 MiB but over 10 MB goes as a document, which loses nothing).
PHOTO_UPLOAD_LIMIT = 10_000_000
UPLOAD_LIMIT = 50_000_000

# A stored file's path for a local reference (media that came through Viber).
LocalFiles = Callable[[str], Path]

# Read for an upload this much at a time (aiogram's default is 64 KiB).
UPLOAD_CHUNK = 1024 * 1024


class StoredFile(FSInputFile):
    """A file the bot keeps, uploaded a chunk at a time with the file opened and closed for
    each chunk. aiogram's own keeps it open across the whole upload, and an upload cut off
    (Telegram gone mid-request, the process stopping) left it open until the garbage
    collector came by: one file descriptor per failed upload of a card's photo."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, chunk_size=UPLOAD_CHUNK)

    async def read(self, bot: Bot) -> AsyncGenerator[bytes, None]:
        offset = 0
        while chunk := await asyncio.to_thread(_chunk, Path(self.path), offset, self.chunk_size):
            offset += len(chunk)
            yield chunk


def _chunk(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(size)


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
