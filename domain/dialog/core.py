"""The resident dialog, written once for every channel.

An adapter turns a messenger's event into an `Inbound`, calls `Dialog.handle` inside the event's
unit of work, and renders the returned `Reply`s. Every step has a prompt and a handler; every input
a step cannot use gets an answer that says what the step needs, followed by the step's prompt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.actions import CONFIRMED, KEEP, Act, Action
from domain.appointments import AppointmentConfig, AppointmentService
from domain.clock import Clock
from domain.dialog import (
    appointments,
    call,
    conversation,
    feedback,
    linking,
    photos,
    selfservice,
    urgent,
)
from domain.dialog.events import Inbound, MediaItem
from domain.dialog.replies import Button, Reply, Request, rows
from domain.dialog.state import DialogState
from domain.draft import CallInfo, Draft
from domain.entities import Account
from domain.geo import Bounds
from domain.i18n import N_, Translator, gettext, ngettext
from domain.identity import IdentityService
from domain.lifecycle import Lifecycle, LifecycleConfig
from domain.phone_appeals import PhoneAppealService
from domain.services import AppealService, IncompleteDraftError, ResidentService, normalize_phone
from fsm_states.appeal import AppealForm, Registration, state_id
from storage.uow import UnitOfWork

_ = gettext

S_CATEGORY = state_id(AppealForm.category)
S_SUBCATEGORY = state_id(AppealForm.subcategory)
S_LOCATION = state_id(AppealForm.location)
S_MEDIA = state_id(AppealForm.media)
S_DESCRIPTION = state_id(AppealForm.description)
S_REVIEW = state_id(AppealForm.review)
S_PHONE = state_id(Registration.phone)

DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 2000
ADDRESS_MIN = 5
ADDRESS_MAX = 300
LANGUAGE_NAMES = {"uk": "Українська", "en": "English"}
# Steps beside the appeal form (about filed appeals, linking): the menu and /cancel end them.
_SIDE_STATES = (
    feedback.FEEDBACK_STATES | linking.LINKING_STATES | selfservice.STATES | appointments.STATES
)

# The steps the review can send the resident back to, by the id carried in EDIT buttons.
EDITABLE_STEPS = {
    "category": S_CATEGORY,
    "location": S_LOCATION,
    "media": S_MEDIA,
    "description": S_DESCRIPTION,
}
_EDIT_LABELS = {
    "category": N_("✏️ Change category"),
    "location": N_("✏️ Change location"),
    "media": N_("✏️ Change photos"),
    "description": N_("✏️ Change description"),
}
_UNKNOWN_INPUT = N_("this kind of message")
_OTHER_INPUT = {
    "sticker": N_("a sticker"),
    "voice": N_("a voice message"),
    "document": N_("a file"),
    "animation": N_("an animation"),
    "poll": N_("a poll"),
}


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


Step = Callable[[Turn, Draft], Awaitable[None]]


class Dialog:
    def __init__(self, config: DialogConfig, translator: Translator, clock: Clock) -> None:
        self._config = config
        self._translator = translator
        self._clock = clock
        self._prompts: dict[str, Step] = {
            S_CATEGORY: self._prompt_category,
            urgent.S_URGENT: self._prompt_urgent,
            S_SUBCATEGORY: self._prompt_subcategory,
            S_LOCATION: self._prompt_location,
            S_MEDIA: self._prompt_media,
            S_DESCRIPTION: self._prompt_description,
            S_REVIEW: self._prompt_review,
            call.S_CALLER: self._prompt_caller,
        }
        self._inputs: dict[str, Step] = {
            S_CATEGORY: self._on_category,
            urgent.S_URGENT: self._on_urgent,
            S_SUBCATEGORY: self._on_subcategory,
            S_LOCATION: self._on_location,
            S_MEDIA: self._on_media,
            S_DESCRIPTION: self._on_description,
            S_REVIEW: self._on_review,
            call.S_CALLER: self._on_caller,
        }
        self._self = selfservice.SelfServiceFlow(
            selfservice.SelfServiceConfig(config.timezone, config.page_size), self._menu
        )
        self._appointments = appointments.AppointmentFlow(self._menu)

    async def handle(self, event: Inbound, state: DialogState, uow: UnitOfWork) -> list[Reply]:
        """Advance one resident's dialog by one event and say what to show them."""
        return await self._turn(event, state, uow, self._route)

    async def start_call(
        self, event: Inbound, info: CallInfo, state: DialogState, uow: UnitOfWork
    ) -> list[Reply]:
        """An operator took a call (the staff chat's /call): walk them through the form in
        their private chat with the bot. `event` is the operator, in that private chat."""

        async def begin(turn: Turn) -> None:
            if await turn.state.get_state() in self._inputs:
                turn.say(_("You are already filing an appeal here; finish or /cancel it first."))
                await self._reprompt(turn)
                return
            draft = Draft(call=info)
            turn.say(call.started_text(draft))
            await self._goto(turn, draft, S_CATEGORY)

        return await self._turn(event, state, uow, begin)

    async def _turn(
        self,
        event: Inbound,
        state: DialogState,
        uow: UnitOfWork,
        body: Callable[[Turn], Awaitable[None]],
    ) -> list[Reply]:
        residents = ResidentService(uow, self._clock)
        account = await residents.identify(event.channel, event.user_id, event.display_name)
        detected = self._translator.supported(event.locale_hint)
        if account.locale is None and detected is not None:
            # Kept from the first contact on, so that pushes, an operator's messages and the
            # timers' notices (sent without any event of the resident's) speak the same
            # language as the dialog, until the resident chooses one.
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
            await self._language(turn, action.arg if action else "")
            return
        if event.command == "help" or (action and action.act is Act.HELP):
            self._help(turn)
            return
        if not turn.account.registered and not await self._filing_call(turn):
            await self._registration(turn)
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
                self._menu(turn)
            return
        if current in selfservice.STATES:
            if action is not None and action.act in (Act.BACK, Act.CANCEL):
                await self._cancel(turn)
            else:
                await self._self.on_input(turn, current or "")
            return
        if current in appointments.STATES:
            if action is not None and action.act is Act.CANCEL:
                await self._cancel(turn)
            else:
                await self._appointments.on_input(turn, current or "")
            return
        handler = self._inputs.get(current or "")
        if handler is None:
            offer = None if action is not None else await conversation.outside_steps(turn)
            if action is not None:
                turn.lead(_("This button belongs to a finished step."))
            elif offer is None:
                turn.lead(_("I did not understand that. Please choose what to do:"))
            self._menu(turn, *((offer,) if offer else ()))
            return
        draft = await self._draft(turn)
        if action is not None and action.act in (Act.BACK, Act.CANCEL):
            if action.act is Act.BACK:
                await self._back(turn, draft)
            else:
                await self._cancel(turn, confirmed=action.arg == CONFIRMED)
            return
        if action is not None and await self._draft_action(turn, draft, action):
            return
        if await conversation.ask_which(turn, draft):
            return
        await handler(turn, draft)

    async def _draft_action(self, turn: Turn, draft: Draft, action: Action) -> bool:
        """Buttons about the draft as a whole rather than about its current step."""
        if action.act is Act.DRAFT_CONTINUE:
            await self._reprompt(turn)
            return True
        if action.act is Act.DRAFT_RESTART:
            turn.lead(_("The unfinished appeal is discarded; let's start again."))
            await self._goto(turn, Draft(relay_seen=draft.relay_seen), S_CATEGORY)
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
            await self._goto(turn, draft, await turn.state.get_state() or S_CATEGORY)
            return True
        if action.act is Act.TO_STEP:
            if not conversation.held_event(turn, draft):
                turn.say(_("This button is no longer valid."))
                await self._reprompt(turn)
                return True
            await turn.state.set_data(draft.to_data())
            handler = self._inputs[await turn.state.get_state() or S_CATEGORY]
            await handler(turn, draft)
            return True
        return False

    async def _feedback_input(self, turn: Turn, current: str) -> None:
        action = turn.event.action
        if action is not None and action.act in (Act.BACK, Act.CANCEL):
            await self._cancel(turn)
            return
        if action is not None:
            turn.say(_("This button belongs to another step."))
            await feedback.reprompt(turn, current)
            return
        if await feedback.on_input(turn, current):
            self._menu(turn)

    async def _command(self, turn: Turn, command: str) -> None:
        if command == "start":
            if await self._draft_waits(turn):
                return
            await turn.state.clear()
            name = turn.event.display_name or ""
            turn.lead(
                _("Hello, {name}! This is the bot of the city contact centre {phone}.").format(
                    name=name, phone=self._config.contact_centre_phone
                )
            )
            self._menu(turn)
        elif command == "cancel":
            await self._cancel(turn)
        elif command == "new":
            await self._start_appeal(turn)
        elif command == "my":
            await self._self.my_appeals(turn, 0)
        elif command in linking.COMMANDS:
            await self._linking(turn, Act(command))
        else:
            turn.say(_("Unknown command. Please choose what to do:"))
            self._menu(turn)

    async def _global_action(self, turn: Turn, action: Action) -> bool:
        """Menu-level buttons that work whatever step the resident is on."""
        current = await turn.state.get_state()
        if action.act in (Act.FIXED, Act.NOT_FIXED, Act.REPLY):
            if current in self._inputs:
                turn.say(_("Please finish or cancel the appeal you are filing first."))
                await self._reprompt(turn)
            elif not await feedback.start(turn, action):
                self._menu(turn)
            return True
        if action.act in linking.ACTS:
            await self._linking(turn, action.act)
            return True
        if action.act in selfservice.ACTS:
            if current in self._inputs:
                turn.say(_("Please finish or cancel the appeal you are filing first."))
                await self._reprompt(turn)
            else:
                await self._self.start(turn, action)
            return True
        if action.act in appointments.ACTS:
            if current in self._inputs:
                turn.say(_("Please finish or cancel the appeal you are filing first."))
                await self._reprompt(turn)
            else:
                await self._appointments.on_action(turn, action)
            return True
        if action.act is Act.MENU:
            if current in _SIDE_STATES:
                await turn.state.clear()
            if current in self._inputs:
                turn.say(_("Your appeal is not submitted yet; continue or cancel it."))
                await self._reprompt(turn)
            else:
                self._menu(turn)
            return True
        if action.act is Act.NEW_APPEAL:
            await self._start_appeal(turn)
            return True
        if action.act is Act.START_WITH_TEXT:
            text = await conversation.free_text(turn) if current is None else None
            if text is None:
                await self._start_appeal(turn)
                return True
            draft = Draft()
            if DESCRIPTION_MIN <= len(text) <= DESCRIPTION_MAX:
                draft.description = text
                turn.lead(_("Your text will be the appeal's description."))
            await self._goto(turn, draft, S_CATEGORY)
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
        if await turn.state.get_state() not in self._inputs:
            return False
        return (await self._draft(turn)).call is not None

    async def _linking(self, turn: Turn, act: Act) -> None:
        current = await turn.state.get_state()
        if current in self._inputs:
            turn.say(_("Please finish or cancel the appeal you are filing first."))
            await self._reprompt(turn)
            return
        if not await linking.start(turn, act):
            self._menu(turn)

    async def _reprompt(self, turn: Turn) -> None:
        current = await turn.state.get_state()
        if current == S_PHONE or not (turn.account.registered or await self._filing_call(turn)):
            self._ask_phone(turn)
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
        prompt = self._prompts.get(current or "")
        if prompt is None:
            self._menu(turn)
        else:
            await prompt(turn, await self._draft(turn))

    # -- shared pieces ---------------------------------------------------------------------

    async def _draft(self, turn: Turn) -> Draft:
        return Draft.from_data(await turn.state.get_data())

    async def _goto(self, turn: Turn, draft: Draft, state: str) -> None:
        await turn.state.set_state(state)
        await turn.state.set_data(draft.to_data())
        await self._prompts[state](turn, draft)

    async def _advance(self, turn: Turn, draft: Draft, next_state: str) -> None:
        """Go to the next step, or back to the review when the resident came from there."""
        if draft.editing and next_state != S_SUBCATEGORY:
            draft.editing = False
            next_state = S_REVIEW
        if next_state == S_DESCRIPTION and draft.description:
            # The resident already wrote it (a photo's caption, the text that began the appeal).
            next_state = S_REVIEW
        if next_state == S_REVIEW and call.needs_name(draft):
            next_state = call.S_CALLER
        await self._goto(turn, draft, next_state)

    def _nav(self, *, back: bool = True) -> tuple[Button, ...]:
        buttons = [Button(_("⬅️ Back"), Action(Act.BACK))] if back else []
        buttons.append(Button(_("✖️ Cancel"), Action(Act.CANCEL)))
        return tuple(buttons)

    def _menu(self, turn: Turn, *first: tuple[Button, ...]) -> None:
        turn.say(
            _("Main menu. What would you like to do?"),
            *first,
            (Button(_("📝 New appeal"), Action(Act.NEW_APPEAL)),),
            (Button(_("📋 My appeals"), Action(Act.MY_APPEALS)),),
            (Button(_("📅 Appointment with officials"), Action(Act.APPOINTMENTS)),),
            (
                Button(_("ℹ️ Help"), Action(Act.HELP)),
                Button(_("🌐 Language"), Action(Act.LANGUAGE)),
            ),
        )

    def _local_time(self, moment: datetime) -> str:
        return moment.astimezone(self._config.timezone).strftime("%d.%m.%Y %H:%M")

    async def _cancel(self, turn: Turn, *, confirmed: bool = False) -> None:
        current = await turn.state.get_state()
        if current in self._inputs and not confirmed:
            draft = await self._draft(turn)
            if draft.category or draft.has_place or draft.media or draft.description:
                # A filled draft is not dropped on one tap: ask first.
                turn.say(
                    _("Cancel this appeal? Everything you entered will be lost."),
                    (Button(_("🗑 Yes, cancel it"), Action(Act.CANCEL, CONFIRMED)),),
                    (Button(_("▶️ No, continue"), Action(Act.DRAFT_CONTINUE)),),
                )
                return
        await turn.state.clear()
        if current in self._inputs:
            turn.say(_("The appeal was cancelled; nothing was sent."))
        elif current in _SIDE_STATES:
            if current in linking.LINKING_STATES:
                await turn.identity.cancel_code(turn.account)
            turn.say(_("Cancelled."))
        else:
            turn.say(_("Nothing to cancel."))
        self._menu(turn)

    # -- language and help -----------------------------------------------------------------

    async def _language(self, turn: Turn, choice: str) -> None:
        if choice not in LANGUAGE_NAMES:
            turn.say(
                _("Choose the language:"),
                tuple(
                    Button(name, Action(Act.LANGUAGE, code))
                    for code, name in LANGUAGE_NAMES.items()
                ),
            )
            return
        await turn.residents.set_locale(turn.account, choice)
        with self._translator.use(choice) as locale:
            turn.locale = locale
            turn.say(_("The language is now English."))
            await self._reprompt(turn)

    def _help(self, turn: Turn) -> None:
        turn.say(
            _(
                "This bot takes appeals to the city contact centre {phone}: potholes, street "
                "lights, water, heating, waste, public transport, yards and more.\n\n"
                "Choose a category, show the place, add photos and describe the problem; you "
                "get an appeal number and a due date, and you can follow its status in "
                "«My appeals».\n\n"
                "Commands: /start, /new, /my, /language, /cancel, /help.\n"
                "For emergencies that threaten life, call 101, 102, 103 or 112."
            ).format(phone=self._config.contact_centre_phone)
        )
        if turn.account.registered:
            self._menu(turn)
        else:
            self._ask_phone(turn)

    # -- registration ----------------------------------------------------------------------

    def _ask_phone(self, turn: Turn) -> None:
        turn.say(
            _(
                "To file appeals, please share your phone number once: press the button below. "
                "Operators use it only to clarify your appeal."
            ),
            request=Request.CONTACT,
            request_label=_("📱 Share my phone number"),
        )

    async def _registration(self, turn: Turn) -> None:
        contact = turn.event.contact
        await turn.state.set_state(S_PHONE)
        if contact is None:
            if turn.event.command == "start":
                turn.lead(
                    _("Welcome to the city contact centre {phone}!").format(
                        phone=self._config.contact_centre_phone
                    )
                )
            elif turn.event.command not in (None, "cancel"):
                turn.lead(_("First, please share your phone number."))
            elif turn.event.command is None:
                turn.lead(_("Please share your phone number using the button below."))
            self._ask_phone(turn)
            return
        phone = normalize_phone(contact.phone)
        if not contact.is_own:
            turn.say(_("Please share your own phone number with the button, not someone else's."))
            self._ask_phone(turn)
            return
        if phone is None:
            turn.say(_("This does not look like a phone number."))
            self._ask_phone(turn)
            return
        registered = await turn.residents.register(turn.account, phone, verified=contact.verified)
        await turn.state.clear()
        # Its own message: on Telegram a message without buttons is what takes the
        # share-phone keyboard away; the menu follows.
        turn.say(_("Thank you! Your number {phone} is saved.").format(phone=phone))
        if registered.attached_calls:
            turn.lead(
                ngettext(
                    "Your appeal made by phone, {numbers}, is now in «My appeals».",
                    "Your appeals made by phone, {numbers}, are now in «My appeals».",
                    len(registered.attached_calls),
                ).format(numbers=", ".join(registered.attached_calls))
            )
        self._menu(turn)
        if not contact.verified:
            # Last, so that on Viber (which shows the latest keyboard only) its button shows.
            await linking.offer(turn, await turn.identity.fresh(turn.account))

    # -- the appeal form -------------------------------------------------------------------

    async def _start_appeal(self, turn: Turn) -> None:
        if await self._draft_waits(turn):
            return
        await self._goto(turn, Draft(), S_CATEGORY)

    async def _draft_waits(self, turn: Turn) -> bool:
        """An unfinished appeal is never dropped silently: ask to continue or start again."""
        current = await turn.state.get_state()
        if current not in self._inputs:
            return False
        draft = await self._draft(turn)
        if draft.call is not None:
            turn.lead(_("You are already filing an appeal; let's continue."))
            await self._reprompt(turn)
            return True
        if draft.category is None and not draft.description:
            # Nothing chosen yet: nothing to lose, start over.
            return False
        turn.say(
            _("You have an appeal that is not submitted yet. Continue it, or start again?"),
            (Button(_("▶️ Continue"), Action(Act.DRAFT_CONTINUE)),),
            (Button(_("🔄 Start again"), Action(Act.DRAFT_RESTART)),),
        )
        return True

    async def _prompt_category(self, turn: Turn, draft: Draft) -> None:
        categories = await turn.appeals.root_categories()
        buttons = [Button(c.name(turn.locale), Action(Act.CATEGORY, c.code)) for c in categories]
        turn.say(
            _("Step 1 of 5. What is the problem about? Choose a category:"),
            *rows(*buttons, per_row=2),
            self._nav(back=draft.editing),
        )

    async def _on_category(self, turn: Turn, draft: Draft) -> None:
        action = turn.event.action
        if action is None or action.act is not Act.CATEGORY:
            await self._wrong_input(turn, draft, _("Please choose a category with the buttons."))
            return
        category = await turn.appeals.category(action.arg)
        if category is None or category.parent_id is not None:
            turn.say(_("This category is not available."))
            await self._prompt_category(turn, draft)
            return
        draft.category = category.code
        draft.subcategory = None
        if category.urgent and draft.call is None:
            # An operator taking a call knows the numbers; a resident is told them first.
            draft.urgent_shown = True
            await self._goto(turn, draft, urgent.S_URGENT)
        elif category.has_children:
            await self._goto(turn, draft, S_SUBCATEGORY)
        else:
            await self._advance(turn, draft, S_LOCATION)

    async def _prompt_urgent(self, turn: Turn, draft: Draft) -> None:
        category = await turn.appeals.category(draft.category_code)
        urgent.prompt(turn, category.name(turn.locale) if category else "—", self._nav())

    async def _on_urgent(self, turn: Turn, draft: Draft) -> None:
        action = turn.event.action
        if action is None or action.act is not Act.URGENT_GO:
            await self._wrong_input(
                turn, draft, _("Press «Go on with the appeal» when nobody is in danger.")
            )
            return
        category = await turn.appeals.category(draft.category)
        if draft.subcategory is None and category is not None and category.has_children:
            await self._goto(turn, draft, S_SUBCATEGORY)
        else:
            await self._advance(turn, draft, S_LOCATION)

    async def _prompt_subcategory(self, turn: Turn, draft: Draft) -> None:
        parent = await turn.appeals.category(draft.category)
        if parent is None:
            await self._goto(turn, draft, S_CATEGORY)
            return
        children = await turn.appeals.subcategories(parent)
        buttons = [Button(c.name(turn.locale), Action(Act.SUBCATEGORY, c.code)) for c in children]
        turn.say(
            _("«{category}»: choose what exactly:").format(category=parent.name(turn.locale)),
            *rows(*buttons, per_row=1),
            self._nav(),
        )

    async def _on_subcategory(self, turn: Turn, draft: Draft) -> None:
        action = turn.event.action
        if action is None or action.act is not Act.SUBCATEGORY:
            await self._wrong_input(turn, draft, _("Please choose with the buttons."))
            return
        parent = await turn.appeals.category(draft.category)
        child = await turn.appeals.category(action.arg)
        if parent is None or child is None or child.parent_id != parent.id:
            turn.say(_("This category is not available."))
            await self._prompt_subcategory(turn, draft)
            return
        draft.subcategory = child.code
        if child.urgent and not draft.urgent_shown and draft.call is None:
            draft.urgent_shown = True
            await self._goto(turn, draft, urgent.S_URGENT)
            return
        await self._advance(turn, draft, S_LOCATION)

    async def _prompt_location(self, turn: Turn, draft: Draft) -> None:
        turn.say(
            _(
                "Step 2 of 5. Where is it? Send the location with the button below, or type the "
                "address (street, house number, landmark)."
            ),
            self._nav(),
            request=Request.LOCATION,
            request_label=_("📍 Send location"),
        )

    async def _on_location(self, turn: Turn, draft: Draft) -> None:
        event = turn.event
        if event.location is not None:
            if not self._config.city_bounds.contains(event.location):
                turn.say(
                    _(
                        "This point is outside the city, and the contact centre can only help "
                        "within it. Check the pin and send it again, or type the address."
                    )
                )
                await self._prompt_location(turn, draft)
                return
            draft.location = event.location
            draft.address = None
            turn.say(_("📍 Location received."))
            await self._advance(turn, draft, S_MEDIA)
            return
        if event.text is not None:
            address = " ".join(event.text.split())
            if len(address) < ADDRESS_MIN:
                turn.say(_("The address is too short. Type the street and house number."))
                await self._prompt_location(turn, draft)
                return
            if len(address) > ADDRESS_MAX:
                turn.say(
                    _("The address is too long (at most {limit} characters).").format(
                        limit=ADDRESS_MAX
                    )
                )
                await self._prompt_location(turn, draft)
                return
            draft.address = address
            draft.location = None
            turn.say(_("📍 Address saved: {address}").format(address=address))
            await self._advance(turn, draft, S_MEDIA)
            return
        if event.media:
            # Not lost: the media step will have it.
            room = max(self._config.max_media - len(draft.media), 0)
            draft.media.extend(event.media[:room])
            self._take_caption(turn, draft)
            await turn.state.set_data(draft.to_data())
            if event.media_group_id is None or event.media_group_id not in draft.albums:
                if event.media_group_id is not None:
                    draft.albums.append(event.media_group_id)
                    await turn.state.set_data(draft.to_data())
                turn.lead(_("📷 Kept for step 3. Now, where is it?"))
                await self._prompt_location(turn, draft)
            return
        await self._wrong_input(turn, draft, _("This step needs a location or a typed address."))

    def _take_caption(self, turn: Turn, draft: Draft) -> None:
        """A photo's caption is the description, when there is none yet and it fits."""
        caption = (turn.event.caption or "").strip()
        if draft.description or not DESCRIPTION_MIN <= len(caption) <= DESCRIPTION_MAX:
            return
        draft.description = caption
        turn.lead(_("The photo's caption will be the description."))

    async def _prompt_media(self, turn: Turn, draft: Draft) -> None:
        buttons = [Button(_("✅ Done"), Action(Act.MEDIA_DONE))] if draft.media else []
        buttons.append(Button(_("⏭ Skip"), Action(Act.MEDIA_SKIP)))
        text = _(
            "Step 3 of 5. Send photos or videos of the problem (up to {limit}; an album is "
            "fine), then press «Done». No photo? Press «Skip»."
        ).format(limit=self._config.max_media)
        shown: tuple[MediaItem, ...] = ()
        if draft.media:
            text += "\n\n" + ngettext(
                "You have {count} file; press «🗑» under one to remove it.",
                "You have {count} files; press «🗑» under one to remove it.",
                len(draft.media),
            ).format(count=len(draft.media))
            action = turn.event.action
            if action is not None and action.act is Act.EDIT:
                # Coming from the review: the files themselves, in the order the buttons
                # number them, so the resident sees which one to remove.
                shown = tuple(draft.media)
        turn.say(
            text,
            *(photos.remove_buttons(draft) if draft.media else ()),
            tuple(buttons),
            self._nav(),
            media=shown,
        )

    async def _on_media(self, turn: Turn, draft: Draft) -> None:
        event = turn.event
        action = event.action
        if action is not None and action.act is Act.MEDIA_REMOVE:
            removed = photos.remove(draft, action.arg)
            if removed is None:
                turn.lead(_("This button is no longer valid."))
            else:
                await turn.state.set_data(draft.to_data())
                turn.lead(_("🗑 File {n} removed.").format(n=removed))
            await self._prompt_media(turn, draft)
            return
        if action is not None and action.act in (Act.MEDIA_DONE, Act.MEDIA_SKIP):
            if action.act is Act.MEDIA_DONE and not draft.media:
                turn.say(_("No photos yet. Send some, or press «Skip»."))
                await self._prompt_media(turn, draft)
                return
            if action.act is Act.MEDIA_SKIP and draft.media:
                if action.arg != CONFIRMED:
                    # Skipping would drop the files already sent: ask first.
                    question, buttons = photos.skip_question(len(draft.media))
                    turn.say(question, *buttons)
                    return
                draft.media = []
            await self._advance(turn, draft, S_DESCRIPTION)
            return
        if event.media_error is not None:
            if event.media_error == "too_big":
                turn.say(
                    _(
                        "This file is too big (at most {limit} MB). Please send a smaller one."
                    ).format(limit=self._config.media_max_mb)
                )
            else:
                turn.say(_("The file could not be received. Please send it again."))
            await self._prompt_media(turn, draft)
            return
        if not event.media:
            await self._wrong_input(turn, draft, _("This step needs photos or videos."))
            return
        group = event.media_group_id
        first_of_album = group is not None and group not in draft.albums
        if group is not None and first_of_album:
            draft.albums.append(group)
        room = self._config.max_media - len(draft.media)
        accepted = list(event.media[: max(room, 0)])
        draft.media.extend(accepted)
        self._take_caption(turn, draft)
        await turn.state.set_data(draft.to_data())
        if len(accepted) < len(event.media):
            # Within an album only the first refused item says so, not every one.
            if group is None or f"full:{group}" not in draft.albums:
                if group is not None:
                    draft.albums.append(f"full:{group}")
                    await turn.state.set_data(draft.to_data())
                turn.say(
                    _(
                        "You have reached the limit of {limit} files; the rest were not added."
                    ).format(limit=self._config.max_media),
                    (Button(_("✅ Done"), Action(Act.MEDIA_DONE)),),
                    self._nav(),
                )
            return
        if group is not None and not first_of_album:
            return
        count = len(draft.media)
        text = (
            _("Album received.")
            if group is not None
            else ngettext("{count} file received.", "{count} files received.", count).format(
                count=count
            )
        )
        turn.say(
            text + " " + _("Send more or press «Done»."),
            (Button(_("✅ Done"), Action(Act.MEDIA_DONE)),),
            self._nav(),
        )

    async def _prompt_description(self, turn: Turn, draft: Draft) -> None:
        turn.say(
            _(
                "Step 4 of 5. Describe the problem in your own words ({min} to {max} characters): "
                "what is wrong, since when, anything that helps to find it."
            ).format(min=DESCRIPTION_MIN, max=DESCRIPTION_MAX),
            self._nav(),
        )

    async def _on_description(self, turn: Turn, draft: Draft) -> None:
        text = turn.event.text
        if text is None:
            await self._wrong_input(turn, draft, _("This step needs a text description."))
            return
        text = text.strip()
        if len(text) < DESCRIPTION_MIN:
            turn.say(
                _("The description is too short: at least {min} characters, please.").format(
                    min=DESCRIPTION_MIN
                ),
                self._nav(),
            )
            return
        if len(text) > DESCRIPTION_MAX:
            turn.say(
                _(
                    "The description is too long: {length} characters, the limit is {max}. "
                    "Please shorten it and send it again."
                ).format(length=len(text), max=DESCRIPTION_MAX),
                self._nav(),
            )
            return
        draft.description = text
        await self._advance(turn, draft, S_REVIEW)

    async def _prompt_review(self, turn: Turn, draft: Draft) -> None:
        category = await turn.appeals.category(draft.category_code)
        parent = await turn.appeals.category(draft.category) if draft.subcategory else None
        category_text = " → ".join(c.name(turn.locale) for c in (parent, category) if c is not None)
        pin = draft.location
        lines = [
            _("Step 5 of 5. Please check your appeal:"),
            *call.review_lines(draft),
            "",
            _("Category: {category}").format(category=category_text or "—"),
            *selfservice.place_lines(
                draft.address, pin.latitude if pin else None, pin.longitude if pin else None
            ),
            _("Photos and videos: {count}").format(count=len(draft.media)),
            _("Description: {text}").format(text=draft.description or "—"),
        ]
        edits = [
            Button(gettext(_EDIT_LABELS[step]), Action(Act.EDIT, step)) for step in EDITABLE_STEPS
        ]
        turn.say(
            "\n".join(lines),
            (Button(_("📨 Submit"), Action(Act.SUBMIT)),),
            *rows(*edits, per_row=2),
            self._nav(),
        )

    async def _on_review(self, turn: Turn, draft: Draft) -> None:
        action = turn.event.action
        if action is not None and action.act is Act.EDIT and action.arg in EDITABLE_STEPS:
            draft.editing = True
            await self._goto(turn, draft, EDITABLE_STEPS[action.arg])
            return
        if action is None or action.act is not Act.SUBMIT:
            await self._wrong_input(
                turn, draft, _("Press «Submit» to send the appeal, or change a step.")
            )
            return
        try:
            if draft.call is not None:
                submitted = await turn.calls.submit(draft, turn.account.channel)
            else:
                submitted = await turn.appeals.submit(turn.account, draft)
        except IncompleteDraftError:
            turn.say(_("Some part of the appeal is missing; let's fill it in."))
            await self._goto(turn, draft, self._first_missing(draft))
            return
        await turn.state.clear()
        if draft.call is not None:
            turn.lead(call.filed_text(submitted.number, self._local_time(submitted.due_at)))
            self._menu(turn)
            return
        turn.lead(
            _(
                "✅ Your appeal is registered.\n\nNumber: {number}\nCategory: {category}\n"
                "Due by: {due}\n\nYou will get a message here whenever its status changes."
            ).format(
                number=submitted.number,
                category=submitted.category.name(turn.locale),
                due=self._local_time(submitted.due_at),
            )
        )
        self._menu(turn)

    async def _prompt_caller(self, turn: Turn, draft: Draft) -> None:
        call.prompt_name(turn, self._nav())

    async def _on_caller(self, turn: Turn, draft: Draft) -> None:
        if call.on_name(turn, draft):
            await self._goto(turn, draft, S_REVIEW)
        else:
            call.prompt_name(turn, self._nav())

    @staticmethod
    def _first_missing(draft: Draft) -> str:
        if draft.category_code is None:
            return S_CATEGORY
        if not draft.has_place:
            return S_LOCATION
        return S_DESCRIPTION

    async def _wrong_input(self, turn: Turn, draft: Draft, need: str) -> None:
        """Say what the step needs (naming what came instead when we know), then ask again."""
        kind = turn.event.other
        if kind is not None:
            what = gettext(_OTHER_INPUT.get(kind, _UNKNOWN_INPUT))
            turn.lead(_("I can't use {what} here. {need}").format(what=what, need=need))
        elif turn.event.action is not None:
            turn.lead(_("This button belongs to another step. {need}").format(need=need))
        else:
            turn.lead(need)
        current = await turn.state.get_state()
        await self._prompts[current or S_CATEGORY](turn, draft)

    async def _back(self, turn: Turn, draft: Draft) -> None:
        current = await turn.state.get_state()
        if draft.editing:
            draft.editing = False
            await self._goto(turn, draft, S_REVIEW)
            return
        previous = {
            S_SUBCATEGORY: S_CATEGORY,
            S_MEDIA: S_LOCATION,
            S_DESCRIPTION: S_MEDIA,
            S_REVIEW: call.S_CALLER if draft.call is not None else S_DESCRIPTION,
            call.S_CALLER: S_DESCRIPTION,
        }
        if current == S_CATEGORY:
            await self._cancel(turn)
            return
        if current == S_LOCATION:
            category = await turn.appeals.category(draft.category)
            target = S_SUBCATEGORY if category is not None and category.has_children else S_CATEGORY
            turn.say(_("⬅️ Back to the category."))
        else:
            target = previous[current or ""]
        await self._goto(turn, draft, target)
