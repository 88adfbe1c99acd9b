"""Outgoing partner API: typed async client and the spec's models (``models``)."""

from integrations.outgoing import models
from integrations.outgoing.client import KeyKind, OutgoingClient

__all__ = ["KeyKind", "OutgoingClient", "models"]
