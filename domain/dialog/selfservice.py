"""Self-service on appeals already filed: «My appeals», an appeal's details, adding a photo or
a comment, withdrawing with a reason, and finding an appeal by its number. Part of the one
dialog; `Dialog` routes here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from domain.actions import Act, Action
from domain.clock import local_time
from domain.dialog.feedback import TEXT_MAX, own_appeal, resident_actor
from domain.dialog.replies import Button
from domain.entities import AppealDetail, AppealSummary, NewMedia
from domain.i18n import gettext
from domain.kinds import EventKind
from domain.staff import STATUS_ICONS, map_url
from domain.statuses import OPEN_STATUSES, Actor, Status, TransitionError, can_transition
from domain.statuses import status_label as label
from fsm_states.appeal import SelfService

if TYPE_CHECKING:
    from domain.dialog.turn import Turn

_ = gettext

S_ADD = SelfService.add
S_WITHDRAW = SelfService.withdraw_reason
S_LOOKUP = SelfService.lookup
STATES = frozenset({S_ADD, S_WITHDRAW, S_LOOKUP})
ACTS = frozenset({Act.ADD_INFO, Act.WITHDRAW, Act.LOOKUP})
WITHDRAW_REASON_MIN = 5
WITHDRAW_REASON_MAX = 500
# A row's place in «My appeals» is cut to this many characters, to stay on one line.
ROW_PLACE_MAX = 28


def place_lines(address: str | None, latitude: float | None, longitude: float | None) -> list[str]:
    """Where it is, as people read it: the address if one was given, and a map link for a
    pin (never bare coordinates)."""
    pin = latitude is not None and longitude is not None
    where = address or (_("📍 pin on the map") if pin else "—")
    lines = [_("Place: {place}").format(place=where)]
    if latitude is not None and longitude is not None:
        lines.append(_("Map: {url}").format(url=map_url(latitude, longitude)))
    return lines


def _short_place(item: AppealSummary) -> str:
    if item.address:
        address = item.address
        return address if len(address) <= ROW_PLACE_MAX else address[: ROW_PLACE_MAX - 1] + "…"
    return _("📍 pin") if item.latitude is not None else "—"


@dataclass(frozen=True, slots=True)
class SelfServiceConfig:
    timezone: ZoneInfo
    page_size: int = 5


class SelfServiceFlow:
    """«My appeals» and what a resident can do with an appeal already filed."""

    def __init__(self, config: SelfServiceConfig, menu: Callable[[Turn], None]) -> None:
        self._config = config
        self._menu = menu

    def _date(self, moment: datetime, *, time: bool = True) -> str:
        return local_time(moment, self._config.timezone, date_only=not time)

    async def _leave(self, turn: Turn) -> None:
        """Leaving a self-service step for a list or a detail ends that step."""
        if await turn.state.get_state() in STATES:
            await turn.state.clear()

    # -- the list and the details ----------------------------------------------------------

    async def my_appeals(self, turn: Turn, page: int) -> None:
        await self._leave(turn)
        size = self._config.page_size
        items, total = await turn.appeals.page(turn.account, page, size)
        if total == 0:
            turn.say(
                _("You have no appeals yet."),
                (Button(_("📝 New appeal"), Action(Act.NEW_APPEAL)),),
                (Button(_("🏠 Menu"), Action(Act.MENU)),),
            )
            return
        pages = (total + size - 1) // size
        if not items:
            page = pages - 1
            items, total = await turn.appeals.page(turn.account, page, size)
        lines = [
            _("Your appeals, newest first (page {page} of {pages}):").format(
                page=page + 1, pages=pages
            ),
            "",
        ]
        for item in items:
            category = item.category_names.get(turn.locale) or item.category_names.get("uk", "")
            lines.append(
                " · ".join(
                    (
                        f"{STATUS_ICONS[item.status]} {item.number}",
                        category,
                        _short_place(item),
                        label(item.status),
                        self._date(item.created_at, time=False),
                    )
                )
            )
        buttons = [
            (Button(f"{item.number} · {label(item.status)}", Action(Act.APPEAL, str(item.id))),)
            for item in items
        ]
        paging: list[Button] = []
        if page > 0:
            paging.append(Button(_("◀️ Newer"), Action(Act.MY_APPEALS, str(page - 1))))
        if page + 1 < pages:
            paging.append(Button(_("Older ▶️"), Action(Act.MY_APPEALS, str(page + 1))))
        turn.say(
            "\n".join(lines),
            *buttons,
            *((tuple(paging),) if paging else ()),
            (
                Button(_("🔎 Find by number"), Action(Act.LOOKUP)),
                Button(_("🏠 Menu"), Action(Act.MENU)),
            ),
        )

    async def detail(self, turn: Turn, appeal_id: int | None) -> None:
        detail = await turn.appeals.detail(turn.account, appeal_id) if appeal_id else None
        if detail is None:
            turn.lead(_("Appeal not found."))
            await self.my_appeals(turn, 0)
            return
        await self._leave(turn)
        self._show(turn, detail)

    def _show(self, turn: Turn, detail: AppealDetail) -> None:
        summary = detail.summary
        appeal_id = str(summary.id)
        rows: list[tuple[Button, ...]] = []
        if summary.status in OPEN_STATUSES:
            rows.append((Button(_("📎 Add a photo or comment"), Action(Act.ADD_INFO, appeal_id)),))
        if can_transition(summary.status, Status.WITHDRAWN, Actor.RESIDENT):
            rows.append((Button(_("🚫 Withdraw the appeal"), Action(Act.WITHDRAW, appeal_id)),))
        turn.say(
            self._detail_text(turn, detail),
            *rows,
            (
                Button(_("📋 My appeals"), Action(Act.MY_APPEALS)),
                Button(_("🏠 Menu"), Action(Act.MENU)),
            ),
        )

    def _detail_text(self, turn: Turn, detail: AppealDetail) -> str:
        summary = detail.summary
        category = summary.category_names.get(turn.locale) or summary.category_names.get("uk", "")
        if detail.parent_category_names:
            parent = detail.parent_category_names.get(turn.locale) or ""
            category = f"{parent} → {category}"
        lines = [
            _("Appeal {number}").format(number=summary.number),
            _("Status: {status}").format(status=label(summary.status)),
            _("Category: {category}").format(category=category),
            *place_lines(detail.address, detail.latitude, detail.longitude),
            _("Filed: {date}").format(date=self._date(summary.created_at)),
            _("Due by: {date}").format(date=self._date(summary.due_at)),
            _("Photos and videos: {count}").format(count=detail.media_count),
            _("Description: {text}").format(text=detail.description),
            "",
            _("History:"),
        ]
        for entry in detail.history:
            if entry.to_status is not None:
                what = label(entry.to_status)
            elif entry.kind == EventKind.RELAY_OUT:
                what = _("message from the operator")
            elif entry.kind == EventKind.RELAY_IN:
                what = _("your answer")
            elif entry.kind == EventKind.ADDITION:
                what = _("you added")
            elif entry.kind == EventKind.REVEAL:
                what = _("an operator viewed your phone number")
            else:
                continue
            line = f"• {self._date(entry.at)} — {what}"
            if entry.note:
                line += f": {entry.note}"
            lines.append(line)
        return "\n".join(lines)

    # -- adding, withdrawing, finding ------------------------------------------------------

    async def start(self, turn: Turn, action: Action) -> None:
        """ADD_INFO / WITHDRAW on an appeal, or LOOKUP: enter that step."""
        if action.act is Act.LOOKUP:
            await turn.state.set_state(S_LOOKUP)
            await turn.state.set_data({})
            self._prompt_lookup(turn)
            return
        appeal = await own_appeal(turn, action.int_arg())
        if appeal is None:
            turn.lead(_("Appeal not found."))
            await self.my_appeals(turn, 0)
            return
        allowed = (
            appeal.status in OPEN_STATUSES
            if action.act is Act.ADD_INFO
            else can_transition(appeal.status, Status.WITHDRAWN, Actor.RESIDENT)
        )
        if not allowed:
            turn.lead(self._too_late(appeal.number, appeal.status, action.act))
            await self.detail(turn, appeal.id)
            return
        state = S_ADD if action.act is Act.ADD_INFO else S_WITHDRAW
        await turn.state.set_state(state)
        await turn.state.set_data({"appeal_id": appeal.id, "albums": []})
        self._prompt(turn, state, appeal.number)

    @staticmethod
    def _too_late(number: str, status: Status, act: Act) -> str:
        if act is Act.ADD_INFO:
            return _("Appeal {number} is «{status}»; nothing can be added to it now.").format(
                number=number, status=label(status)
            )
        return _("Appeal {number} is «{status}»; it can no longer be withdrawn.").format(
            number=number, status=label(status)
        )

    def _prompt(self, turn: Turn, state: str, number: str) -> None:
        if state == S_LOOKUP:
            self._prompt_lookup(turn)
        elif state == S_ADD:
            turn.say(
                _(
                    "Send a photo, a video or a comment to add to appeal {number}; the operators "
                    "will see it in the appeal."
                ).format(number=number),
                (Button(_("✖️ Cancel"), Action(Act.CANCEL)),),
            )
        else:
            turn.say(
                _(
                    "Why do you withdraw appeal {number}? Type the reason ({min} to {max} "
                    "characters). The operators will stop the work on it, and it cannot be "
                    "reopened."
                ).format(number=number, min=WITHDRAW_REASON_MIN, max=WITHDRAW_REASON_MAX),
                (Button(_("↩️ Keep the appeal"), Action(Act.CANCEL)),),
            )

    def _prompt_lookup(self, turn: Turn) -> None:
        turn.say(
            _("Type the appeal number, for example 1580-2026-000123:"),
            (Button(_("✖️ Cancel"), Action(Act.CANCEL)),),
        )

    async def reprompt(self, turn: Turn, current: str) -> None:
        if current == S_LOOKUP:
            self._prompt_lookup(turn)
            return
        data = await turn.state.get_data()
        appeal = await own_appeal(turn, data.get("appeal_id"))
        self._prompt(turn, current, appeal.number if appeal else "—")

    async def on_input(self, turn: Turn, current: str) -> None:
        """A message in a self-service step."""
        event = turn.event
        if event.action is not None:
            turn.lead(_("This button belongs to another step."))
            await self.reprompt(turn, current)
            return
        if current == S_LOOKUP:
            await self._on_lookup(turn)
            return
        data = await turn.state.get_data()
        appeal = await own_appeal(turn, data.get("appeal_id"))
        if appeal is None:
            await turn.state.clear()
            turn.lead(_("Appeal not found."))
            self._menu(turn)
            return
        text = ((event.text if event.text is not None else event.caption) or "").strip()
        if current == S_WITHDRAW:
            await self._on_withdraw(turn, appeal.id, appeal.number, text)
            return
        if not text and not event.media:
            turn.lead(_("Please send a photo, a video or a comment."))
            self._prompt(turn, current, appeal.number)
            return
        if len(text) > TEXT_MAX:
            turn.say(
                _("The text is too long: {length} characters, the limit is {max}.").format(
                    length=len(text), max=TEXT_MAX
                )
            )
            return
        channel = turn.account.channel
        items = [NewMedia(m.kind, channel, m.file_ref, m.unique_id) for m in event.media]
        try:
            await turn.lifecycle.add_to_appeal(appeal.id, text, resident_actor(turn), items)
        except TransitionError as error:
            await turn.state.clear()
            turn.lead(self._too_late(appeal.number, error.current, Act.ADD_INFO))
            self._menu(turn)
            return
        group = event.media_group_id
        albums: list[str] = list(data.get("albums", []))
        if group is not None and group in albums:
            # The rest of an album: kept and passed on, answered once for the whole album.
            return
        if group is not None:
            await turn.state.set_data({**data, "albums": [*albums[-9:], group]})
        turn.say(
            _(
                "📎 Added to appeal {number}; the operators see it. Send more, or press «Done»."
            ).format(number=appeal.number),
            (Button(_("✅ Done"), Action(Act.APPEAL, str(appeal.id))),),
        )

    async def _on_withdraw(self, turn: Turn, appeal_id: int, number: str, reason: str) -> None:
        if not WITHDRAW_REASON_MIN <= len(reason) <= WITHDRAW_REASON_MAX:
            turn.lead(
                _("Please type the reason in {min} to {max} characters.").format(
                    min=WITHDRAW_REASON_MIN, max=WITHDRAW_REASON_MAX
                )
            )
            self._prompt(turn, S_WITHDRAW, number)
            return
        await turn.state.clear()
        try:
            await turn.lifecycle.transition(
                appeal_id, Status.WITHDRAWN, resident_actor(turn), note=reason
            )
        except TransitionError as error:
            turn.lead(self._too_late(number, error.current, Act.WITHDRAW))
            self._menu(turn)
            return
        turn.lead(
            _("🚫 Appeal {number} is withdrawn; the operators are told. Thank you.").format(
                number=number
            )
        )
        self._menu(turn)

    async def _on_lookup(self, turn: Turn) -> None:
        typed = (turn.event.text or "").strip()
        detail = await turn.appeals.find_own(turn.account, typed) if typed else None
        if detail is None:
            # The same answer for someone else's number as for one that does not exist.
            turn.lead(
                _("No appeal {number} among yours. Check the number and type it again.").format(
                    number=typed[:40] or "—"
                )
            )
            self._prompt_lookup(turn)
            return
        await turn.state.clear()
        self._show(turn, detail)
