"""Stored files fitted to Telegram's upload limits, for any reply that carries them (a
resident's «Done» album with a Viber resident's pictures, the card): a photo over 10 MB goes
as a document, a file over 50 MB is left out and the text says so."""

from __future__ import annotations

import os
from pathlib import Path

from aiogram import Bot
from aiogram.methods import SendDocument, SendMediaGroup, SendPhoto
from aiogram.types import FSInputFile, InputMediaDocument, InputMediaPhoto

from bot.telegram.calls import ApiCall
from bot.telegram.render import render
from bot.telegram.uploads import UPLOAD_CHUNK, StoredFile
from domain.dialog.events import MediaItem, MediaKind
from domain.dialog.replies import Reply


def stored(root: Path, name: str, size: int) -> MediaItem:
    with (root / name).open("wb") as handle:
        os.truncate(handle.fileno(), size)  # sparse: the size is all that matters
    return MediaItem(MediaKind.PHOTO, f"file:{name}")


def test_a_done_album_with_stored_files_fits_telegrams_limits(tmp_path: Path) -> None:
    media = (
        stored(tmp_path, "small.jpg", 40_000),
        stored(tmp_path, "large.jpg", 12_000_000),
        stored(tmp_path, "larger.jpg", 15_000_000),
        stored(tmp_path, "huge.jpg", 51_000_000),
        MediaItem(MediaKind.PHOTO, "AgACTelegramFileId"),  # Telegram's own: as it is
    )
    calls = render(
        42,
        [Reply("✅ Done", media=media)],
        local_files=lambda ref: tmp_path / ref.removeprefix("file:"),
        too_big_note=lambda count: f"{count} left out",
    )
    album, documents, text = calls
    assert isinstance(album, SendMediaGroup)
    assert [type(m) for m in album.media] == [InputMediaPhoto, InputMediaPhoto]
    assert isinstance(documents, SendMediaGroup)
    assert [type(m) for m in documents.media] == [InputMediaDocument, InputMediaDocument]
    # Uploads go as aiogram's methods (multipart); the text, as any other, in its wire form.
    assert isinstance(text, ApiCall)
    assert text.params["text"] == "✅ Done\n\n1 left out"


def test_one_large_photo_is_one_document_and_nothing_is_left_out(tmp_path: Path) -> None:
    calls = render(
        42,
        [Reply("✅ Done", media=(stored(tmp_path, "large.jpg", 10_000_001),))],
        local_files=lambda ref: tmp_path / ref.removeprefix("file:"),
        too_big_note=lambda count: f"{count} left out",
    )
    document, text = calls
    assert isinstance(document, SendDocument)
    assert isinstance(text, ApiCall) and text.params["text"] == "✅ Done"
    exact = render(
        42,
        [Reply("✅ Done", media=(stored(tmp_path, "exact.jpg", 10_000_000),))],
        local_files=lambda ref: tmp_path / ref.removeprefix("file:"),
    )
    assert isinstance(exact[0], SendPhoto)


def _open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return count


async def test_an_upload_cut_off_leaves_its_file_closed(tmp_path: Path) -> None:
    """Telegram gone mid-upload: the request stops reading the file and never closes the
    reader. The file is read whole when read to the end, and is never left open between
    chunks (aiogram's own reader kept it open until the garbage collector came by)."""
    path = tmp_path / "photo.jpg"
    content = os.urandom(UPLOAD_CHUNK * 2 + 123)
    path.write_bytes(content)
    bot = Bot("42:TEST")
    try:
        whole = b"".join([chunk async for chunk in StoredFile(path).read(bot)])
        assert whole == content
        reader = StoredFile(path).read(bot)
        first = await anext(reader)
        assert first == content[:UPLOAD_CHUNK]
        assert _open_descriptors(path) == 0  # cut off here: nothing is held open
        # aiogram's reader, cut off at the same point, holds the file open.
        theirs = FSInputFile(path).read(bot)
        await anext(theirs)
        assert _open_descriptors(path) == 1
        await theirs.aclose()
    finally:
        await bot.session.close()
