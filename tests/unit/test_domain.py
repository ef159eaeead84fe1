"""Numbering, due dates, category files, actions and the status table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import PROJECT_ROOT, Settings
from domain.actions import Act, Action
from domain.categories import CategoryFileError, load_categories, parse_categories
from domain.clock import due_date, local_time
from domain.dialog.events import GeoPoint
from domain.geo import Bounds
from domain.kinds import EventKind, MediaRole, OutboxKind
from domain.numbering import format_number, parse_number
from domain.services import normalize_phone
from domain.statuses import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    TRANSITIONS,
    WORKABLE_STATUSES,
    Status,
    TransitionError,
    can_transition,
    check_transition,
)
from fsm_states import AppealForm, CallForm, Feedback, Linking, Registration, SelfService
from storage.outbox_queue import KIND_CARD, KIND_CARD_EDIT


def test_numbers_are_zero_padded_and_parse_back() -> None:
    assert format_number("1580", 2026, 123) == "1580-2026-000123"
    assert format_number("1580", 2026, 1234567) == "1580-2026-1234567"
    assert parse_number("1580-2026-000123") == ("1580", 2026, 123)
    assert parse_number(" 1580-2026-000123 ") == ("1580", 2026, 123)
    assert parse_number("1580-26-1") is None
    assert parse_number("not a number") is None
    with pytest.raises(ValueError, match="start at 1"):
        format_number("1580", 2026, 0)


def test_due_date_adds_sla_hours_and_requires_aware_times() -> None:
    created = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert due_date(created, 24) == datetime(2027, 1, 1, 20, 0, tzinfo=UTC)
    assert due_date(created, 4) - created == timedelta(hours=4)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_date(datetime(2026, 1, 1), 24)  # noqa: DTZ001 - the naive value is the point
    with pytest.raises(ValueError, match="positive"):
        due_date(created, 0)


def test_shipped_categories_cover_a_ukrainian_city() -> None:
    specs = load_categories(Settings().categories_file)
    codes = {spec.code for spec in specs}
    assert {
        "roads",
        "lighting",
        "water",
        "heating",
        "waste",
        "transport",
        "greenery",
        "emergency",
        "other",
    } <= codes
    transport = next(spec for spec in specs if spec.code == "transport")
    assert "driver" in {child.code for child in transport.children}
    water = next(spec for spec in specs if spec.code == "water")
    burst = next(child for child in water.children if child.code == "pipe_burst")
    assert burst.sla_hours == 12 and burst.department == water.department
    for spec in specs:
        assert spec.names["uk"] and spec.names["en"]
        for child in spec.children:
            # Every action id must fit Telegram's 64-byte callback_data.
            assert len(Action(Act.SUBCATEGORY, child.code).pack().encode()) <= 64


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not toml [", "not valid TOML"),
        ("x = 1", "at least one"),
        ('[[category]]\ncode = "Bad Code"', "code must be"),
        (
            '[[category]]\ncode = "a"\nnames = { uk = "А" }\nsla_hours = 1\ndepartment = "d"',
            "names",
        ),
        ('[[category]]\ncode = "a"\nnames = { uk = "А", en = "A" }\ndepartment = "d"', "sla_hours"),
        ('[[category]]\ncode = "a"\nnames = { uk = "А", en = "A" }\nsla_hours = 2', "department"),
        (
            '[[category]]\ncode = "a"\nnames = { uk = "А", en = "A" }\nsla_hours = 2\n'
            'department = "d"\n[[category]]\ncode = "a"\nnames = { uk = "Б", en = "B" }\n'
            'sla_hours = 2\ndepartment = "d"',
            "used twice",
        ),
    ],
)
def test_bad_category_files_name_the_fault(text: str, error: str) -> None:
    with pytest.raises(CategoryFileError, match=error):
        parse_categories(text)


def test_sub_categories_inherit_and_override() -> None:
    specs = parse_categories(
        '[[category]]\ncode = "a"\nnames = { uk = "А", en = "A" }\nsla_hours = 10\n'
        'department = "D"\n  [[category.sub]]\n  code = "b"\n  names = { uk = "Б", en = "B" }\n'
        '  [[category.sub]]\n  code = "c"\n  names = { uk = "В", en = "C" }\n  sla_hours = 3\n'
    )
    (root,) = specs
    assert [(c.code, c.sla_hours, c.department) for c in root.children] == [
        ("b", 10, "D"),
        ("c", 3, "D"),
    ]


def test_actions_round_trip_and_reject_forgeries() -> None:
    action = Action(Act.CATEGORY, "roads")
    assert Action.parse(action.pack()) == action
    assert Action.parse("menu") == Action(Act.MENU)
    assert Action(Act.APPEAL, "42").int_arg() == 42
    assert Action(Act.APPEAL, "x").int_arg() is None
    for forged in ("", "nope:1", "cat:ROADS", "cat:" + "a" * 60, "cat:a b", "ap:<script>"):
        assert Action.parse(forged) is None, forged


def test_phone_numbers_are_normalised() -> None:
    assert normalize_phone("380501234567") == "+380501234567"
    assert normalize_phone("+38 (050) 123-45-67") == "+380501234567"
    assert normalize_phone("12") is None


def test_bounds() -> None:
    lutsk = Bounds(*Settings().city_bounds)
    assert lutsk.contains(GeoPoint(50.7472, 25.3254))
    assert not lutsk.contains(GeoPoint(50.4501, 30.5234))  # Kyiv
    with pytest.raises(ValueError, match="min < max"):
        Bounds(1, 1, 0, 2)


def test_city_bounds_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITY_BOUNDS", "50.0,30.0,50.6,30.9")
    assert Settings().city_bounds == (50.0, 30.0, 50.6, 30.9)


def test_status_table_is_closed_and_final_states_are_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert OPEN_STATUSES | FINAL_STATUSES == set(Status)
    for status in FINAL_STATUSES:
        assert not TRANSITIONS[status]
    for status in OPEN_STATUSES:
        assert can_transition(status, Status.REJECTED)
        assert can_transition(status, Status.DUPLICATE)
    assert can_transition(Status.DONE, Status.REOPENED)
    assert can_transition(Status.REOPENED, Status.IN_PROGRESS)
    assert not can_transition(Status.NEW, Status.DONE)
    with pytest.raises(TransitionError):
        check_transition(Status.CLOSED, Status.IN_PROGRESS)


def test_only_the_resident_withdraws_and_only_before_the_work_is_done() -> None:
    from domain.staff import STATUS_ICONS
    from domain.statuses import NOTE_REQUIRED, Actor, operator_targets, status_label

    withdrawable = {Status.NEW, Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED}
    for status in Status:
        assert can_transition(status, Status.WITHDRAWN, Actor.RESIDENT) is (status in withdrawable)
        assert not can_transition(status, Status.WITHDRAWN, Actor.OPERATOR)
        assert Status.WITHDRAWN not in operator_targets(status)
        # Every status has a label and a card icon.
        assert status_label(status) and STATUS_ICONS[status]
    assert Status.WITHDRAWN in FINAL_STATUSES
    assert Status.WITHDRAWN in NOTE_REQUIRED


def test_categories_file_default_is_in_the_project() -> None:
    assert Settings().categories_file == PROJECT_ROOT / "storage" / "seed" / "categories.toml"
    assert Path(Settings().categories_file).is_file()


def test_local_time_is_one_format_in_the_city_s_zone() -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    moment = datetime(2026, 12, 31, 22, 5, tzinfo=UTC)
    assert local_time(moment, kyiv) == "01.01.2027 00:05"
    assert local_time(moment, kyiv, date_only=True) == "01.01.2027"
    assert local_time(moment, kyiv, time_only=True) == "00:05"


def test_workable_statuses_are_the_open_ones_not_waiting_for_the_resident() -> None:
    assert WORKABLE_STATUSES == OPEN_STATUSES - {Status.DONE}
    assert Status.NEW in WORKABLE_STATUSES and Status.REOPENED in WORKABLE_STATUSES


def test_named_kinds_keep_the_strings_storage_and_the_transports_use() -> None:
    # storage/ and bot/ still spell some of these as literals; the values must stay equal.
    assert KIND_CARD == OutboxKind.CARD.value == "card"
    assert KIND_CARD_EDIT == OutboxKind.CARD_EDIT.value == "card_edit"
    assert OutboxKind.CALLS.value == "calls"  # bot.telegram.calls.KIND_CALLS
    assert MediaRole.REPORT.value == "report" and EventKind.STATUS.value == "status"


def test_steps_keep_the_strings_stored_for_dialogs_in_progress() -> None:
    assert AppealForm.category.value == "AppealForm:category"
    assert Registration.phone.value == "Registration:phone"
    assert Feedback.answer.value == "Feedback:answer"
    assert SelfService.withdraw_reason.value == "SelfService:withdraw_reason"
    assert CallForm.caller_name.value == "CallForm:caller_name"
    assert Linking.code.value == "Linking:code"
    for group in (AppealForm, Registration, Feedback, SelfService, CallForm, Linking):
        assert all(step.value == f"{group.__name__}:{step.name}" for step in group)
