"""The steps of booking an appointment with an official (stored ids like "Appointment:day")."""

from enum import StrEnum


class AppointmentStep(StrEnum):
    # Choosing whom to see.
    OFFICIAL = "Appointment:official"
    # The question in a few words.
    QUESTION = "Appointment:question"
    # A day with free slots.
    DAY = "Appointment:day"
    # A free slot of that day.
    SLOT = "Appointment:slot"
    # The summary, waiting for «Book».
    CONFIRM = "Appointment:confirm"
