"""The departments file: validated with errors that name the entry, and how categories find
their department (by code or, in older files, by name) and its norms."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from domain.actions import Act
from domain.categories import CategoryFileError, parse_categories
from domain.departments import DepartmentFileError, parse_departments, resolve_categories
from domain.dialog.core import Dialog
from storage.uow import UnitOfWorkFactory
from tests.clock import FakeClock
from tests.dialog.transcript import Transcript

DEPARTMENTS = """
[[department]]
code = "water"
names = { uk = "Водоканал", en = "Water utility" }
chat_id = -1001
sla_hours = 10
reminder_hours = 2.5

[[department]]
code = "roads"
names = { uk = "Дороги", en = "Roads department" }
"""


def test_a_departments_file_is_read_with_its_optional_chat_and_norms() -> None:
    water, roads = parse_departments(DEPARTMENTS)
    assert (water.code, water.chat_id, water.sla_hours, water.reminder_hours) == (
        "water",
        -1001,
        10,
        2.5,
    )
    assert water.escalation_hours is None
    assert (roads.chat_id, roads.sla_hours, roads.name("en")) == (None, None, "Roads department")
    assert parse_departments("") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[department]]\ncode = "Bad!"\nnames = { uk = "a", en = "b" }', "department[0]: code"),
        ('[[department]]\ncode = "a"\nnames = { uk = "a" }', "department[0] (a): names"),
        (
            '[[department]]\ncode = "a"\nnames = { uk = "a", en = "b" }\nchat_id = "x"',
            "department[0] (a): chat_id",
        ),
        (
            '[[department]]\ncode = "a"\nnames = { uk = "a", en = "b" }\nsla_hours = 0',
            "department[0] (a): sla_hours",
        ),
        (
            '[[department]]\ncode = "a"\nnames = { uk = "a", en = "b" }\n'
            '[[department]]\ncode = "a"\nnames = { uk = "c", en = "d" }',
            "code 'a' is used twice",
        ),
        (
            '[[department]]\ncode = "a"\nnames = { uk = "a", en = "b" }\nchat_id = -1\n'
            '[[department]]\ncode = "c"\nnames = { uk = "c", en = "d" }\nchat_id = -1',
            "chat_id -1 is given to two departments",
        ),
    ],
)
def test_a_bad_departments_file_is_refused_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(DepartmentFileError, match=re.escape(message)):
        parse_departments(text)


CATEGORIES = """
[[category]]
code = "water"
names = { uk = "Вода", en = "Water" }
sla_hours = 48
department_code = "water"
  [[category.sub]]
  code = "pipe"
  names = { uk = "Труба", en = "Pipe" }
  sla_hours = 4

[[category]]
code = "roads"
names = { uk = "Дороги", en = "Roads" }
sla_hours = 240
department = "Дороги"

[[category]]
code = "other"
names = { uk = "Інше", en = "Other" }
sla_hours = 100
department = "Хтось інший"
department_en = "Someone else"
"""


def test_categories_take_their_departments_names_and_norms() -> None:
    water, roads, other = resolve_categories(
        parse_categories(CATEGORIES), parse_departments(DEPARTMENTS)
    )
    # By code: the department's names, and its SLA over the category's (the sub's too).
    assert (water.department, water.department_en, water.sla_hours) == (
        "Водоканал",
        "Water utility",
        10,
    )
    pipe = water.children[0]
    assert (pipe.department, pipe.department_en, pipe.sla_hours) == (
        "Водоканал",
        "Water utility",
        10,
    )
    # By name (an older file): kept as it is; no norm to apply.
    assert (roads.department, roads.sla_hours) == ("Дороги", 240)
    # A department the departments file does not know works as before.
    assert (other.department, other.department_en, other.sla_hours) == (
        "Хтось інший",
        "Someone else",
        100,
    )


def test_an_unknown_department_code_is_refused_naming_the_category() -> None:
    text = CATEGORIES.replace('department_code = "water"', 'department_code = "sewage"')
    with pytest.raises(
        CategoryFileError, match=r"category\[0\] \(water\): department_code 'sewage'"
    ):
        resolve_categories(parse_categories(text), parse_departments(DEPARTMENTS))


def test_the_seed_files_agree() -> None:
    from pathlib import Path

    from domain.categories import load_categories
    from domain.departments import load_departments

    root = Path(__file__).resolve().parents[2] / "storage" / "seed"
    categories = load_categories(root / "categories.toml")
    departments = load_departments(root / "departments.toml")
    resolved = resolve_categories(categories, departments)
    # The seed departments have no chats and no norms: every category is as its file says,
    # and every department a category names is in the departments file.
    assert resolved == categories
    names = {d.names["uk"] for d in departments}
    assert {c.department for c in categories} <= names
    assert all(d.chat_id is None for d in departments)


async def test_a_department_that_loses_its_chat_gives_its_appeals_back(
    dialog: Dialog, uows: UnitOfWorkFactory, clock: FakeClock
) -> None:
    olena = Transcript(dialog, uows, 7301)
    await olena.register()
    await olena.press(Act.NEW_APPEAL)
    await olena.press(Act.CATEGORY, "other")
    await olena.text("вул. Лесі Українки, 1")
    await olena.press(Act.MEDIA_SKIP)
    await olena.text("A bench is broken in the park.")
    await olena.press(Act.SUBMIT)
    water, roads = parse_departments(DEPARTMENTS)
    moved = replace(water, chat_id=-1002)
    async with uows() as uow:
        await uow.departments.sync([water, roads])
        await uow.departments.assign(1, "water", -1001, clock())
        await uow.commit()
    async with uows() as uow:
        # The chat moved: the appeal stays with the department, in its new chat.
        await uow.departments.sync([moved, roads])
        held = await uow.departments.assignment(1)
        assert held is not None and held.chat_id == -1002
        assert (await uow.departments.by_chat(-1002)) == moved
        await uow.commit()
    async with uows() as uow:
        # No chat any more: the operators hold it again.
        await uow.departments.sync([replace(water, chat_id=None), roads])
        assert await uow.departments.assignment(1) is None
        assert await uow.departments.by_chat(-1002) is None
