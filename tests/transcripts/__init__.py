"""Whole-conversation snapshots: everything the bot sends in a short scripted session, as a
person would read it, in the terminal demo, Slack and Telegram."""
