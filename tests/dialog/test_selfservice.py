"""Self-service and the review on the neutral core, in both languages: «My appeals» rows, adding
to an appeal, withdrawing it, finding it by number; removing single files, destructive choices
asked first, the «Done» album's labels, the duplicate push, an album held whole mid-step."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import create_dialog, create_lifecycle_config
from bot.config import Settings
from domain.actions import Act
from domain.dialog.core import Dialog
from domain.dialog.events import Channel, MediaKind
from domain.entities import NewMedia
from domain.i18n import Translator
from domain.lifecycle import Lifecycle
from domain.statuses import Status
from fsm_states.appeal import AppealForm
from storage.models import Appeal, AppealEvent, AppealMedia, OutboxMessage
from storage.uow import UnitOfWorkFactory
from tests.clock import FakeClock
from tests.dialog.test_conversation import (
    OKSANA,
    STAFF_CHAT,
    file_appeal,
    operator,
    outbox_to,
    texts_of,
)
from tests.dialog.transcript import Transcript

LUTSK = (50.7472, 25.3254)

# What each language says, by a short key.
SAYS = {
    "en": {
        "row_pin": "📍 pin",
        "map": "Map: https://www.google.com/maps?q=50.747200,25.325400",
        "added": "📎 Added to appeal 1580-2026-000001",
        "you_added": "you added",
        "why": "Why do you withdraw appeal 1580-2026-000001?",
        "short": "Please type the reason in 5 to 500 characters.",
        "withdrawn": "🚫 Appeal 1580-2026-000001 is withdrawn",
        "status": "Withdrawn",
        "too_late": "it can no longer be withdrawn",
        "lookup": "Type the appeal number",
        "remove_all": "Remove all 3 files from the appeal",
        "removed": "🗑 File 2 removed.",
        "stale": "This button is no longer valid.",
        "cancel_q": "Everything you entered will be lost",
    },
    "uk": {
        "row_pin": "📍 мітка",
        "map": "Мапа: https://www.google.com/maps?q=50.747200,25.325400",
        "added": "📎 Додано до звернення № 1580-2026-000001",
        "you_added": "ви доповнили",
        "why": "Чому ви відкликаєте звернення № 1580-2026-000001?",
        "short": "Напишіть, будь ласка, причину: від 5 до 500 символів.",
        "withdrawn": "🚫 Звернення № 1580-2026-000001 відкликано",
        "status": "Відкликано",
        "too_late": "відкликати його вже не можна",
        "lookup": "Введіть номер звернення",
        "remove_all": "Прибрати всі файли (3) зі звернення",
        "removed": "🗑 Файл 2 прибрано.",
        "stale": "Ця кнопка вже неактуальна.",
        "cancel_q": "Усе, що ви ввели, буде втрачено",
    },
}
LANGUAGES = pytest.mark.parametrize("lang", ["en", "uk"])


@pytest.fixture
def staff_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"staff_chat_id": int(STAFF_CHAT), "default_locale": "en"})


@pytest.fixture
def dialog(staff_settings: Settings, translator: Translator, clock: FakeClock) -> Dialog:
    return create_dialog(staff_settings, translator, clock)


@pytest.fixture
def lifecycle_of(staff_settings: Settings, translator: Translator, clock: FakeClock) -> Any:
    def make(uow: Any) -> Lifecycle:
        return Lifecycle(uow, translator, clock, create_lifecycle_config(staff_settings))

    return make


async def resident(
    dialog: Dialog, uows: UnitOfWorkFactory, user_id: int, lang: str, phone: str = "+380501234567"
) -> Transcript:
    who = Transcript(dialog, uows, user_id=user_id, locale=lang)
    await who.command("start")
    await who.contact(phone)
    return who


async def file_with_pin(who: Transcript) -> int:
    await who.press(Act.NEW_APPEAL)
    await who.press(Act.CATEGORY, "other")
    await who.location(*LUTSK)
    await who.press(Act.MEDIA_SKIP)
    await who.text("The street light by the school is out.")
    await who.press(Act.SUBMIT)
    async with who.uows() as uow:
        query = select(Appeal.id).order_by(Appeal.id.desc()).limit(1)
        return int((await uow.session.execute(query)).scalar_one())


async def status_of(uows: UnitOfWorkFactory, appeal_id: int) -> str:
    async with uows() as uow:
        query = select(Appeal.status).where(Appeal.id == appeal_id)
        return str((await uow.session.execute(query)).scalar_one())


async def events_of(
    uows: UnitOfWorkFactory, appeal_id: int
) -> list[tuple[str, str, str | None, str | None]]:
    """(kind, actor kind, to status, note) of each history entry, oldest first."""
    async with uows() as uow:
        query = select(
            AppealEvent.kind, AppealEvent.actor_kind, AppealEvent.to_status, AppealEvent.note
        ).where(AppealEvent.appeal_id == appeal_id)
        rows = (await uow.session.execute(query.order_by(AppealEvent.id))).all()
        return [(r[0], r[1], r[2], r[3]) for r in rows]


# -- 5. self-service ------------------------------------------------------------------------


@LANGUAGES
async def test_my_appeals_rows_show_category_place_status_and_date(
    dialog: Dialog, uows: UnitOfWorkFactory, lang: str
) -> None:
    olena = await resident(dialog, uows, 3101, lang)
    await file_appeal(olena)
    await file_with_pin(olena)
    await olena.press(Act.MY_APPEALS)
    rows = olena.texts().splitlines()[2:]
    category = "Other" if lang == "en" else "Інше"
    # One line each, newest first: number, category, place, status, date.
    assert rows[0].startswith("🆕 1580-2026-000002 · ")
    assert f" · {category} · {SAYS[lang]['row_pin']} · " in rows[0]
    assert rows[1].count(" · ") == 4
    assert re.search(r" · \d\d\.\d\d\.\d{4}$", rows[1])
    assert "вул. Лесі Українки, 1" in rows[1]
    assert "find" in olena.actions()
    # The details of a pin: the map link, never bare coordinates.
    await olena.press(Act.APPEAL, "2")
    assert SAYS[lang]["map"] in olena.texts()
    assert "50.74720," not in olena.texts()
    assert {"addi:2", "wdraw:2"} <= set(olena.actions())


@LANGUAGES
async def test_a_photo_or_comment_reaches_the_cards_thread_and_the_history(
    dialog: Dialog, uows: UnitOfWorkFactory, lang: str
) -> None:
    olena = await resident(dialog, uows, 3102, lang)
    appeal_id = await file_appeal(olena)
    await olena.press(Act.APPEAL, str(appeal_id))
    await olena.press(Act.ADD_INFO, str(appeal_id))
    await olena.text("The hole got deeper after the rain.")
    assert SAYS[lang]["added"] in olena.texts()
    # An album of two: both kept and passed on, answered once.
    first = await olena.photo(group="alb")
    second = await olena.photo(group="alb")
    assert len(first) == 1 and second == []
    staff = await outbox_to(uows, STAFF_CHAT)
    assert "📎 The resident adds to 1580-2026-000001:\nThe hole got deeper" in texts_of(staff)
    assert sum(len(r["media"]) for r in staff) == 2
    async with uows() as uow:
        roles = (await uow.session.execute(select(AppealMedia.role))).scalars().all()
    assert list(roles).count("addition") == 2
    await olena.press(Act.APPEAL, str(appeal_id))
    assert await olena.state() is None
    assert SAYS[lang]["you_added"] in olena.texts()
    assert [e[0] for e in await events_of(uows, appeal_id)].count("addition") == 3


@LANGUAGES
async def test_withdrawing_needs_a_reason_and_tells_the_staff(
    dialog: Dialog, uows: UnitOfWorkFactory, lang: str
) -> None:
    olena = await resident(dialog, uows, 3103, lang)
    appeal_id = await file_appeal(olena)
    await olena.press(Act.WITHDRAW, str(appeal_id))
    assert SAYS[lang]["why"] in olena.texts()
    await olena.text("no")
    assert SAYS[lang]["short"] in olena.texts()
    assert await status_of(uows, appeal_id) == "new"
    await olena.text("The neighbours fixed it themselves.")
    assert SAYS[lang]["withdrawn"] in olena.texts()
    assert await status_of(uows, appeal_id) == Status.WITHDRAWN.value
    last = (await events_of(uows, appeal_id))[-1]
    assert last == ("status", "resident", "withdrawn", "The neighbours fixed it themselves.")
    staff = texts_of(await outbox_to(uows, STAFF_CHAT))
    assert "🚫 The resident withdrew 1580-2026-000001" in staff
    assert "The neighbours fixed it themselves." in staff
    async with uows() as uow:
        kinds = (await uow.session.execute(select(OutboxMessage.kind))).scalars().all()
    assert "card_edit" in kinds
    # Final: the details offer neither adding nor withdrawing, and a forged button is refused.
    await olena.press(Act.APPEAL, str(appeal_id))
    assert SAYS[lang]["status"] in olena.texts()
    assert not {f"addi:{appeal_id}", f"wdraw:{appeal_id}"} & set(olena.actions())
    await olena.press(Act.WITHDRAW, str(appeal_id))
    assert SAYS[lang]["too_late"] in olena.texts()


async def test_a_done_appeal_cannot_be_withdrawn_and_a_race_is_answered(
    dialog: Dialog, uows: UnitOfWorkFactory, lifecycle_of: Any
) -> None:
    olena = await resident(dialog, uows, 3104, "en")
    appeal_id = await file_appeal(olena)
    await olena.press(Act.WITHDRAW, str(appeal_id))
    # Meanwhile the operators finish the work.
    photo = NewMedia(MediaKind.PHOTO, Channel.TELEGRAM, "done-photo", None)
    for target in (Status.ACCEPTED, Status.IN_PROGRESS):
        await operator(uows, lifecycle_of, lambda lc, t=target: lc.transition(appeal_id, t, OKSANA))
    await operator(
        uows,
        lifecycle_of,
        lambda lc: lc.transition(appeal_id, Status.DONE, OKSANA, media=[photo]),
    )
    await olena.text("Not needed any more, thanks.")
    assert "is «Done»; it can no longer be withdrawn" in olena.texts()
    assert await status_of(uows, appeal_id) == "done"
    await olena.press(Act.APPEAL, str(appeal_id))
    assert f"wdraw:{appeal_id}" not in olena.actions()


@LANGUAGES
async def test_look_up_finds_only_ones_own_appeals(
    dialog: Dialog, uows: UnitOfWorkFactory, lang: str
) -> None:
    taras = await resident(dialog, uows, 3105, lang, phone="+380671112233")
    await file_appeal(taras)  # 1580-2026-000001, Taras's
    olena = await resident(dialog, uows, 3106, lang)
    await file_appeal(olena)  # 1580-2026-000002, Olena's
    await olena.press(Act.LOOKUP)
    assert SAYS[lang]["lookup"] in olena.texts()
    await olena.text("1580-2026-000002")
    assert "1580-2026-000002" in olena.replies[0].text.splitlines()[0]
    assert await olena.state() is None
    await olena.press(Act.LOOKUP)
    await olena.text("2")  # the sequence alone means this year's
    assert "1580-2026-000002" in olena.replies[0].text.splitlines()[0]
    # Someone else's number answers exactly like one that does not exist.
    await olena.press(Act.LOOKUP)
    others = await olena.text("1580-2026-000001")
    missing = await olena.text("1580-2026-000099")
    assert "Лесі Українки" not in texts_of([r.to_data() for r in others])
    assert [r.to_data() for r in others] == [
        {**r.to_data(), "text": r.text.replace("1580-2026-000099", "1580-2026-000001")}
        for r in missing
    ]
    assert await olena.state() is not None


# -- 6. review and results ------------------------------------------------------------------


async def three_photos_at_review(who: Transcript) -> None:
    await who.press(Act.NEW_APPEAL)
    await who.press(Act.CATEGORY, "other")
    await who.text("вул. Лесі Українки, 1")
    for _ in range(3):
        await who.photo()
    await who.press(Act.MEDIA_DONE)
    await who.text("Broken bench in the park by the lake.")
    assert await who.state() == AppealForm.review


@LANGUAGES
async def test_change_photos_removes_single_files(
    dialog: Dialog, uows: UnitOfWorkFactory, lang: str
) -> None:
    olena = await resident(dialog, uows, 3107, lang)
    await three_photos_at_review(olena)
    replies = await olena.press(Act.EDIT, "media")
    # The files themselves come with the buttons that name them.
    assert [m.file_ref for m in replies[0].media] == ["photo-1", "photo-2", "photo-3"]
    removes = [a for a in olena.actions() if a.startswith("mrm:")]
    assert len(removes) == 3
    await olena.press(Act.MEDIA_REMOVE, removes[1].split(":", 1)[1])
    assert SAYS[lang]["removed"] in olena.texts()
    assert [m[1] for m in (await olena.data())["media"]] == ["photo-1", "photo-3"]
    # A button left from before the removal does not remove another file.
    await olena.press(Act.MEDIA_REMOVE, removes[2].split(":", 1)[1])
    assert SAYS[lang]["stale"] in olena.texts()
    assert len((await olena.data())["media"]) == 2
    await olena.press(Act.MEDIA_DONE)
    assert await olena.state() == AppealForm.review
    await olena.press(Act.SUBMIT)
    async with uows() as uow:
        refs = (await uow.session.execute(select(AppealMedia.file_ref))).scalars().all()
    assert sorted(refs) == ["photo-1", "photo-3"]


@LANGUAGES
async def test_destructive_choices_ask_first(
    dialog: Dialog, uows: UnitOfWorkFactory, lang: str
) -> None:
    olena = await resident(dialog, uows, 3108, lang)
    await three_photos_at_review(olena)
    await olena.press(Act.EDIT, "media")
    await olena.press(Act.MEDIA_SKIP)
    assert SAYS[lang]["remove_all"] in olena.texts()
    assert olena.actions() == ["mskip:yes", "dcont"]
    await olena.press(Act.DRAFT_CONTINUE)
    assert await olena.state() == AppealForm.media
    assert len((await olena.data())["media"]) == 3
    await olena.press(Act.MEDIA_SKIP)
    await olena.press(Act.MEDIA_SKIP, "yes")
    assert await olena.state() == AppealForm.review
    assert (await olena.data())["media"] == []
    # Cancelling a filled draft asks too; an empty one goes at once.
    await olena.press(Act.CANCEL)
    assert SAYS[lang]["cancel_q"] in olena.texts()
    assert await olena.state() == AppealForm.review
    await olena.press(Act.CANCEL, "yes")
    assert await olena.state() is None
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CANCEL)
    assert await olena.state() is None


async def test_the_done_album_says_which_photo_is_which(
    dialog: Dialog, uows: UnitOfWorkFactory, lifecycle_of: Any
) -> None:
    olena = await resident(dialog, uows, 3109, "uk")
    await three_photos_at_review(olena)
    await olena.press(Act.SUBMIT)
    photo = NewMedia(MediaKind.PHOTO, Channel.TELEGRAM, "done-photo", None)
    for target in (Status.ACCEPTED, Status.IN_PROGRESS):
        await operator(uows, lifecycle_of, lambda lc, t=target: lc.transition(1, t, OKSANA))
    await operator(
        uows, lifecycle_of, lambda lc: lc.transition(1, Status.DONE, OKSANA, media=[photo])
    )
    done = (await outbox_to(uows, "3109"))[-1]
    assert [ref for _, ref in done["media"]] == ["photo-1", "done-photo"]
    assert "📷 Перше фото — ваше, «до». Друге — виконана робота, «після»." in done["text"]


@pytest.mark.parametrize(
    ("original_status", "expected"),
    [
        (Status.ACCEPTED, "is already being handled under appeal 1580-2026-000001"),
        (Status.CLOSED, "it is fixed and closed"),
    ],
)
async def test_the_duplicate_push_matches_the_originals_status(
    dialog: Dialog,
    uows: UnitOfWorkFactory,
    lifecycle_of: Any,
    original_status: Status,
    expected: str,
) -> None:
    olena = await resident(dialog, uows, 3110, "en")
    await file_appeal(olena)
    await file_appeal(olena)
    if original_status is Status.CLOSED:
        async with uows() as uow:
            await uow.session.execute(update(Appeal).where(Appeal.id == 1).values(status="closed"))
            await uow.commit()
    else:
        await operator(uows, lifecycle_of, lambda lc: lc.transition(1, original_status, OKSANA))
    await operator(
        uows,
        lifecycle_of,
        lambda lc: lc.transition(2, Status.DUPLICATE, OKSANA, duplicate_of=1),
    )
    pushed = (await outbox_to(uows, "3110"))[-1]["text"]
    assert expected in pushed
    assert "under way" not in pushed and "the work is done there" not in pushed


async def test_mid_step_an_album_is_held_whole(
    dialog: Dialog, uows: UnitOfWorkFactory, lifecycle_of: Any
) -> None:
    olena = await resident(dialog, uows, 3111, "en")
    appeal_id = await file_appeal(olena)
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "other")
    await olena.text("вул. Шопена, 9")
    await operator(
        uows, lifecycle_of, lambda lc: lc.relay_to_resident(appeal_id, "A photo, please?", OKSANA)
    )
    asked = await olena.photo(group="g1")
    assert "Is this your answer to them" in asked[0].text
    assert await olena.photo(group="g1") == []
    assert await olena.photo(group="g1") == []
    data = await olena.data()
    assert len(data["held_media"]) == 3 and data["media"] == []
    await olena.press(Act.TO_STEP)
    assert [m[1] for m in (await olena.data())["media"]] == ["photo-1", "photo-2", "photo-3"]
