"""Database tables. Times are timezone-aware UTC; Telegram/Viber numeric ids are BIGINT."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in and out; SQLite keeps no zone, so UTC is restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Resident(Base):
    """A person: the owner of appeals. Each messenger account starts as its own resident;
    accounts share one only after a proof (a one-time code, or an operator's call), never
    because they gave the same phone number."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelAccount(Base):
    """A messenger account (Telegram user id, Viber user id) and what we know of it."""

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    # Telegram's numeric user id (52 bits) for joins with staff-chat data; None for Viber.
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    display_name: Mapped[str | None] = mapped_column(String(128))
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The number this account gave. Verified (set) only when the platform vouches for it:
    # Telegram's own contact. On Viber a contact card proves nothing, so it stays claimed.
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON)
    sla_hours: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(200))
    # The department's English name, when the categories file gives one.
    department_en: Mapped[str | None] = mapped_column(String(200))
    # Shows the emergency numbers before the dialog goes on (see domain/dialog/urgent.py).
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Removed from the file: kept for the appeals that point at it, no longer offered.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Department(Base):
    """A department as the departments file defines it (see domain.departments)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    # The Ukrainian name is what appeals keep in `appeals.department`.
    name: Mapped[str] = mapped_column(String(200), index=True)
    name_en: Mapped[str] = mapped_column(String(200))
    # The executors' Telegram chat; None: operators act for the department.
    chat_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    sla_hours: Mapped[int | None] = mapped_column(Integer)
    reminder_hours: Mapped[float | None] = mapped_column(Float)
    escalation_hours: Mapped[float | None] = mapped_column(Float)
    # Removed from the file: kept for history, no longer posted to.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ExecutorAssignment(Base):
    """Which department's executors hold an appeal in their chat (one at a time), and the
    norms' timers for it there. Gone when the executors send it back to the operators."""

    __tablename__ = "executor_assignments"

    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AppealCounter(Base):
    """The last number handed out per prefix and year, so numbers restart every January."""

    __tablename__ = "appeal_counters"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Appeal(Base):
    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_resident_created", "resident_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    # None for a phone appeal whose caller has no verified account yet.
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    # The account it was filed from: where status pushes go. None for a phone appeal (its
    # pushes go to every chat of its resident).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("channel_accounts.id"), index=True)
    # How it came: telegram, viber, or phone (taken by an operator).
    channel: Mapped[str] = mapped_column(String(16))
    # Phone appeals: the number and name the caller gave, and the operator who took the call.
    caller_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(128))
    taken_by_id: Mapped[str | None] = mapped_column(String(64))
    taken_by_name: Mapped[str | None] = mapped_column(String(128))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Where operators routed it (the category's department unless changed).
    department: Mapped[str | None] = mapped_column(String(200))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))
    # The card in the staff chat, once posted; edited in place as the appeal moves.
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_thread_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # True when the card's text is the caption of its single photo or video (edited with
    # editMessageCaption, and held to Telegram's 1024-character caption limit).
    staff_card_caption: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AppealMedia(Base):
    __tablename__ = "appeal_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    # report: the resident's; completion: the executor's proof; reopen: the resident's objection.
    role: Mapped[str] = mapped_column(String(16), default="report", server_default="report")
    channel: Mapped[str] = mapped_column(String(16))
    file_ref: Mapped[str] = mapped_column(String(512))
    unique_id: Mapped[str | None] = mapped_column(String(128))


class AppealEvent(Base):
    """Append-only history: status changes and everything else done to an appeal."""

    __tablename__ = "appeal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(128))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class ProcessedUpdate(Base):
    """Inbound events already handled (Telegram update_id, Viber message_token)."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class FsmRecord(Base):
    """A dialog's state and data, keyed like aiogram's storage keys."""

    __tablename__ = "fsm_records"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffMessage(Base):
    """A message in the staff chat that belongs to an appeal, so replies to it find the appeal."""

    __tablename__ = "staff_messages"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))


class StaffTopic(Base):
    """A forum topic per root category, created the first time it is needed."""

    __tablename__ = "staff_topics"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger)


class OutboxMessage(Base):
    """A notification written in the same transaction as its cause, delivered by the sender."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    # A Telegram chat id or a Viber user id.
    chat: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # How many of the row's API calls went out already: a retry resumes after them.
    progress: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffPendingAction(Base):
    """What the desk waits for from one operator about one appeal (see domain.pending)."""

    __tablename__ = "staff_pending_actions"
    __table_args__ = (UniqueConstraint("chat_id", "operator_id", "appeal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    operator_id: Mapped[int] = mapped_column(BigInteger)
    operator_name: Mapped[str] = mapped_column(String(128))
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))
    media_kind: Mapped[str | None] = mapped_column(String(8))
    media_ref: Mapped[str | None] = mapped_column(String(512))
    media_unique_id: Mapped[str | None] = mapped_column(String(128))


class LinkCode(Base):
    """A one-time code sent into a verified chat so that another account can prove it is the
    same person. Only its hash is kept."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The account that asked (and types the code) and the verified one the code went to.
    requester_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # pending, used, exhausted (too many wrong attempts), expired, cancelled.
    status: Mapped[str] = mapped_column(String(12))


class AccountEvent(Base):
    """Append-only record of identity changes: phones given, codes asked and typed (every
    attempt), links and unlinks, and who did them."""

    __tablename__ = "account_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(24))
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), index=True)
    other_account_id: Mapped[int | None] = mapped_column(ForeignKey("channel_accounts.id"))
    link_code_id: Mapped[int | None] = mapped_column(ForeignKey("link_codes.id"))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


# -- appointments with the mayor and officials (domain.appointments) ------------------------


class Official(Base):
    """An official who receives residents, as the reception file describes them."""

    __tablename__ = "officials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON)
    titles: Mapped[dict[str, str]] = mapped_column(JSON)
    places: Mapped[dict[str, str]] = mapped_column(JSON)
    # domain.reception.Schedule.to_data(): weekday hours, slot length, days off.
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # An official removed from the file takes no new bookings; existing ones stay readable.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Appointment(Base):
    """A resident's booking of one slot."""

    __tablename__ = "appointments"
    __table_args__ = (
        # No slot is ever booked twice: one active booking per official and start. Partial,
        # so that a cancelled booking frees its slot.
        Index(
            "uq_appointments_active_slot",
            "official_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    # Where the resident is told about it: the account it was booked from.
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"))
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the reminder is queued; the conditional update is what sends each once.
    reminded_day_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_soon_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReceptionClosedDay(Base):
    """A day an official does not receive, closed from the staff chat."""

    __tablename__ = "reception_closed_days"
    __table_args__ = (UniqueConstraint("official_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    day: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(128))


class AppointmentEvent(Base):
    """Append-only record of every change to bookings and reception days: who, when, what."""

    __tablename__ = "appointment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(24))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


class AppointmentPending(Base):
    """What the appointments desk waits for from one operator (a reason, a confirming tap)."""

    __tablename__ = "appointment_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    operator_id: Mapped[int] = mapped_column(BigInteger)
    operator_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    day: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
