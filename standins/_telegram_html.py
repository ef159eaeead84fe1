"""Telegram's ``parse_mode=HTML``: markup to plain text plus message entities.

Bots commonly break on HTML formatting (an unescaped ``<`` in user input, a ``<br>``
that Telegram does not know), so the stand-in parses markup the way the Bot API does
and fails with the same messages, e.g. ``Unsupported start tag "br" at byte offset 5``.
Offsets and lengths of entities are in UTF-16 code units, as on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EntityParseError", "parse_html", "utf16_len"]

# Supported tags and the entity type each produces.
_TAGS = {
    "a": "text_link",
    "b": "bold",
    "blockquote": "blockquote",
    "code": "code",
    "del": "strikethrough",
    "em": "italic",
    "i": "italic",
    "ins": "underline",
    "pre": "pre",
    "s": "strikethrough",
    "span": "spoiler",
    "strike": "strikethrough",
    "strong": "bold",
    "tg-emoji": "custom_emoji",
    "tg-spoiler": "spoiler",
    "u": "underline",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    """Markup Telegram would reject; the message is Telegram's own wording."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how Telegram measures entities)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    offset: int  # UTF-16 offset of the tag's content in the plain text
    attributes: dict[str, str] = field(default_factory=dict)


def _decode_entity(markup: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``pos`` (which holds ``&``).

    Returns the character and the position after the reference, or ``None`` when it is
    not one Telegram understands (then the ``&`` stays literal, as in Telegram).
    """
    end = pos + 1
    if markup.startswith("#", end):
        end += 1
        hexadecimal = markup.startswith("x", end) or markup.startswith("X", end)
        if hexadecimal:
            end += 1
        digits_start = end
        allowed = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(markup) and markup[end] in allowed:
            end += 1
        digits = markup[digits_start:end]
        if not digits:
            return None
        code = int(digits, 16 if hexadecimal else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < len(markup) and markup[end].isascii() and markup[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(markup[pos + 1 : end])
        if named is None:
            return None
        char = named
    if markup.startswith(";", end):
        end += 1
    return char, end


class _Parser:
    def __init__(self, markup: str) -> None:
        self.markup = markup
        self.pos = 0
        self.plain: list[str] = []
        self.offset = 0  # UTF-16 length of the plain text so far
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, pos: int) -> int:
        # Telegram reports positions in bytes of the UTF-8 markup.
        return len(self.markup[:pos].encode("utf-8"))

    def fail(self, message: str) -> EntityParseError:
        return EntityParseError(message)

    def emit(self, text: str) -> None:
        self.plain.append(text)
        self.offset += utf16_len(text)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        markup = self.markup
        while self.pos < len(markup):
            char = markup[self.pos]
            if char == "&":
                decoded = _decode_entity(markup, self.pos)
                if decoded is not None:
                    self.emit(decoded[0])
                    self.pos = decoded[1]
                    continue
            if char != "<":
                self.emit(char)
                self.pos += 1
                continue
            if markup.startswith("</", self.pos):
                self.end_tag()
            else:
                self.start_tag()
        if self.stack:
            raise self.fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.plain), self.entities

    def skip_spaces(self) -> None:
        while self.pos < len(self.markup) and self.markup[self.pos].isspace():
            self.pos += 1

    def start_tag(self) -> None:
        markup = self.markup
        begin = self.pos
        self.pos += 1
        while self.pos < len(markup) and not markup[self.pos].isspace() and markup[self.pos] != ">":
            self.pos += 1
        if self.pos >= len(markup):
            raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        name = markup[begin + 1 : self.pos].lower()
        if name not in _TAGS:
            raise self.fail(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        attributes = self.attributes(name, begin)
        self.pos += 1  # the closing ">"
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise self.fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        self.stack.append(_OpenTag(name, self.offset, attributes))

    def attributes(self, tag: str, begin: int) -> dict[str, str]:
        markup = self.markup
        attributes: dict[str, str] = {}
        while True:
            self.skip_spaces()
            if self.pos >= len(markup):
                raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            if markup[self.pos] == ">":
                return attributes
            name_start = self.pos
            while (
                self.pos < len(markup)
                and not markup[self.pos].isspace()
                and markup[self.pos] not in "=>"
            ):
                self.pos += 1
            name = markup[name_start : self.pos].lower()
            self.skip_spaces()
            if name == "expandable" and not markup.startswith("=", self.pos):
                attributes[name] = ""  # <blockquote expandable> takes no value
                continue
            if not name or self.pos >= len(markup) or markup[self.pos] != "=":
                raise self.fail(
                    "Expected equal sign in declaration of attribute of the tag "
                    f'"{tag}" at byte offset {self.byte_offset(begin)}'
                )
            self.pos += 1
            self.skip_spaces()
            if self.pos >= len(markup):
                raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            attributes[name] = self.attribute_value()

    def attribute_value(self) -> str:
        markup = self.markup
        quote = markup[self.pos]
        if quote not in "'\"":
            # An unquoted name token: letters, digits, periods and hyphens only.
            start = self.pos
            while self.pos < len(markup) and (
                markup[self.pos].isalnum() or markup[self.pos] in ".-"
            ):
                self.pos += 1
            if self.pos < len(markup) and not (
                markup[self.pos].isspace() or markup[self.pos] == ">"
            ):
                raise self.fail(
                    f"Unexpected end of name token at byte offset {self.byte_offset(self.pos)}"
                )
            return markup[start : self.pos].lower()
        self.pos += 1
        value: list[str] = []
        while self.pos < len(markup) and markup[self.pos] != quote:
            if markup[self.pos] == "&":
                decoded = _decode_entity(markup, self.pos)
                if decoded is not None:
                    value.append(decoded[0])
                    self.pos = decoded[1]
                    continue
            value.append(markup[self.pos])
            self.pos += 1
        self.pos += 1  # the closing quote (or past the end: reported by the caller)
        return "".join(value)

    def end_tag(self) -> None:
        markup = self.markup
        begin = self.pos
        self.pos += 2
        name_start = self.pos
        while self.pos < len(markup) and not markup[self.pos].isspace() and markup[self.pos] != ">":
            self.pos += 1
        name = markup[name_start : self.pos].lower()
        self.skip_spaces()
        if self.pos >= len(markup) or markup[self.pos] != ">":
            if not self.stack:
                raise self.fail(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
            raise self.fail(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        self.pos += 1
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        opened = self.stack.pop()
        if name and name != opened.name:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{opened.name}>", found "</{name}>"'
            )
        self.close(opened)

    def close(self, opened: _OpenTag) -> None:
        length = self.offset - opened.offset
        if length == 0:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {
            "type": _TAGS[opened.name],
            "offset": opened.offset,
            "length": length,
        }
        if opened.name == "a":
            entity["url"] = opened.attributes.get("href", "")
        elif opened.name == "tg-emoji":
            entity["custom_emoji_id"] = opened.attributes.get("emoji-id", "")
        elif opened.name == "blockquote" and "expandable" in opened.attributes:
            entity["type"] = "expandable_blockquote"
        elif opened.name == "code" and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x"> gives the enclosing pre a language
            # instead of producing a separate code entity.
            language = opened.attributes.get("class", "")
            if language.startswith("language-"):
                self.stack[-1].attributes["language"] = language.removeprefix("language-")
                return
        elif opened.name == "pre" and "language" in opened.attributes:
            entity["language"] = opened.attributes["language"]
        self.entities.append(entity)


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into ``(plain_text, entities)``.

    Raises :class:`EntityParseError` with Telegram's wording for markup the Bot API
    rejects (the caller prefixes it with ``Bad Request: can't parse entities:``).
    """
    return _Parser(markup).run()
