"""The resident proves that two messenger accounts are one person."""

from aiogram.fsm.state import State, StatesGroup


class Linking(StatesGroup):
    # Waiting for the one-time code sent into the verified chat.
    code = State()
