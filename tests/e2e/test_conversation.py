"""The resident's conversation over HTTP: few messages a walk (edits in place), their
language after the dialog, and an answer to the operator without pressing «Answer»."""

from __future__ import annotations

import pytest

from standins.telegram import FakeUser, TelegramStandIn
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, texts
from tests.e2e.staff import LUTSK, file_appeal

# The walk of the issue: /start, phone, new appeal, category, sub-category, pin, photo,
# done, description, submit.
WALK_LIMIT = 11


@pytest.mark.parametrize(
    ("language", "registered"), [("en", "registered"), ("uk", "зареєстровано")]
)
async def test_the_whole_walk_edits_in_place_and_stays_within_the_limit(
    tg: TelegramStandIn, running: RunningBot, language: str, registered: str
) -> None:
    olena = Resident(tg, tg.user(5301, first_name="Olena", language_code=language))
    await olena.say("/start")
    await olena.share_phone()
    menu = tg.messages(olena.chat_id)[-1]
    await olena.press("new")
    # The menu became the category list: no new message.
    assert any(data == "cat:roads" for _, data in menu.buttons())
    await olena.press("cat:roads")
    assert any(data == "sub:pothole" for _, data in menu.buttons())
    where = await olena.press("sub:pothole")
    # The location button comes with the step's own prompt; Back and Cancel stay above it.
    assert any(b.get("request_location") for m in where for b in m.keyboard())
    assert {data for _, data in menu.buttons()} == {"back", "cancel"}
    await olena.send_location(*LUTSK)
    await olena.send_photo()
    await olena.press("mdone")
    await olena.say("Deep pothole by the bus stop on Voli avenue, 12; cars swerve.")
    review = tg.messages(olena.chat_id)[-1]
    await olena.press("submit")
    # The review became the number with the menu: one message, the menu's buttons on it.
    assert "1580-2026-000001" in (review.text or "")
    assert registered in (review.text or "")
    assert {"new", "my"} <= {data for _, data in review.buttons()}

    sent = tg.messages(olena.chat_id)
    assert len(sent) <= WALK_LIMIT, [m.text for m in sent]
    assert len(tg.calls_of("editMessageText")) >= 4
    # No lone carrier message for a keyboard.
    assert all((m.text or "").strip() != "⬇️" for m in sent)


async def test_pushes_and_relays_speak_the_detected_language(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    # The staff chat works in English here; the resident's Telegram is Ukrainian.
    mykola = Resident(tg, tg.user(5302, first_name="Mykola", language_code="uk"))
    number = await file_appeal(mykola, desk)
    oksana = Operator(tg, operators[0], desk)
    await oksana.press(number, "s_acc:1")
    pushed = texts(mykola.new())
    assert "Його прийнято та передано виконавцю: Управління з питань надзвичайних ситуацій" in (
        pushed
    )
    await oksana.reply(number, "Which entrance is it?")
    await oksana.confirm()
    relayed = mykola.new()
    assert "Оператор" in texts(relayed)
    assert any(label == "↩️ Відповісти" for m in relayed for label, _ in m.buttons())


async def test_text_after_an_operators_message_reaches_the_operator(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5303, first_name="Olena", language_code="en"))
    number = await file_appeal(olena, desk)
    petro = Operator(tg, operators[1], desk)
    await petro.reply(number, "Which entrance is it, the first or the second?")
    await petro.confirm()
    olena.new()
    before = len(tg.messages(STAFF_CHAT))
    # No «Answer» pressed: she just types.
    answered = await olena.say("The second one, next to the pharmacy.")
    assert "Sent to the operator about appeal" in texts(answered)
    await desk.settle()
    answer = tg.messages(STAFF_CHAT)[before:]
    assert "The second one, next to the pharmacy." in texts(answer)
    assert answer[-1].reply_to_message_id == petro.card(number).message_id
    # A photo goes the same way.
    before = len(tg.messages(STAFF_CHAT))
    await tg.send_photo(olena.user, caption="Here is the entrance")
    await desk.settle()
    shown = tg.messages(STAFF_CHAT)[before:]
    assert [m.kind for m in shown] == ["photo", "text"]
    assert "Here is the entrance" in texts(shown)
