"""Outgoing: search and nearby ideas, activity details, orders and booking."""
