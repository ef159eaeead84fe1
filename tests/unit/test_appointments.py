"""The reception file's checks, the schedule's slots, and the guard against double booking:
the unique index over active bookings, also against 20 parallel bookers on PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.appointments import sync_reception
from bot.config import PROJECT_ROOT, Settings
from domain.appointments import (
    Actor,
    AppointmentConfig,
    AppointmentService,
    NewBooking,
    SlotTakenError,
)
from domain.dialog.events import Channel
from domain.i18n import Translator
from domain.reception import ReceptionFileError, load_reception, parse_reception
from domain.services import ResidentService
from storage.models import Appointment
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.clock import FakeClock

KYIV = ZoneInfo("Europe/Kyiv")
# The mayor's first Tuesday slot after the test clock's start (10:00 in Kyiv).
TUESDAY_TEN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

GOOD = """
[[official]]
code = "mayor"
names = { uk = "Ігор", en = "Ihor" }
titles = { uk = "Міський голова", en = "Mayor" }
place = { uk = "каб. 1", en = "room 1" }
slot_minutes = 25
hours = [{ weekday = "tue", from = "10:00", to = "11:00" }]
days_off = [2026-12-08]
"""


def test_the_seed_file_is_valid() -> None:
    specs = load_reception(PROJECT_ROOT / "storage" / "seed" / "reception.toml")
    assert [s.code for s in specs] == ["mayor", "deputy_utilities", "head_transport"]


def test_slots_fit_whole_in_the_hours_and_skip_days_off() -> None:
    (mayor,) = parse_reception(GOOD)
    slots = mayor.schedule.slots(date(2026, 12, 1), KYIV)
    assert [s.astimezone(KYIV).strftime("%H:%M") for s in slots] == ["10:00", "10:25"]
    assert mayor.schedule.slots(date(2026, 12, 2), KYIV) == []  # a Wednesday
    assert mayor.schedule.slots(date(2026, 12, 8), KYIV) == []  # a day off


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('weekday = "tue"', 'weekday = "tuesday"'), "official[0] (mayor).hours[0]: weekday"),
        (('from = "10:00"', 'from = "11:30"'), "official[0] (mayor).hours[0]: from must be"),
        (("slot_minutes = 25", "slot_minutes = 0"), "official[0] (mayor): slot_minutes"),
        (('titles = { uk = "Міський голова", en = "Mayor" }', ""), "(mayor): titles needs"),
        (("days_off = [2026-12-08]", 'days_off = ["soon"]'), "(mayor): days_off must be"),
        (('code = "mayor"', 'code = "Mayor!"'), "official[0]: code must be"),
    ],
)
def test_a_bad_entry_is_named(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ReceptionFileError, match=re.escape(message)):
        parse_reception(GOOD.replace(*change))


def test_a_code_used_twice_is_refused() -> None:
    with pytest.raises(ReceptionFileError, match="'mayor' is used twice"):
        parse_reception(GOOD + GOOD)


async def _residents(uows: UnitOfWorkFactory, count: int) -> list[tuple[int, int]]:
    """(resident id, account id) of `count` registered Telegram residents."""
    made: list[int] = []
    async with uows() as uow:
        residents = ResidentService(uow, FakeClock())
        for index in range(count):
            account = await residents.identify(Channel.TELEGRAM, str(7000 + index), "R")
            await residents.register(account, f"+38050000{index:04d}", verified=True)
            made.append(account.id)
        await uow.commit()
    found: list[tuple[int, int]] = []
    async with uows() as uow:
        for account_id in made:
            stored = await uow.identity.account(account_id)
            assert stored is not None and stored.resident_id is not None
            found.append((stored.resident_id, account_id))
    return found


def _service(
    uow: UnitOfWork, translator: Translator, clock: FakeClock, settings: Settings
) -> AppointmentService:
    return AppointmentService(
        uow.appointments,
        uow.outbox,
        translator,
        clock,
        AppointmentConfig(KYIV, settings.appeal_number_prefix),
    )


async def test_the_index_refuses_a_second_active_booking_of_a_slot(
    uows: UnitOfWorkFactory, settings: Settings
) -> None:
    await sync_reception(uows, settings.reception_file)
    (first, second) = await _residents(uows, 2)
    async with uows() as uow:
        mayor = await uow.appointments.official("mayor")
        assert mayor is not None

        def new(who: tuple[int, int], start: datetime = TUESDAY_TEN) -> NewBooking:
            day = start.astimezone(KYIV).date()
            return NewBooking(mayor.id, start, start, who[0], who[1], "q", start, day, False, False)

        await uow.appointments.add(new(first))
        # Past the service's own check: the database itself says no.
        with pytest.raises(SlotTakenError):
            await uow.appointments.add(new(second))
        # A move that cannot book undoes its cancellation too.
        later = await uow.appointments.add(new(second, TUESDAY_TEN.replace(minute=20)))
        with pytest.raises(SlotTakenError):
            await uow.appointments.add(new(second), cancel=later.id)
        kept = await uow.appointments.get(later.id)
        assert kept is not None and kept.status.value == "booked"
        await uow.commit()


@pytest.mark.postgres_only  # SQLite runs one writer at a time; the race needs real ones
async def test_twenty_parallel_bookers_one_wins(
    uows: UnitOfWorkFactory, settings: Settings, translator: Translator, clock: FakeClock
) -> None:
    await sync_reception(uows, settings.reception_file)
    people = await _residents(uows, 20)
    async with uows() as uow:
        mayor = await uow.appointments.official("mayor")
    assert mayor is not None
    start_line = asyncio.Event()

    async def booker(who: tuple[int, int]) -> bool:
        async with uows() as uow:
            service = _service(uow, translator, clock, settings)
            await start_line.wait()
            try:
                await service.book(
                    mayor,
                    TUESDAY_TEN,
                    resident_id=who[0],
                    account_id=who[1],
                    question="the same slot",
                    actor=Actor("resident", str(who[1])),
                )
            except SlotTakenError:
                return False
            await uow.commit()
            return True

    tasks = [asyncio.create_task(booker(who)) for who in people]
    await asyncio.sleep(0.05)
    start_line.set()
    results = await asyncio.gather(*tasks)
    assert sorted(results) == [False] * 19 + [True]
    async with uows() as uow:
        query = select(func.count()).where(
            Appointment.official_id == mayor.id, Appointment.starts_at == TUESDAY_TEN
        )
        assert (await uow.session.execute(query)).scalar_one() == 1


async def test_a_booking_on_a_day_closed_meanwhile_is_refused_by_the_store(
    uows: UnitOfWorkFactory, settings: Settings
) -> None:
    """The service checks free slots first; the store checks again under the official's
    lock, which is what stops a booking that raced a closure."""
    await sync_reception(uows, settings.reception_file)
    (resident,) = await _residents(uows, 1)
    day = TUESDAY_TEN.astimezone(KYIV).date()
    async with uows() as uow:
        mayor = await uow.appointments.official("mayor")
        assert mayor is not None
        staff = Actor("operator", "1", "Oksana")
        assert await uow.appointments.close_day(mayor.id, day, staff, TUESDAY_TEN)
        new = NewBooking(
            mayor.id, TUESDAY_TEN, TUESDAY_TEN, *resident, "q", TUESDAY_TEN, day, False, False
        )
        with pytest.raises(SlotTakenError):
            await uow.appointments.add(new)
        await uow.commit()
    async with uows() as uow:
        count = select(func.count()).where(Appointment.official_id == mayor.id)
        assert (await uow.session.execute(count)).scalar_one() == 0


@pytest.mark.postgres_only  # SQLite runs one writer at a time; the race needs real ones
async def test_no_booking_survives_a_closure_that_races_it(
    uows: UnitOfWorkFactory, settings: Settings, translator: Translator, clock: FakeClock
) -> None:
    await sync_reception(uows, settings.reception_file)
    people = await _residents(uows, 10)
    async with uows() as uow:
        mayor = await uow.appointments.official("mayor")
    assert mayor is not None
    day = TUESDAY_TEN.astimezone(KYIV).date()
    start_line = asyncio.Event()
    slots = [TUESDAY_TEN.replace(minute=minute) for minute in (0, 20, 40)]

    async def booker(index: int, who: tuple[int, int]) -> None:
        async with uows() as uow:
            service = _service(uow, translator, clock, settings)
            await start_line.wait()
            try:
                await service.book(
                    mayor,
                    slots[index % len(slots)],
                    resident_id=who[0],
                    account_id=who[1],
                    question="before the day closes",
                    actor=Actor("resident", str(who[1])),
                )
            except SlotTakenError:
                return
            await uow.commit()

    async def closer() -> None:
        async with uows() as uow:
            service = _service(uow, translator, clock, settings)
            await start_line.wait()
            await service.close_day(mayor, day, "the mayor is away", Actor("operator", "1", "O"))
            await uow.commit()

    tasks = [asyncio.create_task(booker(i, who)) for i, who in enumerate(people)]
    tasks.insert(len(tasks) // 2, asyncio.create_task(closer()))
    await asyncio.sleep(0.05)
    start_line.set()
    await asyncio.gather(*tasks)
    async with uows() as uow:
        booked = select(func.count()).where(
            Appointment.official_id == mayor.id, Appointment.status == "booked"
        )
        assert (await uow.session.execute(booked)).scalar_one() == 0
