"""The Slack front-end: slack-bolt at `POST /slack/events` (and Socket Mode), Block Kit
replies with live progress, `/concierge`, the App Home tab and the agent view; installs in
any number of workspaces through OAuth (`/slack/install`), each welcomed with a bind token."""

from bot.slack.front_end import EVENTS_PATH, SlackFrontEnd, SlackOutlet
from bot.slack.render import render_reply

__all__ = ["EVENTS_PATH", "SlackFrontEnd", "SlackOutlet", "render_reply"]
