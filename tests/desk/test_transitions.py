"""The transition table by actor, as the staff chat and the resident live it: every move the
table allows is made by someone in a script below, and a representative set of the moves it
does not allow is refused, with the card, the resident and the staff chat told what they should be.
"""

from __future__ import annotations

import pytest

from bot.app import create_dialog, create_lifecycle_config
from bot.config import Settings
from domain.actions import Act
from domain.i18n import Translator
from domain.statuses import TABLE, Actor, Status
from storage.uow import UnitOfWorkFactory
from tests.clock import FakeClock
from tests.desk.transcript import (
    OKSANA,
    OLENA,
    PETRO,
    STAFF_CHAT,
    DeskTranscript,
    ExecutorAt,
    Line,
    refusals,
    system_forces,
    timer,
    transitions,
)

N = "1580-2026-000001"
ORIGINAL = "1580-2026-000002"
S = Status

# -- the way to each status ----------------------------------------------------------------------

ACCEPT = OKSANA.press(Act.STAFF_ACCEPT).moves(
    S.ACCEPTED,
    told=f"{N}: Accepted",
    card=f"📥 {N} · Accepted",
    resident=f"Appeal {N}: Accepted\nIt was accepted and passed to:",
)
START = OKSANA.press(Act.STAFF_START).moves(
    S.IN_PROGRESS,
    told=f"{N}: In progress",
    card=f"🛠 {N} · In progress",
    resident="Work has started.",
)
ASK_PHOTO = OKSANA.press(Act.STAFF_DONE).says(
    "Reply to the bot's message with a photo.\nOksana, reply to this message or to the card"
)
DONE = OKSANA.reply_photo("Patched with asphalt").moves(
    S.DONE,
    told=f"{N}: Done",
    card=f"✅ {N} · Done",
    resident="The work is reported done. Is the problem fixed?\nOperator's note: Patched",
)
NOT_FIXED = [
    OLENA.press(Act.NOT_FIXED).says(f"What is still wrong with appeal {N}?"),
    OLENA.text("Still bad").says("Please describe the problem in 10 to 2000 characters."),
    OLENA.text("The hole is back after the rain.").moves(
        S.REOPENED,
        told=f"Appeal {N} is reopened",
        card=f"🔁 {N} · Reopened",
        staff=f"🔁 The resident says {N} is NOT fixed: The hole is back after the rain.",
    ),
]
TO: dict[Status, list[Line]] = {
    S.NEW: [],
    S.ACCEPTED: [ACCEPT],
    S.IN_PROGRESS: [ACCEPT, START],
    S.DONE: [ACCEPT, START, ASK_PHOTO, DONE],
    S.REOPENED: [ACCEPT, START, ASK_PHOTO, DONE, *NOT_FIXED],
}

# -- the ways out, from wherever the appeal is -----------------------------------------------------

REJECT = [
    OKSANA.press(Act.STAFF_REJECT).says("Reply to the bot's message with the reason."),
    PETRO.reply("Not ours").says("This question was for Oksana; reply to the card instead."),
    OKSANA.reply("no").says("A reason is required."),
    OKSANA.reply("A private yard, not a city road.").says(
        f"Oksana, {N} will be rejected and the resident will get:\nThe appeal was rejected."
    ),
    PETRO.taps("⛔ Reject and send").says("Only Oksana, who started this, can answer it."),
    OKSANA.taps("⛔ Reject and send").moves(
        S.REJECTED,
        told="✔️ Confirmed by Oksana",
        card=f"⛔ {N} · Rejected",
        resident="The appeal was rejected.\nOperator's note: A private yard, not a city road.",
    ),
]
DUPLICATE = [
    OKSANA.press(Act.STAFF_DUPLICATE).says("Reply to the bot's message with the original's"),
    OKSANA.reply(N).says("An appeal cannot duplicate itself."),
    OKSANA.reply("1580-2026-999999").says("No appeal with the number «1580-2026-999999»."),
    OKSANA.reply(ORIGINAL).says(f"Oksana, {N} will be marked a duplicate"),
    OKSANA.taps("♊ Mark and send").moves(
        S.DUPLICATE,
        card=f"♊ {N} · Duplicate\nDuplicate of {ORIGINAL}",
        resident=f"already being handled under appeal {ORIGINAL} (status: New)",
    ),
]
WITHDRAW = [
    OLENA.press(Act.WITHDRAW).says(f"Why do you withdraw appeal {N}?"),
    OLENA.text("Done").says("Please type the reason in 5 to 500 characters."),
    OLENA.text("The neighbours fixed it themselves.").moves(
        S.WITHDRAWN,
        told=f"🚫 Appeal {N} is withdrawn",
        card=f"🚫 {N} · Withdrawn",
        staff=f"🚫 The resident withdrew {N}; please stop the work on it. Reason: The neighbours",
    ),
    # Final: neither side can move it again.
    OKSANA.press(Act.STAFF_ACCEPT).refused(
        S.ACCEPTED, told=f"{N} is «Withdrawn» since 11:00 (resident), so it cannot become"
    ),
]
WAYS_OUT = {"rejected": REJECT, "a duplicate": DUPLICATE, "withdrawn": WITHDRAW}


def _ways_out() -> dict[str, list[Line]]:
    """Each way out of each workable status the table allows, after the way there."""
    scripts = {}
    for status, way in TO.items():
        for name, out in WAYS_OUT.items():
            if transitions(out)[-1][1] in TABLE[status]:
                scripts[f"{status} → {name}"] = [*way, *out]
    return scripts


IVAN = ExecutorAt("Ivan (КП «Луцькводоканал»)")

SCRIPTS: dict[str, list[Line]] = {
    "an executor takes it into work and reports it done, and nothing else": [
        IVAN.forces(S.ACCEPTED).refused(S.ACCEPTED, told="TransitionError"),
        ACCEPT,
        IVAN.forces(S.REJECTED, "Not ours").refused(S.REJECTED, told="TransitionError"),
        IVAN.forces(S.IN_PROGRESS).moves(
            S.IN_PROGRESS, told="done", card=f"🛠 {N} · In progress", resident="Work has started."
        ),
        IVAN.forces(S.DUPLICATE).refused(S.DUPLICATE, told="TransitionError"),
        IVAN.forces(S.DONE).says("PhotoRequiredError"),
        IVAN.forces_with_photo(S.DONE, "Welded").moves(
            S.DONE,
            told="done",
            card=f"✅ {N} · Done",
            resident="The work is reported done. Is the problem fixed?",
        ),
        IVAN.forces(S.CLOSED).refused(S.CLOSED, told="TransitionError"),
        *NOT_FIXED,
        IVAN.forces(S.IN_PROGRESS).moves(S.IN_PROGRESS, told="done", resident="Work has started."),
    ],
    "the whole way: accepted, in progress, done with a photo, confirmed fixed": [
        OKSANA.press(Act.STAFF_DONE).refused(
            S.DONE, told=f"{N} is «New» since 11:00 (resident), so it cannot become «Done»"
        ),
        ACCEPT,
        OKSANA.press(Act.STAFF_ACCEPT).refused(
            S.ACCEPTED, told="Already «Accepted»: Oksana, 11:00"
        ),
        START,
        ASK_PHOTO,
        OKSANA.reply("All patched").says("A photo of the completed work is needed"),
        DONE,
        OKSANA.press(Act.STAFF_START).refused(
            S.IN_PROGRESS, told=f"{N} is «Done» since 11:00 (Oksana), so it cannot become"
        ),
        OLENA.press(Act.WITHDRAW).refused(
            S.WITHDRAWN, told=f"Appeal {N} is «Done»; it can no longer be withdrawn."
        ),
        OKSANA.forces(S.CLOSED).refused(
            S.CLOSED, told="TransitionError: done -> closed is not allowed for operator"
        ),
        OLENA.press(Act.FIXED).moves(
            S.CLOSED,
            told=f"Thank you! Appeal {N} is closed.",
            card=f"🏁 {N} · Closed",
            staff=f"✅ The resident confirmed {N} is fixed; closed.",
        ),
        OLENA.press(Act.NOT_FIXED).refused(
            S.REOPENED, told=f"This question is already answered: appeal {N} is Closed."
        ),
        OKSANA.press(Act.STAFF_REJECT).refused(S.REJECTED, told=f"{N} is «Closed» since 11:00"),
    ],
    "not fixed: reopened, worked again, and closed when nobody answers": [
        *TO[S.REOPENED],
        OKSANA.press(Act.STAFF_ACCEPT).refused(
            S.ACCEPTED, told=f"{N} is «Reopened» since 11:00 (resident), so it cannot become"
        ),
        OLENA.forces(S.IN_PROGRESS).refused(
            S.IN_PROGRESS,
            told="TransitionError: reopened -> in_progress is not allowed for resident",
        ),
        START,
        ASK_PHOTO,
        DONE,
        timer(days=2).says(""),
        timer(days=2).moves(
            S.CLOSED,
            card=f"🏁 {N} · Closed",
            resident="no answer about the result, so the appeal is closed as fixed",
        ),
    ],
    "a resident cannot work the appeal, nor the system reject it": [
        OLENA.forces(S.ACCEPTED).refused(
            S.ACCEPTED, told="TransitionError: new -> accepted is not allowed for resident"
        ),
        OLENA.press(Act.FIXED).refused(
            S.CLOSED, told=f"This question is already answered: appeal {N} is New."
        ),
        Line(timer(days=30)),  # nothing is done, so nothing closes
        ACCEPT,
        system_forces(S.REJECTED).refused(
            S.REJECTED, told="TransitionError: accepted -> rejected is not allowed for system"
        ),
        OKSANA.forces(S.WITHDRAWN, note="asked by phone").refused(
            S.WITHDRAWN, told="TransitionError: accepted -> withdrawn is not allowed for operator"
        ),
    ],
    "routed, and a message each way": [
        OKSANA.press(Act.STAFF_ROUTE).says(f"Which department should handle {N}?"),
        OKSANA.taps("КП «Луцьксвітло»").says(
            f"{N} is routed to КП «Луцьксвітло».", card="Department: КП «Луцьксвітло»"
        ),
        OKSANA.reply_to_card("Which entrance is it?").says(
            f"Oksana, the resident of {N} will get:\n💬 Operator of 15-80 about appeal {N}:"
        ),
        OKSANA.taps("📨 Send").says(
            f"✉️ Sent to the resident of {N}.",
            resident=f"💬 Operator of 15-80 about appeal {N}:\nWhich entrance is it?",
        ),
        OLENA.press(Act.REPLY).says(f"Write your answer to the operator about appeal {N}:"),
        OLENA.text("The second one, by the shop.").says(
            "Your answer is sent to the operator.",
            staff=f"💬 The resident answers on {N}:\nThe second one, by the shop.",
        ),
        OKSANA.photo_to_card().refused(
            S.DONE, told=f"{N} is «New»: only an appeal in progress can be marked done."
        ),
        *TO[S.DONE],
        OKSANA.press(Act.STAFF_ROUTE).says("Which department"),
        OKSANA.taps("КП «Луцьксвітло»").says(f"{N} is «Done»: it cannot be routed any more."),
    ],
    "a completion photo sent to the card is confirmed first": [
        *TO[S.IN_PROGRESS],
        OKSANA.photo_to_card("New asphalt").says(f"Oksana, mark {N} done with this photo?"),
        OKSANA.taps("✖️ Cancel").says("Cancelled; nothing was sent."),
        OKSANA.photo_to_card("New asphalt").says(f"Oksana, mark {N} done with this photo?"),
        OKSANA.taps("✅ Mark done").moves(
            S.DONE, card=f"✅ {N} · Done", resident="Operator's note: New asphalt"
        ),
    ],
    **_ways_out(),
}


def allowed_moves() -> set[tuple[Status, Status, Actor]]:
    return {
        (source, target, actor)
        for source, targets in TABLE.items()
        for target, actors in targets.items()
        for actor in actors
    }


def test_every_move_the_table_allows_is_made_by_its_actor_in_a_script() -> None:
    made = {move for script in SCRIPTS.values() for move in transitions(script)}
    assert made == allowed_moves(), (
        f"no script for {sorted(allowed_moves() - made)}; not in the table: "
        f"{sorted(made - allowed_moves())}"
    )


def test_refusals_are_moves_the_table_does_not_allow_and_every_actor_has_some() -> None:
    refused = {move for script in SCRIPTS.values() for move in refusals(script)}
    assert not refused & allowed_moves()
    assert {actor for _source, _target, actor in refused} == set(Actor)
    # An operator is refused both a move from a final status and one out of order.
    assert {source for source, _target, actor in refused if actor is Actor.OPERATOR} >= {
        S.NEW,
        S.DONE,
        S.CLOSED,
        S.WITHDRAWN,
    }


@pytest.fixture
def staff_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"staff_chat_id": STAFF_CHAT, "default_locale": "en"})


@pytest.mark.parametrize("name", list(SCRIPTS))
async def test_script(
    name: str,
    staff_settings: Settings,
    translator: Translator,
    clock: FakeClock,
    uows: UnitOfWorkFactory,
) -> None:
    dialog = create_dialog(staff_settings, translator, clock)
    desk = DeskTranscript(dialog, uows, translator, clock, create_lifecycle_config(staff_settings))
    await desk.file()
    for line in SCRIPTS[name]:
        await desk.run(line)
