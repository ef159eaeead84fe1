"""The dialog's steps: `StrEnum`s the domain owns, valued as the strings stored for dialogs in
progress."""

from __future__ import annotations

from fsm_states.appeal import AppealForm, Feedback, Registration, SelfService
from fsm_states.call import CallForm
from fsm_states.linking import Linking

__all__ = ["AppealForm", "CallForm", "Feedback", "Linking", "Registration", "SelfService"]
