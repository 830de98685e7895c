"""One frozen settings object, built from the environment (and a `.env` file if present).

The names are a contract with operators (DESIGN.md, "Contract with the outside"): keep them.
"""

from __future__ import annotations

import logging
from datetime import time
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_HASH_KEY = "development-only-hash-key-change-me"

log = logging.getLogger(__name__)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEBTBOT_", env_file=".env", extra="ignore", frozen=True
    )

    telegram_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///debtbot.sqlite3"
    hash_key: str = DEVELOPMENT_HASH_KEY
    webhook_url: str = ""
    webhook_secret: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The payment provider signs its callbacks with this (HMAC-SHA256); empty = not accepted.
    payment_webhook_secret: str = ""
    http_max_body_bytes: int = 4 * 1024 * 1024
    timezone: str = "Europe/Nicosia"

    # Payments: a URL template per debt kind, `{reference}` filled in (URL-quoted). Only hosts
    # on the allow-list are ever linked, so a bad template cannot send citizens elsewhere.
    payment_url_templates: dict[str, str] = Field(
        default_factory=lambda: {
            "out_of_court_fine": "https://www.jccsmart.com/e-bill/police?reference={reference}",
            "fine_warrant": "https://www.jccsmart.com/e-bill/police-warrants?reference={reference}",
            "admin_fine": "https://www.jccsmart.com/e-bill/rtd?reference={reference}",
            "tax": "https://www.jccsmart.com/e-bill/tax?reference={reference}",
            "customs": "https://www.jccsmart.com/e-bill/customs?reference={reference}",
        }
    )
    payment_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["www.jccsmart.com", "jccsmart.com"]
    )

    # Reminders (LEGAL_RULES.md: lead times are settings, defaults 7 days and 1 day before).
    reminder_lead_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [7, 1])
    reminder_sweep_minutes: int = 5
    warrant_reminder_every_days: int = 30
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(9, 0)

    # The one sender (Telegram's limits: about 30 a second overall, 1 a second per chat).
    send_rate_per_second: float = 25.0
    send_rate_per_chat_seconds: float = 1.0
    send_max_attempts: int = 6
    allow_paid_broadcast: bool = False
    paid_broadcast_rate_per_second: float = 100.0
    send_backoff_initial_seconds: float = 0.5  # 5xx/timeouts: 0.5 s, 1 s, 2 s, ... + jitter
    send_backoff_max_seconds: float = 30.0
    # A claim whose worker vanished (crash, kill) is released after this long.
    send_claim_timeout_seconds: float = 120.0
    # After downtime the planner looks back at most this far (to record what it missed).
    reminder_catch_up_days: int = 31

    # Verification guard against guessing.
    verify_chat_failures: int = 5
    verify_identifier_failures: int = 10
    verify_window_hours: int = 24
    link_token_ttl_minutes: int = 15
    identities_per_chat: int = 5

    # Updates the bot works on at once (0: matched to the store, see concurrent_updates()).
    # More only queue for database connections and the event loop: a burst then waits in
    # python-telegram-bot's queue instead of timing out on the connection pool.
    concurrent_updates: int = Field(default=0, ge=0, le=256)

    retention_days: int = 90
    audit_retention_days: int = 2555

    log_level: str = "INFO"

    @field_validator("payment_hosts", "reminder_lead_days", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def hash_key_is_development_default(self) -> bool:
        return self.hash_key == DEVELOPMENT_HASH_KEY

    def warn_if_unsafe(self) -> None:
        if self.hash_key_is_development_default:
            log.warning(
                "DEBTBOT_HASH_KEY is the development default: identifier hashes are NOT secret. "
                "Set DEBTBOT_HASH_KEY to a long random value before real data goes in."
            )


def load_settings(**overrides: object) -> Settings:
    """Read the environment now (never at import time)."""
    return Settings(**overrides)  # type: ignore[arg-type]
