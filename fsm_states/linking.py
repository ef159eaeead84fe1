"""The resident proves that two messenger accounts are one person."""

from __future__ import annotations

from enum import StrEnum


class Linking(StrEnum):
    # Waiting for the one-time code sent into the verified chat.
    code = "Linking:code"
