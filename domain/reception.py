"""The reception schedule of the mayor and officials: data the city edits (a TOML file),
checked before it reaches the database, and the slots it gives on a day."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.i18n import LOCALES

_CODE_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLOT_MINUTES_MIN = 5
SLOT_MINUTES_MAX = 240


class ReceptionFileError(ValueError):
    """The reception file is not usable; the message names the entry at fault."""


@dataclass(frozen=True, slots=True)
class Hours:
    """One reception period on a weekday (0 = Monday), local time."""

    weekday: int
    start: time
    end: time

    def to_data(self) -> list[Any]:
        return [self.weekday, self.start.strftime("%H:%M"), self.end.strftime("%H:%M")]

    @classmethod
    def from_data(cls, data: list[Any]) -> Hours:
        return cls(int(data[0]), time.fromisoformat(data[1]), time.fromisoformat(data[2]))


@dataclass(frozen=True, slots=True)
class Schedule:
    """When an official receives: periods per weekday, the slot length, the days off."""

    hours: tuple[Hours, ...]
    slot_minutes: int
    days_off: frozenset[date] = field(default_factory=frozenset)

    def slots(self, day: date, timezone: ZoneInfo) -> list[datetime]:
        """The slot starts (UTC) of a day by the schedule alone, in order."""
        if day in self.days_off:
            return []
        step = timedelta(minutes=self.slot_minutes)
        starts: list[datetime] = []
        for period in self.hours:
            if period.weekday != day.weekday():
                continue
            moment = datetime.combine(day, period.start, timezone)
            end = datetime.combine(day, period.end, timezone)
            while moment + step <= end:
                starts.append(moment.astimezone(UTC))
                moment += step
        return sorted(starts)

    def to_data(self) -> dict[str, Any]:
        """JSON-safe form, as the database keeps it."""
        return {
            "hours": [h.to_data() for h in self.hours],
            "slot_minutes": self.slot_minutes,
            "days_off": sorted(d.isoformat() for d in self.days_off),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Schedule:
        return cls(
            hours=tuple(Hours.from_data(h) for h in data.get("hours", [])),
            slot_minutes=int(data["slot_minutes"]),
            days_off=frozenset(date.fromisoformat(d) for d in data.get("days_off", [])),
        )


@dataclass(frozen=True, slots=True)
class OfficialSpec:
    code: str
    names: dict[str, str]
    titles: dict[str, str]
    places: dict[str, str]
    schedule: Schedule


def _localized(raw: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = raw.get(key)
    if not isinstance(value, dict) or any(
        not isinstance(value.get(loc), str) or not value[loc].strip() for loc in LOCALES
    ):
        raise ReceptionFileError(f"{where}: {key} needs non-empty {', '.join(LOCALES)}")
    return {loc: value[loc].strip() for loc in LOCALES}


def _hours(raw: object, where: str) -> Hours:
    if not isinstance(raw, dict):
        raise ReceptionFileError(f"{where}: expected a table")
    weekday = raw.get("weekday")
    if weekday not in WEEKDAYS:
        raise ReceptionFileError(f"{where}: weekday must be one of {', '.join(WEEKDAYS)}")
    bounds: list[time] = []
    for key in ("from", "to"):
        value = raw.get(key)
        if not isinstance(value, str) or not _TIME_RE.match(value):
            raise ReceptionFileError(f'{where}: {key} must be a time like "10:00"')
        bounds.append(time.fromisoformat(value))
    if bounds[0] >= bounds[1]:
        raise ReceptionFileError(f"{where}: from must be before to")
    return Hours(WEEKDAYS.index(str(weekday)), bounds[0], bounds[1])


def _official(raw: object, where: str) -> OfficialSpec:
    if not isinstance(raw, dict):
        raise ReceptionFileError(f"{where}: expected a table")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise ReceptionFileError(f"{where}: code must be 1-32 of a-z, 0-9, _")
    where = f"{where} ({code})"
    names = _localized(raw, "names", where)
    titles = _localized(raw, "titles", where)
    places = _localized(raw, "place", where)
    slot = raw.get("slot_minutes")
    if (
        not isinstance(slot, int)
        or isinstance(slot, bool)
        or not SLOT_MINUTES_MIN <= slot <= SLOT_MINUTES_MAX
    ):
        raise ReceptionFileError(
            f"{where}: slot_minutes must be a whole number from {SLOT_MINUTES_MIN} "
            f"to {SLOT_MINUTES_MAX}"
        )
    hours_raw = raw.get("hours")
    if not isinstance(hours_raw, list) or not hours_raw:
        raise ReceptionFileError(f"{where}: hours needs at least one {{ weekday, from, to }}")
    hours = tuple(_hours(item, f"{where}.hours[{i}]") for i, item in enumerate(hours_raw))
    days_raw = raw.get("days_off", [])
    if not isinstance(days_raw, list) or any(
        not isinstance(d, date) or isinstance(d, datetime) for d in days_raw
    ):
        raise ReceptionFileError(f"{where}: days_off must be a list of dates like 2026-12-25")
    return OfficialSpec(
        code=code,
        names=names,
        titles=titles,
        places=places,
        schedule=Schedule(hours, slot, frozenset(days_raw)),
    )


def parse_reception(text: str) -> list[OfficialSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReceptionFileError(f"not valid TOML: {exc}") from exc
    entries = data.get("official")
    if not isinstance(entries, list) or not entries:
        raise ReceptionFileError("the file needs at least one [[official]]")
    specs = [_official(entry, f"official[{i}]") for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for spec in specs:
        if spec.code in seen:
            raise ReceptionFileError(f"official code {spec.code!r} is used twice")
        seen.add(spec.code)
    return specs


def load_reception(path: Path) -> list[OfficialSpec]:
    return parse_reception(path.read_text(encoding="utf-8"))
