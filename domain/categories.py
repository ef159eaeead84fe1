"""Appeal categories: data the city edits (a TOML file), checked before it reaches the database."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from domain.i18n import LOCALES

_CODE_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class CategoryFileError(ValueError):
    """The categories file is not usable; the message names the entry at fault."""


@dataclass(frozen=True, slots=True)
class CategorySpec:
    code: str
    names: dict[str, str]
    sla_hours: int
    department: str
    children: tuple[CategorySpec, ...] = field(default_factory=tuple)
    # The department's name in English, where the city gave one (Ukrainian is the default).
    department_en: str | None = None
    # A danger to life or health: the dialog shows the emergency numbers before anything else.
    urgent: bool = False
    # The department by its code in the departments file (domain/departments.py), which then
    # gives `department` and `department_en`.
    department_code: str | None = None

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["uk"]


def _spec(raw: object, where: str, parent: CategorySpec | None) -> CategorySpec:
    if not isinstance(raw, dict):
        raise CategoryFileError(f"{where}: expected a table")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise CategoryFileError(f"{where}: code must be 1-32 of a-z, 0-9, _")
    names = raw.get("names")
    if not isinstance(names, dict) or any(
        not isinstance(names.get(loc), str) or not names[loc].strip() for loc in LOCALES
    ):
        raise CategoryFileError(f"{where} ({code}): names needs non-empty {', '.join(LOCALES)}")
    sla = raw.get("sla_hours", parent.sla_hours if parent else None)
    if not isinstance(sla, int) or isinstance(sla, bool) or sla <= 0:
        raise CategoryFileError(f"{where} ({code}): sla_hours must be a positive integer")
    inherited_code = parent.department_code if parent and "department" not in raw else None
    department_code = raw.get("department_code", inherited_code)
    if department_code is not None and (
        not isinstance(department_code, str) or not _CODE_RE.match(department_code)
    ):
        raise CategoryFileError(f"{where} ({code}): department_code must be 1-32 of a-z, 0-9, _")
    # With a code the departments file names it (resolved at load); the code stands in till then.
    fallback = department_code if department_code is not None and "department" not in raw else None
    department = raw.get("department", fallback or (parent.department if parent else None))
    if not isinstance(department, str) or not department.strip():
        raise CategoryFileError(f"{where} ({code}): department (or department_code) is required")
    # A sub-category inherits the English name only together with the department itself.
    inherited_en = parent.department_en if parent and "department" not in raw else None
    department_en = raw.get("department_en", inherited_en)
    if department_en is not None and (not isinstance(department_en, str) or not department_en):
        raise CategoryFileError(f"{where} ({code}): department_en must be a non-empty string")
    urgent = raw.get("urgent", parent.urgent if parent else False)
    if not isinstance(urgent, bool):
        raise CategoryFileError(f"{where} ({code}): urgent must be true or false")
    spec = CategorySpec(
        code=code,
        names=dict(names),
        sla_hours=sla,
        department=department,
        department_en=department_en,
        urgent=urgent,
        department_code=department_code,
    )
    children_raw = raw.get("sub", [])
    if parent is not None and children_raw:
        raise CategoryFileError(f"{where} ({code}): only one level of sub-categories is allowed")
    if not isinstance(children_raw, list):
        raise CategoryFileError(f"{where} ({code}): sub must be a list of tables")
    children = tuple(
        _spec(child, f"{where}.sub[{i}]", spec) for i, child in enumerate(children_raw)
    )
    return CategorySpec(
        code,
        spec.names,
        spec.sla_hours,
        spec.department,
        children,
        department_en=spec.department_en,
        urgent=spec.urgent,
        department_code=spec.department_code,
    )


def parse_categories(text: str) -> list[CategorySpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CategoryFileError(f"not valid TOML: {exc}") from exc
    entries = data.get("category")
    if not isinstance(entries, list) or not entries:
        raise CategoryFileError("the file needs at least one [[category]]")
    specs = [_spec(entry, f"category[{i}]", None) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for spec in specs:
        for code in (spec.code, *(c.code for c in spec.children)):
            if code in seen:
                raise CategoryFileError(f"category code {code!r} is used twice")
            seen.add(code)
    return specs


def load_categories(path: Path) -> list[CategorySpec]:
    return parse_categories(path.read_text(encoding="utf-8"))
