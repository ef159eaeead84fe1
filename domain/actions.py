"""Stable action ids: what a button means, independent of its label and of the channel.

Telegram carries them in `callback_data` (at most 64 bytes), Viber in a button's `ActionBody`.
Anything that does not parse is treated as forged and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_PACKED_BYTES = 64
_ARG_RE = re.compile(r"^[a-z0-9_.\-]{0,48}$")


class Act(StrEnum):
    MENU = "menu"
    NEW_APPEAL = "new"
    MY_APPEALS = "my"  # arg: page number
    APPEAL = "ap"  # arg: appeal id
    HELP = "help"
    LANGUAGE = "lang"  # arg: empty (ask) or a locale
    CATEGORY = "cat"  # arg: category code
    SUBCATEGORY = "sub"  # arg: category code
    MEDIA_DONE = "mdone"
    MEDIA_SKIP = "mskip"
    SUBMIT = "submit"
    EDIT = "edit"  # arg: a step name
    BACK = "back"
    CANCEL = "cancel"
    # The resident's answers about their appeal (arg: appeal id).
    FIXED = "fx"
    NOT_FIXED = "nf"
    REPLY = "rp"
    # Linking accounts by a one-time code, and undoing it.
    LINK = "link"
    UNLINK = "unlink"
    # The resident's conversation: what they typed was for the operator (arg: appeal id), or
    # for the step they are on; start an appeal with what they typed in the menu; a draft
    # waits: go on with it, or start again; the emergency numbers were read: go on.
    TO_OPERATOR = "toop"
    TO_STEP = "tostep"
    START_WITH_TEXT = "newtx"
    DRAFT_CONTINUE = "dcont"
    DRAFT_RESTART = "drst"
    URGENT_GO = "urgo"
    # Self-service on a filed appeal (arg: appeal id): add a photo or a comment, withdraw it;
    # find one of one's appeals by its number.
    ADD_INFO = "addi"
    WITHDRAW = "wdraw"
    LOOKUP = "find"
    # Change photos: remove one file (arg: its position "." a short hash of it).
    MEDIA_REMOVE = "mrm"
    # A phone appeal: the caller gave no name.
    CALLER_SKIP = "cskip"
    # Appointments with officials: the menu entry; whom (arg: official code); a day (arg:
    # yyyymmdd); a slot (arg: hhmm); book it; «My bookings»; cancel one (arg: booking id, then
    # id ".yes"); move one (arg: booking id).
    APPOINTMENTS = "apt"
    APPT_OFFICIAL = "apto"
    APPT_DAY = "aptd"
    APPT_SLOT = "apts"
    APPT_BOOK = "aptb"
    APPT_MINE = "aptm"
    APPT_CANCEL = "aptx"
    APPT_MOVE = "aptv"
    # Operators' buttons on a booking in the day's list (arg: booking id), and the
    # confirmation of what reaches residents (arg: pending id "." its token).
    STAFF_APPT_ATTENDED = "s_apa"
    STAFF_APPT_NO_SHOW = "s_apn"
    STAFF_APPT_CANCEL = "s_apx"
    STAFF_APPT_CONFIRM = "s_apok"
    STAFF_APPT_DROP = "s_apno"
    # Operators' buttons on a staff card (arg: appeal id).
    STAFF_ACCEPT = "s_acc"
    STAFF_START = "s_go"
    STAFF_DONE = "s_done"
    STAFF_REJECT = "s_rej"
    STAFF_DUPLICATE = "s_dup"
    STAFF_PHONE = "s_tel"
    STAFF_HISTORY = "s_hist"
    STAFF_ROUTE = "s_route"
    STAFF_DEPARTMENT = "s_dept"  # arg: appeal id "." department key
    # Executors' buttons in a department's chat (arg: appeal id): take into work, report done
    # (a photo is asked for), send back to the operators (a reason is asked for).
    EXEC_TAKE = "x_take"
    EXEC_DONE = "x_done"
    EXEC_RETURN = "x_back"
    # Confirm or drop an executor's pending action (arg: pending action id "." its token).
    EXEC_CONFIRM = "x_ok"
    EXEC_DROP = "x_no"
    # Confirm or drop what the desk is about to do (arg: pending action id "." its token).
    STAFF_CONFIRM = "s_ok"
    STAFF_DROP = "s_no"


# The argument of a button under a notice the resident keeps (a status push, a linking
# notice): pressing it sends a new message instead of editing that notice away.
KEEP = "keep"
# The argument of a button that confirms a destructive choice the dialog asked about first.
CONFIRMED = "yes"

STAFF_ACTS = frozenset(act for act in Act if act.value.startswith("s_"))
EXECUTOR_ACTS = frozenset(act for act in Act if act.value.startswith("x_"))


@dataclass(frozen=True, slots=True)
class Action:
    act: Act
    arg: str = ""

    def pack(self) -> str:
        packed = f"{self.act.value}:{self.arg}" if self.arg else self.act.value
        if len(packed.encode()) > MAX_PACKED_BYTES:
            raise ValueError(f"action id too long for a button: {packed!r}")
        return packed

    @classmethod
    def parse(cls, raw: str | None) -> Action | None:
        """The action a packed id stands for, or None for anything malformed."""
        if not raw or len(raw.encode()) > MAX_PACKED_BYTES:
            return None
        head, _, arg = raw.partition(":")
        try:
            act = Act(head)
        except ValueError:
            return None
        if not _ARG_RE.match(arg):
            return None
        return cls(act, arg)

    def int_arg(self) -> int | None:
        """The argument as a non-negative int, or None when it is not one."""
        return int(self.arg) if self.arg.isdigit() and len(self.arg) <= 12 else None
