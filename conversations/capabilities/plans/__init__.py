"""Group plans: a poll in the chat becomes one booking for everyone who is in, each person
approving their own share (or the organiser the whole)."""

from conversations.capabilities.plans.buttons import register_plan_buttons
from conversations.capabilities.plans.job import PLAN
from conversations.capabilities.plans.start import plan_outing

__all__ = ["PLAN", "plan_outing", "register_plan_buttons"]
