"""Neutral replies in, Telegram Bot API calls out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendVideo,
    TelegramMethod,
)
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaLivePhoto,
    InputMediaPhoto,
    InputMediaVideo,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from bot.media import is_local
from bot.telegram.uploads import LocalFiles, fit_uploads
from domain.dialog.events import MediaItem, MediaKind
from domain.dialog.replies import Reply, Request

MediaGroupItem = (
    InputMediaAudio | InputMediaDocument | InputMediaLivePhoto | InputMediaPhoto | InputMediaVideo
)
TEXT_LIMIT = 4096
ALBUM_LIMIT = 10
# Telegram wants some text on a message that carries only a keyboard; an arrow needs no translation.
KEYBOARD_CARRIER = "⬇️"


def fit(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def inline_keyboard(reply: Reply) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.action.pack()) for b in row]
            for row in reply.buttons
        ]
    )


def _request_keyboard(reply: Reply) -> ReplyKeyboardMarkup:
    button = KeyboardButton(
        text=reply.request_label,
        request_contact=reply.request is Request.CONTACT or None,
        request_location=reply.request is Request.LOCATION or None,
    )
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)


def _source(ref: str, local_files: LocalFiles | None) -> str | InputFile:
    """A Telegram file id as is; a file the bot keeps is uploaded."""
    if local_files is not None and is_local(ref):
        return FSInputFile(local_files(ref))
    return ref


def media_calls(
    chat_id: int,
    media: tuple[MediaItem, ...],
    common: dict[str, Any],
    local_files: LocalFiles | None = None,
) -> list[TelegramMethod[Any]]:
    """One photo or video as itself, several as an album (Telegram takes at most ten).
    Stored files are fitted to Telegram's upload limits: photos too big for sendPhoto go
    as documents (one, or an album of their own: documents mix with nothing else), files
    too big for any upload are left out (`too_big` counts them for a note)."""
    fitted = fit_uploads(media[:ALBUM_LIMIT], local_files)
    calls: list[TelegramMethod[Any]] = []
    if len(fitted.shown) == 1:
        item = fitted.shown[0]
        source = _source(item.file_ref, local_files)
        if item.kind is MediaKind.VIDEO:
            calls.append(SendVideo(chat_id=chat_id, video=source, **common))
        else:
            calls.append(SendPhoto(chat_id=chat_id, photo=source, **common))
    elif fitted.shown:
        album: list[MediaGroupItem] = [
            InputMediaVideo(media=_source(item.file_ref, local_files))
            if item.kind is MediaKind.VIDEO
            else InputMediaPhoto(media=_source(item.file_ref, local_files))
            for item in fitted.shown
        ]
        calls.append(SendMediaGroup(chat_id=chat_id, media=album, **common))
    if len(fitted.documents) == 1:
        source = _source(fitted.documents[0].file_ref, local_files)
        calls.append(SendDocument(chat_id=chat_id, document=source, **common))
    elif fitted.documents:
        files: list[MediaGroupItem] = [
            InputMediaDocument(media=_source(item.file_ref, local_files))
            for item in fitted.documents
        ]
        calls.append(SendMediaGroup(chat_id=chat_id, media=files, **common))
    return calls


def too_big(media: tuple[MediaItem, ...], local_files: LocalFiles | None) -> int:
    """How many of the files `media_calls` leaves out for being over the upload limit."""
    return fit_uploads(media[:ALBUM_LIMIT], local_files).too_big


def render(
    chat_id: int,
    replies: list[Reply],
    *,
    private: bool = True,
    thread_id: int | None = None,
    reply_to: int | None = None,
    local_files: LocalFiles | None = None,
    too_big_note: Callable[[int], str] | None = None,
) -> list[TelegramMethod[Any]]:
    """The calls that show `replies` in a chat.

    A message has room for one keyboard: inline buttons (with stable action ids) or a reply
    keyboard (the only place for request_contact / request_location). A reply that needs both
    becomes two messages. In a private chat a plain reply removes any request keyboard left
    from an earlier step.
    """
    common: dict[str, Any] = {}
    if thread_id is not None:
        common["message_thread_id"] = thread_id
    if reply_to is not None:
        common["reply_parameters"] = ReplyParameters(
            message_id=reply_to, allow_sending_without_reply=True
        )
    calls: list[TelegramMethod[Any]] = []
    for reply in replies:
        calls.extend(media_calls(chat_id, reply.media, common, local_files))
        text = reply.text
        left_out = too_big(reply.media, local_files)
        if left_out and too_big_note is not None:
            text += "\n\n" + too_big_note(left_out)
        text = fit(text)
        if reply.request is not None and reply.buttons:
            calls.append(
                SendMessage(
                    chat_id=chat_id, text=text, reply_markup=inline_keyboard(reply), **common
                )
            )
            calls.append(
                SendMessage(
                    chat_id=chat_id,
                    text=KEYBOARD_CARRIER,
                    reply_markup=_request_keyboard(reply),
                    **common,
                )
            )
        elif reply.request is not None:
            calls.append(
                SendMessage(
                    chat_id=chat_id, text=text, reply_markup=_request_keyboard(reply), **common
                )
            )
        elif reply.buttons:
            calls.append(
                SendMessage(
                    chat_id=chat_id, text=text, reply_markup=inline_keyboard(reply), **common
                )
            )
        elif private:
            calls.append(
                SendMessage(
                    chat_id=chat_id,
                    text=text,
                    reply_markup=ReplyKeyboardRemove(remove_keyboard=True),
                    **common,
                )
            )
        else:
            calls.append(SendMessage(chat_id=chat_id, text=text, **common))
    return calls


@dataclass(slots=True)
class InPlace:
    """The answer to a button press: the edit of the message that carried the button, what
    to send instead should Telegram refuse the edit, and the messages that follow."""

    edit: TelegramMethod[Any] | None = None
    fallback: list[TelegramMethod[Any]] = field(default_factory=list)
    rest: list[TelegramMethod[Any]] = field(default_factory=list)


def render_press(
    chat_id: int, replies: list[Reply], origin: int, local_files: LocalFiles | None = None
) -> InPlace:
    """Answer a press in a private chat by editing the pressed message where the dialog
    allows (`Reply.in_place`), so a step costs no new message; otherwise the pressed
    message's keyboard goes (its step is finished) and the replies follow as new messages.

    A reply keyboard (share location) cannot be put on by an edit: the pressed message keeps
    the step's inline buttons (Back, Cancel), and the prompt comes with the location button.
    """
    first = replies[0] if replies else None
    if first is None or not first.in_place or first.media:
        return InPlace(
            EditMessageReplyMarkup(chat_id=chat_id, message_id=origin),
            [],
            render(chat_id, replies, local_files=local_files),
        )
    rest = replies[1:]
    if first.request is None:
        edit = EditMessageText(
            chat_id=chat_id,
            message_id=origin,
            text=fit(first.text),
            reply_markup=inline_keyboard(first) if first.buttons else None,
        )
        return InPlace(
            edit,
            render(chat_id, [first], local_files=local_files),
            render(chat_id, rest, local_files=local_files),
        )
    markup = EditMessageReplyMarkup(
        chat_id=chat_id,
        message_id=origin,
        reply_markup=inline_keyboard(first) if first.buttons else None,
    )
    prompt = replace(first, buttons=())
    return InPlace(markup, [], render(chat_id, [prompt, *rest], local_files=local_files))
