"""What an operator was asked for after pressing a card button (keyed by staff chat + operator)."""

from aiogram.fsm.state import State, StatesGroup


class StaffPending(StatesGroup):
    done_photo = State()
    reject_reason = State()
    duplicate_of = State()
