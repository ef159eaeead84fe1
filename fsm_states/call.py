"""The one step a phone appeal has beyond the resident's form: the caller's name."""

from __future__ import annotations

from enum import StrEnum


class CallForm(StrEnum):
    # The stored value, unchanged from the aiogram StatesGroup it used to be.
    caller_name = "CallForm:caller_name"
