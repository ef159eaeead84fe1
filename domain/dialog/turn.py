"""One handled event of the dialog: who, what came in, the services it may use, and the replies
it collects. Every flow module (`form`, `menu`, `registration`, `feedback`, ...) takes a `Turn`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from domain.actions import Act, Action
from domain.appointments import AppointmentConfig, AppointmentService
from domain.dialog.events import Inbound, MediaItem
from domain.dialog.replies import Button, Reply, Request
from domain.dialog.state import DialogState
from domain.draft import Draft
from domain.entities import Account
from domain.geo import Bounds
from domain.i18n import Translator, gettext
from domain.identity import IdentityService
from domain.lifecycle import Lifecycle, LifecycleConfig
from domain.phone_appeals import PhoneAppealService
from domain.services import AppealService, ResidentService

_ = gettext


@dataclass(frozen=True, slots=True)
class DialogConfig:
    city_bounds: Bounds
    timezone: ZoneInfo
    number_prefix: str
    contact_centre_phone: str
    lifecycle: LifecycleConfig
    max_media: int = 10
    page_size: int = 5
    media_max_mb: int = 20
    appointments: AppointmentConfig = field(
        default_factory=lambda: AppointmentConfig(ZoneInfo("Europe/Kyiv"), "1580")
    )


@dataclass(slots=True)
class Turn:
    """Everything one handled event needs; replies accumulate in order."""

    event: Inbound
    state: DialogState
    account: Account
    locale: str
    residents: ResidentService
    appeals: AppealService
    lifecycle: Lifecycle
    identity: IdentityService
    calls: PhoneAppealService
    appointments: AppointmentService
    config: DialogConfig
    translator: Translator
    replies: list[Reply] = field(default_factory=list)
    # Said at the top of the next message rather than as a message of its own: a step's
    # confirmation and the next prompt arrive as one.
    leading: list[str] = field(default_factory=list)

    def say(
        self,
        text: str,
        *buttons: tuple[Button, ...],
        request: Request | None = None,
        request_label: str = "",
        media: tuple[MediaItem, ...] = (),
    ) -> None:
        if self.leading:
            text = "\n\n".join([*self.leading, text])
            self.leading.clear()
        self.replies.append(Reply(text, tuple(buttons), request, request_label, media))

    def lead(self, text: str) -> None:
        """Put `text` at the top of the next message."""
        self.leading.append(text)

    def finish(self) -> list[Reply]:
        if self.leading:
            self.say(self.leading.pop())
        return self.replies


# A step's prompt or input handler.
StepHandler = Callable[[Turn, Draft], Awaitable[None]]


async def draft_of(turn: Turn) -> Draft:
    """What the resident has entered into the form so far."""
    return Draft.from_data(await turn.state.get_data())


def nav(*, back: bool = True) -> tuple[Button, ...]:
    """The row under every step: back (where there is a step before) and cancel."""
    buttons = [Button(_("⬅️ Back"), Action(Act.BACK))] if back else []
    buttons.append(Button(_("✖️ Cancel"), Action(Act.CANCEL)))
    return tuple(buttons)
