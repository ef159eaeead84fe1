"""The resident dialog's steps, named by the domain.

Each value is the string stored for a dialog in progress ("AppealForm:category"): the same
strings aiogram's `StatesGroup`s produced before, so a dialog begun before an upgrade goes on
after it. The dialog compares the stored string against these members (a `StrEnum` member equals
its value).
"""

from __future__ import annotations

from enum import StrEnum


class Registration(StrEnum):
    phone = "Registration:phone"


class AppealForm(StrEnum):
    category = "AppealForm:category"
    # An urgent category: the emergency numbers, read before the dialog goes on.
    urgent = "AppealForm:urgent"
    subcategory = "AppealForm:subcategory"
    location = "AppealForm:location"
    media = "AppealForm:media"
    description = "AppealForm:description"
    review = "AppealForm:review"


class Feedback(StrEnum):
    """The resident talks about an appeal already filed."""

    # "Not fixed": what is still wrong (text, optionally a photo).
    reopen_reason = "Feedback:reopen_reason"
    # Answering an operator's message.
    answer = "Feedback:answer"


class SelfService(StrEnum):
    """The resident works with an appeal already filed, from «My appeals»."""

    # Adding photos, videos or a comment to an open appeal.
    add = "SelfService:add"
    # Why the resident withdraws the appeal.
    withdraw_reason = "SelfService:withdraw_reason"
    # Typing an appeal's number to find it.
    lookup = "SelfService:lookup"
