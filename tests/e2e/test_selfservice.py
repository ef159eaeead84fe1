"""Self-service over HTTP: a withdrawn appeal's card and the staff chat, and a look-up of
someone else's number answered exactly like a number that does not exist."""

from __future__ import annotations

from standins.telegram import FakeUser, TelegramStandIn
from tests.e2e.conftest import RunningBot
from tests.e2e.people import STAFF_CHAT, Operator, Resident, buttons, texts
from tests.e2e.staff import file_appeal, staff_texts, status_of


async def test_withdrawing_updates_the_card_and_tells_the_staff(
    tg: TelegramStandIn, desk: RunningBot, operators: tuple[FakeUser, FakeUser]
) -> None:
    olena = Resident(tg, tg.user(5401, first_name="Olena", language_code="uk"))
    number = await file_appeal(olena, desk)
    oksana = Operator(tg, operators[0], desk)
    await oksana.press(number, "s_acc:1")
    card = oksana.card(number)
    # Oksana opens the departments to route it, and is not quick enough.
    await oksana.press(number, "s_route:1")
    route = next(
        m
        for m in reversed(tg.messages(STAFF_CHAT))
        if any(d.startswith("s_dept:") for _, d in m.buttons())
    )
    department = next(d for _, d in route.buttons() if d.startswith("s_dept:"))
    before = len(tg.messages(STAFF_CHAT))
    olena.new()
    await olena.say("/my")
    await olena.press("ap:1")
    asked = await olena.press("wdraw:1")
    assert "Чому ви відкликаєте звернення" in texts(asked)
    done = await olena.say("Сусіди вже самі все полагодили.")
    assert f"🚫 Звернення № {number} відкликано" in texts(done)
    await desk.settle()
    assert await status_of(desk, number) == "withdrawn"
    # The staff chat is told, in the card's thread, with the reason.
    told = tg.messages(STAFF_CHAT)[before:]
    assert f"🚫 The resident withdrew {number}" in texts(told)
    assert "Сусіди вже самі все полагодили." in texts(told)
    assert told[-1].reply_to_message_id == card.message_id
    # The card is re-rendered: withdrawn, and no button moves it any more.
    assert (card.text or "").startswith(f"🚫 {number} · Withdrawn")
    assert not {"s_go:1", "s_rej:1", "s_dup:1", "s_route:1"} & {d for _, d in card.buttons()}
    # An operator pressing an old copy of a button learns who changed it and when.
    old = await tg.press_button(operators[1], card, "s_go:1", check=False)
    said = str((await tg.wait_for_callback_answer(old))["text"])
    assert said.startswith(f"{number} is «Withdrawn» since ")
    assert "(resident)" in said
    late = await tg.press_button(operators[0], route, department, check=False)
    said = str((await tg.wait_for_callback_answer(late))["text"])
    assert said == f"{number} is «Withdrawn»: it cannot be routed any more. The card is updated."
    assert await status_of(desk, number) == "withdrawn"
    assert "Withdrawn" in staff_texts(tg)


async def test_someone_elses_number_is_answered_like_a_missing_one(
    tg: TelegramStandIn, desk: RunningBot
) -> None:
    taras = Resident(tg, tg.user(5402, first_name="Taras", language_code="en"))
    taras_number = await file_appeal(taras, desk)
    olena = Resident(tg, tg.user(5403, first_name="Olena", language_code="en"))
    # Even with the same phone number: accounts are joined only by proof.
    await file_appeal(olena, desk)
    await olena.say("/my")
    prompt = await olena.press("find")
    assert "Type the appeal number" in texts(prompt)
    others = await olena.say(taras_number)
    missing_number = taras_number[:-3] + "999"
    missing = await olena.say(missing_number)
    assert [m.text for m in others] == [
        (m.text or "").replace(missing_number, taras_number) for m in missing
    ]
    assert buttons(others) == buttons(missing) == {"cancel"}
    assert "No appeal" in texts(others)
    assert "Water is pouring" not in texts(others)
