"""Gettext over a context variable, usable from any channel.

Texts are translated at the moment a reply is built, in the locale of the person it is for, so the
dialog core can run for a Telegram and a Viber resident in the same process without sharing state.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALES = ("uk", "en")
DOMAIN = "messages"

_SOURCE_TEXTS = NullTranslations()
_current: ContextVar[_gettext.NullTranslations | None] = ContextVar(
    "current_translations", default=None
)


class Translator:
    """Loaded catalogues for every supported locale."""

    def __init__(self, path: Path, default_locale: str = "uk") -> None:
        self.default_locale = default_locale
        self._catalogues: dict[str, _gettext.NullTranslations] = {}
        for locale in LOCALES:
            translations = Translations.load(str(path), [locale], DOMAIN)
            # Only the source language may go without a compiled catalogue.
            if not isinstance(translations, Translations) and locale != "en":
                raise FileNotFoundError(
                    f"no compiled catalogue for {locale!r} in {path}; run `make locales`"
                )
            self._catalogues[locale] = translations

    def resolve(self, locale: str | None) -> str:
        """The supported locale for a stored choice or a platform's language hint."""
        if locale:
            short = locale.split("-")[0].lower()
            if short in self._catalogues:
                return short
        return self.default_locale

    def supported(self, hint: str | None) -> str | None:
        """The supported locale a platform's language hint names, or None for any other."""
        if hint:
            short = hint.split("-")[0].lower()
            if short in self._catalogues:
                return short
        return None

    @contextmanager
    def use(self, locale: str | None) -> Iterator[str]:
        resolved = self.resolve(locale)
        token = _current.set(self._catalogues[resolved])
        try:
            yield resolved
        finally:
            _current.reset(token)


def _translations() -> _gettext.NullTranslations:
    return _current.get() or _SOURCE_TEXTS


def gettext(message: str) -> str:
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a text for extraction; it is translated later, where it is shown."""
    return message


_ = gettext
