"""Secrets never reach a log line or a stored error text."""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"


class Redactor:
    """Replaces every configured secret (bot tokens, the webhook secret) in a text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks secrets in the whole line, traceback included."""

    def __init__(self, redactor: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


def redact_logs(redactor: Redactor) -> None:
    """Mask secrets in everything the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        current = handler.formatter
        fmt = current._fmt if current is not None else None
        handler.setFormatter(RedactingFormatter(redactor, fmt))
