"""The one step a phone appeal has beyond the resident's form: the caller's name."""

from aiogram.fsm.state import State, StatesGroup


class CallForm(StatesGroup):
    caller_name = State()
