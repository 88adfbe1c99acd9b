"""Outgoing partner API: typed async client and the spec's models (``models``)."""

from integrations.outgoing import models
from integrations.outgoing.client import KeyKind, OutgoingClient, detect_key_kind

__all__ = ["KeyKind", "OutgoingClient", "detect_key_kind", "models"]
