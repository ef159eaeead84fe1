"""The resident dialog's steps. The dialog core compares against `.state` strings of these."""

from aiogram.fsm.state import State, StatesGroup


class Registration(StatesGroup):
    phone = State()


class AppealForm(StatesGroup):
    category = State()
    # An urgent category: the emergency numbers, read before the dialog goes on.
    urgent = State()
    subcategory = State()
    location = State()
    media = State()
    description = State()
    review = State()


def state_id(state: State) -> str:
    """The stored id of a step ("AppealForm:category"); states inside a group always have one."""
    if state.state is None:
        raise ValueError("a state outside a StatesGroup has no id")
    return state.state


class Feedback(StatesGroup):
    """The resident talks about an appeal already filed."""

    # "Not fixed": what is still wrong (text, optionally a photo).
    reopen_reason = State()
    # Answering an operator's message.
    answer = State()


class SelfService(StatesGroup):
    """The resident works with an appeal already filed, from «My appeals»."""

    # Adding photos, videos or a comment to an open appeal.
    add = State()
    # Why the resident withdraws the appeal.
    withdraw_reason = State()
    # Typing an appeal's number to find it.
    lookup = State()
