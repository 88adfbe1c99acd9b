"""Fixtures for the Slack front-end tests: `database_url` comes from tests/conftest.py."""
