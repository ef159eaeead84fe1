"""What a resident's steps send to PostgreSQL (storage._hot): each step's own rows in as few
statements as its transaction allows. The first message makes the account with its language
and commits in the step's one statement; the phone's registration and the filing are one
statement each beside the step's claim, where each row was a round trip of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from standins.telegram import TelegramStandIn
from storage.models import AccountEvent, Appeal, AppealEvent, AppealMedia, ChannelAccount
from storage.models import OutboxMessage as Outbox
from storage.uow import UnitOfWorkFactory
from tests.asyncpg_trips import round_trips, starting
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Resident
from tests.e2e.staff import LUTSK

pytestmark = pytest.mark.postgres_only


def _uows(running: RunningBot) -> UnitOfWorkFactory:
    assert running.app is not None
    return running.app.uows


async def test_a_first_message_makes_the_account_with_its_language(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    olena = Resident(tg, tg.user(5301, language_code="en"))
    with round_trips() as seen:
        greeting = await olena.say("/start")
    assert any("Welcome" in (message.text or "") for message in greeting)
    assert len(starting(seen, "INSERT INTO CHANNEL_ACCOUNTS")) == 1
    # The language went in with the account: no second write of the row, and so no
    # transaction for the step, whose claim and replies are one statement.
    assert starting(seen, "UPDATE CHANNEL_ACCOUNTS") == []
    assert len(starting(seen, "WITH CLAIM AS")) == 1
    async with _uows(running)() as uow:
        locale = await uow.session.scalar(
            select(ChannelAccount.locale).where(ChannelAccount.external_id == "5301")
        )
    assert locale == "en"


async def test_registration_and_filing_are_one_statement_each(
    tg: TelegramStandIn, desk: RunningBot
) -> None:
    taras = Resident(tg, tg.user(5302, language_code="en"))
    await taras.say("/start")
    with round_trips() as seen:
        registered = await taras.share_phone("380501112233")
    assert any("+380501112233" in (message.text or "") for message in registered)
    assert len(starting(seen, "WITH OWN AS")) == 1
    assert starting(seen, "INSERT INTO RESIDENTS", "INSERT INTO ACCOUNT_EVENTS") == []
    assert starting(seen, "UPDATE CHANNEL_ACCOUNTS", "UPDATE APPEALS") == []

    await taras.press("new")
    await taras.press("cat:other")
    await taras.send_location(*LUTSK)
    await taras.send_photo()
    await taras.send_photo()
    await taras.press("mdone")
    await taras.say("The bench in the park is broken in two.")
    with round_trips() as seen:
        filed = await taras.press("submit")
    assert any("1580-" in (message.text or "") for message in filed)
    assert len(starting(seen, "WITH FILED AS")) == 1
    assert starting(seen, "INSERT INTO APPEALS", "INSERT INTO APPEAL_MEDIA") == []
    assert starting(seen, "INSERT INTO APPEAL_EVENTS", "INSERT INTO OUTBOX (CREATED_AT") == []

    # What those statements wrote is what the rows, one by one, wrote before.
    async with _uows(desk)() as uow:
        account = (
            await uow.session.execute(
                select(ChannelAccount).where(ChannelAccount.external_id == "5302")
            )
        ).scalar_one()
        assert (account.phone, account.phone_verified_at is not None) == ("+380501112233", True)
        assert account.resident_id is not None
        kinds = (
            await uow.session.execute(
                select(AccountEvent.kind).where(AccountEvent.account_id == account.id)
            )
        ).scalars()
        assert list(kinds) == ["phone_verified"]
        appeal = (
            await uow.session.execute(select(Appeal).where(Appeal.account_id == account.id))
        ).scalar_one()
        assert appeal.resident_id == account.resident_id
        assert appeal.description == "The bench in the park is broken in two."
        media = (
            await uow.session.execute(
                select(AppealMedia.position, AppealMedia.kind, AppealMedia.role)
                .where(AppealMedia.appeal_id == appeal.id)
                .order_by(AppealMedia.position)
            )
        ).all()
        assert [tuple(row) for row in media] == [(0, "photo", "report"), (1, "photo", "report")]
        events = (
            await uow.session.execute(
                select(AppealEvent.kind, AppealEvent.to_status).where(
                    AppealEvent.appeal_id == appeal.id
                )
            )
        ).all()
        assert [tuple(row) for row in events] == [("status", "new")]
        cards = (
            await uow.session.execute(
                select(Outbox.kind).where(Outbox.appeal_id == appeal.id, Outbox.kind == "card")
            )
        ).scalars()
        assert list(cards) == ["card"]
        number = appeal.number
    # And the card it queued reaches the staff chat.
    await desk.settle()
    assert any(number in (message.text or "") for message in tg.messages(STAFF_CHAT))
