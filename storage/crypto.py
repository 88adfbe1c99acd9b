"""Field encryption for secrets and personal data, and hashing of capability tokens.

Sealed format (all fields are raw bytes)::

    version (1) | key id (4) | nonce (12) | AES-256-GCM ciphertext + tag (16)

The associated data given to AES-GCM is ``version | key id | aad``, where ``aad`` names the
place the value lives (``field_aad("person", "profile", person_id)``), so a ciphertext copied
to another row or column fails to decrypt. The key id is derived from the key (HMAC), never
the key itself; it tells which of the current or previous key sealed a value, so values sealed
with the previous key can be found (``needs_rotation``) and re-sealed (``rotate``).

Keys look like ``Fernet.generate_key()`` output: 32 random bytes, URL-safe base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DecryptionError",
    "FieldCipher",
    "InvalidSecretKey",
    "field_aad",
    "generate_key",
    "new_token",
    "token_hash",
]

_VERSION = 1
_KEY_ID_LEN = 4
_NONCE_LEN = 12
_TAG_LEN = 16
_HEADER_LEN = 1 + _KEY_ID_LEN
_MIN_LEN = _HEADER_LEN + _NONCE_LEN + _TAG_LEN
_KEY_RE = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class InvalidSecretKey(ValueError):
    """A secret key string is malformed. The message never contains the key."""


class DecryptionError(Exception):
    """A sealed value could not be opened: wrong key, wrong AAD, tampered or truncated."""


def generate_key() -> str:
    """A new secret key: 32 random bytes, URL-safe base64 (``CONCIERGE_SECRET_KEY``)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def new_token() -> str:
    """A new bind or capability token (256 random bits, URL-safe). Store only ``token_hash``."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex digest of a token; what the database stores and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def field_aad(table: str, column: str, row_key: str) -> bytes:
    """The associated data for a sealed field: ``b"table:column:row-key"``."""
    return f"{table}:{column}:{row_key}".encode()


def _decode_key(key: str, *, name: str) -> bytes:
    if not isinstance(key, str):
        raise InvalidSecretKey(f"{name} must be a string")
    stripped = key.strip()
    if not stripped:
        raise InvalidSecretKey(f"{name} is empty")
    if not _KEY_RE.fullmatch(stripped):
        raise InvalidSecretKey(f"{name} is not URL-safe base64")
    padded = stripped.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecretKey(f"{name} is not valid URL-safe base64") from None
    if len(raw) != 32:
        raise InvalidSecretKey(
            f"{name} must encode 32 bytes (got {len(raw)}); generate one with "
            "`python -c 'from storage.crypto import generate_key; print(generate_key())'`"
        )
    return raw


class _Key:
    __slots__ = ("aead", "key_id", "mac_key")

    def __init__(self, raw: bytes) -> None:
        enc_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"concierge/field-encryption/v1"
        ).derive(raw)
        self.mac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"concierge/fingerprint/v1"
        ).derive(raw)
        self.key_id = hmac.new(raw, b"concierge/key-id/v1", hashlib.sha256).digest()[:_KEY_ID_LEN]
        self.aead = AESGCM(enc_key)


class FieldCipher:
    """AES-256-GCM with associated data, a current key and an optional previous key."""

    __slots__ = ("_current", "_keys")

    def __init__(self, key: str, previous: str | None = None) -> None:
        self._current = _Key(_decode_key(key, name="secret key"))
        self._keys = {self._current.key_id: self._current}
        if previous:
            prev = _Key(_decode_key(previous, name="previous secret key"))
            self._keys.setdefault(prev.key_id, prev)

    def __repr__(self) -> str:
        return f"FieldCipher(keys={len(self._keys)})"

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> bytes:
        """Seal ``plaintext`` with the current key, bound to ``aad``."""
        header = bytes([_VERSION]) + self._current.key_id
        nonce = os.urandom(_NONCE_LEN)
        return header + nonce + self._current.aead.encrypt(nonce, plaintext, header + aad)

    def decrypt(self, ciphertext: bytes, *, aad: bytes) -> bytes:
        """Open a value sealed by ``encrypt`` with the same ``aad`` (current or previous key)."""
        key = self._key_for(ciphertext)
        header = ciphertext[:_HEADER_LEN]
        nonce = ciphertext[_HEADER_LEN : _HEADER_LEN + _NONCE_LEN]
        try:
            return key.aead.decrypt(nonce, ciphertext[_HEADER_LEN + _NONCE_LEN :], header + aad)
        except InvalidTag:
            raise DecryptionError(
                "sealed value failed authentication (wrong key, wrong AAD or tampered)"
            ) from None

    def needs_rotation(self, ciphertext: bytes) -> bool:
        """True when the value was not sealed by the current key and format version."""
        return (
            len(ciphertext) < _MIN_LEN
            or ciphertext[0] != _VERSION
            or ciphertext[1:_HEADER_LEN] != self._current.key_id
        )

    def rotate(self, ciphertext: bytes, *, aad: bytes) -> bytes:
        """Re-seal a value with the current key (returns it unchanged if already current)."""
        if not self.needs_rotation(ciphertext):
            return ciphertext
        return self.encrypt(self.decrypt(ciphertext, aad=aad), aad=aad)

    def fingerprint(self, data: bytes) -> str:
        """Keyed hash (HMAC-SHA256 hex) of data, for change detection without storing a
        guessable plain hash of personal data. Changes when the current key changes."""
        return hmac.new(self._current.mac_key, data, hashlib.sha256).hexdigest()

    def _key_for(self, ciphertext: bytes) -> _Key:
        if len(ciphertext) < _MIN_LEN:
            raise DecryptionError("sealed value is truncated")
        if ciphertext[0] != _VERSION:
            raise DecryptionError(f"unknown sealed format version {ciphertext[0]}")
        key = self._keys.get(bytes(ciphertext[1:_HEADER_LEN]))
        if key is None:
            raise DecryptionError("value was sealed with a key that is not configured")
        return key
