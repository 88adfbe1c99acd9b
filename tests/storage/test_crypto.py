from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.crypto import (
    DecryptionError,
    FieldCipher,
    InvalidSecretKey,
    field_aad,
    generate_key,
    new_token,
    token_hash,
)

KEY = generate_key()
OLD_KEY = generate_key()
CIPHER = FieldCipher(KEY)


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=2048), aad=st.binary(max_size=64))
def test_round_trip(plaintext: bytes, aad: bytes) -> None:
    sealed = CIPHER.encrypt(plaintext, aad=aad)
    assert CIPHER.decrypt(sealed, aad=aad) == plaintext
    assert not CIPHER.needs_rotation(sealed)


def test_each_encryption_is_fresh() -> None:
    aad = field_aad("person", "profile", "p1")
    assert CIPHER.encrypt(b"same", aad=aad) != CIPHER.encrypt(b"same", aad=aad)


def test_wrong_aad_fails() -> None:
    sealed = CIPHER.encrypt(b"xoxb-secret", aad=b"installation:bot_token:W1")
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(sealed, aad=b"installation:bot_token:W2")


def test_ciphertext_moved_to_another_row_or_column_fails() -> None:
    sealed = CIPHER.encrypt(b'{"email": "a@b.c"}', aad=field_aad("person", "profile", "alice"))
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(sealed, aad=field_aad("person", "profile", "mallory"))
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(sealed, aad=field_aad("workspace", "outgoing_key", "alice"))


@pytest.mark.parametrize("position", [0, 3, 10, 20, -1])
def test_tampering_fails(position: int) -> None:
    sealed = bytearray(CIPHER.encrypt(b"payload", aad=b"a"))
    sealed[position] ^= 0x01
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(bytes(sealed), aad=b"a")


def test_truncated_fails() -> None:
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(b"\x01abc", aad=b"a")


def test_previous_key_still_decrypts_and_needs_rotation() -> None:
    old = FieldCipher(OLD_KEY)
    sealed = old.encrypt(b"token", aad=b"t:c:r")
    rotated = FieldCipher(KEY, previous=OLD_KEY)
    assert rotated.needs_rotation(sealed)
    assert rotated.decrypt(sealed, aad=b"t:c:r") == b"token"
    resealed = rotated.rotate(sealed, aad=b"t:c:r")
    assert not rotated.needs_rotation(resealed)
    assert FieldCipher(KEY).decrypt(resealed, aad=b"t:c:r") == b"token"
    with pytest.raises(DecryptionError):
        old.decrypt(resealed, aad=b"t:c:r")


def test_unknown_key_fails() -> None:
    sealed = FieldCipher(OLD_KEY).encrypt(b"x", aad=b"a")
    with pytest.raises(DecryptionError, match="not configured"):
        CIPHER.decrypt(sealed, aad=b"a")


def test_fernet_keys_are_accepted() -> None:
    key = Fernet.generate_key().decode()
    cipher = FieldCipher(key)
    assert cipher.decrypt(cipher.encrypt(b"x", aad=b"a"), aad=b"a") == b"x"
    unpadded = FieldCipher(key.rstrip("="))
    assert unpadded.decrypt(cipher.encrypt(b"y", aad=b"a"), aad=b"a") == b"y"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "short-but-valid-b64",
        base64.urlsafe_b64encode(b"k" * 16).decode(),  # 16 bytes: AES-128, refused
        base64.urlsafe_b64encode(b"k" * 33).decode(),
        "zz!!~~~Qm9ndXMtbWF0ZXJpYWw",
        "A" * 43 + "!",
        base64.b64encode(b"\xfb" * 32).decode(),  # standard alphabet ('+', '/'), not URL-safe
    ],
)
def test_malformed_keys_raise_without_echoing(bad: str) -> None:
    with pytest.raises(InvalidSecretKey) as info:
        FieldCipher(KEY, previous=bad) if bad.strip() else FieldCipher(bad)
    message = str(info.value)
    assert message
    for chunk in {bad.strip()[i : i + 6] for i in range(0, max(len(bad.strip()) - 5, 0), 3)}:
        assert chunk not in message
    assert info.value.__cause__ is None


def test_repr_hides_keys() -> None:
    assert KEY not in repr(FieldCipher(KEY, previous=OLD_KEY))


def test_tokens() -> None:
    token = new_token()
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32
    assert new_token() != token
    digest = token_hash(token)
    assert len(digest) == 64
    assert digest == token_hash(token)
    assert token not in digest
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_generate_key_shape() -> None:
    key = generate_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != generate_key()
