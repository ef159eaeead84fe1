"""Departments: data the city edits (a TOML file, like the categories file), checked before it
reaches the database, and how categories find their department in it.

A department may have a Telegram chat of its executors: its appeals are posted there too, and
its members take them into work, report them done or send them back to the operators (see
domain/executors.py). Without a chat, the operators act for it as before.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from domain.categories import CategoryFileError, CategorySpec
from domain.i18n import LOCALES

_CODE_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class DepartmentFileError(ValueError):
    """The departments file is not usable; the message names the entry at fault."""


@dataclass(frozen=True, slots=True)
class DepartmentSpec:
    code: str
    names: dict[str, str]
    # The Telegram group of its executors (negative for groups); None: operators act for it.
    chat_id: int | None = None
    # Norms that override the category's and the city's settings.
    sla_hours: int | None = None
    reminder_hours: float | None = None
    escalation_hours: float | None = None

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["uk"]


def _positive(raw: dict[str, object], key: str, where: str, *, integer: bool) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    ok_types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types) or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise DepartmentFileError(f"{where}: {key} must be {kind}")
    return value


def _spec(raw: object, where: str) -> DepartmentSpec:
    if not isinstance(raw, dict):
        raise DepartmentFileError(f"{where}: expected a table")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise DepartmentFileError(f"{where}: code must be 1-32 of a-z, 0-9, _")
    where = f"{where} ({code})"
    names = raw.get("names")
    if not isinstance(names, dict) or any(
        not isinstance(names.get(loc), str) or not names[loc].strip() for loc in LOCALES
    ):
        raise DepartmentFileError(f"{where}: names needs non-empty {', '.join(LOCALES)}")
    chat_id = raw.get("chat_id")
    if chat_id is not None and (isinstance(chat_id, bool) or not isinstance(chat_id, int)):
        raise DepartmentFileError(f"{where}: chat_id must be the Telegram chat's integer id")
    sla = _positive(raw, "sla_hours", where, integer=True)
    return DepartmentSpec(
        code=code,
        names={loc: str(names[loc]).strip() for loc in LOCALES},
        chat_id=chat_id,
        sla_hours=int(sla) if sla is not None else None,
        reminder_hours=_positive(raw, "reminder_hours", where, integer=False),
        escalation_hours=_positive(raw, "escalation_hours", where, integer=False),
    )


def parse_departments(text: str) -> list[DepartmentSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DepartmentFileError(f"not valid TOML: {exc}") from exc
    entries = data.get("department", [])
    if not isinstance(entries, list):
        raise DepartmentFileError("[[department]] entries expected")
    specs = [_spec(entry, f"department[{i}]") for i, entry in enumerate(entries)]
    codes: set[str] = set()
    names: set[str] = set()
    chats: set[int] = set()
    for spec in specs:
        if spec.code in codes:
            raise DepartmentFileError(f"department code {spec.code!r} is used twice")
        # Appeals keep the department's Ukrainian name (what operators route to).
        if spec.names["uk"] in names:
            raise DepartmentFileError(f"department name {spec.names['uk']!r} is used twice")
        if spec.chat_id is not None and spec.chat_id in chats:
            raise DepartmentFileError(f"chat_id {spec.chat_id} is given to two departments")
        codes.add(spec.code)
        names.add(spec.names["uk"])
        if spec.chat_id is not None:
            chats.add(spec.chat_id)
    return specs


def load_departments(path: Path) -> list[DepartmentSpec]:
    return parse_departments(path.read_text(encoding="utf-8"))


def resolve_categories(
    categories: list[CategorySpec], departments: list[DepartmentSpec]
) -> list[CategorySpec]:
    """The categories with their departments filled in: a `department_code` gives the name in
    both languages; a department's `sla_hours` overrides the category's, so the due date of a
    new appeal follows the department's norm. Categories naming their department by name (the
    older files) keep it, and get the norm of the department of that name, if any."""
    by_code = {d.code: d for d in departments}
    by_name = {d.names["uk"]: d for d in departments}

    def one(spec: CategorySpec, where: str) -> CategorySpec:
        if spec.department_code is not None:
            department = by_code.get(spec.department_code)
            if department is None:
                raise CategoryFileError(
                    f"{where} ({spec.code}): department_code {spec.department_code!r} is not "
                    "in the departments file"
                )
            spec = replace(
                spec, department=department.names["uk"], department_en=department.names["en"]
            )
        else:
            found = by_name.get(spec.department)
            department = found
        if department is not None and department.sla_hours is not None:
            spec = replace(spec, sla_hours=department.sla_hours)
        return spec

    resolved = []
    for index, root in enumerate(categories):
        where = f"category[{index}]"
        parent = one(root, where)  # the entry at fault is named first
        children = tuple(one(child, f"{where}.sub[{i}]") for i, child in enumerate(root.children))
        resolved.append(replace(parent, children=children))
    return resolved


@dataclass(frozen=True, slots=True)
class Assignment:
    """An appeal held by a department's executors' chat, and its norms' timers there."""

    appeal_id: int
    department_code: str
    chat_id: int
    due_at: datetime
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
