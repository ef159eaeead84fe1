"""What asyncpg sends to PostgreSQL, for tests that count round trips. The hot path runs its
statements on asyncpg directly (storage._hot), past SQLAlchemy's events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from asyncpg.prepared_stmt import PreparedStatement
from asyncpg.transaction import Transaction


@contextmanager
def round_trips(noted: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Each statement run (its text), each BEGIN and COMMIT, in order; each statement is
    also given to `noted` as it is sent."""
    seen: list[str] = []
    fetch, start, commit = PreparedStatement.fetch, Transaction.start, Transaction.commit

    async def fetched(self: PreparedStatement, *args: Any, **kwargs: Any) -> Any:
        seen.append(self.get_query())
        if noted is not None:
            noted(self.get_query())
        return await fetch(self, *args, **kwargs)

    async def started(self: Transaction) -> None:
        seen.append("BEGIN")
        await start(self)

    async def committed(self: Transaction) -> None:
        seen.append("COMMIT")
        await commit(self)

    PreparedStatement.fetch = fetched
    Transaction.start = started
    Transaction.commit = committed
    try:
        yield seen
    finally:
        PreparedStatement.fetch = fetch
        Transaction.start = start
        Transaction.commit = commit


def starting(seen: list[str], *heads: str) -> list[str]:
    """The statements in `seen` that start with one of `heads` (case and spacing aside)."""
    return [query for query in seen if " ".join(query.split()).upper().startswith(heads)]
