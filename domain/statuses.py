"""Appeal statuses and the one transition table every path goes through."""

from __future__ import annotations

from enum import StrEnum

from domain.i18n import N_, gettext


class Status(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REOPENED = "reopened"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


OPEN_STATUSES = frozenset(
    {Status.NEW, Status.ACCEPTED, Status.IN_PROGRESS, Status.DONE, Status.REOPENED}
)
FINAL_STATUSES = frozenset({Status.CLOSED, Status.REJECTED, Status.DUPLICATE})

_ANY_OPEN_TO = frozenset({Status.REJECTED, Status.DUPLICATE})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ACCEPTED}) | _ANY_OPEN_TO,
    Status.ACCEPTED: frozenset({Status.IN_PROGRESS}) | _ANY_OPEN_TO,
    Status.IN_PROGRESS: frozenset({Status.DONE}) | _ANY_OPEN_TO,
    Status.DONE: frozenset({Status.CLOSED, Status.REOPENED}) | _ANY_OPEN_TO,
    Status.REOPENED: frozenset({Status.IN_PROGRESS}) | _ANY_OPEN_TO,
    Status.CLOSED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.DUPLICATE: frozenset(),
}

INITIAL_STATUS = Status.NEW


class TransitionError(Exception):
    """A status change the table does not allow."""

    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"{current} -> {target} is not allowed")
        self.current = current
        self.target = target


def can_transition(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: Status, target: Status) -> None:
    if not can_transition(current, target):
        raise TransitionError(current, target)


_LABELS: dict[Status, str] = {
    Status.NEW: N_("New"),
    Status.ACCEPTED: N_("Accepted"),
    Status.IN_PROGRESS: N_("In progress"),
    Status.DONE: N_("Done"),
    Status.REOPENED: N_("Reopened"),
    Status.CLOSED: N_("Closed"),
    Status.REJECTED: N_("Rejected"),
    Status.DUPLICATE: N_("Duplicate"),
}


def status_label(status: Status) -> str:
    """The status's name in the current locale."""
    return gettext(_LABELS[status])
