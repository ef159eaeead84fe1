"""Registering residents in storage-level tests."""

from __future__ import annotations

from datetime import datetime

from storage.uow import UnitOfWorkFactory


async def register(
    uows: UnitOfWorkFactory, account_id: int, phone: str, now: datetime, *, verified: bool = True
) -> int:
    """Register the number on the account in a unit of work of its own (the write is held
    until the commit); the account's resident."""
    async with uows() as uow:
        await uow.identity.register_phone(
            account_id,
            phone,
            verified=verified,
            now=now,
            actor_kind="resident",
            actor_id=str(account_id),
        )
        await uow.commit()
    async with uows() as uow:
        account = await uow.identity.account(account_id)
    assert account is not None and account.resident_id is not None
    return account.resident_id
