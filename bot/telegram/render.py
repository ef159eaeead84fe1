"""Neutral replies in, Telegram Bot API calls out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiogram.types import InputFile

from bot.media import is_local
from bot.telegram.calls import ApiCall, Call
from bot.telegram.uploads import LocalFiles, StoredFile, fit_uploads
from domain.dialog.events import MediaItem, MediaKind
from domain.dialog.replies import Reply, Request

TEXT_LIMIT = 4096
ALBUM_LIMIT = 10
# Telegram wants some text on a message that carries only a keyboard; an arrow needs no translation.
KEYBOARD_CARRIER = "⬇️"


def fit(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def inline_markup(reply: Reply) -> dict[str, Any]:
    """The reply's buttons as an inline keyboard, with the actions' stable ids as callback data."""
    return {
        "inline_keyboard": [
            [{"text": b.label, "callback_data": b.action.pack()} for b in row]
            for row in reply.buttons
        ]
    }


def _request_markup(reply: Reply) -> dict[str, Any]:
    button: dict[str, Any] = {"text": reply.request_label}
    if reply.request is Request.CONTACT:
        button["request_contact"] = True
    elif reply.request is Request.LOCATION:
        button["request_location"] = True
    return {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}


def _message(
    chat_id: int, text: str, markup: dict[str, Any] | None, common: dict[str, Any]
) -> ApiCall:
    params: dict[str, Any] = {"chat_id": chat_id, "text": text, **common}
    if markup is not None:
        params["reply_markup"] = markup
    return ApiCall("sendMessage", params)


def _edit(method: str, chat_id: int, message_id: int, **fields: Any) -> ApiCall:
    """An edit of a message; a field left None is not sent (no markup: the keyboard goes)."""
    params: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
    params.update((name, value) for name, value in fields.items() if value is not None)
    return ApiCall(method, params)


def edit_text(chat_id: int, message_id: int, reply: Reply) -> ApiCall:
    """The message shows `reply` instead (its buttons, or none)."""
    markup = inline_markup(reply) if reply.buttons else None
    return _edit("editMessageText", chat_id, message_id, text=fit(reply.text), reply_markup=markup)


def _source(ref: str, local_files: LocalFiles | None) -> str | InputFile:
    """A Telegram file id as is; a file the bot keeps is uploaded."""
    if local_files is not None and is_local(ref):
        return StoredFile(local_files(ref))
    return ref


def _media_call(method: str, params: dict[str, Any]) -> Call:
    """A file the bot keeps is uploaded as multipart, which only aiogram's method can do; a
    call of Telegram file ids goes as JSON like any other."""
    media = params.get("media")
    fields = [item["media"] for item in media] if isinstance(media, list) else params.values()
    call = ApiCall(method, params)
    return call.to_method() if any(isinstance(v, InputFile) for v in fields) else call


def media_calls(
    chat_id: int,
    media: tuple[MediaItem, ...],
    common: dict[str, Any],
    local_files: LocalFiles | None = None,
) -> list[Call]:
    """One photo or video as itself, several as an album (Telegram takes at most ten).
    Stored files are fitted to Telegram's upload limits: photos too big for sendPhoto go
    as documents (one, or an album of their own: documents mix with nothing else), files
    too big for any upload are left out (`too_big` counts them for a note)."""
    fitted = fit_uploads(media[:ALBUM_LIMIT], local_files)
    calls: list[Call] = []
    if len(fitted.shown) == 1:
        item = fitted.shown[0]
        kind = "video" if item.kind is MediaKind.VIDEO else "photo"
        source = _source(item.file_ref, local_files)
        params = {"chat_id": chat_id, kind: source, **common}
        calls.append(_media_call("sendVideo" if kind == "video" else "sendPhoto", params))
    elif fitted.shown:
        album = [
            {
                "type": "video" if item.kind is MediaKind.VIDEO else "photo",
                "media": _source(item.file_ref, local_files),
            }
            for item in fitted.shown
        ]
        calls.append(_media_call("sendMediaGroup", {"chat_id": chat_id, "media": album, **common}))
    if len(fitted.documents) == 1:
        source = _source(fitted.documents[0].file_ref, local_files)
        params = {"chat_id": chat_id, "document": source, **common}
        calls.append(_media_call("sendDocument", params))
    elif fitted.documents:
        files = [
            {"type": "document", "media": _source(item.file_ref, local_files)}
            for item in fitted.documents
        ]
        calls.append(_media_call("sendMediaGroup", {"chat_id": chat_id, "media": files, **common}))
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
) -> list[Call]:
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
        common["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    calls: list[Call] = []
    for reply in replies:
        calls.extend(media_calls(chat_id, reply.media, common, local_files))
        text = reply.text
        left_out = too_big(reply.media, local_files)
        if left_out and too_big_note is not None:
            text += "\n\n" + too_big_note(left_out)
        text = fit(text)
        if reply.request is not None and reply.buttons:
            calls.append(_message(chat_id, text, inline_markup(reply), common))
            calls.append(_message(chat_id, KEYBOARD_CARRIER, _request_markup(reply), common))
        elif reply.request is not None:
            calls.append(_message(chat_id, text, _request_markup(reply), common))
        elif reply.buttons:
            calls.append(_message(chat_id, text, inline_markup(reply), common))
        elif private:
            calls.append(_message(chat_id, text, {"remove_keyboard": True}, common))
        else:
            calls.append(_message(chat_id, text, None, common))
    return calls


@dataclass(slots=True)
class InPlace:
    """The answer to a button press: the edit of the message that carried the button, what
    to send instead should Telegram refuse the edit, and the messages that follow."""

    edit: Call | None = None
    fallback: list[Call] = field(default_factory=list)
    rest: list[Call] = field(default_factory=list)


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
            _edit("editMessageReplyMarkup", chat_id, origin),
            [],
            render(chat_id, replies, local_files=local_files),
        )
    rest = replies[1:]
    if first.request is None:
        return InPlace(
            edit_text(chat_id, origin, first),
            render(chat_id, [first], local_files=local_files),
            render(chat_id, rest, local_files=local_files),
        )
    markup = _edit(
        "editMessageReplyMarkup",
        chat_id,
        origin,
        reply_markup=inline_markup(first) if first.buttons else None,
    )
    prompt = replace(first, buttons=())
    return InPlace(markup, [], render(chat_id, [prompt, *rest], local_files=local_files))
