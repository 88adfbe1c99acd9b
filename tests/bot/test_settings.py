"""Settings: contract names, defaults, partners switched off when unset, secrets never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import DEFAULT_MODEL, PaymentMode, Settings


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///./.concierge/concierge.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.llm_model == DEFAULT_MODEL == "claude-sonnet-5"
    assert settings.payment_mode is PaymentMode.DRY_RUN_SUCCESS
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.telegram_api_url == "https://api.telegram.org/bot"
    assert settings.outgoing_api_url == "https://api.outgoing.world"
    assert not settings.outgoing_enabled and not settings.llm_enabled


def test_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_PORT", "9000")
    monkeypatch.setenv("CONCIERGE_PAYMENT_MODE", "live_purchase")
    monkeypatch.setenv("OUTGOING_API_KEY", "og_api_secret_value")
    monkeypatch.setenv("ONEGENT_API_KEY", "   ")
    settings = Settings()
    assert settings.port == 9000
    assert settings.payment_mode is PaymentMode.LIVE_PURCHASE
    assert settings.outgoing_enabled
    assert settings.onegent_api_key is None  # blank means not configured
    assert "og_api_secret_value" not in repr(settings) and "og_api_secret_value" not in str(
        settings
    )


def test_bad_values_are_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_PAYMENT_MODE", "free_money")
    with pytest.raises(ValidationError, match="CONCIERGE_PAYMENT_MODE"):
        Settings()


@pytest.mark.parametrize("secret", ["has space", "é", "x" * 257])
def test_a_malformed_telegram_webhook_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", secret)
    with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET") as error:
        Settings()
    assert secret not in str(error.value.errors(include_input=False))
