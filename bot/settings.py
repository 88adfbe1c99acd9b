"""Every setting of the concierge, read once from the environment (names per the contract).

Own settings start with `CONCIERGE_`; third-party ones keep their ecosystem's usual names.
A partner whose URL or key is unset is switched off, never a crash.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.anthropic_llm import DEPRECATED_MODELS

DEFAULT_MODEL = "claude-sonnet-5"
DATA_DIR = Path(".concierge")


class PaymentMode(StrEnum):
    DRY_RUN_SUCCESS = "dry_run_success"
    DRY_RUN_FAILURE = "dry_run_failure"
    LIVE_PURCHASE = "live_purchase"


class Settings(BaseSettings):
    """Secrets are `SecretStr`, so printing settings never shows them."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    database_url: str = Field(
        "sqlite:///./.concierge/concierge.db", validation_alias="CONCIERGE_DATABASE_URL"
    )
    host: str = Field("127.0.0.1", validation_alias="CONCIERGE_HOST")
    port: int = Field(8080, ge=0, le=65535, validation_alias="CONCIERGE_PORT")
    public_url: str = Field("http://127.0.0.1:8080", validation_alias="CONCIERGE_PUBLIC_URL")
    secret_key: SecretStr | None = Field(None, validation_alias="CONCIERGE_SECRET_KEY")
    secret_key_previous: SecretStr | None = Field(
        None, validation_alias="CONCIERGE_SECRET_KEY_PREVIOUS"
    )
    llm_model: str = Field(DEFAULT_MODEL, validation_alias="CONCIERGE_LLM_MODEL")
    payment_mode: PaymentMode = Field(
        PaymentMode.DRY_RUN_SUCCESS, validation_alias="CONCIERGE_PAYMENT_MODE"
    )

    anthropic_api_key: SecretStr | None = Field(None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, validation_alias="ANTHROPIC_BASE_URL")

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, validation_alias="SLACK_CLIENT_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_contact_details: bool = Field(False, validation_alias="CONCIERGE_SLACK_CONTACT_DETAILS")
    """Ask installs for `users:read.email`: people's e-mail and phone then reach partners."""

    telegram_bot_token: SecretStr | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", validation_alias="TELEGRAM_API_URL"
    )

    outgoing_api_url: str = Field("https://api.outgoing.world", validation_alias="OUTGOING_API_URL")
    outgoing_api_key: SecretStr | None = Field(None, validation_alias="OUTGOING_API_KEY")
    onegent_api_url: str | None = Field(None, validation_alias="ONEGENT_API_URL")
    onegent_api_key: SecretStr | None = Field(None, validation_alias="ONEGENT_API_KEY")
    call_agent_api_url: str | None = Field(None, validation_alias="CALL_AGENT_API_URL")
    call_agent_api_key: SecretStr | None = Field(None, validation_alias="CALL_AGENT_API_KEY")
    timezone: str = Field("UTC", validation_alias="CONCIERGE_TIMEZONE")
    """IANA time zone relative dates are read in ("tomorrow", "friday")."""
    calls_per_day: int = Field(20, ge=0, le=10_000, validation_alias="CONCIERGE_CALLS_PER_DAY")
    """Phone calls one workspace may place in 24 hours."""
    events_api_url: str | None = Field(None, validation_alias="EVENTS_API_URL")
    events_api_key: SecretStr | None = Field(None, validation_alias="EVENTS_API_KEY")
    voyagent_api_url: str | None = Field(None, validation_alias="VOYAGENT_API_URL")
    voyagent_email: str | None = Field(None, validation_alias="VOYAGENT_EMAIL")
    voyagent_password: SecretStr | None = Field(None, validation_alias="VOYAGENT_PASSWORD")

    @field_validator(
        "secret_key",
        "secret_key_previous",
        "anthropic_api_key",
        "outgoing_api_key",
        "onegent_api_key",
        "call_agent_api_key",
        "events_api_key",
        "voyagent_password",
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_secret",
        "telegram_bot_token",
        "telegram_webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`FOO=` in a .env file means "not configured", not an empty secret."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        """Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - (setWebhook)."""
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("must be 1-256 characters of letters, digits, _ and -")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)") from None
        return value

    @field_validator("llm_model")
    @classmethod
    def _supported_model(cls, value: str) -> str:
        if value in DEPRECATED_MODELS:
            raise ValueError(
                f"{value} is deprecated (end of life {DEPRECATED_MODELS[value]}); "
                f"use a current model such as {DEFAULT_MODEL}"
            )
        return value

    @property
    def outgoing_enabled(self) -> bool:
        return bool(self.outgoing_api_url and self.outgoing_api_key)

    @property
    def llm_enabled(self) -> bool:
        return self.anthropic_api_key is not None


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
