"""The staff chat and the appeal lifecycle over HTTP, with every push checked on both sides."""

from __future__ import annotations

from sqlalchemy import select

from bot.config import Settings
from standins.telegram import FakeUser, TelegramStandIn
from storage.models import AppealEvent, OutboxMessage
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, buttons, texts
from tests.e2e.staff import file_appeal, staff_chat, staff_texts, status_of


async def test_whole_life_of_an_appeal(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5101, first_name="Olena", language_code="en"))
    number = await file_appeal(olena, desk, ("water", "pipe_burst"))
    oksana = Operator(tg, operators[0], desk)

    # The card is one message: the photo, with the text (a map link for the pin) as its
    # caption and the buttons of a new appeal; no phone number on it.
    staff_messages = tg.messages(STAFF_CHAT)
    assert [m.kind for m in staff_messages] == ["photo"]
    assert tg.calls_of("sendLocation") == []
    card = oksana.card(number)
    assert card.kind == "photo"
    assert "Water and sewage → Burst pipe, leak" in (card.text or "")
    assert "https://www.google.com/maps?q=50.747200,25.325400" in (card.text or "")
    assert "+380" not in staff_texts(tg)
    assert {d for _, d in card.buttons()} == {
        "s_acc:1",
        "s_rej:1",
        "s_dup:1",
        "s_route:1",
        "s_tel:1",
        "s_hist:1",
    }

    await oksana.press(number, "s_acc:1")
    assert "Accepted" in (oksana.card(number).text or "")
    assert "s_go:1" in {d for _, d in oksana.card(number).buttons()}
    pushed = texts(olena.new())
    assert f"Appeal {number}: Accepted" in pushed
    # The resident's language (English, detected at first contact), the department's too.
    assert "Lutskvodokanal (water utility)" in pushed
    assert "Due by:" in pushed

    await oksana.press(number, "s_go:1")
    assert f"Appeal {number}: In progress" in texts(olena.new())

    # "Done" without a photo keeps it open; chatter that answers nothing is left alone.
    answer = await oksana.press(number, "s_done:1")
    assert "photo" in str(answer["text"])
    before = len(tg.messages(STAFF_CHAT))
    await oksana.say("fixed it, trust me")
    assert tg.messages(STAFF_CHAT)[before:] == []
    await oksana.answer("fixed it, trust me")
    assert "photo of the completed work is needed" in staff_texts(tg, before)
    assert await status_of(desk, number) == "in_progress"
    await oksana.reply_photo(number, caption="Pipe replaced, asphalt restored")
    assert await status_of(desk, number) == "done"
    done_push = olena.new()
    assert [m.kind for m in done_push[:1]] == ["media_group_item"]
    assert len([m for m in done_push if m.kind == "media_group_item"]) == 2
    assert "Is the problem fixed?" in texts(done_push)
    assert "Pipe replaced, asphalt restored" in texts(done_push)
    assert {"fx:1", "nf:1"} <= buttons(done_push)

    # Not fixed: the resident says why, and it is reopened in the staff chat.
    before = len(tg.messages(STAFF_CHAT))
    await olena.press("nf:1")
    await olena.send_photo()
    reopened = await olena.say("Still leaking, the puddle is back this morning.")
    await desk.settle()
    assert "reopened" in texts(reopened)
    assert await status_of(desk, number) == "reopened"
    assert "NOT fixed: Still leaking" in staff_texts(tg, before)
    assert "Reopened" in (oksana.card(number).text or "")

    await oksana.press(number, "s_go:1")
    # A photo replied to the card without «Done» asks first.
    await oksana.reply_photo(number)
    assert await status_of(desk, number) == "in_progress"
    question = oksana.confirmation()
    assert f"mark {number} done with this photo?" in (question.text or "")
    await oksana.confirm()
    assert await status_of(desk, number) == "done"
    # The question keeps its text for the record, says who confirmed, and loses its buttons.
    settled = next(m for m in tg.messages(STAFF_CHAT) if m.message_id == question.message_id)
    assert "Confirmed by Oksana" in (settled.text or "")
    assert settled.buttons() == []
    olena.new()
    await olena.press("fx:1")
    await desk.settle()
    assert await status_of(desk, number) == "closed"
    assert f"confirmed {number} is fixed" in staff_texts(tg)
    closed_card = oksana.card(number)
    assert "Closed" in (closed_card.text or "")
    assert {d for _, d in closed_card.buttons()} == {"s_tel:1", "s_hist:1"}

    assert desk.app is not None
    async with desk.app.uows() as uow:
        events = (await uow.session.execute(select(AppealEvent).order_by(AppealEvent.id))).scalars()
        trail = [(e.actor_kind, e.from_status, e.to_status, e.actor_name) for e in events]
        assert trail == [
            ("resident", None, "new", None),
            ("operator", "new", "accepted", "Oksana"),
            ("operator", "accepted", "in_progress", "Oksana"),
            ("operator", "in_progress", "done", "Oksana"),
            ("resident", "done", "reopened", None),
            ("operator", "reopened", "in_progress", "Oksana"),
            ("operator", "in_progress", "done", "Oksana"),
            ("resident", "done", "closed", None),
        ]
        outbox = (await uow.session.execute(select(OutboxMessage.status))).scalars().all()
        assert set(outbox) <= {"sent", "superseded"}


async def test_non_member_and_forged_staff_buttons_change_nothing(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5102, language_code="en"))
    number = await file_appeal(olena, desk)
    card = Operator(tg, operators[0], desk).card(number)
    stranger = tg.user(6666, first_name="Stranger")
    delivery = await tg.press_button(stranger, card, "s_acc:1", check=False)
    answer = await tg.wait_for_callback_answer(delivery)
    assert answer["show_alert"] is True
    assert "Only operators" in str(answer["text"])
    # The resident forges a staff button in their own chat.
    forged = await tg.press_button(
        olena.user, tg.last_message(olena.chat_id), "s_acc:1", check=False
    )
    assert "Only operators" in str((await tg.wait_for_callback_answer(forged))["text"])
    assert await status_of(desk, number) == "new"
    # A malformed staff id is no appeal at all.
    bogus = await tg.press_button(operators[0], card, "s_acc:abc", check=False)
    assert (await tg.wait_for_callback_answer(bogus))["show_alert"] is True
    assert await status_of(desk, number) == "new"


async def test_transition_the_table_forbids_is_refused(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5103, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    old_card = oksana.card(number)
    # A stale "Done" pressed on a new appeal (e.g. from an old copy of the card).
    stale = await tg.press_button(operators[0], old_card, "s_done:1", check=False)
    answer = await tg.wait_for_callback_answer(stale)
    assert answer["show_alert"] is True
    assert "cannot become «Done»" in str(answer["text"])
    await oksana.press(number, "s_acc:1")
    # Petro's copy of the card is behind: he learns who moved it and when.
    again = await tg.press_button(operators[1], old_card, "s_acc:1", check=False)
    said = str((await tg.wait_for_callback_answer(again))["text"])
    assert said == "Already «Accepted»: Oksana, 11:00."
    assert await status_of(desk, number) == "accepted"


async def test_operator_and_resident_talk_through_the_bot(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5104, first_name="Olena", language_code="en"))
    number = await file_appeal(olena, desk)
    petro = Operator(tg, operators[1], desk)
    await petro.reply(number, "Which entrance is it, the first or the second?")
    # Petro sees what the resident will get, and nothing goes out before his tap.
    preview = petro.confirmation().text or ""
    assert "Operator of 15-80 about appeal" in preview
    assert "Which entrance is it" in preview
    assert olena.new() == []
    await petro.confirm()
    relayed = olena.new()
    assert "Operator of 15-80" in texts(relayed)
    assert "Which entrance is it" in texts(relayed)
    assert "Petro" not in texts(relayed)
    assert "rp:1" in buttons(relayed)
    before = len(tg.messages(STAFF_CHAT))
    await olena.press("rp:1")
    sent = await olena.say("The second one, next to the pharmacy.")
    assert "sent to the operator" in texts(sent)
    await desk.settle()
    answer = tg.messages(STAFF_CHAT)[before:]
    assert "The second one, next to the pharmacy." in texts(answer)
    assert answer[-1].reply_to_message_id == petro.card(number).message_id
    assert "Olena" not in texts(answer)
    assert "+380" not in texts(answer)
    # An operator's history shows the relay both ways.
    await petro.say(f"/history {number}")
    history = tg.messages(STAFF_CHAT)[-1].text or ""
    assert "Petro · message to the resident: Which entrance" in history
    assert "message from the resident: The second one" in history


async def test_phone_is_revealed_on_request_and_recorded(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5105, language_code="en"))
    number = await file_appeal(olena, desk)
    answer = await Operator(tg, operators[0], desk).press(number, "s_tel:1")
    assert "+380501234567" in str(answer["text"])
    assert answer["show_alert"] is True
    assert "+380501234567" not in staff_texts(tg)
    assert desk.app is not None
    async with desk.app.uows() as uow:
        kinds = (await uow.session.execute(select(AppealEvent.kind))).scalars().all()
        assert "reveal" in kinds


async def test_reject_needs_a_reason_and_duplicate_points_to_the_original(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    first = Resident(tg, tg.user(5106, language_code="en"))
    second = Resident(tg, tg.user(5107, language_code="en"))
    original = await file_appeal(first, desk)
    copy = await file_appeal(second, desk)
    oksana = Operator(tg, operators[0], desk)
    await oksana.press(copy, "s_dup:2")
    await oksana.answer("1580-2026-999999")
    assert "No appeal with the number" in staff_texts(tg)
    await oksana.reply(copy, original)
    # The operator sees the resident's message before it goes.
    preview = oksana.confirmation().text or ""
    assert f"already being handled under appeal {original}" in preview
    assert await status_of(desk, copy) == "new"
    await oksana.confirm()
    assert await status_of(desk, copy) == "duplicate"
    told = texts(second.new())
    assert f"already being handled under appeal {original}" in told

    await oksana.press(original, "s_rej:1")
    await oksana.say("/cancel")
    assert "Cancelled" in staff_texts(tg)
    assert await status_of(desk, original) == "new"
    await oksana.press(original, "s_rej:1")
    await oksana.answer("Private territory of a factory, not the city's responsibility.")
    assert await status_of(desk, original) == "new"
    assert "Private territory of a factory" in (oksana.confirmation().text or "")
    await oksana.confirm()
    assert await status_of(desk, original) == "rejected"
    rejected = texts(first.new())
    assert "Rejected" in rejected
    assert "Private territory of a factory" in rejected


async def test_overdue_reminder_once_per_period(
    tg: TelegramStandIn, desk: RunningBot, clock: FakeClock, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5108, language_code="en"))
    number = await file_appeal(olena, desk)  # emergency: 4 hours
    assert desk.app is not None
    clock.advance(hours=3)
    assert (await desk.app.maintenance.tick()).reminded == []
    clock.advance(hours=2)
    assert (await desk.app.maintenance.tick()).reminded == [1]
    await desk.settle()
    assert f"Appeal {number} is overdue" in staff_texts(tg)
    assert "OVERDUE" in (Operator(tg, operators[0], desk).card(number).text or "")
    clock.advance(hours=1)
    assert (await desk.app.maintenance.tick()).reminded == []
    clock.advance(hours=12)
    assert (await desk.app.maintenance.tick()).reminded == [1]
    await desk.settle()
    assert staff_texts(tg).count(f"Appeal {number} is overdue") == 2


async def test_done_appeal_closes_when_the_resident_does_not_answer(
    tg: TelegramStandIn, desk: RunningBot, clock: FakeClock, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5109, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    await oksana.press(number, "s_acc:1")
    await oksana.press(number, "s_go:1")
    await oksana.press(number, "s_done:1")
    await oksana.reply_photo(number)
    assert await status_of(desk, number) == "done"
    assert desk.app is not None
    clock.advance(days=2)
    assert (await desk.app.maintenance.tick()).closed == []
    clock.advance(days=2)
    assert (await desk.app.maintenance.tick()).closed == [1]
    await desk.settle()
    assert await status_of(desk, number) == "closed"
    assert "closed as fixed" in texts(olena.new())
    # The old question's buttons no longer reopen it.
    assert "already answered" in texts(await olena.press("nf:1"))


async def test_forum_staff_chat_gets_a_topic_per_category(
    tg: TelegramStandIn, staff_settings: Settings, clock: FakeClock
) -> None:
    tg.group(STAFF_CHAT, title="15-80 forum", is_forum=True, members=[900])
    running = RunningBot(staff_settings, clock)
    await running.start()
    try:
        for user_id in (5110, 5111):
            await file_appeal(Resident(tg, tg.user(user_id, language_code="en")), running)
        await file_appeal(
            Resident(tg, tg.user(5112, language_code="en")), running, ("heating", "no_heating")
        )
        topics = tg.calls_of("createForumTopic")
        assert [c.params["name"] for c in topics] == ["Emergency situations", "Heating"]
        cards = [m for m in tg.messages(STAFF_CHAT) if m.buttons()]
        assert len(cards) == 3
        assert cards[0].message_thread_id == cards[1].message_thread_id
        assert cards[2].message_thread_id != cards[0].message_thread_id
    finally:
        await running.stop()


async def test_delivery_survives_429_500_and_a_restart(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5113, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    tg.fail("sendMessage", status=429, retry_after=1, times=2)
    tg.fail("editMessageText", status=500, times=3)
    await oksana.press(number, "s_acc:1")
    assert f"Appeal {number}: Accepted" in texts(olena.new())
    assert "Accepted" in (oksana.card(number).text or "")

    # Stop the sender, queue more, restart: everything pending goes out once.
    assert desk.app is not None
    await desk.app.stop_background()
    for data in ("s_go:1",):
        delivery = await tg.press_button(operators[0], oksana.card(number), data)
        await tg.wait_for_callback_answer(delivery)
    await tg.send_text(
        operators[0], "We are on site now.", chat=staff_chat(tg), reply_to=oksana.card(number)
    )
    await tg.wait_for_callback_answer(
        await tg.press_button(
            operators[0],
            oksana.confirmation(),
            next(d for _, d in oksana.confirmation().buttons() if d.startswith("s_ok:")),
        )
    )
    async with desk.app.uows() as uow:
        assert await uow.outbox.count_pending() >= 3
    assert olena.new() == []
    tg.fail("sendMessage", status=500, times=1)
    await desk.restart()
    await desk.settle()
    after = texts(olena.new())
    assert after.count(f"Appeal {number}: In progress") == 1
    assert after.count("We are on site now.") == 1
    assert "In progress" in (oksana.card(number).text or "")
    assert desk.app is not None
    async with desk.app.uows() as uow:
        statuses = (await uow.session.execute(select(OutboxMessage.status))).scalars().all()
        assert "pending" not in statuses
        assert "failed" not in statuses


async def test_blocked_resident_is_recorded_and_nothing_else_stops(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5114, language_code="en"))
    number = await file_appeal(olena, desk)
    tg.blocked_users.add(olena.user.id)
    oksana = Operator(tg, operators[0], desk)
    await oksana.press(number, "s_acc:1")
    assert "Accepted" in (oksana.card(number).text or "")
    assert desk.app is not None
    async with desk.app.uows() as uow:
        failed = (
            (
                await uow.session.execute(
                    select(OutboxMessage.last_error).where(OutboxMessage.status == "failed")
                )
            )
            .scalars()
            .all()
        )
        assert len(failed) == 1
        assert "blocked" in (failed[0] or "")


async def test_operator_routes_an_appeal_to_another_department(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5115, language_code="en"))
    number = await file_appeal(olena, desk)  # emergency: its own department by default
    oksana = Operator(tg, operators[0], desk)
    assert "Управління з питань надзвичайних ситуацій" in (oksana.card(number).text or "")
    await oksana.press(number, "s_route:1")
    choice = tg.messages(STAFF_CHAT)[-1]
    departments = dict(choice.buttons())
    target = next(d for name, d in departments.items() if "Луцькводоканал" in name)
    answer = await tg.wait_for_callback_answer(await tg.press_button(operators[0], choice, target))
    await desk.settle()
    assert "routed to КП «Луцькводоканал»" in str(answer["text"])
    assert "Department: КП «Луцькводоканал»" in (oksana.card(number).text or "")
    # Accepting keeps the department the operator chose, and the resident hears where it went.
    await oksana.press(number, "s_acc:1")
    assert "Lutskvodokanal (water utility)" in texts(olena.new())
    forged = await tg.press_button(operators[0], choice, "s_dept:1.0000000000", check=False)
    assert (await tg.wait_for_callback_answer(forged))["show_alert"] is True
