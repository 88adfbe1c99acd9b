from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select, update

from storage import Database, FieldCipher, generate_key
from storage.crypto import DecryptionError
from storage.models import Installation, Person, Workspace, WorkspaceCredential
from storage.repositories import (
    bind_credential,
    bot_token,
    claim_token_rotation,
    claim_welcome,
    delete_installation,
    get_credential,
    get_installation,
    get_or_create_person,
    get_or_create_workspace,
    get_person,
    get_workspace,
    mark_person_provisioned,
    read_person_profile,
    refresh_token,
    release_token_rotation,
    release_welcome,
    save_installation,
    store_rotated_tokens,
    update_person_profile,
)

CIPHER = FieldCipher(generate_key())


async def test_person_get_or_create_is_race_safe(database: Database) -> None:
    async def get(name: str | None) -> Person:
        async with database.session() as session:
            return await get_or_create_person(
                session,
                platform="slack",
                workspace_external_id="T1",
                user_id="U1",
                display_name=name,
            )

    people = await asyncio.gather(*(get(None) for _ in range(10)))
    assert len({p.id for p in people}) == 1
    assert len({p.external_user_id for p in people}) == 1
    renamed = await get("Ada")
    assert renamed.id == people[0].id and renamed.display_name == "Ada"
    assert renamed.external_user_id == people[0].external_user_id
    async with database.session() as session:
        assert await get_person(session, person_id=renamed.id, workspace_external_id="T2") is None


async def test_profile_is_sealed_and_bound_to_its_row(database: Database) -> None:
    async with database.session() as session:
        alice = await get_or_create_person(
            session, platform="slack", workspace_external_id="T1", user_id="U1"
        )
        bob = await get_or_create_person(
            session, platform="slack", workspace_external_id="T1", user_id="U2"
        )
        profile = {"email": "alice@example.com", "phone": "+33600000000"}
        assert await update_person_profile(
            session, person_id=alice.id, profile=profile, cipher=CIPHER
        )
        assert not await update_person_profile(
            session, person_id=alice.id, profile=dict(reversed(profile.items())), cipher=CIPHER
        )
        assert await mark_person_provisioned(session, person_id=alice.id)
    async with database.session() as session:
        stored = (await session.exec(select(Person).where(Person.id == alice.id))).one()
        assert stored.profile_ciphertext is not None
        assert b"alice@example.com" not in stored.profile_ciphertext
        assert stored.profile_hash is not None and len(stored.profile_hash) == 64
        assert stored.provisioned_at is not None
        assert read_person_profile(stored, cipher=CIPHER) == profile
        # the same ciphertext copied to Bob's row does not open
        bob_row = (await session.exec(select(Person).where(Person.id == bob.id))).one()
        assert read_person_profile(bob_row, cipher=CIPHER) is None
        bob_row.profile_ciphertext = stored.profile_ciphertext
        with pytest.raises(DecryptionError):
            read_person_profile(bob_row, cipher=CIPHER)
        await session.rollback()


async def test_workspace_credentials_are_sealed_to_their_row(database: Database) -> None:
    async with database.session() as session:
        ws = await get_or_create_workspace(session, platform="slack", external_id="T1", name="Acme")
        other = await get_or_create_workspace(session, platform="slack", external_id="T2")
        same = await get_or_create_workspace(session, platform="slack", external_id="T1")
        assert same.id == ws.id
        assert (
            await get_credential(session, workspace_id=ws.id, partner="outgoing", cipher=CIPHER)
            is None
        )
        assert await bind_credential(
            session,
            workspace_id=ws.id,
            partner="outgoing",
            key="og_api_secret",
            kind="self_serve",
            cipher=CIPHER,
        )
        assert not await bind_credential(
            session,
            workspace_id=ws.id,
            partner="outgoing",
            key="og_api_secret",
            kind="self_serve",
            cipher=CIPHER,
        )
        found = await get_credential(session, workspace_id=ws.id, partner="outgoing", cipher=CIPHER)
        assert found is not None and (found.key, found.kind) == ("og_api_secret", "self_serve")
        assert "og_api_secret" not in repr(found)
        row = (await session.exec(select(WorkspaceCredential))).one()
        assert b"og_api_secret" not in row.key_ciphertext
        # A's ciphertext copied into B's row does not open there.
        await bind_credential(
            session,
            workspace_id=other.id,
            partner="outgoing",
            key="og_api_other",
            kind="negotiated",
            cipher=CIPHER,
        )
        await session.exec(
            update(WorkspaceCredential)
            .where(col(WorkspaceCredential.workspace_id) == other.id)
            .values(key_ciphertext=row.key_ciphertext)
        )
        with pytest.raises(DecryptionError):
            await get_credential(session, workspace_id=other.id, partner="outgoing", cipher=CIPHER)
        assert await get_workspace(session, platform="telegram", external_id="T1") is None


async def test_installation_upsert(database: Database) -> None:
    async with database.session() as session:
        ws = await get_or_create_workspace(session, platform="slack", external_id="T1")
        first = await save_installation(
            session, workspace_id=ws.id, bot_token="xoxb-1", bot_user_id="B1", cipher=CIPHER
        )
        assert bot_token(first, cipher=CIPHER) == "xoxb-1"
        assert refresh_token(first, cipher=CIPHER) is None
    async with database.session() as session:
        second = await save_installation(
            session,
            workspace_id=ws.id,
            bot_token="xoxb-2",
            refresh_token="xoxe-1",
            installer_user_id="U9",
            cipher=CIPHER,
        )
        assert second.id == first.id
        rows = (await session.exec(select(Installation))).all()
        assert len(rows) == 1
        assert b"xoxb-2" not in rows[0].bot_token_ciphertext
    async with database.session() as session:
        stored = await get_installation(session, workspace_id=ws.id)
        assert stored is not None
        assert bot_token(stored, cipher=CIPHER) == "xoxb-2"
        assert refresh_token(stored, cipher=CIPHER) == "xoxe-1"
        assert (stored.bot_user_id, stored.installer_user_id) == (None, "U9")
        assert (await session.exec(select(Workspace))).one().id == ws.id


async def test_token_rotation_lease_compare_and_set_and_one_welcome(database: Database) -> None:
    now = datetime.now(UTC)
    async with database.session() as session:
        ws = await get_or_create_workspace(session, platform="slack", external_id="T1")
        stored = await save_installation(
            session, workspace_id=ws.id, bot_token="xoxb-1", refresh_token="xoxe-1", cipher=CIPHER
        )
        spent = stored.refresh_token_ciphertext
        assert spent is not None
    leases = []
    for _ in range(2):  # two replicas: one lease
        async with database.session() as session:
            leases.append(
                await claim_token_rotation(
                    session, workspace_id=ws.id, until=now + timedelta(seconds=30), now=now
                )
            )
    assert leases == [True, False]
    later = now + timedelta(seconds=31)
    async with database.session() as session:  # an expired lease can be taken over…
        assert await claim_token_rotation(
            session, workspace_id=ws.id, until=later + timedelta(seconds=30), now=later
        )
        # … and the first holder, late, cannot give back the new holder's lease.
        await release_token_rotation(session, workspace_id=ws.id, until=now + timedelta(seconds=30))
    async with database.session() as session:
        assert not await claim_token_rotation(
            session, workspace_id=ws.id, until=later + timedelta(seconds=60), now=later
        )
        await release_token_rotation(
            session, workspace_id=ws.id, until=later + timedelta(seconds=30)
        )
        assert await claim_token_rotation(
            session, workspace_id=ws.id, until=later + timedelta(seconds=60), now=later
        )

    async def store(previous: bytes, token: str) -> bool:
        async with database.session() as session:
            return await store_rotated_tokens(
                session,
                workspace_id=ws.id,
                previous_refresh=previous,
                bot_token=token,
                refresh_token=f"xoxe-{token}",
                expires_at=now + timedelta(hours=12),
                cipher=CIPHER,
            )

    assert await store(spent, "xoxb-2")
    assert not await store(spent, "xoxb-3")  # the same refresh token spent twice: refused
    async with database.session() as session:
        row = await get_installation(session, workspace_id=ws.id)
        assert row is not None and row.rotation_lease_until is None
        assert bot_token(row, cipher=CIPHER) == "xoxb-2"
        assert refresh_token(row, cipher=CIPHER) == "xoxe-xoxb-2"
        welcomed = [await claim_welcome(session, workspace_id=ws.id) for _ in range(2)]
        await release_welcome(session, workspace_id=ws.id)
        assert await claim_welcome(session, workspace_id=ws.id)
        assert await delete_installation(session, workspace_id=ws.id)
        assert not await delete_installation(session, workspace_id=ws.id)
    assert welcomed == [True, False]
