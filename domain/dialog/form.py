"""The appeal form: category (and the emergency numbers, a subcategory), place, photos,
description, review, and for a phone appeal the caller's name. Part of the one dialog;
`Dialog` routes here while the resident is on one of `STEPS`.

Each step is one row of `STEPS`: its prompt, its input handler, where «Back» goes, and the
review's button that returns to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.actions import CONFIRMED, Act, Action
from domain.clock import local_time
from domain.dialog import (
    appointments,
    call,
    feedback,
    linking,
    menu,
    photos,
    selfservice,
    urgent,
)
from domain.dialog.events import MediaItem
from domain.dialog.replies import Button, Request, rows
from domain.dialog.turn import StepHandler, Turn, draft_of, nav
from domain.draft import Draft
from domain.i18n import N_, gettext, ngettext
from domain.services import IncompleteDraftError
from fsm_states import AppealForm

_ = gettext

S_CATEGORY = AppealForm.category
S_SUBCATEGORY = AppealForm.subcategory
S_LOCATION = AppealForm.location
S_MEDIA = AppealForm.media
S_DESCRIPTION = AppealForm.description
S_REVIEW = AppealForm.review

DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 2000
ADDRESS_MIN = 5
ADDRESS_MAX = 300
# Steps beside the appeal form (about filed appeals, linking): the menu and /cancel end them.
SIDE_STATES = (
    feedback.FEEDBACK_STATES | linking.LINKING_STATES | selfservice.STATES | appointments.STATES
)

_UNKNOWN_INPUT = N_("this kind of message")
_OTHER_INPUT = {
    "sticker": N_("a sticker"),
    "voice": N_("a voice message"),
    "document": N_("a file"),
    "animation": N_("an animation"),
    "poll": N_("a poll"),
}

# Where «Back» goes from a step: a step, or None to cancel the form.
Previous = Callable[[Turn, Draft], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class FormStep:
    """One step of the form."""

    prompt: StepHandler
    on_input: StepHandler
    previous: Previous
    # The review's button back to this step: the id its EDIT action carries, and its label.
    edit: str | None = None
    edit_label: str | None = None


def _to(step: str | None) -> Previous:
    async def previous(turn: Turn, draft: Draft) -> str | None:
        return step

    return previous


async def goto(turn: Turn, draft: Draft, state: str) -> None:
    await turn.state.set_state(state)
    await turn.state.set_data(draft.to_data())
    await STEPS[state].prompt(turn, draft)


async def reprompt(turn: Turn) -> None:
    """Ask again for the step the resident is on."""
    current = await turn.state.get_state()
    await STEPS[current or S_CATEGORY].prompt(turn, await draft_of(turn))


async def advance(turn: Turn, draft: Draft, next_state: str) -> None:
    """Go to the next step, or back to the review when the resident came from there."""
    if draft.editing and next_state != S_SUBCATEGORY:
        draft.editing = False
        next_state = S_REVIEW
    if next_state == S_DESCRIPTION and draft.description:
        # The resident already wrote it (a photo's caption, the text that began the appeal).
        next_state = S_REVIEW
    if next_state == S_REVIEW and call.needs_name(draft):
        next_state = call.S_CALLER
    await goto(turn, draft, next_state)


async def start_appeal(turn: Turn) -> None:
    if await draft_waits(turn):
        return
    await goto(turn, Draft(), S_CATEGORY)


async def draft_waits(turn: Turn) -> bool:
    """An unfinished appeal is never dropped silently: ask to continue or start again."""
    current = await turn.state.get_state()
    if current not in STEPS:
        return False
    draft = await draft_of(turn)
    if draft.call is not None:
        turn.lead(_("You are already filing an appeal; let's continue."))
        await reprompt(turn)
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


async def _prompt_category(turn: Turn, draft: Draft) -> None:
    categories = await turn.appeals.root_categories()
    buttons = [Button(c.name(turn.locale), Action(Act.CATEGORY, c.code)) for c in categories]
    turn.say(
        _("Step 1 of 5. What is the problem about? Choose a category:"),
        *rows(*buttons, per_row=2),
        nav(back=draft.editing),
    )


async def _on_category(turn: Turn, draft: Draft) -> None:
    action = turn.event.action
    if action is None or action.act is not Act.CATEGORY:
        await wrong_input(turn, draft, _("Please choose a category with the buttons."))
        return
    category = await turn.appeals.category(action.arg)
    if category is None or category.parent_id is not None:
        turn.say(_("This category is not available."))
        await _prompt_category(turn, draft)
        return
    draft.category = category.code
    draft.subcategory = None
    if category.urgent and draft.call is None:
        # An operator taking a call knows the numbers; a resident is told them first.
        draft.urgent_shown = True
        await goto(turn, draft, urgent.S_URGENT)
    elif category.has_children:
        await goto(turn, draft, S_SUBCATEGORY)
    else:
        await advance(turn, draft, S_LOCATION)


async def _prompt_urgent(turn: Turn, draft: Draft) -> None:
    category = await turn.appeals.category(draft.category_code)
    urgent.prompt(turn, category.name(turn.locale) if category else "—", nav())


async def _on_urgent(turn: Turn, draft: Draft) -> None:
    action = turn.event.action
    if action is None or action.act is not Act.URGENT_GO:
        await wrong_input(turn, draft, _("Press «Go on with the appeal» when nobody is in danger."))
        return
    category = await turn.appeals.category(draft.category)
    if draft.subcategory is None and category is not None and category.has_children:
        await goto(turn, draft, S_SUBCATEGORY)
    else:
        await advance(turn, draft, S_LOCATION)


async def _prompt_subcategory(turn: Turn, draft: Draft) -> None:
    parent = await turn.appeals.category(draft.category)
    if parent is None:
        await goto(turn, draft, S_CATEGORY)
        return
    children = await turn.appeals.subcategories(parent)
    buttons = [Button(c.name(turn.locale), Action(Act.SUBCATEGORY, c.code)) for c in children]
    turn.say(
        _("«{category}»: choose what exactly:").format(category=parent.name(turn.locale)),
        *rows(*buttons, per_row=1),
        nav(),
    )


async def _on_subcategory(turn: Turn, draft: Draft) -> None:
    action = turn.event.action
    if action is None or action.act is not Act.SUBCATEGORY:
        await wrong_input(turn, draft, _("Please choose with the buttons."))
        return
    parent = await turn.appeals.category(draft.category)
    child = await turn.appeals.category(action.arg)
    if parent is None or child is None or child.parent_id != parent.id:
        turn.say(_("This category is not available."))
        await _prompt_subcategory(turn, draft)
        return
    draft.subcategory = child.code
    if child.urgent and not draft.urgent_shown and draft.call is None:
        draft.urgent_shown = True
        await goto(turn, draft, urgent.S_URGENT)
        return
    await advance(turn, draft, S_LOCATION)


async def _prompt_location(turn: Turn, draft: Draft) -> None:
    turn.say(
        _(
            "Step 2 of 5. Where is it? Send the location with the button below, or type the "
            "address (street, house number, landmark)."
        ),
        nav(),
        request=Request.LOCATION,
        request_label=_("📍 Send location"),
    )


async def _on_location(turn: Turn, draft: Draft) -> None:
    event = turn.event
    if event.location is not None:
        if not turn.config.city_bounds.contains(event.location):
            turn.say(
                _(
                    "This point is outside the city, and the contact centre can only help "
                    "within it. Check the pin and send it again, or type the address."
                )
            )
            await _prompt_location(turn, draft)
            return
        draft.location = event.location
        draft.address = None
        turn.say(_("📍 Location received."))
        await advance(turn, draft, S_MEDIA)
        return
    if event.text is not None:
        address = " ".join(event.text.split())
        if len(address) < ADDRESS_MIN:
            turn.say(_("The address is too short. Type the street and house number."))
            await _prompt_location(turn, draft)
            return
        if len(address) > ADDRESS_MAX:
            turn.say(
                _("The address is too long (at most {limit} characters).").format(limit=ADDRESS_MAX)
            )
            await _prompt_location(turn, draft)
            return
        draft.address = address
        draft.location = None
        turn.say(_("📍 Address saved: {address}").format(address=address))
        await advance(turn, draft, S_MEDIA)
        return
    if event.media:
        # Not lost: the media step will have it.
        room = max(turn.config.max_media - len(draft.media), 0)
        draft.media.extend(event.media[:room])
        _take_caption(turn, draft)
        await turn.state.set_data(draft.to_data())
        if event.media_group_id is None or event.media_group_id not in draft.albums:
            if event.media_group_id is not None:
                draft.albums.append(event.media_group_id)
                await turn.state.set_data(draft.to_data())
            turn.lead(_("📷 Kept for step 3. Now, where is it?"))
            await _prompt_location(turn, draft)
        return
    await wrong_input(turn, draft, _("This step needs a location or a typed address."))


def _take_caption(turn: Turn, draft: Draft) -> None:
    """A photo's caption is the description, when there is none yet and it fits."""
    caption = (turn.event.caption or "").strip()
    if draft.description or not DESCRIPTION_MIN <= len(caption) <= DESCRIPTION_MAX:
        return
    draft.description = caption
    turn.lead(_("The photo's caption will be the description."))


async def _prompt_media(turn: Turn, draft: Draft) -> None:
    buttons = [Button(_("✅ Done"), Action(Act.MEDIA_DONE))] if draft.media else []
    buttons.append(Button(_("⏭ Skip"), Action(Act.MEDIA_SKIP)))
    text = _(
        "Step 3 of 5. Send photos or videos of the problem (up to {limit}; an album is "
        "fine), then press «Done». No photo? Press «Skip»."
    ).format(limit=turn.config.max_media)
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
        nav(),
        media=shown,
    )


async def _on_media(turn: Turn, draft: Draft) -> None:
    event = turn.event
    action = event.action
    if action is not None and action.act is Act.MEDIA_REMOVE:
        removed = photos.remove(draft, action.arg)
        if removed is None:
            turn.lead(_("This button is no longer valid."))
        else:
            await turn.state.set_data(draft.to_data())
            turn.lead(_("🗑 File {n} removed.").format(n=removed))
        await _prompt_media(turn, draft)
        return
    if action is not None and action.act in (Act.MEDIA_DONE, Act.MEDIA_SKIP):
        if action.act is Act.MEDIA_DONE and not draft.media:
            turn.say(_("No photos yet. Send some, or press «Skip»."))
            await _prompt_media(turn, draft)
            return
        if action.act is Act.MEDIA_SKIP and draft.media:
            if action.arg != CONFIRMED:
                # Skipping would drop the files already sent: ask first.
                question, buttons = photos.skip_question(len(draft.media))
                turn.say(question, *buttons)
                return
            draft.media = []
        await advance(turn, draft, S_DESCRIPTION)
        return
    if event.media_error is not None:
        if event.media_error == "too_big":
            turn.say(
                _("This file is too big (at most {limit} MB). Please send a smaller one.").format(
                    limit=turn.config.media_max_mb
                )
            )
        else:
            turn.say(_("The file could not be received. Please send it again."))
        await _prompt_media(turn, draft)
        return
    if not event.media:
        await wrong_input(turn, draft, _("This step needs photos or videos."))
        return
    group = event.media_group_id
    first_of_album = group is not None and group not in draft.albums
    if group is not None and first_of_album:
        draft.albums.append(group)
    room = turn.config.max_media - len(draft.media)
    accepted = list(event.media[: max(room, 0)])
    draft.media.extend(accepted)
    _take_caption(turn, draft)
    await turn.state.set_data(draft.to_data())
    if len(accepted) < len(event.media):
        # Within an album only the first refused item says so, not every one.
        if group is None or f"full:{group}" not in draft.albums:
            if group is not None:
                draft.albums.append(f"full:{group}")
                await turn.state.set_data(draft.to_data())
            turn.say(
                _("You have reached the limit of {limit} files; the rest were not added.").format(
                    limit=turn.config.max_media
                ),
                (Button(_("✅ Done"), Action(Act.MEDIA_DONE)),),
                nav(),
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
        nav(),
    )


async def _prompt_description(turn: Turn, draft: Draft) -> None:
    turn.say(
        _(
            "Step 4 of 5. Describe the problem in your own words ({min} to {max} characters): "
            "what is wrong, since when, anything that helps to find it."
        ).format(min=DESCRIPTION_MIN, max=DESCRIPTION_MAX),
        nav(),
    )


async def _on_description(turn: Turn, draft: Draft) -> None:
    text = turn.event.text
    if text is None:
        await wrong_input(turn, draft, _("This step needs a text description."))
        return
    text = text.strip()
    if len(text) < DESCRIPTION_MIN:
        turn.say(
            _("The description is too short: at least {min} characters, please.").format(
                min=DESCRIPTION_MIN
            ),
            nav(),
        )
        return
    if len(text) > DESCRIPTION_MAX:
        turn.say(
            _(
                "The description is too long: {length} characters, the limit is {max}. "
                "Please shorten it and send it again."
            ).format(length=len(text), max=DESCRIPTION_MAX),
            nav(),
        )
        return
    draft.description = text
    await advance(turn, draft, S_REVIEW)


async def _prompt_review(turn: Turn, draft: Draft) -> None:
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
        Button(gettext(row.edit_label), Action(Act.EDIT, row.edit))
        for row in STEPS.values()
        if row.edit is not None and row.edit_label is not None
    ]
    turn.say(
        "\n".join(lines),
        (Button(_("📨 Submit"), Action(Act.SUBMIT)),),
        *rows(*edits, per_row=2),
        nav(),
    )


async def _on_review(turn: Turn, draft: Draft) -> None:
    action = turn.event.action
    if action is not None and action.act is Act.EDIT and action.arg in EDITABLE_STEPS:
        draft.editing = True
        await goto(turn, draft, EDITABLE_STEPS[action.arg])
        return
    if action is None or action.act is not Act.SUBMIT:
        await wrong_input(turn, draft, _("Press «Submit» to send the appeal, or change a step."))
        return
    try:
        if draft.call is not None:
            submitted = await turn.calls.submit(draft, turn.account.channel)
        else:
            submitted = await turn.appeals.submit(turn.account, draft)
    except IncompleteDraftError:
        turn.say(_("Some part of the appeal is missing; let's fill it in."))
        await goto(turn, draft, _first_missing(draft))
        return
    await turn.state.clear()
    if draft.call is not None:
        turn.lead(
            call.filed_text(submitted.number, local_time(submitted.due_at, turn.config.timezone))
        )
        menu.menu(turn)
        return
    turn.lead(
        _(
            "✅ Your appeal is registered.\n\nNumber: {number}\nCategory: {category}\n"
            "Due by: {due}\n\nYou will get a message here whenever its status changes."
        ).format(
            number=submitted.number,
            category=submitted.category.name(turn.locale),
            due=local_time(submitted.due_at, turn.config.timezone),
        )
    )
    menu.menu(turn)


async def _prompt_caller(turn: Turn, draft: Draft) -> None:
    call.prompt_name(turn, nav())


async def _on_caller(turn: Turn, draft: Draft) -> None:
    if call.on_name(turn, draft):
        await goto(turn, draft, S_REVIEW)
    else:
        call.prompt_name(turn, nav())


def _first_missing(draft: Draft) -> str:
    if draft.category_code is None:
        return S_CATEGORY
    if not draft.has_place:
        return S_LOCATION
    return S_DESCRIPTION


async def wrong_input(turn: Turn, draft: Draft, need: str) -> None:
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
    await STEPS[current or S_CATEGORY].prompt(turn, draft)


async def back(turn: Turn, draft: Draft) -> None:
    current = await turn.state.get_state()
    if draft.editing:
        draft.editing = False
        await goto(turn, draft, S_REVIEW)
        return
    target = await STEPS[current or S_CATEGORY].previous(turn, draft)
    if target is None:
        await cancel(turn)
        return
    await goto(turn, draft, target)


async def cancel(turn: Turn, *, confirmed: bool = False) -> None:
    """/cancel and «Cancel»: end the form (asking first when it holds something) or a side
    step, and show the menu."""
    current = await turn.state.get_state()
    if current in STEPS and not confirmed:
        draft = await draft_of(turn)
        if draft.category or draft.has_place or draft.media or draft.description:
            # A filled draft is not dropped on one tap: ask first.
            turn.say(
                _("Cancel this appeal? Everything you entered will be lost."),
                (Button(_("🗑 Yes, cancel it"), Action(Act.CANCEL, CONFIRMED)),),
                (Button(_("▶️ No, continue"), Action(Act.DRAFT_CONTINUE)),),
            )
            return
    await turn.state.clear()
    if current in STEPS:
        turn.say(_("The appeal was cancelled; nothing was sent."))
    elif current in SIDE_STATES:
        if current in linking.LINKING_STATES:
            await turn.identity.cancel_code(turn.account)
        turn.say(_("Cancelled."))
    else:
        turn.say(_("Nothing to cancel."))
    menu.menu(turn)


async def _from_location(turn: Turn, draft: Draft) -> str | None:
    category = await turn.appeals.category(draft.category)
    turn.say(_("⬅️ Back to the category."))
    return S_SUBCATEGORY if category is not None and category.has_children else S_CATEGORY


async def _from_review(turn: Turn, draft: Draft) -> str | None:
    return call.S_CALLER if draft.call is not None else S_DESCRIPTION


STEPS: dict[str, FormStep] = {
    S_CATEGORY: FormStep(
        _prompt_category,
        _on_category,
        _to(None),
        "category",
        N_("✏️ Change category"),
    ),
    urgent.S_URGENT: FormStep(_prompt_urgent, _on_urgent, _to(S_CATEGORY)),
    S_SUBCATEGORY: FormStep(_prompt_subcategory, _on_subcategory, _to(S_CATEGORY)),
    S_LOCATION: FormStep(
        _prompt_location,
        _on_location,
        _from_location,
        "location",
        N_("✏️ Change location"),
    ),
    S_MEDIA: FormStep(_prompt_media, _on_media, _to(S_LOCATION), "media", N_("✏️ Change photos")),
    S_DESCRIPTION: FormStep(
        _prompt_description,
        _on_description,
        _to(S_MEDIA),
        "description",
        N_("✏️ Change description"),
    ),
    S_REVIEW: FormStep(_prompt_review, _on_review, _from_review),
    call.S_CALLER: FormStep(_prompt_caller, _on_caller, _to(S_DESCRIPTION)),
}
# The steps the review can send the resident back to, by the id carried in EDIT buttons.
EDITABLE_STEPS = {row.edit: step for step, row in STEPS.items() if row.edit is not None}
