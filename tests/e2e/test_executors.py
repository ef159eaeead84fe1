"""Departments' executors in their own Telegram chats, over HTTP: the card posted to the
department, taking into work, reporting done with a photo, sending back to the operators, who
may not act, and the norms (reminders in the department's chat, escalation to the staff chat)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from standins.telegram import FakeChat, FakeUser, SentMessage, TelegramStandIn
from storage.models import Appeal, AppealEvent
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, texts
from tests.e2e.staff import file_appeal, staff_texts, status_of

WATER_CHAT = -100_777_001
RESCUE_CHAT = -100_777_002

DEPARTMENTS = f"""
[[department]]
code = "water"
names = {{ uk = "КП «Луцькводоканал»", en = "Lutskvodokanal (water utility)" }}
chat_id = {WATER_CHAT}
sla_hours = 10
reminder_hours = 6
escalation_hours = 12

[[department]]
code = "emergency"
names.uk = "Управління з питань надзвичайних ситуацій"
names.en = "Office for Emergency Situations"
chat_id = {RESCUE_CHAT}

[[department]]
code = "centre"
names = {{ uk = "Контактний центр «15-80»", en = "Contact centre 15-80" }}
"""


class Executor:
    """A member of a department's chat: presses the card's buttons and answers the bot."""

    def __init__(self, tg: TelegramStandIn, user: FakeUser, chat_id: int, running: RunningBot):
        self.tg = tg
        self.user = user
        self.chat_id = chat_id
        self.running = running

    def messages(self) -> list[SentMessage]:
        return self.tg.messages(self.chat_id)

    def text(self, since: int = 0) -> str:
        return "\n".join(m.text or "" for m in self.messages()[since:])

    def card(self, number: str) -> SentMessage:
        for message in reversed(self.messages()):
            if (message.text or "").split(" · ")[0].endswith(number) and message.buttons():
                return message
        raise AssertionError(f"no card for {number} in chat {self.chat_id}")

    async def press(
        self, message: SentMessage, data: str, *, check: bool = True
    ) -> dict[str, object]:
        delivery = await self.tg.press_button(self.user, message, data, check=check)
        assert delivery.status == 200
        answer = await self.tg.wait_for_callback_answer(delivery)
        await self.running.settle()
        return answer

    async def answer(self, text: str | None = None, *, photo: bool = False) -> None:
        """Reply to the bot's newest message in the chat (its question)."""
        chat = self.tg.chat(self.chat_id)
        asked = self.messages()[-1]
        if photo:
            await self.tg.send_photo(self.user, caption=text, chat=chat, reply_to=asked)
        else:
            await self.tg.send_text(self.user, text or "", chat=chat, reply_to=asked)
        await self.running.settle()


@pytest.fixture
def departments_file(tmp_path: Path) -> Path:
    path = tmp_path / "departments.toml"
    path.write_text(DEPARTMENTS, encoding="utf-8")
    return path


@pytest.fixture
def people(tg: TelegramStandIn) -> dict[str, FakeUser]:
    return {
        "ivan": tg.user(700, first_name="Ivan"),
        "maria": tg.user(701, first_name="Maria"),
        "stranger": tg.user(702, first_name="Stranger"),
    }


@pytest.fixture
def chats(
    tg: TelegramStandIn, staff: FakeChat, people: dict[str, FakeUser]
) -> tuple[FakeChat, FakeChat]:
    water = tg.group(WATER_CHAT, title="Vodokanal crews", members=[people["ivan"].id])
    rescue = tg.group(RESCUE_CHAT, title="Rescue service", members=[people["maria"].id])
    return water, rescue


@pytest.fixture
async def city(
    staff_settings: Settings,
    departments_file: Path,
    clock: FakeClock,
    chats: tuple[FakeChat, FakeChat],
) -> AsyncIterator[RunningBot]:
    settings = staff_settings.model_copy(
        update={"departments_file": departments_file, "escalation_period_hours": 24.0}
    )
    running = RunningBot(settings, clock)
    await running.start()
    yield running
    await running.stop()


async def accepted(
    tg: TelegramStandIn,
    city: RunningBot,
    operator: FakeUser,
    resident: Resident,
    category: tuple[str, ...] = ("water", "pipe_burst"),
) -> str:
    number = await file_appeal(resident, city, category)
    await Operator(tg, operator, city).press(number, f"s_acc:{number[-1]}")
    resident.catch_up()
    return number


async def test_executors_work_an_appeal_in_their_chat_and_the_staff_chat_sees_it(
    tg: TelegramStandIn,
    city: RunningBot,
    operators: tuple[FakeUser, FakeUser],
    people: dict[str, FakeUser],
) -> None:
    olena = Resident(tg, tg.user(5301, first_name="Olena", language_code="en"))
    number = await file_appeal(olena, city, ("water", "pipe_burst"))
    ivan = Executor(tg, people["ivan"], WATER_CHAT, city)
    # Nothing goes to the department before the operators accept the appeal.
    assert ivan.messages() == []
    assert city.app is not None
    async with city.app.uows() as uow:
        appeal = (await uow.session.execute(select(Appeal))).scalar_one()
        # The department's SLA (10 h) overrides the category's (burst pipe: 48 h / 4 h).
        assert appeal.due_at - appeal.created_at == timedelta(hours=10)

    await Operator(tg, operators[0], city).press(number, "s_acc:1")
    card = ivan.card(number)
    assert "Accepted" in (card.text or "")
    assert "Department: КП «Луцькводоканал»" in (card.text or "")
    assert {d for _, d in card.buttons()} == {"x_take:1", "x_done:1", "x_back:1"}
    # The resident's photo comes with it; never a phone number.
    assert [m.kind for m in ivan.messages()] == ["photo", "text"]
    assert "+380" not in ivan.text()
    olena.catch_up()

    staff_before = len(tg.messages(STAFF_CHAT))
    answer = await ivan.press(card, "x_take:1")
    assert "In progress" in str(answer["text"])
    assert await status_of(city, number) == "in_progress"
    assert f"Appeal {number}: In progress" in texts(olena.new())
    told = staff_texts(tg, staff_before)
    assert f"Executor Ivan (Lutskvodokanal (water utility)) took {number} into work" in told
    staff_card = Operator(tg, operators[0], city).card(number)
    assert "In progress" in (staff_card.text or "")
    assert "Ivan (Lutskvodokanal (water utility))" in (staff_card.text or "")

    # Done needs a photo; text alone keeps it open.
    answer = await ivan.press(card, "x_done:1")
    assert "photo" in str(answer["text"])
    await ivan.answer("done, trust me")
    assert "photo of the completed work is needed" in ivan.text()
    assert await status_of(city, number) == "in_progress"
    await ivan.answer("New pipe section welded in", photo=True)
    # One confirming tap before the resident is asked.
    assert await status_of(city, number) == "in_progress"
    question = ivan.messages()[-1]
    assert f"mark {number} done with this photo?" in (question.text or "")
    confirm = next(d for _, d in question.buttons() if d.startswith("x_ok:"))
    staff_before = len(tg.messages(STAFF_CHAT))
    await ivan.press(question, confirm)
    assert await status_of(city, number) == "done"
    pushed = olena.new()
    assert len([m for m in pushed if m.kind == "media_group_item"]) == 2
    assert "Is the problem fixed?" in texts(pushed)
    assert "New pipe section welded in" in texts(pushed)
    told = staff_texts(tg, staff_before)
    assert f"Executor Ivan (Lutskvodokanal (water utility)) reported {number} done" in told
    assert "Done" in (Operator(tg, operators[0], city).card(number).text or "")

    async with city.app.uows() as uow:
        events = (await uow.session.execute(select(AppealEvent).order_by(AppealEvent.id))).scalars()
        trail = [(e.kind, e.actor_kind, e.actor_id, e.to_status) for e in events]
    assert ("status", "executor", "700", "in_progress") in trail
    assert ("status", "executor", "700", "done") in trail
    assert ("to_executors", "operator", "900", None) in trail


async def test_executors_send_an_appeal_back_to_the_operators_with_a_reason(
    tg: TelegramStandIn,
    city: RunningBot,
    operators: tuple[FakeUser, FakeUser],
    people: dict[str, FakeUser],
) -> None:
    olena = Resident(tg, tg.user(5302, language_code="en"))
    number = await accepted(tg, city, operators[0], olena)
    ivan = Executor(tg, people["ivan"], WATER_CHAT, city)
    card = ivan.card(number)
    answer = await ivan.press(card, "x_back:1")
    assert "reason" in str(answer["text"])
    staff_before = len(tg.messages(STAFF_CHAT))
    await ivan.answer("It is a heating main, not a water pipe.")
    assert f"{number} is back with the operators" in ivan.text()
    told = tg.messages(STAFF_CHAT)[staff_before:]
    notice = next(m for m in told if "sends" in (m.text or ""))
    assert "It is a heating main, not a water pipe." in (notice.text or "")
    assert any(d.startswith("s_dept:1.") for _, d in notice.buttons())
    assert await status_of(city, number) == "accepted"
    # The card is the operators' again: the department's old buttons do nothing.
    answer = await ivan.press(card, "x_take:1")
    assert answer["show_alert"] is True
    assert "not with your department" in str(answer["text"])
    assert await status_of(city, number) == "accepted"
    # The resident heard nothing of it.
    assert olena.new() == []

    # The operators route it to the rescue service: its chat gets the card.
    oksana = Operator(tg, operators[0], city)
    target = next(d for t, d in notice.buttons() if "Emergency" in t or "надзвичайних" in t)
    delivery = await tg.press_button(operators[0], notice, target)
    await tg.wait_for_callback_answer(delivery)
    await city.settle()
    maria = Executor(tg, people["maria"], RESCUE_CHAT, city)
    assert {d for _, d in maria.card(number).buttons()} == {"x_take:1", "x_done:1", "x_back:1"}
    assert "Department: Управління" in (oksana.card(number).text or "")


async def test_who_may_not_act_in_a_department_chat(
    tg: TelegramStandIn,
    city: RunningBot,
    operators: tuple[FakeUser, FakeUser],
    people: dict[str, FakeUser],
    chats: tuple[FakeChat, FakeChat],
) -> None:
    olena = Resident(tg, tg.user(5303, language_code="en"))
    water_number = await accepted(tg, city, operators[0], olena)
    taras = Resident(tg, tg.user(5304, language_code="en"))
    rescue_number = await accepted(tg, city, operators[0], taras, ("emergency",))
    ivan = Executor(tg, people["ivan"], WATER_CHAT, city)
    maria = Executor(tg, people["maria"], RESCUE_CHAT, city)
    card = ivan.card(water_number)

    # A stranger in the department's chat (not a member) is refused.
    stranger = Executor(tg, people["stranger"], WATER_CHAT, city)
    answer = await stranger.press(card, "x_take:1", check=False)
    assert answer["show_alert"] is True
    assert "Only the executors of this department" in str(answer["text"])
    assert await status_of(city, water_number) == "accepted"

    # An executor pressing an operator's button (a forged reject) is refused.
    answer = await ivan.press(card, "s_rej:1", check=False)
    assert answer["show_alert"] is True
    assert "Only operators" in str(answer["text"])
    answer = await ivan.press(card, "s_tel:1", check=False)
    assert "+380" not in str(answer["text"])
    assert await status_of(city, water_number) == "accepted"

    # The rescue service cannot touch the water utility's appeal, even with forged data.
    answer = await maria.press(maria.card(rescue_number), "x_take:1", check=False)
    assert answer["show_alert"] is True
    assert f"{water_number} is not with your department" in str(answer["text"])
    assert await status_of(city, water_number) == "accepted"
    # An executor's button pressed in a chat that is no department's does nothing.
    staff_card = Operator(tg, operators[0], city).card(water_number)
    answer = await Executor(tg, operators[0], STAFF_CHAT, city).press(
        staff_card, "x_take:1", check=False
    )
    assert answer["show_alert"] is True
    assert await status_of(city, water_number) == "accepted"

    # Removed from the chat: refused at once.
    await tg.set_membership(chats[0], people["ivan"], member=False)
    answer = await ivan.press(card, "x_take:1", check=False)
    assert "Only the executors of this department" in str(answer["text"])
    await tg.set_membership(chats[0], people["ivan"], member=True)
    answer = await ivan.press(card, "x_take:1")
    assert answer.get("show_alert") is not True
    assert await status_of(city, water_number) == "in_progress"


async def test_overdue_reminders_in_the_department_chat_and_escalation(
    tg: TelegramStandIn,
    city: RunningBot,
    clock: FakeClock,
    operators: tuple[FakeUser, FakeUser],
    people: dict[str, FakeUser],
) -> None:
    olena = Resident(tg, tg.user(5305, language_code="en"))
    number = await accepted(tg, city, operators[0], olena)  # the department's SLA: 10 h
    ivan = Executor(tg, people["ivan"], WATER_CHAT, city)
    assert city.app is not None
    tick = city.app.maintenance.tick
    clock.advance(hours=9)
    result = await tick()
    assert (result.reminded_executors, result.escalated) == ([], [])
    clock.advance(hours=2)  # 1 h overdue
    result = await tick()
    # Reminded in the department's chat, not in the staff chat (the department holds it).
    assert (result.reminded, result.reminded_executors, result.escalated) == ([], [1], [])
    await city.settle()
    assert f"{number} is overdue" in ivan.text()
    assert "overdue" not in staff_texts(tg)
    # Once per the department's period (6 h), however often the timer runs.
    assert (await tick()).reminded_executors == []
    clock.advance(hours=6)  # 7 h overdue
    result = await tick()
    assert (result.reminded_executors, result.escalated) == ([1], [])
    clock.advance(hours=6)  # 13 h overdue: more than the department's 12 h
    result = await tick()
    assert (result.reminded_executors, result.escalated) == ([1], [1])
    await city.settle()
    assert f"Escalation: {number} is overdue by more than 12 h" in staff_texts(tg)
    assert "Lutskvodokanal" in staff_texts(tg)
    # Once per escalation period (24 h) across ticks.
    assert (await tick()).escalated == []
    clock.advance(hours=12)
    assert (await tick()).escalated == []
    clock.advance(hours=13)
    assert (await tick()).escalated == [1]
    await city.settle()
    assert staff_texts(tg).count(f"Escalation: {number}") == 2
    assert ivan.text().count(f"{number} is overdue") >= 4


async def test_a_department_without_a_chat_works_as_before(
    tg: TelegramStandIn,
    city: RunningBot,
    clock: FakeClock,
    operators: tuple[FakeUser, FakeUser],
) -> None:
    olena = Resident(tg, tg.user(5306, language_code="en"))
    number = await accepted(tg, city, operators[0], olena, ("other",))
    assert tg.messages(WATER_CHAT) == [] and tg.messages(RESCUE_CHAT) == []
    oksana = Operator(tg, operators[0], city)
    await oksana.press(number, "s_go:1")
    assert await status_of(city, number) == "in_progress"
    assert city.app is not None
    clock.advance(hours=241)
    result = await city.app.maintenance.tick()
    assert (result.reminded, result.reminded_executors, result.escalated) == ([1], [], [])
    await city.settle()
    assert f"Appeal {number} is overdue" in staff_texts(tg)


async def test_a_ukrainian_city_talks_to_its_executors_in_ukrainian(
    tg: TelegramStandIn,
    staff_settings: Settings,
    departments_file: Path,
    clock: FakeClock,
    chats: tuple[FakeChat, FakeChat],
    operators: tuple[FakeUser, FakeUser],
    people: dict[str, FakeUser],
) -> None:
    settings = staff_settings.model_copy(
        update={"departments_file": departments_file, "default_locale": "uk"}
    )
    city = RunningBot(settings, clock)
    await city.start()
    try:
        olena = Resident(tg, tg.user(5307, language_code="en"))
        number = await accepted(tg, city, operators[0], olena)
        ivan = Executor(tg, people["ivan"], WATER_CHAT, city)
        card = ivan.card(number)
        assert "Прийняте" in (card.text or "")
        assert {t for t, _ in card.buttons()} == {
            "🛠 Взяти в роботу",
            "✅ Виконано (фото)",
            "↩️ Повернути операторам",
        }
        stranger = Executor(tg, people["stranger"], WATER_CHAT, city)
        answer = await stranger.press(card, "x_take:1", check=False)
        assert "лише виконавці цього підрозділу" in str(answer["text"])
        await ivan.press(card, "x_take:1")
        assert f"Виконавець Ivan (КП «Луцькводоканал») взяв {number} в роботу" in staff_texts(tg)
        assert f"Ivan взяв {number} в роботу" in ivan.text()
        # The resident keeps their own language.
        assert f"Appeal {number}: In progress" in texts(olena.new())
    finally:
        await city.stop()


async def test_an_executors_unanswered_question_expires_in_their_chat(
    tg: TelegramStandIn,
    city: RunningBot,
    clock: FakeClock,
    operators: tuple[FakeUser, FakeUser],
    people: dict[str, FakeUser],
) -> None:
    olena = Resident(tg, tg.user(5308, language_code="en"))
    number = await accepted(tg, city, operators[0], olena)
    ivan = Executor(tg, people["ivan"], WATER_CHAT, city)
    await ivan.press(ivan.card(number), "x_take:1")
    await ivan.press(ivan.card(number), "x_done:1")
    assert city.app is not None
    clock.advance(minutes=11)
    assert (await city.app.maintenance.tick()).expired == [1]
    await city.settle()
    assert f"Ivan, your unfinished action on {number} expired" in ivan.text()
    assert "unfinished action" not in staff_texts(tg)
    # A late photo answers nothing any more.
    await ivan.answer(photo=True)
    assert await status_of(city, number) == "in_progress"
