"""Departments as the departments file defines them, and which executors' chat holds an appeal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update

from domain.departments import Assignment, DepartmentSpec
from domain.statuses import WORKABLE_STATUSES
from storage._sql import SessionStore
from storage.models import Appeal, Department, ExecutorAssignment


def _spec(row: Department) -> DepartmentSpec:
    return DepartmentSpec(
        code=row.code,
        names={"uk": row.name, "en": row.name_en},
        chat_id=row.chat_id,
        sla_hours=row.sla_hours,
        reminder_hours=row.reminder_hours,
        escalation_hours=row.escalation_hours,
    )


class DepartmentRepository(SessionStore):
    async def sync(self, specs: Sequence[DepartmentSpec]) -> None:
        """Make the table match the file: update by code, add new ones, retire missing ones."""
        existing = {
            row.code: row for row in (await self._session.execute(select(Department))).scalars()
        }
        for spec in specs:
            row = existing.pop(spec.code, None)
            if row is None:
                row = Department(code=spec.code)
                self._session.add(row)
            row.name = spec.names["uk"]
            row.name_en = spec.names["en"]
            row.chat_id = spec.chat_id
            row.sla_hours = spec.sla_hours
            row.reminder_hours = spec.reminder_hours
            row.escalation_hours = spec.escalation_hours
            row.active = True
        for row in existing.values():
            row.active = False
        await self._session.flush()
        # An appeal held by a department that no longer has a chat (or no longer exists) is
        # the operators' again, so that its reminders reach the staff chat; a chat that moved
        # keeps its appeals.
        chats = {spec.code: spec.chat_id for spec in specs if spec.chat_id is not None}
        await self._session.execute(
            delete(ExecutorAssignment).where(ExecutorAssignment.department_code.not_in(list(chats)))
        )
        for code, chat_id in chats.items():
            await self._session.execute(
                update(ExecutorAssignment)
                .where(ExecutorAssignment.department_code == code)
                .values(chat_id=chat_id)
            )

    async def _one(self, where: ColumnElement[bool]) -> DepartmentSpec | None:
        query = select(Department).where(Department.active.is_(True), where).limit(1)
        row = (await self._session.execute(query)).scalar_one_or_none()
        return _spec(row) if row is not None else None

    async def by_code(self, code: str) -> DepartmentSpec | None:
        return await self._one(Department.code == code)

    async def by_name(self, name: str) -> DepartmentSpec | None:
        return await self._one(Department.name == name)

    async def by_chat(self, chat_id: int) -> DepartmentSpec | None:
        return await self._one(Department.chat_id == chat_id)

    async def with_chats(self) -> list[DepartmentSpec]:
        query = select(Department).where(
            Department.active.is_(True), Department.chat_id.is_not(None)
        )
        return [_spec(row) for row in (await self._session.execute(query)).scalars()]

    async def assign(self, appeal_id: int, code: str, chat_id: int, now: datetime) -> None:
        """The department's executors hold the appeal from now (instead of any before)."""
        await self.release(appeal_id)
        self._session.add(
            ExecutorAssignment(
                appeal_id=appeal_id, department_code=code, chat_id=chat_id, assigned_at=now
            )
        )
        await self._session.flush()

    async def release(self, appeal_id: int) -> None:
        await self._session.execute(
            delete(ExecutorAssignment).where(ExecutorAssignment.appeal_id == appeal_id)
        )

    async def assignment(self, appeal_id: int) -> Assignment | None:
        query = (
            select(ExecutorAssignment, Appeal.due_at)
            .join(Appeal, Appeal.id == ExecutorAssignment.appeal_id)
            .where(ExecutorAssignment.appeal_id == appeal_id)
        )
        found = (await self._session.execute(query)).one_or_none()
        return _assignment(found[0], found[1]) if found is not None else None

    async def overdue_held(self, now: datetime, limit: int = 100) -> list[Assignment]:
        """Appeals held by executors' chats that are workable and past due."""
        query = (
            select(ExecutorAssignment, Appeal.due_at)
            .join(Appeal, Appeal.id == ExecutorAssignment.appeal_id)
            .where(
                Appeal.status.in_([s.value for s in WORKABLE_STATUSES]),
                Appeal.due_at < now,
            )
            # The least recently reminded first, so that a long list takes turns.
            .order_by(
                ExecutorAssignment.reminded_at.is_not(None),
                ExecutorAssignment.reminded_at,
                Appeal.due_at,
            )
            .limit(limit)
        )
        return [_assignment(row, due) for row, due in (await self._session.execute(query)).all()]

    async def claim_reminder(self, appeal_id: int, now: datetime, before: datetime) -> bool:
        """Mark the reminder as sent unless one was sent after `before`; False when another
        tick (or worker) got there first, so a reminder is never sent twice in a period."""
        column = ExecutorAssignment.reminded_at
        result = await self._session.execute(
            update(ExecutorAssignment)
            .where(ExecutorAssignment.appeal_id == appeal_id)
            .where(column.is_(None) | (column <= before))
            .values(reminded_at=now)
        )
        return _changed(result)

    async def claim_escalation(self, appeal_id: int, now: datetime, before: datetime) -> bool:
        column = ExecutorAssignment.escalated_at
        result = await self._session.execute(
            update(ExecutorAssignment)
            .where(ExecutorAssignment.appeal_id == appeal_id)
            .where(column.is_(None) | (column <= before))
            .values(escalated_at=now)
        )
        return _changed(result)


def _changed(result: object) -> bool:
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _assignment(row: ExecutorAssignment, due_at: datetime) -> Assignment:
    return Assignment(
        appeal_id=row.appeal_id,
        department_code=row.department_code,
        chat_id=row.chat_id,
        due_at=due_at,
        reminded_at=row.reminded_at,
        escalated_at=row.escalated_at,
    )
