"""The one place partner credentials are resolved: (workspace of the address, partner).

The deployment's environment is the fallback (`EnvironmentCredentials`); a key bound to the
workspace wins over it (`conversations.workspaces.StoredCredentials`). A partner without a
URL or a key resolves to None: it registers nothing, and its tools are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from conversations.types import ConversationAddress

__all__ = [
    "CALL_AGENT",
    "EVENTS",
    "LOGIN_KIND",
    "ONEGENT",
    "OUTGOING",
    "PARTNERS",
    "VOYAGENT",
    "CredentialResolver",
    "EnvironmentCredentials",
    "PartnerCredentials",
    "PartnerSettings",
]

OUTGOING = "outgoing"
CALL_AGENT = "call_agent"
ONEGENT = "onegent"
EVENTS = "events"
VOYAGENT = "voyagent"
#: partner names as tools, error labels and `workspace_credential.partner` spell them
PARTNERS = (OUTGOING, CALL_AGENT, ONEGENT, EVENTS, VOYAGENT)
LOGIN_KIND = "login"
"""`kind` of a login credential (Voyagent): `key` is the password, `login` the e-mail."""


@dataclass(frozen=True)
class PartnerCredentials:
    """What a partner client needs. `kind` is partner-specific (Outgoing: "negotiated" or
    "self_serve" when known from binding, None = detect once; Voyagent: `LOGIN_KIND`)."""

    base_url: str
    key: str
    kind: str | None = None
    login: str | None = None

    def __repr__(self) -> str:  # never print the key
        return (
            f"PartnerCredentials(base_url={self.base_url!r}, key='***', kind={self.kind!r}, "
            f"login={'***' if self.login else None!r})"
        )


class CredentialResolver(Protocol):
    async def credentials(
        self, address: ConversationAddress, partner: str
    ) -> PartnerCredentials | None:
        """This conversation's credentials for `partner`, or None when it is off here."""
        ...


class PartnerSettings(Protocol):
    """The slice of `bot.settings.Settings` read here (so `conversations` imports no `bot`)."""

    @property
    def outgoing_api_url(self) -> str | None: ...
    @property
    def outgoing_api_key(self) -> SecretStr | None: ...
    @property
    def call_agent_api_url(self) -> str | None: ...
    @property
    def call_agent_api_key(self) -> SecretStr | None: ...
    @property
    def onegent_api_url(self) -> str | None: ...
    @property
    def onegent_api_key(self) -> SecretStr | None: ...
    @property
    def events_api_url(self) -> str | None: ...
    @property
    def events_api_key(self) -> SecretStr | None: ...
    @property
    def voyagent_api_url(self) -> str | None: ...
    @property
    def voyagent_email(self) -> str | None: ...
    @property
    def voyagent_password(self) -> SecretStr | None: ...


def _clear(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _set(value: str | None) -> str | None:
    """Blank means unset (`FOO=` in a .env file); anything else is kept as given, so a
    malformed key is refused by its client rather than silently repaired."""
    return value if value and value.strip() else None


@dataclass(frozen=True)
class EnvironmentCredentials:
    """Deployment-wide defaults (`OUTGOING_API_URL/KEY`, `CALL_AGENT_API_URL/KEY`,
    `ONEGENT_API_URL/KEY`, `EVENTS_API_URL/KEY`, `VOYAGENT_API_URL/EMAIL/PASSWORD`).

    The first two fields stay positional: older callers pass only Outgoing's.
    """

    outgoing_url: str | None
    outgoing_key: str | None
    call_agent_url: str | None = None
    call_agent_key: str | None = None
    onegent_url: str | None = None
    onegent_key: str | None = None
    events_url: str | None = None
    events_key: str | None = None
    voyagent_url: str | None = None
    voyagent_email: str | None = None
    voyagent_password: str | None = None

    def __repr__(self) -> str:  # never print a key
        on = [p for p in PARTNERS if self._default(p) is not None]
        return f"EnvironmentCredentials(configured={on!r})"

    @classmethod
    def from_settings(cls, settings: PartnerSettings) -> EnvironmentCredentials:
        return cls(
            outgoing_url=settings.outgoing_api_url,
            outgoing_key=_clear(settings.outgoing_api_key),
            call_agent_url=settings.call_agent_api_url,
            call_agent_key=_clear(settings.call_agent_api_key),
            onegent_url=settings.onegent_api_url,
            onegent_key=_clear(settings.onegent_api_key),
            events_url=settings.events_api_url,
            events_key=_clear(settings.events_api_key),
            voyagent_url=settings.voyagent_api_url,
            voyagent_email=settings.voyagent_email,
            voyagent_password=_clear(settings.voyagent_password),
        )

    def base_url(self, partner: str) -> str | None:
        """Where `partner` lives for this deployment (also for a workspace's own key)."""
        url = _set(
            {
                OUTGOING: self.outgoing_url,
                CALL_AGENT: self.call_agent_url,
                ONEGENT: self.onegent_url,
                EVENTS: self.events_url,
                VOYAGENT: self.voyagent_url,
            }.get(partner)
        )
        return url.rstrip("/") if url else None

    async def credentials(
        self, address: ConversationAddress, partner: str
    ) -> PartnerCredentials | None:
        """The same for every conversation: the environment knows no workspaces."""
        return self._default(partner)

    def _default(self, partner: str) -> PartnerCredentials | None:
        url = self.base_url(partner)
        if url is None:
            return None
        if partner == VOYAGENT:
            email, password = _set(self.voyagent_email), _set(self.voyagent_password)
            if email is None or password is None:
                return None
            return PartnerCredentials(url, password, LOGIN_KIND, login=email)
        key = _set(
            {
                OUTGOING: self.outgoing_key,
                CALL_AGENT: self.call_agent_key,
                ONEGENT: self.onegent_key,
                EVENTS: self.events_key,
            }.get(partner)
        )
        return PartnerCredentials(url, key) if key else None
