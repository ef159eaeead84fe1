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
    # The resident took the appeal back (with a reason) before the work was reported done.
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = frozenset(
    {Status.NEW, Status.ACCEPTED, Status.IN_PROGRESS, Status.DONE, Status.REOPENED}
)
# Open and still waiting for the city's services: a done appeal waits for the resident instead,
# so it is neither overdue nor reminded nor offered "done" again.
WORKABLE_STATUSES = OPEN_STATUSES - {Status.DONE}
FINAL_STATUSES = frozenset({Status.CLOSED, Status.REJECTED, Status.DUPLICATE, Status.WITHDRAWN})


class Actor(StrEnum):
    """Who may make a transition: the table says which of them for each edge."""

    OPERATOR = "operator"
    RESIDENT = "resident"
    SYSTEM = "system"
    # A member of a department's executors' chat (domain/executors.py): may take an appeal into
    # work and report it done, nothing else. Its own actor, so the table itself keeps executors
    # from rejecting or marking duplicates, and the history records the role.
    EXECUTOR = "executor"


_OP = frozenset({Actor.OPERATOR})
_RESIDENT_OR_SYSTEM = frozenset({Actor.RESIDENT, Actor.SYSTEM})
_RES = frozenset({Actor.RESIDENT})
_WORKERS = frozenset({Actor.OPERATOR, Actor.EXECUTOR})

# The one table every path (staff chat, resident buttons, timers, any API) goes through.
TABLE: dict[Status, dict[Status, frozenset[Actor]]] = {
    # The resident may withdraw an appeal until the work is reported done; from then on
    # they answer «Fixed / Not fixed» instead.
    Status.NEW: {
        Status.ACCEPTED: _OP,
        Status.REJECTED: _OP,
        Status.DUPLICATE: _OP,
        Status.WITHDRAWN: _RES,
    },
    Status.ACCEPTED: {
        Status.IN_PROGRESS: _WORKERS,
        Status.REJECTED: _OP,
        Status.DUPLICATE: _OP,
        Status.WITHDRAWN: _RES,
    },
    Status.IN_PROGRESS: {
        Status.DONE: _WORKERS,
        Status.REJECTED: _OP,
        Status.DUPLICATE: _OP,
        Status.WITHDRAWN: _RES,
    },
    Status.DONE: {
        # The resident confirms the fix, or the confirmation window passes.
        Status.CLOSED: _RESIDENT_OR_SYSTEM,
        Status.REOPENED: frozenset({Actor.RESIDENT}),
        Status.REJECTED: _OP,
        Status.DUPLICATE: _OP,
    },
    Status.REOPENED: {
        Status.IN_PROGRESS: _WORKERS,
        Status.REJECTED: _OP,
        Status.DUPLICATE: _OP,
        Status.WITHDRAWN: _RES,
    },
    Status.CLOSED: {},
    Status.REJECTED: {},
    Status.DUPLICATE: {},
    Status.WITHDRAWN: {},
}

TRANSITIONS: dict[Status, frozenset[Status]] = {
    source: frozenset(targets) for source, targets in TABLE.items()
}
# Transitions that need a note from whoever makes them.
NOTE_REQUIRED = frozenset({Status.REJECTED, Status.REOPENED, Status.WITHDRAWN})

INITIAL_STATUS = Status.NEW


class TransitionError(Exception):
    """A status change the table does not allow (for this actor)."""

    def __init__(self, current: Status, target: Status, actor: Actor | None = None) -> None:
        super().__init__(
            f"{current} -> {target} is not allowed" + (f" for {actor}" if actor else "")
        )
        self.current = current
        self.target = target
        self.actor = actor


def can_transition(current: Status, target: Status, actor: Actor | None = None) -> bool:
    actors = TABLE[current].get(target)
    return actors is not None and (actor is None or actor in actors)


def check_transition(current: Status, target: Status, actor: Actor | None = None) -> None:
    if not can_transition(current, target, actor):
        raise TransitionError(current, target, actor)


def operator_targets(current: Status) -> list[Status]:
    """What an operator may move an appeal to from here, in the table's order."""
    return [target for target, actors in TABLE[current].items() if Actor.OPERATOR in actors]


_LABELS: dict[Status, str] = {
    Status.NEW: N_("New"),
    Status.ACCEPTED: N_("Accepted"),
    Status.IN_PROGRESS: N_("In progress"),
    Status.DONE: N_("Done"),
    Status.REOPENED: N_("Reopened"),
    Status.CLOSED: N_("Closed"),
    Status.REJECTED: N_("Rejected"),
    Status.DUPLICATE: N_("Duplicate"),
    Status.WITHDRAWN: N_("Withdrawn"),
}


def status_label(status: Status) -> str:
    """The status's name in the current locale."""
    return gettext(_LABELS[status])
