"""The eleven Outgoing partner endpoints: method, route template, timeout, user-header rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import httpx

from integrations.lanes import SLOW
from integrations.transport import DEFAULT_TIMEOUT, Route

__all__ = [
    "AUTH",
    "BIND_WORKSPACE",
    "CREATE_BOOKING",
    "DEFAULT_TIMEOUT",
    "ENDPOINTS",
    "GET_ACTIVITY",
    "GET_PRICES",
    "H3",
    "HOMESCREEN",
    "LIST_ORDERS",
    "POLL_INTERACTION",
    "PRICES_TIMEOUT",
    "PROVISION_USER",
    "SEARCH",
    "SEARCH_TIMEOUT",
    "Endpoint",
    "UserHeader",
]

PREFIX = "/partner/v1"

#: agentic search takes 30 s to 2 min; the spec asks for at least 120 s
SEARCH_TIMEOUT = httpx.Timeout(connect=5.0, read=150.0, write=15.0, pool=5.0)
#: on-demand price scrape, typically 5-15 s; at least 30 s
PRICES_TIMEOUT = httpx.Timeout(connect=5.0, read=45.0, write=15.0, pool=5.0)


class UserHeader(Enum):
    """Whether a negotiated key sends ``X-External-User-Id`` on this endpoint."""

    NEVER = "never"  # not a per-user call
    OPTIONAL = "optional"  # personalises when given
    REQUIRED = "required"  # a negotiated key must name the user


@dataclass(frozen=True, eq=False)
class Endpoint(Route):
    """A shared-transport route plus Outgoing's rule for the external user header."""

    user: UserHeader = UserHeader.NEVER


AUTH = Endpoint("GET", f"{PREFIX}/auth")
# Documented as idempotent ("create or update the mapping"): safe to repeat.
PROVISION_USER = Endpoint("POST", f"{PREFIX}/users", idempotent=True, user=UserHeader.REQUIRED)
HOMESCREEN = Endpoint("GET", f"{PREFIX}/homescreen", user=UserHeader.OPTIONAL)
H3 = Endpoint("GET", f"{PREFIX}/h3")
SEARCH = Endpoint(
    "GET",
    f"{PREFIX}/search",
    timeout=SEARCH_TIMEOUT,
    user=UserHeader.OPTIONAL,
    retry_read_timeouts=False,
    lane=SLOW,
)
GET_ACTIVITY = Endpoint("GET", f"{PREFIX}/activities/{{activity_id}}", user=UserHeader.REQUIRED)
GET_PRICES = Endpoint(
    "GET", f"{PREFIX}/activities/{{activity_id}}/prices", timeout=PRICES_TIMEOUT, lane=SLOW
)
LIST_ORDERS = Endpoint("GET", f"{PREFIX}/orders", user=UserHeader.REQUIRED)
# Money: repeated only with the request's idempotency key (it travels in the body).
CREATE_BOOKING = Endpoint("POST", f"{PREFIX}/bookings", user=UserHeader.REQUIRED)
# Binding the same token with the same key again answers ``bound: false``: safe to repeat.
BIND_WORKSPACE = Endpoint("POST", f"{PREFIX}/slack/workspaces/bind", idempotent=True)
POLL_INTERACTION = Endpoint("GET", f"{PREFIX}/aauth/interaction")

ENDPOINTS = (
    AUTH,
    PROVISION_USER,
    HOMESCREEN,
    H3,
    SEARCH,
    GET_ACTIVITY,
    GET_PRICES,
    LIST_ORDERS,
    CREATE_BOOKING,
    BIND_WORKSPACE,
    POLL_INTERACTION,
)
