"""Restaurant and hotel reservations run by Onegent, ending in a payment hand-off."""

from conversations.capabilities.onegent.access import OnegentAccess
from conversations.capabilities.onegent.gather import register_reserve_questions, reserve
from conversations.capabilities.onegent.job import RESERVATION
from conversations.capabilities.onegent.start import register_reserve_buttons

__all__ = [
    "RESERVATION",
    "OnegentAccess",
    "register_reserve_buttons",
    "register_reserve_questions",
    "reserve",
]
