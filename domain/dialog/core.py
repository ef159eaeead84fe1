"""The resident dialog, written once for every channel: the turn machinery and the routing.

An adapter turns a messenger's event into an `Inbound`, calls `Dialog.handle` inside the event's
unit of work, and renders the returned `Reply`s. Every step has a prompt and a handler; every input
a step cannot use gets an answer that says what the step needs, followed by the step's prompt.

The flows live a file each: `registration`, `menu` (menu, help, language), `form` (the appeal
form, one table row per step), `selfservice` («My appeals»), `feedback` (about a filed appeal),
`linking`, `conversation`; `Dialog` decides which of them an event is for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from domain.actions import CONFIRMED, KEEP, Act, Action
from domain.appointments import AppointmentService
from domain.clock import Clock
from domain.dialog import (
    appointments,
    call,
    conversation,
    feedback,
    form,
    linking,
    menu,
    registration,
    selfservice,
)
from domain.dialog.events import Inbound
from domain.dialog.form import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    EDITABLE_STEPS,
    S_CATEGORY,
    S_DESCRIPTION,
    S_LOCATION,
    S_MEDIA,
    S_REVIEW,
    S_SUBCATEGORY,
)
from domain.dialog.registration import S_PHONE
from domain.dialog.replies import Reply
from domain.dialog.state import DialogState
from domain.dialog.turn import DialogConfig, Turn, draft_of
from domain.draft import CallInfo, Draft
from domain.i18n import Translator, gettext
from domain.identity import IdentityService
from domain.lifecycle import Lifecycle
from domain.phone_appeals import PhoneAppealService
from domain.ports import UnitOfWork
from domain.services import AppealService, ResidentService

_ = gettext

# Names the adapters and tests import from here.
__all__ = [
    "DESCRIPTION_MAX",
    "DESCRIPTION_MIN",
    "EDITABLE_STEPS",
    "S_CATEGORY",
    "S_DESCRIPTION",
    "S_LOCATION",
    "S_MEDIA",
    "S_PHONE",
    "S_REVIEW",
    "S_SUBCATEGORY",
    "Dialog",
    "DialogConfig",
    "Turn",
]


class Dialog:
    def __init__(self, config: DialogConfig, translator: Translator, clock: Clock) -> None:
        self._config = config
        self._translator = translator
        self._clock = clock
        self._self = selfservice.SelfServiceFlow(
            selfservice.SelfServiceConfig(config.timezone, config.page_size), menu.menu
        )
        self._appointments = appointments.AppointmentFlow(menu.menu)

    async def handle(self, event: Inbound, state: DialogState, uow: UnitOfWork) -> list[Reply]:
        """Advance one resident's dialog by one event and say what to show them."""
        return await self._turn(event, state, uow, self._route)

    async def start_call(
        self, event: Inbound, info: CallInfo, state: DialogState, uow: UnitOfWork
    ) -> list[Reply]:
        """An operator took a call (the staff chat's /call): walk them through the form in
        their private chat with the bot. `event` is the operator, in that private chat."""

        async def begin(turn: Turn) -> None:
            if await turn.state.get_state() in form.STEPS:
                turn.say(_("You are already filing an appeal here; finish or /cancel it first."))
                await self._reprompt(turn)
                return
            draft = Draft(call=info)
            turn.say(call.started_text(draft))
            await form.goto(turn, draft, S_CATEGORY)

        return await self._turn(event, state, uow, begin)

    async def _turn(
        self,
        event: Inbound,
        state: DialogState,
        uow: UnitOfWork,
        body: Callable[[Turn], Awaitable[None]],
    ) -> list[Reply]:
        residents = ResidentService(uow, self._clock)
        detected = self._translator.supported(event.locale_hint)
        # Kept from the first contact on (an account made now is made with it), so that
        # pushes, an operator's messages and the timers' notices (sent without any event of
        # the resident's) speak the same language as the dialog, until the resident chooses
        # one.
        account = await residents.identify(
            event.channel, event.user_id, event.display_name, locale=detected
        )
        if account.locale is None and detected is not None:
            # An account made without one (before this was kept, or elsewhere).
            await residents.set_locale(account, detected)
            account = replace(account, locale=detected)
        with self._translator.use(account.locale or event.locale_hint) as locale:
            lifecycle = Lifecycle(uow, self._translator, self._clock, self._config.lifecycle)
            turn = Turn(
                event=event,
                state=state,
                account=account,
                locale=locale,
                residents=residents,
                appeals=AppealService(uow, self._clock, self._config.number_prefix, lifecycle),
                lifecycle=lifecycle,
                identity=IdentityService(uow, self._translator, self._clock),
                calls=PhoneAppealService(
                    uow, self._clock, self._config.number_prefix, lifecycle, self._translator
                ),
                appointments=AppointmentService(
                    uow.appointments,
                    uow.outbox,
                    self._translator,
                    self._clock,
                    self._config.appointments,
                ),
                config=self._config,
                translator=self._translator,
            )
            await body(turn)
            return self._in_place(event, turn.finish())

    @staticmethod
    def _in_place(event: Inbound, replies: list[Reply]) -> list[Reply]:
        """A press on the dialog's own screens replaces that screen; a press under a notice
        the resident keeps (a push, an operator's message) leaves it and answers below."""
        action = event.action
        if action is None or not replies or replies[0].media:
            return replies
        if action.arg == KEEP or action.act in (Act.FIXED, Act.NOT_FIXED, Act.REPLY):
            return replies
        return [replace(replies[0], in_place=True), *replies[1:]]

    # -- routing ---------------------------------------------------------------------------

    async def _route(self, turn: Turn) -> None:
        event = turn.event
        action = event.action
        if event.command == "language" or (action and action.act is Act.LANGUAGE):
            await menu.language(turn, action.arg if action else "", self._reprompt)
            return
        if event.command == "help" or (action and action.act is Act.HELP):
            menu.help_(turn)
            return
        if not turn.account.registered and not await self._filing_call(turn):
            await registration.on_input(turn, menu.menu)
            return
        if event.command is not None:
            await self._command(turn, event.command)
            return
        if event.bad_action:
            turn.say(_("This button is no longer valid."))
            await self._reprompt(turn)
            return
        if action is not None and await self._global_action(turn, action):
            return
        current = await turn.state.get_state()
        if current in feedback.FEEDBACK_STATES:
            await self._feedback_input(turn, current or "")
            return
        if current in linking.LINKING_STATES:
            if await linking.on_input(turn):
                menu.menu(turn)
            return
        if current in selfservice.STATES:
            if action is not None and action.act in (Act.BACK, Act.CANCEL):
                await form.cancel(turn)
            else:
                await self._self.on_input(turn, current or "")
            return
        if current in appointments.STATES:
            if action is not None and action.act is Act.CANCEL:
                await form.cancel(turn)
            else:
                await self._appointments.on_input(turn, current or "")
            return
        step = form.STEPS.get(current or "")
        if step is None:
            offer = None if action is not None else await conversation.outside_steps(turn)
            if action is not None:
                turn.lead(_("This button belongs to a finished step."))
            elif offer is None:
                turn.lead(_("I did not understand that. Please choose what to do:"))
            menu.menu(turn, *((offer,) if offer else ()))
            return
        draft = await draft_of(turn)
        if action is not None and action.act in (Act.BACK, Act.CANCEL):
            if action.act is Act.BACK:
                await form.back(turn, draft)
            else:
                await form.cancel(turn, confirmed=action.arg == CONFIRMED)
            return
        if action is not None and await self._draft_action(turn, draft, action):
            return
        if await conversation.ask_which(turn, draft):
            return
        await step.on_input(turn, draft)

    async def _draft_action(self, turn: Turn, draft: Draft, action: Action) -> bool:
        """Buttons about the draft as a whole rather than about its current step."""
        if action.act is Act.DRAFT_CONTINUE:
            await self._reprompt(turn)
            return True
        if action.act is Act.DRAFT_RESTART:
            turn.lead(_("The unfinished appeal is discarded; let's start again."))
            await form.goto(turn, Draft(relay_seen=draft.relay_seen), S_CATEGORY)
            return True
        if action.act is Act.TO_OPERATOR:
            held_text, held_media = draft.held_text or "", tuple(draft.held_media)
            appeal = await feedback.own_appeal(turn, action.int_arg())
            if appeal is None or not (held_text or held_media):
                turn.say(_("This button is no longer valid."))
            else:
                draft.held_text, draft.held_media, draft.held_group = None, [], None
                if not await conversation.relay(turn, appeal.id, held_text, held_media):
                    return True
            await form.goto(turn, draft, await turn.state.get_state() or S_CATEGORY)
            return True
        if action.act is Act.TO_STEP:
            if not conversation.held_event(turn, draft):
                turn.say(_("This button is no longer valid."))
                await self._reprompt(turn)
                return True
            await turn.state.set_data(draft.to_data())
            step = form.STEPS[await turn.state.get_state() or S_CATEGORY]
            await step.on_input(turn, draft)
            return True
        return False

    async def _feedback_input(self, turn: Turn, current: str) -> None:
        action = turn.event.action
        if action is not None and action.act in (Act.BACK, Act.CANCEL):
            await form.cancel(turn)
            return
        if action is not None:
            turn.say(_("This button belongs to another step."))
            await feedback.reprompt(turn, current)
            return
        if await feedback.on_input(turn, current):
            menu.menu(turn)

    async def _command(self, turn: Turn, command: str) -> None:
        if command == "start":
            if await form.draft_waits(turn):
                return
            await turn.state.clear()
            name = turn.event.display_name or ""
            turn.lead(
                _("Hello, {name}! This is the bot of the city contact centre {phone}.").format(
                    name=name, phone=self._config.contact_centre_phone
                )
            )
            menu.menu(turn)
        elif command == "cancel":
            await form.cancel(turn)
        elif command == "new":
            await form.start_appeal(turn)
        elif command == "my":
            await self._self.my_appeals(turn, 0)
        elif command in linking.COMMANDS:
            await self._linking(turn, Act(command))
        else:
            turn.say(_("Unknown command. Please choose what to do:"))
            menu.menu(turn)

    async def _global_action(self, turn: Turn, action: Action) -> bool:
        """Menu-level buttons that work whatever step the resident is on."""
        current = await turn.state.get_state()
        if action.act in (Act.FIXED, Act.NOT_FIXED, Act.REPLY):
            if current in form.STEPS:
                turn.say(_("Please finish or cancel the appeal you are filing first."))
                await self._reprompt(turn)
            elif not await feedback.start(turn, action):
                menu.menu(turn)
            return True
        if action.act in linking.ACTS:
            await self._linking(turn, action.act)
            return True
        if action.act in selfservice.ACTS:
            if current in form.STEPS:
                turn.say(_("Please finish or cancel the appeal you are filing first."))
                await self._reprompt(turn)
            else:
                await self._self.start(turn, action)
            return True
        if action.act in appointments.ACTS:
            if current in form.STEPS:
                turn.say(_("Please finish or cancel the appeal you are filing first."))
                await self._reprompt(turn)
            else:
                await self._appointments.on_action(turn, action)
            return True
        if action.act is Act.MENU:
            if current in form.SIDE_STATES:
                await turn.state.clear()
            if current in form.STEPS:
                turn.say(_("Your appeal is not submitted yet; continue or cancel it."))
                await self._reprompt(turn)
            else:
                menu.menu(turn)
            return True
        if action.act is Act.NEW_APPEAL:
            await form.start_appeal(turn)
            return True
        if action.act is Act.START_WITH_TEXT:
            text = await conversation.free_text(turn) if current is None else None
            if text is None:
                await form.start_appeal(turn)
                return True
            draft = Draft()
            if DESCRIPTION_MIN <= len(text) <= DESCRIPTION_MAX:
                draft.description = text
                turn.lead(_("Your text will be the appeal's description."))
            await form.goto(turn, draft, S_CATEGORY)
            return True
        if action.act is Act.MY_APPEALS:
            await self._self.my_appeals(turn, action.int_arg() or 0)
            return True
        if action.act is Act.APPEAL:
            await self._self.detail(turn, action.int_arg())
            return True
        return False

    async def _filing_call(self, turn: Turn) -> bool:
        """An operator filing a phone appeal needs no phone of their own."""
        if await turn.state.get_state() not in form.STEPS:
            return False
        return (await draft_of(turn)).call is not None

    async def _linking(self, turn: Turn, act: Act) -> None:
        current = await turn.state.get_state()
        if current in form.STEPS:
            turn.say(_("Please finish or cancel the appeal you are filing first."))
            await self._reprompt(turn)
            return
        if not await linking.start(turn, act):
            menu.menu(turn)

    async def _reprompt(self, turn: Turn) -> None:
        current = await turn.state.get_state()
        if current == S_PHONE or not (turn.account.registered or await self._filing_call(turn)):
            registration.ask_phone(turn)
            return
        if current in feedback.FEEDBACK_STATES:
            await feedback.reprompt(turn, current or "")
            return
        if current in selfservice.STATES:
            await self._self.reprompt(turn, current or "")
            return
        if current in appointments.STATES:
            await self._appointments.reprompt(turn, current or "")
            return
        step = form.STEPS.get(current or "")
        if step is None:
            menu.menu(turn)
        else:
            await step.prompt(turn, await draft_of(turn))

    # -- shared pieces ---------------------------------------------------------------------
