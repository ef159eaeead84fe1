"""The sender's next-rows query (storage.outbox_queue `_heads`) stays an index lookup per
row on SQLite, whatever the backlog: it holds the database's one connection while it runs, and
a scan per pending row once took 123 s with 30,000 of them (and 1.25 s with 6,000 staff rows
about cards not yet posted), while every update waited behind it. Checked on the plan, not
timed."""

from __future__ import annotations

from typing import Any

import pytest

from storage.outbox_queue import _HEADS
from storage.uow import UnitOfWorkFactory

pytestmark = pytest.mark.sqlite_only

STAFF_CHAT = "-100500"


async def _plan(uows: UnitOfWorkFactory) -> list[str]:
    async with uows() as uow:
        connection = await uow.session.connection()
        dialect = connection.dialect
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        compiled = _HEADS._compile(dialect)
        rows = await driver.execute_fetchall(
            "EXPLAIN QUERY PLAN " + compiled.sql, compiled.parameters({"staff_chat": STAFF_CHAT})
        )
    return [str(row[3]) for row in rows]


async def test_a_card_is_looked_up_by_its_appeal_not_by_the_pending_rows(
    uows: UnitOfWorkFactory,
) -> None:
    plan = await _plan(uows)
    card = [step for step in plan if step.split()[:2] in (["SEARCH", "card"], ["SCAN", "card"])]
    # Found through its appeal: the status index would walk every pending row for each one.
    assert card == ["SEARCH card USING INDEX ix_outbox_appeal_id (appeal_id=?)"]
    # The appeal's posted card: by its key.
    assert "SEARCH appeals USING INTEGER PRIMARY KEY (rowid=?)" in plan
    # Only the outer pass over the pending rows reads them by status, once.
    assert sum("ix_outbox_due" in step for step in plan) == 1
