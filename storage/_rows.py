"""Rows mapped to the domain's frozen records, for the stores that read the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.dialog.events import Channel
from domain.entities import Account, AppealState, CategoryInfo, OutboxItem
from domain.statuses import Status
from storage.models import Appeal, Category, ChannelAccount, OutboxMessage


def account(row: ChannelAccount) -> Account:
    return Account(
        id=row.id,
        channel=Channel(row.channel),
        external_id=row.external_id,
        resident_id=row.resident_id,
        locale=row.locale,
        phone=row.phone,
        phone_verified=row.phone_verified_at is not None,
    )


def category_info(row: Category, has_children: bool) -> CategoryInfo:
    return CategoryInfo(
        id=row.id,
        code=row.code,
        names=dict(row.names),
        sla_hours=row.sla_hours,
        department=row.department,
        parent_id=row.parent_id,
        has_children=has_children,
        urgent=bool(row.urgent),
        department_en=row.department_en,
    )


def appeal_state(appeal: Appeal) -> AppealState:
    return AppealState(
        id=appeal.id,
        number=appeal.number,
        status=Status(appeal.status),
        resident_id=appeal.resident_id,
        account_id=appeal.account_id,
        category_id=appeal.category_id,
        department=appeal.department,
        due_at=appeal.due_at,
        status_changed_at=appeal.status_changed_at,
        staff_chat_id=appeal.staff_chat_id,
        staff_thread_id=appeal.staff_thread_id,
        staff_message_id=appeal.staff_message_id,
        staff_card_caption=appeal.staff_card_caption,
    )


# The columns an OutboxItem is made of, in its fields' order (read as plain values too:
# storage.outbox_queue `heads`).
OUTBOX_ITEM_COLUMNS = (
    "id",
    "channel",
    "chat",
    "kind",
    "appeal_id",
    "payload",
    "attempts",
    "progress",
    "next_attempt_at",
)


def outbox_item(row: OutboxMessage) -> OutboxItem:
    return outbox_item_of([getattr(row, name) for name in OUTBOX_ITEM_COLUMNS])


def outbox_item_of(values: Sequence[Any]) -> OutboxItem:
    """From the values of `OUTBOX_ITEM_COLUMNS`, in that order."""
    row_id, channel, chat, kind, appeal_id, payload, attempts, progress, due = values
    return OutboxItem(
        id=row_id,
        channel=Channel(channel),
        chat=chat,
        kind=kind,
        appeal_id=appeal_id,
        payload=dict(payload),
        attempts=attempts,
        progress=progress,
        next_attempt_at=due,
    )
