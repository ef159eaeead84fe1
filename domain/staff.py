"""The staff card: how an appeal looks in the operators' chat, and which buttons it offers.

Rendered when it is sent (not when it is queued), so the chat always shows the current state.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.actions import Act, Action
from domain.clock import local_time
from domain.dialog.replies import Button
from domain.entities import CallOrigin, HistoryEntry, StaffView
from domain.i18n import gettext, ngettext
from domain.kinds import EventKind, MediaRole
from domain.statuses import WORKABLE_STATUSES, Status, operator_targets, status_label

_ = gettext

STATUS_ICONS = {
    Status.NEW: "🆕",
    Status.ACCEPTED: "📥",
    Status.IN_PROGRESS: "🛠",
    Status.DONE: "✅",
    Status.REOPENED: "🔁",
    Status.CLOSED: "🏁",
    Status.REJECTED: "⛔",
    Status.DUPLICATE: "♊",
    Status.WITHDRAWN: "🚫",
}

# Which button moves an appeal to which status.
TARGET_ACTS = {
    Status.ACCEPTED: Act.STAFF_ACCEPT,
    Status.IN_PROGRESS: Act.STAFF_START,
    Status.DONE: Act.STAFF_DONE,
    Status.REJECTED: Act.STAFF_REJECT,
    Status.DUPLICATE: Act.STAFF_DUPLICATE,
}
ACT_TARGETS = {act: status for status, act in TARGET_ACTS.items()}


def is_overdue(view: StaffView, now: datetime) -> bool:
    status = view.appeal.status
    return status in WORKABLE_STATUSES and view.appeal.due_at < now


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return local_time(moment, tz)


def _names(names: dict[str, str], locale: str) -> str:
    return names.get(locale) or names.get("uk") or ""


def actor_kind_label(kind: str) -> str:
    """A role, as operators call it (for changes made by nobody named)."""
    return {
        "resident": _("resident"),
        "system": _("system"),
        "operator": _("operator"),
        "executor": _("executor"),
    }.get(kind, kind)


def actor_label(entry: HistoryEntry) -> str:
    """Who made a change, as operators call them (residents stay anonymous)."""
    return entry.actor_name or actor_kind_label(entry.actor_kind)


def event_line(entry: HistoryEntry, tz: ZoneInfo) -> str:
    """One history entry for operators: when, who, what."""
    who = actor_label(entry)
    if entry.kind == EventKind.STATUS and entry.to_status is not None:
        what = status_label(entry.to_status)
    elif entry.kind == EventKind.RELAY_OUT:
        what = _("message to the resident")
    elif entry.kind == EventKind.RELAY_IN:
        what = _("message from the resident")
    elif entry.kind == EventKind.ADDITION:
        what = _("the resident added")
    elif entry.kind == EventKind.REVEAL:
        what = _("viewed the phone number")
    elif entry.kind == EventKind.ROUTE:
        what = _("routed to")
    elif entry.kind == EventKind.TO_EXECUTORS:
        what = _("posted in the executors' chat of")
    elif entry.kind == EventKind.RETURNED:
        what = _("sent back to the operators")
    elif entry.kind == EventKind.ESCALATED:
        what = _("escalated: overdue with")
    else:
        what = entry.kind
    line = f"{_local(entry.at, tz)} · {who} · {what}"
    if entry.note:
        line += f": {entry.note}"
    return line


def map_url(latitude: float, longitude: float) -> str:
    """A link that opens the pin in a map app (Telegram makes it clickable)."""
    return f"https://www.google.com/maps?q={latitude:.6f},{longitude:.6f}"


CARD_TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def card_text(
    view: StaffView, locale: str, now: datetime, tz: ZoneInfo, limit: int = CARD_TEXT_LIMIT
) -> str:
    """The card's text, at most `limit` characters: a long description is shortened first,
    so the status, place and due date always show (a caption holds only 1024)."""
    text = _card_text(view, locale, now, tz, view.description)
    overflow = len(text) - limit
    if overflow > 0:
        keep = max(0, len(view.description) - overflow - 1)
        text = _card_text(view, locale, now, tz, view.description[:keep] + "…")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _card_text(view: StaffView, locale: str, now: datetime, tz: ZoneInfo, description: str) -> str:
    appeal = view.appeal
    header = f"{STATUS_ICONS[appeal.status]} {appeal.number} · {status_label(appeal.status)}"
    if is_overdue(view, now):
        header += " · " + _("⚠️ OVERDUE")
    category = _names(view.category_names, locale)
    if view.parent_category_names:
        category = f"{_names(view.parent_category_names, locale)} → {category}"
    pin = view.latitude is not None and view.longitude is not None
    if view.address and pin:
        place = f"{view.address} ({view.latitude:.5f}, {view.longitude:.5f})"
    elif pin:
        place = f"{view.latitude:.5f}, {view.longitude:.5f}"
    else:
        place = view.address or "—"
    report = [m for m in view.media if m.role == MediaRole.REPORT]
    lines = [
        header,
        "",
        _("Category: {category}").format(category=category),
        _("Department: {department}").format(
            department=appeal.department or view.default_department
        ),
        _("Place: {place}").format(place=place),
    ]
    if view.latitude is not None and view.longitude is not None:
        lines.append(_("Map: {url}").format(url=map_url(view.latitude, view.longitude)))
    lines += [
        _("Description: {text}").format(text=description),
        ngettext("{count} photo or video", "{count} photos or videos", len(report)).format(
            count=len(report)
        ),
        _("Filed: {date}").format(date=_local(view.created_at, tz)),
        _("Due by: {date}").format(date=_local(appeal.due_at, tz)),
    ]
    if view.origin is not None:
        lines.insert(2, origin_line(view.origin, tz))
    if view.duplicate_of:
        lines.append(_("Duplicate of {number}").format(number=view.duplicate_of))
    if view.last_event is not None:
        last = event_line(view.last_event, tz)
        lines.append(_("Last: {event}").format(event=last[:300]))
    return "\n".join(lines)


def origin_line(origin: CallOrigin, tz: ZoneInfo) -> str:
    """A phone appeal says so, with the caller's name and who took the call (never the
    caller's number: that is a recorded reveal)."""
    return _("☎️ By phone from {caller}; taken by {operator} at {time}").format(
        caller=origin.caller_name or _("a caller who gave no name"),
        operator=origin.operator_name or _("operator"),
        time=_local(origin.taken_at, tz),
    )


def department_key(department: str) -> str:
    """A short stable id for a department name, to fit in a button's action id."""
    return hashlib.sha256(department.encode()).hexdigest()[:10]


def department_buttons(appeal_id: int, departments: list[str]) -> tuple[tuple[Button, ...], ...]:
    return tuple(
        (Button(name[:60], Action(Act.STAFF_DEPARTMENT, f"{appeal_id}.{department_key(name)}")),)
        for name in departments
    )


def executor_buttons(appeal_id: int) -> tuple[tuple[Button, ...], ...]:
    """The buttons of the card in a department's executors' chat: what executors may do."""
    arg = str(appeal_id)
    return (
        (
            Button(_("🛠 Take into work"), Action(Act.EXEC_TAKE, arg)),
            Button(_("✅ Done (photo)"), Action(Act.EXEC_DONE, arg)),
        ),
        (Button(_("↩️ Back to the operators"), Action(Act.EXEC_RETURN, arg)),),
    )


def card_buttons(view: StaffView) -> tuple[tuple[Button, ...], ...]:
    appeal_id = str(view.appeal.id)
    labels = {
        Act.STAFF_ACCEPT: _("📥 Accept"),
        Act.STAFF_START: _("🛠 In progress"),
        Act.STAFF_DONE: _("✅ Done (photo)"),
        Act.STAFF_REJECT: _("⛔ Reject"),
        Act.STAFF_DUPLICATE: _("♊ Duplicate"),
    }
    moves = [
        Button(labels[TARGET_ACTS[target]], Action(TARGET_ACTS[target], appeal_id))
        for target in operator_targets(view.appeal.status)
    ]
    main = tuple(
        b for b in moves if b.action.act in (Act.STAFF_ACCEPT, Act.STAFF_START, Act.STAFF_DONE)
    )
    side = tuple(b for b in moves if b not in main)
    if view.appeal.status in WORKABLE_STATUSES:
        side += (Button(_("🔀 Route"), Action(Act.STAFF_ROUTE, appeal_id)),)
    info = (
        Button(_("📞 Phone"), Action(Act.STAFF_PHONE, appeal_id)),
        Button(_("📜 History"), Action(Act.STAFF_HISTORY, appeal_id)),
    )
    return tuple(row for row in (main, side, info) if row)
