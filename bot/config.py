"""Settings read once from the environment and an optional `.env`, then passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob the bot has; names are the public contract of `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    staff_chat_id: int | None = None

    database_url: str = "sqlite+aiosqlite:///data/appeals.db"
    # PostgreSQL connections per worker (storage.database); SQLite has one.
    database_pool_size: int = Field(default=20, ge=1)
    redis_url: str | None = None
    # A resident's updates are handled one at a time through a lock in Redis; the lock of a
    # worker that died mid-update frees itself after this long.
    redis_lock_seconds: float = Field(default=60.0, gt=0)
    # Keys of this deployment in a shared Redis (tests and several cities can share one server).
    redis_prefix: str = "city1580"

    viber_auth_token: SecretStr | None = None
    viber_bot_name: str = "15-80"
    viber_bot_avatar: str | None = None
    viber_api_url: str = "https://chatapi.viber.com"
    viber_webhook_path: str = "/webhook/viber"
    # Files residents send through Viber (its media links expire) and files shown to Viber
    # residents (Viber fetches media by URL), served under WEBHOOK_BASE_URL + /media/.
    media_dir: Path = Path("data/media")
    media_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # Where residents' Viber media may be fetched from: https on these hosts and their
    # subdomains; an entry with a scheme (http://127.0.0.1:8081) allows exactly that origin.
    viber_media_hosts: Annotated[tuple[str, ...], NoDecode] = ("viber.com",)
    # A stored file no appeal uses (an abandoned dialog's picture) is removed after this long.
    media_orphan_hours: float = Field(default=48.0, gt=0)
    # Media downloads at once, across all residents.
    media_parallel_downloads: int = Field(default=4, ge=1, le=64)

    webhook_base_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/webhook/telegram"
    web_host: str = "0.0.0.0"
    web_port: int = 8080
    # Webhook worker processes sharing WEB_PORT (SO_REUSEPORT); more than one needs
    # PostgreSQL and Redis.
    web_workers: int = Field(default=1, ge=1, le=64)

    default_locale: str = "uk"
    timezone: str = "Europe/Kyiv"

    appeal_number_prefix: str = "1580"
    contact_centre_phone: str = "15-80"
    categories_file: Path = PROJECT_ROOT / "storage" / "seed" / "categories.toml"
    # The city's departments: names, executors' chats, norms (see domain/departments.py).
    departments_file: Path = PROJECT_ROOT / "storage" / "seed" / "departments.toml"
    # Who receives residents, when and where (see the README, "The reception schedule").
    reception_file: Path = PROJECT_ROOT / "storage" / "seed" / "reception.toml"
    # Residents book up to this many days ahead, and book, cancel or move a booking until
    # this many hours before it.
    appointment_days_ahead: int = Field(default=14, ge=1, le=60)
    appointment_change_hours: float = Field(default=2.0, ge=0)
    # min_lat,min_lon,max_lat,max_lon: Lutsk and its immediate outskirts by default.
    city_bounds: Annotated[tuple[float, float, float, float], NoDecode] = (
        50.69,
        25.21,
        50.81,
        25.45,
    )

    # Overdue appeals are reminded in the staff chat at most once per this period.
    reminder_period_hours: float = Field(default=12.0, gt=0)
    # An appeal a department's executors hold, overdue by more than this, is escalated to the
    # staff chat, at most once per the period (a department's file entry may override the first).
    escalation_hours: float = Field(default=24.0, gt=0)
    escalation_period_hours: float = Field(default=24.0, gt=0)
    # A done appeal closes by itself when the resident does not answer within this many days.
    confirm_days: float = Field(default=3.0, gt=0)
    maintenance_interval_seconds: float = Field(default=60.0, gt=0)
    # What the staff desk asked an operator for (a reason, a photo, a confirmation) expires.
    staff_pending_minutes: float = Field(default=10.0, gt=0)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Telegram's limits per bot token; lower them if Telegram answers 429 often.
    telegram_rate_global_per_second: float = Field(default=30.0, gt=0)
    telegram_rate_chat_per_second: float = Field(default=1.0, gt=0)
    telegram_rate_group_per_minute: float = Field(default=20.0, gt=0)
    # First retry delay after a 5xx or network error; doubles up to five minutes.
    outbox_backoff_seconds: float = Field(default=1.0, gt=0)
    # A notification that keeps failing (5xx, network) is recorded as failed after this many
    # attempts instead of holding its chat forever.
    outbox_max_attempts: int = Field(default=10, ge=1)
    # Telegram refusing the token (401/404, e.g. while it is rotated) pauses all sending for
    # this long, with an alert in the log; no notification is marked failed.
    outbox_credentials_pause_seconds: float = Field(default=60.0, gt=0)

    # Start-up keeps retrying an unreachable Bot API (getMe, setMyCommands, setWebhook) this
    # long before it gives up; the first retry waits STARTUP_BACKOFF_SECONDS, then doubles.
    startup_retry_seconds: float = Field(default=300.0, gt=0)
    startup_backoff_seconds: float = Field(default=1.0, gt=0)

    # Flood control: more than FLOOD_LIMIT updates from one user within FLOOD_WINDOW_SECONDS
    # get one "too fast" answer, and the rest are skipped until the window has passed.
    flood_limit: int = Field(default=20, ge=1)
    flood_window_seconds: float = Field(default=10.0, gt=0)
    # A reply waits at most this long for the rate limiter while the webhook request is open;
    # past it, the outbox sender delivers it at the chat's pace and the webhook answers now.
    reply_wait_seconds: float = Field(default=1.0, ge=0)
    # An update's replies are written into the outbox and sent at once by the worker that
    # handled it; if that worker dies first, the sender delivers them after this long.
    reply_lease_seconds: float = Field(default=30.0, gt=0)
    # SIGTERM / Ctrl-C: stop taking updates, let those in hand finish for at most this long.
    shutdown_timeout_seconds: float = Field(default=20.0, gt=0)

    max_media_per_appeal: int = Field(default=10, ge=1, le=10)
    appeals_page_size: int = Field(default=5, ge=1, le=20)

    @field_validator("city_bounds", mode="before")
    @classmethod
    def _parse_bounds(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [float(p) for p in value.split(",")]
            if len(parts) != 4:
                raise ValueError("CITY_BOUNDS needs min_lat,min_lon,max_lat,max_lon")
            return tuple(parts)
        return value

    @field_validator("viber_media_hosts", mode="before")
    @classmethod
    def _parse_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("uk", "en"):
            raise ValueError("DEFAULT_LOCALE must be uk or en")
        return value

    @property
    def webhook_mode(self) -> bool:
        return bool(self.webhook_base_url)


URL_SCHEMES = ("http://", "https://")


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message says what to set."""
