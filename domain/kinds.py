"""The named kinds the domain writes and reads: an appeal's history events, the roles of its
media, and what the outbox delivers. Values are the strings stored in the database, so a
misspelt kind is a type error here and the stored rows stay as they are."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """One entry of an appeal's history (`appeal_events.kind`)."""

    # A status change (also the first "new" written when the appeal is filed).
    STATUS = "status"
    # An operator's message to the resident, and the resident's answer.
    RELAY_OUT = "relay_out"
    RELAY_IN = "relay_in"
    # The resident added photos or a comment from «My appeals».
    ADDITION = "addition"
    # An operator revealed the resident's phone number.
    REVEAL = "reveal"
    # An operator sent the appeal to another department.
    ROUTE = "route"
    # A department's executors sent the appeal back to the operators, with a reason.
    RETURNED = "returned"
    # The appeal was posted in a department's executors' chat.
    TO_EXECUTORS = "to_executors"
    # An overdue appeal was escalated to the staff chat.
    ESCALATED = "escalated"
    # An operator linked the appeal to a resident's account.
    LINK = "link"


class MediaRole(StrEnum):
    """Why a photo or video belongs to an appeal (`appeal_media.role`)."""

    # Sent with the appeal (or by the operator filing a phone appeal).
    REPORT = "report"
    # The operator's proof that the work is done.
    COMPLETION = "completion"
    # The resident's "not fixed".
    REOPEN = "reopen"
    # The resident answering an operator.
    ANSWER = "answer"
    # Added from «My appeals».
    ADDITION = "addition"


class OutboxKind(StrEnum):
    """What an outbox row carries, which decides how its channel's transport delivers it."""

    # Neutral replies to a person or the staff chat.
    REPLIES = "replies"
    # The staff card of an appeal, and an edit of it.
    CARD = "card"
    CARD_EDIT = "card_edit"
    # A phone appeal's call-back list for the staff chat.
    CALLS = "calls"
    # A plain notice (the transport's default).
    NOTICE = "notice"
