"""Filing an appeal is held until the unit of work commits (storage.appeals): the appeal, its
media, its first event, its staff card's row and its number commit together or not at all,
and a number is never given twice. Where one process owns the database (SQLite) numbers are
taken in process; elsewhere from the counter's row. Both legs must behave the same."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from domain.dialog.events import Channel, GeoPoint, MediaKind
from domain.entities import NewMedia
from domain.kinds import EventKind, OutboxKind
from domain.statuses import INITIAL_STATUS
from storage.appeals import Numbers
from storage.models import Appeal, AppealCounter, AppealEvent, AppealMedia, OutboxMessage
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.residents import register

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
PREFIX = "1580"
PHOTOS = [
    NewMedia(MediaKind.PHOTO, Channel.TELEGRAM, "photo-before", "u1"),
    NewMedia(MediaKind.VIDEO, Channel.TELEGRAM, "video-before", None),
]


async def _resident(uows: UnitOfWorkFactory, chat: str) -> tuple[int, int, int]:
    """(account id, resident id, a leaf category's id)."""
    async with uows() as uow:
        account = await uow.accounts.get_or_create(
            Channel.TELEGRAM, chat, display_name="Olena", now=NOW
        )
        await uow.commit()
    resident = await register(uows, account.id, f"+38050{chat:0>7}", NOW)
    async with uows() as uow:
        leaf = next(c for c in await uow.categories.roots() if not c.has_children)
    return account.id, resident, leaf.id


async def _file(uow: UnitOfWork, who: tuple[int, int, int], *, card: str | None = "-100500") -> str:
    account, resident, category = who
    number = f"{PREFIX}-2026-{await uow.appeals.next_sequence(PREFIX, 2026):06d}"
    await uow.appeals.add(
        number=number,
        resident_id=resident,
        account_id=account,
        channel=Channel.TELEGRAM,
        category_id=category,
        status=INITIAL_STATUS,
        location=GeoPoint(50.7472, 25.3254),
        address=None,
        description="A water main burst near the stop.",
        media=PHOTOS,
        created_at=NOW,
        due_at=NOW,
        actor_kind="resident",
        actor_id=str(account),
        card_chat=card,
    )
    return number


async def test_an_appeal_is_filed_whole_at_the_commit(uows: UnitOfWorkFactory) -> None:
    who = await _resident(uows, "7101")
    woken: list[str] = []
    uows.on_outbox = lambda: woken.append("sender")
    async with uows() as uow:
        number = await _file(uow, who)
        assert woken == []
        await uow.commit()
    assert woken == ["sender"]  # the card's row wakes the sender at once
    async with uows() as uow:
        appeal = (
            await uow.session.execute(select(Appeal).where(Appeal.number == number))
        ).scalar_one()
        assert (appeal.resident_id, appeal.account_id, appeal.status) == (who[1], who[0], "new")
        assert (appeal.latitude, appeal.longitude) == (50.7472, 25.3254)
        assert appeal.created_at == NOW and appeal.status_changed_at == NOW
        assert appeal.staff_card_caption is False and appeal.staff_message_id is None
        media = (
            await uow.session.execute(
                select(AppealMedia.position, AppealMedia.kind, AppealMedia.file_ref)
                .where(AppealMedia.appeal_id == appeal.id)
                .order_by(AppealMedia.position)
            )
        ).all()
        assert [tuple(m) for m in media] == [
            (0, "photo", "photo-before"),
            (1, "video", "video-before"),
        ]
        events = (
            await uow.session.execute(
                select(AppealEvent.kind, AppealEvent.actor_id, AppealEvent.to_status).where(
                    AppealEvent.appeal_id == appeal.id
                )
            )
        ).all()
        assert [tuple(e) for e in events] == [(EventKind.STATUS.value, str(who[0]), "new")]
        card = (
            await uow.session.execute(
                select(OutboxMessage).where(OutboxMessage.appeal_id == appeal.id)
            )
        ).scalar_one()
        assert (card.chat, card.kind, card.status) == ("-100500", OutboxKind.CARD.value, "pending")
        assert card.payload == {}
        counter = await uow.session.get(AppealCounter, (PREFIX, 2026))
        assert counter is not None and counter.last_value == int(number[-6:])


async def test_a_rolled_back_filing_leaves_nothing_and_its_number_is_given_again(
    uows: UnitOfWorkFactory,
) -> None:
    who = await _resident(uows, "7102")
    async with uows() as uow:
        first = await _file(uow, who)
        await uow.commit()
    async with uows() as uow:
        lost = await _file(uow, who)
        # No commit: the unit of work rolls back (a fault later in the update).
    async with uows() as uow:
        again = await _file(uow, who, card=None)
        await uow.commit()
    assert int(lost[-6:]) == int(first[-6:]) + 1
    assert again == lost
    async with uows() as uow:
        appeals = (await uow.session.execute(select(func.count()).select_from(Appeal))).scalar()
        cards = (
            await uow.session.execute(select(func.count()).select_from(OutboxMessage))
        ).scalar()
        assert (appeals, cards) == (2, 1)


async def test_filings_in_flight_never_share_a_number(uows: UnitOfWorkFactory) -> None:
    """Two filings in flight at once (SQLite takes both numbers in process; PostgreSQL's
    counter row makes the second wait for the first). The first rolls back: its number is
    skipped, as a later one was taken, and no number is given twice."""
    who = await _resident(uows, "7103")
    if uows.numbers is None:  # PostgreSQL: the row lock serialises filers; one at a time
        async with uows() as uow:
            await _file(uow, who)  # rolled back
        async with uows() as uow:
            kept = await _file(uow, who)
            await uow.commit()
        async with uows() as uow:
            later = await _file(uow, who)
            await uow.commit()
        assert int(later[-6:]) == int(kept[-6:]) + 1
        return
    async with uows() as first, uows() as second:
        rolled_back = await _file(first, who)
        kept = await _file(second, who)
        await second.commit()
    async with uows() as uow:
        later = await _file(uow, who)
        await uow.commit()
    numbers = [rolled_back, kept, later]
    assert len(set(numbers)) == 3 and later > kept > rolled_back
    async with uows() as uow:
        stored = (await uow.session.execute(select(Appeal.number).order_by(Appeal.id))).scalars()
        assert list(stored) == [kept, later]


async def test_a_restarted_process_goes_on_from_the_stored_counter(
    uows: UnitOfWorkFactory,
) -> None:
    who = await _resident(uows, "7104")
    async with uows() as uow:
        first = await _file(uow, who)
        await uow.commit()
    if uows.numbers is not None:
        uows.numbers = Numbers()  # what a new process starts with
    async with uows() as uow:
        second = await _file(uow, who)
        await uow.commit()
    assert int(second[-6:]) == int(first[-6:]) + 1
