"""Appointments with officials over HTTP: Telegram and Viber residents book, see, move and
cancel; operators list the day, mark, cancel with a reason and close a day; reminders go out
through the outbox once each. The test clock starts on Sunday 29.11.2026, 11:00 in Kyiv; the
seed schedule has the mayor on Tuesdays 10:00-13:00 in 20-minute slots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Settings
from standins.telegram import FakeUser, SentMessage, TelegramStandIn
from standins.viber import ViberStandIn
from storage.models import Appointment, AppointmentEvent, ReceptionClosedDay
from tests.clock import FakeClock
from tests.e2e.conftest import STAFF_CHAT, Resident, RunningBot, buttons, texts
from tests.e2e.people import ViberResident
from tests.e2e.test_viber import VIBER_TOKEN

TUESDAY = "20261201"


@pytest.fixture
def e2e_settings(e2e_settings: Settings) -> Settings:
    # A booking takes a resident more taps within seconds than the flood guard allows a
    # person; the guard has its own tests.
    return e2e_settings.model_copy(update={"flood_limit": 1000})


async def book(person: Resident, slot: str, question: str, day: str = TUESDAY) -> str:
    await person.press("apt")
    await person.press("apto:mayor")
    await person.say(question)
    await person.press(f"aptd:{day}")
    await person.press(f"apts:{slot}")
    return texts(await person.press("aptb"))


async def statuses(running: RunningBot) -> dict[int, str]:
    assert running.app is not None
    async with running.app.uows() as uow:
        rows = await uow.session.execute(select(Appointment.id, Appointment.status))
        return {row_id: status for row_id, status in rows.all()}


async def events(running: RunningBot) -> list[tuple[str, str, str | None]]:
    assert running.app is not None
    async with running.app.uows() as uow:
        query = select(
            AppointmentEvent.kind, AppointmentEvent.actor_kind, AppointmentEvent.actor_name
        ).order_by(AppointmentEvent.id)
        return [(k, a, n) for k, a, n in (await uow.session.execute(query)).all()]


async def test_telegram_resident_books_sees_moves_and_cancels(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    anna = Resident(tg, tg.user(501, first_name="Anna", language_code="en"))
    await anna.register()
    assert "apt" in buttons(tg.messages(anna.chat_id))
    assert "Whom would you like to see?" in texts(await anna.press("apt"))
    assert "What is your question?" in texts(await anna.press("apto:mayor"))
    too_long = texts(await anna.say("word " * 80))
    assert "The question is too long: 399 characters, the limit is 300" in too_long
    days = await anna.say("Repair of our yard after the heating works")
    assert f"aptd:{TUESDAY}" in buttons(days)
    assert "aptd:20261130" not in buttons(days)  # the mayor receives on Tuesdays only
    slots = await anna.press(f"aptd:{TUESDAY}")
    assert {"apts:1000", "apts:1020", "apts:1240"} <= buttons(slots)
    assert "apts:1300" not in buttons(slots)
    review = texts(await anna.press("apts:1000"))
    assert "When: 01.12.2026 10:00" in review
    done = texts(await anna.press("aptb"))
    assert "Your appointment is booked" in done
    assert "1580-A00001" in done and "room 201" in done

    await anna.press("apt")
    mine = await anna.press("aptm")
    assert "1580-A00001" in texts(mine)
    assert {"aptx:1", "aptv:1"} <= buttons(mine)

    moving = await anna.press("aptv:1")
    assert "Your current booking stays" in texts(moving)
    assert "apts:1000" not in buttons(await anna.press(f"aptd:{TUESDAY}"))  # hers, taken
    await anna.press("back")
    await anna.press("aptd:20261208")
    review = texts(await anna.press("apts:1020"))
    assert "Your current booking will be cancelled" in review
    moved = texts(await anna.press("aptb"))
    assert "Your appointment is moved" in moved and "08.12.2026 10:20" in moved
    assert await statuses(running) == {1: "cancelled", 2: "booked"}

    await anna.press("apt")
    await anna.press("aptm")
    assert "Cancel booking 1580-A00002" in texts(await anna.press("aptx:2"))
    cancelled = texts(await anna.press("aptx:2.yes"))
    assert "Booking 1580-A00002 is cancelled" in cancelled
    assert "You have no upcoming bookings" in cancelled
    assert await statuses(running) == {1: "cancelled", 2: "cancelled"}
    assert [kind for kind, _actor, _name in await events(running)] == [
        "booked",
        "moved",
        "booked",
        "cancelled",
    ]


async def test_unregistered_resident_is_asked_for_the_phone_first(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    ivan = Resident(tg, tg.user(502, first_name="Ivan", language_code="en"))
    await ivan.say("/start")
    await tg.press_button(ivan.user, tg.messages(ivan.chat_id)[-1], "apt", check=False)
    assert "share your phone number" in texts(tg.messages(ivan.chat_id)[-1:])
    assert await statuses(running) == {}


async def test_ukrainian_resident_and_a_slot_taken_meanwhile(
    tg: TelegramStandIn, running: RunningBot
) -> None:
    olha = Resident(tg, tg.user(503, first_name="Ольга", language_code="uk"))
    petro = Resident(tg, tg.user(504, first_name="Петро", language_code="uk"))
    await olha.register()
    await petro.register()
    # Both reach the confirmation of the same slot; Petro books first.
    for person in (olha, petro):
        assert "Кого ви хочете відвідати?" in texts(await person.press("apt"))
        await person.press("apto:mayor")
        await person.say("Ремонт дороги на вулиці Шевченка")
        await person.press(f"aptd:{TUESDAY}")
        await person.press("apts:1000")
    assert "Ваш запис підтверджено" in texts(await petro.press("aptb"))
    taken = await olha.press("aptb")
    assert "щойно зайняв" in texts(taken)
    assert "apts:1000" not in buttons(taken) and "apts:1020" in buttons(taken)
    await olha.press("apts:1020")
    assert "1580-A00002" in texts(await olha.press("aptb"))
    assert await statuses(running) == {1: "booked", 2: "booked"}


async def test_reminders_the_day_before_and_two_hours_before_once_each(
    tg: TelegramStandIn, running: RunningBot, clock: FakeClock
) -> None:
    anna = Resident(tg, tg.user(505, first_name="Anna", language_code="en"))
    await anna.register()
    await book(anna, "1000", "Parking near the school")
    await anna.press("apt")
    assert "aptx:1" in buttons(await anna.press("aptm"))
    app = running.app
    assert app is not None
    assert (await app.maintenance.tick()).appointments_reminded == []
    clock.now = clock.now.replace(month=11, day=30, hour=8, minute=30)  # 23.5 h before
    assert (await app.maintenance.tick()).appointments_reminded == [1]
    assert (await app.maintenance.tick()).appointments_reminded == []
    await running.settle()
    reminder = texts(anna.new())
    assert "A reminder of your appointment" in reminder and "01.12.2026 10:00" in reminder
    clock.now = clock.now.replace(month=12, day=1, hour=6, minute=10)  # 1 h 50 min before
    assert (await app.maintenance.tick()).appointments_reminded == [1]
    assert (await app.maintenance.tick()).appointments_reminded == []
    await running.settle()
    assert "Your appointment starts at 10:00" in texts(anna.new())
    # Too late to change it now: the old button says why, and the list has none.
    late = await anna.press("aptx:1")
    assert "only until 2 hours before" in texts(late)
    assert "aptx:1" not in buttons(late)
    assert [k for k, _a, _n in await events(running)] == [
        "booked",
        "reminded_day",
        "reminded_soon",
    ]


# -- the staff chat -------------------------------------------------------------------------


def _with_button(tg: TelegramStandIn, data: str) -> SentMessage:
    for message in reversed(tg.messages(STAFF_CHAT)):
        if data in {d for _, d in message.buttons()}:
            return message
    raise AssertionError(f"no button {data!r} in the staff chat")


async def _press(tg: TelegramStandIn, desk: RunningBot, who: FakeUser, data: str) -> object:
    delivery = await tg.press_button(who, _with_button(tg, data), data)
    answer = await tg.wait_for_callback_answer(delivery)
    await desk.settle()
    return answer


async def _say(tg: TelegramStandIn, desk: RunningBot, who: FakeUser, text: str) -> None:
    await tg.send_text(who, text, chat=tg.chat(STAFF_CHAT))
    await desk.settle()


def _staff_since(tg: TelegramStandIn, since: int) -> str:
    return "\n".join(m.text or "" for m in tg.messages(STAFF_CHAT)[since:])


async def test_staff_list_the_day_mark_and_cancel_with_a_reason(
    tg: TelegramStandIn,
    desk: RunningBot,
    operators: tuple[FakeUser, FakeUser],
) -> None:
    oksana, petro = operators
    people = [
        Resident(tg, tg.user(511, first_name="Olena", language_code="uk")),
        Resident(tg, tg.user(512, first_name="Taras", language_code="en")),
        Resident(tg, tg.user(513, first_name="Maria", language_code="uk")),
    ]
    for index, person in enumerate(people):
        await person.register()
        await book(person, ["1000", "1020", "1040"][index], f"Question number {index + 1}")
    await desk.settle()

    since = len(tg.messages(STAFF_CHAT))
    await _say(tg, desk, oksana, "/appointments 01.12.2026")
    listed = _staff_since(tg, since)
    assert "Appointments on 01.12.2026: 3" in listed
    assert "10:00 · Mayor: Ihor Polishchuk · 1580-A00001" in listed
    assert "Resident: Olena, +380501234567" in listed
    assert "Question: Question number 2" in listed

    answer = await _press(tg, desk, oksana, "s_apa:1")
    assert "attended" in str(answer)
    assert "Status: attended" in (tg.messages(STAFF_CHAT)[since + 1].text or "")
    await _press(tg, desk, oksana, "s_apn:2")
    assert "did not come" in (tg.messages(STAFF_CHAT)[since + 2].text or "")

    await _press(tg, desk, oksana, "s_apx:3")
    prompt = tg.messages(STAFF_CHAT)[-1]
    assert "reply to this message with the reason" in (prompt.text or "")
    # Petro's reply is not Oksana's answer.
    await tg.send_text(petro, "no", chat=tg.chat(STAFF_CHAT), reply_to=prompt)
    await desk.settle()
    assert "This question was for Oksana" in (tg.messages(STAFF_CHAT)[-1].text or "")
    await tg.send_text(
        oksana, "The mayor is on a business trip", chat=tg.chat(STAFF_CHAT), reply_to=prompt
    )
    await desk.settle()
    confirmation = tg.messages(STAFF_CHAT)[-1].text or ""
    # The preview is what Maria gets, in her language.
    assert "скасовано" in confirmation and "The mayor is on a business trip" in confirmation
    await _press(tg, desk, oksana, next(d for _, d in tg.messages(STAFF_CHAT)[-1].buttons()))
    told = texts(people[2].new())
    assert "скасовано" in told and "The mayor is on a business trip" in told
    assert await statuses(desk) == {1: "attended", 2: "no_show", 3: "cancelled"}
    staff_events = [(k, a, n) for k, a, n in await events(desk) if a == "operator"]
    assert staff_events == [
        ("attended", "operator", "Oksana"),
        ("no_show", "operator", "Oksana"),
        ("cancelled", "operator", "Oksana"),
    ]


async def test_staff_close_a_day_after_confirming(
    tg: TelegramStandIn,
    desk: RunningBot,
    operators: tuple[FakeUser, FakeUser],
) -> None:
    oksana, _petro = operators
    taras = Resident(tg, tg.user(521, first_name="Taras", language_code="en"))
    await taras.register()
    await book(taras, "1100", "Bus stop near the market")
    await desk.settle()
    taras.new()

    await _say(tg, desk, oksana, "/close_day mayor")
    assert "Usage: /close_day" in (tg.messages(STAFF_CHAT)[-1].text or "")
    await _say(tg, desk, oksana, "/close_day mayor 2026-12-01 a session of the council")
    ask = tg.messages(STAFF_CHAT)[-1].text or ""
    assert "close the reception of Mayor: Ihor Polishchuk on 01.12.2026" in ask
    assert "1 booked appointments will be cancelled" in ask
    assert await statuses(desk) == {1: "booked"}  # nothing happens before the tap
    await _press(tg, desk, oksana, next(d for _, d in tg.messages(STAFF_CHAT)[-1].buttons()))
    told = texts(taras.new())
    assert "is cancelled by the city council" in told and "a session of the council" in told
    assert await statuses(desk) == {1: "cancelled"}
    assert desk.app is not None
    async with desk.app.uows() as uow:
        closed = (await uow.session.execute(select(ReceptionClosedDay))).scalar_one()
        assert (str(closed.day), closed.actor_name) == ("2026-12-01", "Oksana")
    await taras.press("apt")
    assert f"aptd:{TUESDAY}" not in buttons(
        await taras.press("apto:mayor") + await taras.say("Bus stop near the market")
    )


# -- Viber ----------------------------------------------------------------------------------


@pytest.fixture
async def viber() -> AsyncIterator[ViberStandIn]:
    async with ViberStandIn(VIBER_TOKEN) as server:
        yield server


@pytest.fixture
async def on_viber(
    e2e_settings: Settings, viber: ViberStandIn, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    settings = e2e_settings.model_copy(
        update={
            "viber_auth_token": SecretStr(VIBER_TOKEN),
            "viber_api_url": viber.base_url,
            "media_dir": tmp_path / "media",
            "viber_media_hosts": (viber.base_url,),
        }
    )
    running = RunningBot(settings, clock)
    await running.start()
    yield running
    await running.stop()


async def test_viber_resident_books(viber: ViberStandIn, on_viber: RunningBot) -> None:
    olena = ViberResident(viber, viber.user(name="Olena", language="en"))
    await viber.open_conversation(olena.user)
    await olena.press("/start")
    await olena.press("share-phone")
    assert "Whom would you like to see?" in await olena.press("apt")
    await olena.press("apto:deputy_utilities")
    assert "too short" in await olena.say("Hi")
    await olena.say("Heating in the house at Kovelska 5")
    slots = await olena.press("aptd:20261130")
    assert "choose a free time" in slots
    bodies = {b[2] for b in viber.last_message(olena.user).buttons()}
    assert {"apts:1400", "apts:1645"} <= bodies
    await olena.press("apts:1400")
    done = await olena.press("aptb")
    assert "Your appointment is booked" in done and "30.11.2026 14:00" in done
    assert await statuses(on_viber) == {1: "booked"}
