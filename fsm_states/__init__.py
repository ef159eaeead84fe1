"""The dialog's steps: `StrEnum`s the domain owns, valued as the strings stored for dialogs in
progress."""

from __future__ import annotations

from fsm_states.appeal import AppealForm, Feedback, Registration, SelfService
from fsm_states.call import CallForm
from fsm_states.linking import Linking

# Any step of the dialog; what `DialogState.get_state` returns compares equal to one of these.
Step = AppealForm | Registration | Feedback | SelfService | CallForm | Linking

__all__ = ["AppealForm", "CallForm", "Feedback", "Linking", "Registration", "SelfService", "Step"]
