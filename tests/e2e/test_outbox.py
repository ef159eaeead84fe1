"""The outbox sender: fair between chats, priority for posted cards in the staff chat, a card
that fails takes its dependents along and is reported, a deleted forum topic is recreated, a
refused token pauses sending, and retries have a ceiling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.config import Settings
from domain.dialog.events import Channel
from domain.dialog.replies import Reply
from domain.lifecycle import KIND_CARD, KIND_CARD_EDIT, KIND_REPLIES
from standins.telegram import FakeChat, FakeUser, TelegramStandIn
from storage.models import OutboxMessage
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, texts
from tests.e2e.staff import LUTSK, file_appeal


@pytest.fixture
def staff_settings(e2e_settings: Settings) -> Settings:
    return e2e_settings.model_copy(
        update={
            "staff_chat_id": STAFF_CHAT,
            "default_locale": "en",
            "outbox_credentials_pause_seconds": 0.2,
            "outbox_max_attempts": 3,
        }
    )


async def submit(resident: Resident) -> str:
    """File an appeal without waiting for the outbox (whose sender a test may have stopped)."""
    await resident.register()
    await resident.press("new")
    await resident.press("cat:emergency")
    await resident.press("urgo")
    await resident.send_location(*LUTSK)
    await resident.press("mskip")
    await resident.say("Water is pouring from under the asphalt near house 7.")
    done = texts(await resident.press("submit"))
    return next(word for word in done.split() if word.startswith("1580-"))


async def outbox(running: RunningBot) -> list[tuple[str, str, str | None]]:
    """(kind, status, last error) of every outbox row, oldest first."""
    assert running.app is not None
    async with running.app.uows() as uow:
        row = OutboxMessage
        query = select(row.kind, row.status, row.last_error).order_by(row.id)
        return [(k, s, e) for k, s, e in (await uow.session.execute(query)).all()]


async def queue_staff_notices(running: RunningBot, count: int) -> None:
    assert running.app is not None
    async with running.app.uows() as uow:
        for n in range(count):
            await uow.outbox.add(
                channel=Channel.TELEGRAM,
                chat=str(STAFF_CHAT),
                kind=KIND_REPLIES,
                payload={"replies": [Reply(f"notice {n}").to_data()], "card": None},
                now=running.clock(),
            )
        await uow.commit()


async def test_a_resident_is_not_queued_behind_the_staff_chat(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(8301, language_code="en"))
    number = await file_appeal(olena, desk)
    assert desk.app is not None
    await desk.app.stop_background()
    await queue_staff_notices(desk, 1000)
    # The operator accepts: a card edit and the resident's push, behind 1,000 staff rows.
    press = await tg.press_button(
        operators[0], Operator(tg, operators[0], desk).card(number), "s_acc:1"
    )
    await tg.wait_for_callback_answer(press)

    async with desk.app.uows() as uow:
        heads = await uow.outbox_queue.heads(str(STAFF_CHAT))
    # One row per chat: the staff chat's oldest (order holds there), and the resident's.
    assert [(h.chat, h.kind) for h in heads] == [
        (str(STAFF_CHAT), KIND_REPLIES),
        (str(olena.chat_id), KIND_REPLIES),
    ]
    assert heads[0].payload["replies"] == [Reply("notice 0").to_data()]
    delivered, _left, _due = await desk.app.sender.drain_once()
    assert delivered == 2  # one round: one row of each chat
    assert f"Appeal {number}: Accepted" in texts(olena.new())
    notices = [m.text for m in tg.messages(STAFF_CHAT) if (m.text or "").startswith("notice")]
    assert notices == ["notice 0"]


async def test_posted_cards_go_ahead_of_new_cards_and_order_holds(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    first = await file_appeal(Resident(tg, tg.user(8302, language_code="en")), desk)
    assert desk.app is not None
    await desk.app.stop_background()
    second = await submit(Resident(tg, tg.user(8303, language_code="en")))
    oksana = Operator(tg, operators[0], desk)
    await tg.wait_for_callback_answer(
        await tg.press_button(operators[0], oksana.card(first), "s_acc:1")
    )
    await tg.wait_for_callback_answer(
        # The card is not re-rendered yet (the sender is stopped): a press on the stale card.
        await tg.press_button(operators[0], oksana.card(first), "s_go:1", check=False)
    )
    async with desk.app.uows() as uow:
        heads = await uow.outbox_queue.heads(str(STAFF_CHAT))
    staff_head = next(h for h in heads if h.chat == str(STAFF_CHAT))
    assert staff_head.kind == KIND_CARD_EDIT
    desk.app.start_background()
    await desk.settle()
    staff_calls = [c for c in tg.calls if c.params.get("chat_id") in (STAFF_CHAT, str(STAFF_CHAT))]
    # Both presses' edits of the first card collapse into one, sent before the second card
    # (a card whose text is a photo's caption is edited with editMessageCaption).
    edits = [i for i, c in enumerate(staff_calls) if c.method.startswith("editMessage")]
    posts = [i for i, c in enumerate(staff_calls) if c.method.startswith("send")]
    edit_at, card_at = edits[-1], posts[-1]
    assert edit_at < card_at
    assert "In progress" in (oksana.card(first).text or "")
    assert oksana.card(second).buttons()
    statuses = [status for _kind, status, _error in await outbox(desk)]
    assert "pending" not in statuses and "failed" not in statuses
    assert statuses.count("superseded") == 1


@pytest.fixture
async def forum_desk(
    tg: TelegramStandIn, staff_settings: Settings, clock: FakeClock
) -> AsyncIterator[RunningBot]:
    tg.group(STAFF_CHAT, title="15-80 forum", is_forum=True, members=[900])
    running = RunningBot(staff_settings, clock)
    await running.start()
    yield running
    await running.stop()


async def test_a_card_that_fails_takes_its_dependents_and_is_reported(
    tg: TelegramStandIn, forum_desk: RunningBot
) -> None:
    # The bot may not create topics: the card fails for good at its first call.
    tg.fail(
        "createForumTopic",
        status=400,
        description="Bad Request: not enough rights to create a topic",
    )
    assert forum_desk.app is not None
    await forum_desk.app.stop_background()
    olena = Resident(tg, tg.user(8304, language_code="en"))
    number = await submit(olena)
    async with forum_desk.app.uows() as uow:
        appeal_id = await uow.appeals.id_by_number(number)
        assert appeal_id is not None
        # A relay that waits for this card.
        await uow.outbox.add(
            channel=Channel.TELEGRAM,
            chat=str(STAFF_CHAT),
            kind=KIND_REPLIES,
            payload={"replies": [Reply("the resident adds: hurry").to_data()], "card": appeal_id},
            now=forum_desk.clock(),
            appeal_id=appeal_id,
        )
        await uow.commit()
    forum_desk.app.start_background()
    await forum_desk.settle()
    kinds = await outbox(forum_desk)
    assert [(k, s) for k, s, _ in kinds if k == KIND_CARD] == [(KIND_CARD, "failed")]
    relay = [e for k, s, e in kinds if s == "failed" and k == KIND_REPLIES]
    assert len(relay) == 1 and "card failed" in (relay[0] or "")
    notice = tg.messages(STAFF_CHAT)[-1].text or ""
    assert f"The card of appeal {number} could not be posted" in notice
    assert "not enough rights" in notice
    assert not any("hurry" in (m.text or "") for m in tg.messages(STAFF_CHAT))


async def test_a_deleted_forum_topic_is_created_again(
    tg: TelegramStandIn, forum_desk: RunningBot
) -> None:
    first = await file_appeal(Resident(tg, tg.user(8305, language_code="en")), forum_desk)
    [topic] = tg.calls_of("createForumTopic")
    old_thread = next(m.message_thread_id for m in tg.messages(STAFF_CHAT) if m.buttons())
    assert old_thread is not None
    del tg.chat(STAFF_CHAT).topics[old_thread]  # an admin deletes the topic
    second = await file_appeal(Resident(tg, tg.user(8306, language_code="en")), forum_desk)
    assert len(tg.calls_of("createForumTopic")) == 2
    assert topic.params["name"] == tg.calls_of("createForumTopic")[1].params["name"]
    cards = {
        (m.text or "").split(" · ")[0]: m.message_thread_id
        for m in tg.messages(STAFF_CHAT)
        if m.buttons()
    }
    new_thread = next(t for n, t in cards.items() if n.endswith(second))
    assert new_thread is not None and new_thread != old_thread
    assert any(n.endswith(first) for n in cards)
    assert "failed" not in [s for _, s, _ in await outbox(forum_desk)]


async def test_a_refused_token_pauses_sending_and_fails_nothing(
    tg: TelegramStandIn,
    desk: RunningBot,
    operators: tuple[FakeUser, FakeUser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    olena = Resident(tg, tg.user(8307, language_code="en"))
    number = await file_appeal(olena, desk)
    tg.fail("sendMessage", status=401, times=2)
    tg.fail("editMessageText", status=401, times=1)
    with caplog.at_level(logging.ERROR):
        await Operator(tg, operators[0], desk).press(number, "s_acc:1")
    assert texts(olena.new()).count(f"Appeal {number}: Accepted") == 1
    assert [s for _, s, _ in await outbox(desk)].count("failed") == 0
    assert any("ALERT" in r.getMessage() and "paused" in r.getMessage() for r in caplog.records)


async def test_retries_have_a_ceiling_then_the_chat_moves_on(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(8308, language_code="en"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    assert desk.app is not None
    tg.fail("sendMessage", status=500, times=3)  # outbox_max_attempts is 3 here
    await oksana.press(number, "s_acc:1")
    await oksana.press(number, "s_go:1")
    pushes = texts(olena.new())
    assert f"Appeal {number}: Accepted" not in pushes
    assert f"Appeal {number}: In progress" in pushes
    failed = [(k, e) for k, s, e in await outbox(desk) if s == "failed"]
    assert len(failed) == 1
    assert "gave up after 3 attempts" in (failed[0][1] or "")


async def test_delivered_rows_are_pruned_and_pending_ones_kept(desk: RunningBot) -> None:
    assert desk.app is not None
    await desk.app.stop_background()
    long_ago = datetime.now(UTC) - timedelta(days=8)
    await queue_staff_notices(desk, 2)
    async with desk.app.uows() as uow:
        await uow.session.execute(update(OutboxMessage).values(created_at=long_ago))
        first = (await uow.session.execute(select(func.min(OutboxMessage.id)))).scalar_one()
        await uow.outbox.mark_sent(first, long_ago)
        await uow.commit()
    await desk.app.maintenance.tick()
    assert [(kind, status) for kind, status, _ in await outbox(desk)] == [(KIND_REPLIES, "pending")]


async def test_rows_queued_behind_a_chats_head_go_out_without_waiting_for_a_poll(
    tg: TelegramStandIn, staff_settings: Settings, clock: FakeClock, staff: FakeChat
) -> None:
    # A burst of cards reaches one chat, the staff chat: the sender takes one row per chat per
    # round, and used to sleep until its next poll when that round had only this chat's head,
    # so that the burst went out at one row per poll. With the poll an hour away and the rate
    # limits lifted, every row must still go out as soon as the one before it did.
    settings = staff_settings.model_copy(
        update={
            "outbox_poll_seconds": 3600.0,
            "telegram_rate_chat_per_second": 1000.0,
            "telegram_rate_group_per_minute": 60_000.0,
            "telegram_rate_global_per_second": 1000.0,
        }
    )
    running = RunningBot(settings, clock)
    await running.start()
    try:
        assert running.app is not None
        await running.app.stop_background()
        before = len(tg.messages(STAFF_CHAT))
        await queue_staff_notices(running, 12)
        running.app.start_background()
        # One wake-up (the start) and no further commit: only the sender's own pace remains.
        sent = await tg.wait_for_messages(STAFF_CHAT, before + 12, timeout=20)
        notices = [m.text for m in sent if (m.text or "").startswith("notice")]
        assert notices == [f"notice {n}" for n in range(12)]
    finally:
        await running.stop()
