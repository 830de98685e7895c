"""One frozen settings object, built from the environment (and a `.env` file if present).

The names are a contract with operators (DESIGN.md, "Contract with the outside"): keep them.
"""

from __future__ import annotations

import logging
from datetime import time
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from debtbot.domain.keys import Keyring

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
    # `development` lets `debtbot run` start with the development hash key (the tests and
    # `debtbot shell` set it); anything else is treated as production.
    env: str = "production"
    # At start, how long to wait for a database that does not answer yet (a container
    # starting beside the bot) before giving up with a non-zero exit.
    db_startup_wait_seconds: float = 60.0
    # The key before DEBTBOT_HASH_KEY, while rows hashed under it are hashed again
    # (`debtbot keys status` counts those left); empty when no rotation is under way.
    hash_key_previous: str = ""
    webhook_url: str = ""
    webhook_secret: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Where people's browsers reach this server (sign-in callbacks, console links).
    public_url: str = Field(default="", validate_default=True)
    # Sign in with CY Login (OpenID Connect), offered when the first three are set.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_id_claim: str = "unique_identifier"  # the claim that holds the identity number
    # The claim that says which document the number is of; empty: an identity card.
    oidc_id_type_claim: str = ""
    oidc_scopes: str = "openid profile"
    oidc_timeout_seconds: float = 10.0
    signin_ttl_minutes: int = 15
    # The payment provider signs its callbacks with this (HMAC-SHA256); empty = not accepted.
    payment_webhook_secret: str = ""
    http_max_body_bytes: int = 4 * 1024 * 1024
    timezone: str = "Europe/Nicosia"
    # Rule versions the built-in law does not have yet (a TOML file, domain.rule_versions),
    # read at start into Deps.rulebook (debtbot.rulebook).
    rules_file: Path | None = None

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
    # Public-service closure days that are not public holidays (Easter Tuesday, 24 December)
    # count as closed where a law speaks of an office's working days (LEGAL_RULES.md, "Day
    # counting": the reading safer for the citizen). False: they count as working days.
    closure_days_closed: bool = True
    # Customs art. 52(3): the yearly interest rate on a post-clearance assessment plus its
    # surcharge (0.04 = 4 %); the law gives no number. Empty: no interest is computed.
    customs_interest_rate: Decimal | None = Field(default=None, ge=0)

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

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str, info: ValidationInfo) -> str:
        if value:
            return value.rstrip("/")
        return f"http://{info.data.get('http_host', '127.0.0.1')}:{info.data.get('http_port', 8080)}"

    @field_validator("rules_file", "customs_interest_rate", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("payment_hosts", "reminder_lead_days", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def keyring(self) -> Keyring:
        """DEBTBOT_HASH_KEY and, during a rotation, DEBTBOT_HASH_KEY_PREVIOUS."""
        return Keyring.of(self.hash_key, self.hash_key_previous or None)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def hash_key_is_development_default(self) -> bool:
        return self.hash_key == DEVELOPMENT_HASH_KEY

    @property
    def is_development(self) -> bool:
        return self.env.strip().lower() == "development"

    def refuse_if_unsafe(self) -> None:
        """Serving real people with a key anyone can read would make identity numbers
        recoverable from their hashes in seconds: refuse, outside development. Also warn of
        a sign-in callback over plain http, and remind of BotFather's /setdomain."""
        if self.oidc_enabled and not self.public_url.startswith("https://"):
            log.warning(
                "Sign in with CY Login is on but DEBTBOT_PUBLIC_URL (%s) is not https: set it "
                "to the address people's browsers reach this server at over HTTPS.",
                self.public_url,
            )
        if self.oidc_enabled:
            log.warning(
                "Sign in with CY Login is on: its button is a Telegram login button, so link "
                "the domain of DEBTBOT_PUBLIC_URL (%s) to the bot with BotFather's /setdomain.",
                urlsplit(self.public_url).hostname or self.public_url,
            )
        if not self.hash_key_is_development_default:
            return
        if not self.is_development:
            raise UnsafeSettings(
                "DEBTBOT_HASH_KEY is not set (the development key is public, so identity "
                "numbers could be recovered from their hashes): set it to a long random value, "
                "or DEBTBOT_ENV=development to try debtbot on test data."
            )
        log.warning(
            "DEBTBOT_HASH_KEY is the development default: identifier hashes are NOT secret. "
            "Set DEBTBOT_HASH_KEY to a long random value before real data goes in."
        )


class UnsafeSettings(Exception):
    """Settings that must not serve real people; the message is the one line to show."""


def load_settings(**overrides: object) -> Settings:
    """Read the environment now (never at import time)."""
    return Settings(**overrides)  # type: ignore[arg-type]
