"""Every text in the code is translated in every language, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot.config import PROJECT_ROOT
from domain.i18n import LOCALES

KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
SOURCES = ("bot", "domain", "handlers")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _texts(value: object) -> list[str]:
    """A catalogue field as a list of strings (plural entries hold several)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [item if isinstance(item, str) else "" for item in value]
    return [""]


def _source_messages() -> set[str]:
    found: set[str] = set()
    for folder in SOURCES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            PROJECT_ROOT / folder, keywords=KEYWORDS
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(locale: str) -> Catalog:
    path = PROJECT_ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
    with Path(path).open("rb") as source:
        return read_po(source, locale=locale)


def test_sources_have_texts_to_translate() -> None:
    # Guards the extraction itself: an empty set would make the checks below vacuous.
    assert len(_source_messages()) > 50


@pytest.mark.parametrize("locale", LOCALES)
def test_every_source_text_is_translated(locale: str) -> None:
    catalog = _catalog(locale)
    missing = [
        msgid
        for msgid in sorted(_source_messages())
        if msgid not in catalog or catalog[msgid].fuzzy or not all(_texts(catalog[msgid].string))
    ]
    assert not missing, f"{locale}: untranslated or fuzzy: {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(locale: str) -> None:
    wrong: list[str] = []
    for message in _catalog(locale):
        if not message.id:
            continue
        ids = _texts(message.id)
        expected = set(_PLACEHOLDER.findall(ids[0]))
        for string in _texts(message.string):
            if set(_PLACEHOLDER.findall(string)) != expected:
                wrong.append(f"{ids[0]!r} -> {string!r}")
    assert not wrong, f"{locale}: placeholders differ: {wrong}"
