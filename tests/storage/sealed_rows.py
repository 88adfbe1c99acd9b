"""One row of every kind that holds people's words or secrets, written through the
repositories, and a reader that opens them all again (for the sealing and rotation tests)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from conversations.capabilities.events.roster import seal, unseal
from storage import Database, FieldCipher, field_aad, repositories
from storage.models import CallWebhook, OutboxMessage, PendingQuestion, ProcessedEvent
from storage.repositories import NewClaim, NewMessage
from storage.repositories.chat_events import create_chat_event, get_chat_event

LATER = datetime.now(UTC) + timedelta(days=1)


@dataclass(frozen=True)
class Planted:
    """What was planted, and the ids to find it again."""

    words: str
    email: str
    partner_key: str
    bot_token: str
    conversation_id: str = ""
    action_id: str = ""
    approval_id: str = ""
    question_id: str = ""
    person_id: str = ""
    workspace_id: str = ""
    inbox_key: str = "slack:Ev-planted"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.words, self.email, self.partner_key, self.bot_token)


async def plant(db: Database, cipher: FieldCipher, planted: Planted) -> Planted:
    """Write the planted values everywhere they can be kept; `cipher` is the one the
    repositories are given (the database seals its sealed columns with its own)."""
    words, email = planted.words, planted.email
    async with db.session() as session:
        conversation = await repositories.get_or_create_conversation(
            session, platform="slack", workspace_id="T1", chat_id="D1"
        )
        await repositories.merge_conversation_state(
            session, conversation_id=conversation.id, changes={"last_search": words}
        )
        await repositories.append_messages(
            session,
            conversation_id=conversation.id,
            messages=[
                NewMessage("user", [{"type": "text", "text": words}], sender_id="U1"),
                NewMessage("assistant", [{"type": "text", "text": f"Noted, {email}"}]),
            ],
        )
        seal_id, sealed = seal(cipher, ())
        action = await repositories.create_action(
            session,
            kind="event_import",
            conversation_id=conversation.id,
            platform="slack",
            workspace_id="T1",
            chat_id="D1",
            requested_by="U1",
            payload={"prompt": words, "seal_id": seal_id, "sealed": sealed},
        )
        await repositories.transition_action(
            session,
            action_id=action.id,
            from_statuses=["pending"],
            to_status="failed",
            result={"contact": email},
            error=f"partner said no to {email}",
        )
        approval = await repositories.create_approval(
            session,
            conversation_id=conversation.id,
            workspace_id="T1",
            requested_by="U1",
            snapshot={"attendees": [email], "roster": {"seal_id": seal_id, "sealed": sealed}},
            expires_at=LATER,
        )
        await repositories.enqueue_outbox(
            session, platform="slack", workspace_id="T1", chat_id="D1", payload={"text": words}
        )
        question = await repositories.create_question(
            session,
            conversation_id=conversation.id,
            platform="slack",
            workspace_id="T1",
            chat_id="D1",
            thread_id="",
            asked_of="U1",
            purpose="contact",
            prompt=f"Is {email} right?",
            form="choice",
            deadline=LATER,
            options=[{"value": email, "label": email}],
            context={"said": words},
            default_value=email,
        )
        assert question is not None
        await repositories.answer_question(
            session,
            question_id=question.id,
            workspace_id="T1",
            answered_by="U1",
            answer=words,
            now=datetime.now(UTC),
        )
        person = await repositories.get_or_create_person(
            session, platform="slack", workspace_external_id="T1", user_id="U1", display_name=words
        )
        await repositories.update_person_profile(
            session, person_id=person.id, profile={"email": email}, cipher=cipher
        )
        await repositories.save_booking_profile(
            session, person_id=person.id, profile={"email": email}, cipher=cipher
        )
        workspace = await repositories.get_or_create_workspace(
            session, platform="slack", external_id="T1"
        )
        await repositories.bind_credential(
            session,
            workspace_id=workspace.id,
            partner="outgoing",
            key=planted.partner_key,
            kind="negotiated",
            cipher=cipher,
        )
        await repositories.save_installation(
            session,
            workspace_id=workspace.id,
            bot_token=planted.bot_token,
            refresh_token=planted.bot_token + "-refresh",
            cipher=cipher,
        )
        secret_aad = field_aad("call_webhook", "secret_ciphertext", "fp-1")
        await repositories.save_call_webhook(
            session,
            key_fingerprint="fp-1",
            token_hash="h" * 64,
            secret_ciphertext=cipher.encrypt(planted.bot_token.encode(), aad=secret_aad),
            url=f"https://concierge.example/webhooks/callagent/{planted.partner_key}",
        )
        await create_chat_event(
            session,
            platform="slack",
            workspace_id="T1",
            chat_id="D1",
            thread_id="",
            event_id="ev-1",
            title=f"{words} party",
            organiser="U1",
        )
        await repositories.choose(
            session, plan_id=action.id, kind="vote", user_id="U1", value=0, name=words
        )
        inbox_aad = field_aad("processed_event", "payload", planted.inbox_key)
        envelope = cipher.encrypt(json.dumps({"text": words}).encode(), aad=inbox_aad)
        await repositories.claim_events(
            session,
            [NewClaim(planted.inbox_key, "slack", {"sealed": base64.b64encode(envelope).decode()})],
            owner="me",
            until=LATER,
        )
    return Planted(
        words,
        email,
        planted.partner_key,
        planted.bot_token,
        conversation.id,
        action.id,
        approval.id,
        question.id,
        person.id,
        workspace.id,
    )


async def read_back(db: Database, cipher: FieldCipher, planted: Planted) -> None:
    """Open every planted value with `cipher` (and the database's own) and check it."""
    words, email = planted.words, planted.email
    async with db.session(read_only=True) as session:
        conversation = await repositories.get_conversation(
            session, conversation_id=planted.conversation_id, workspace_id="T1"
        )
        assert conversation is not None and conversation.state == {"last_search": words}
        history = await repositories.recent_messages(
            session, conversation_id=planted.conversation_id, limit=10
        )
        assert [m.content for m in history] == [
            [{"type": "text", "text": words}],
            [{"type": "text", "text": f"Noted, {email}"}],
        ]
        action = await repositories.get_action(
            session, action_id=planted.action_id, workspace_id="T1"
        )
        assert action is not None and action.payload["prompt"] == words
        assert unseal(cipher, action.payload["seal_id"], action.payload["sealed"]) == ()
        assert action.result == {"contact": email} and action.error == f"partner said no to {email}"
        approval = await repositories.get_approval(
            session, approval_id=planted.approval_id, workspace_id="T1"
        )
        assert approval is not None and approval.snapshot["attendees"] == [email]
        roster = approval.snapshot["roster"]
        assert unseal(cipher, roster["seal_id"], roster["sealed"]) == ()
        (queued,) = (await session.exec(select(OutboxMessage))).all()
        assert queued.payload == {"text": words}
        question = await session.get(PendingQuestion, planted.question_id)
        assert question is not None
        assert (question.prompt, question.answer, question.default_value) == (
            f"Is {email} right?",
            words,
            email,
        )
        assert question.options == [{"value": email, "label": email}]
        assert question.context == {"said": words}
        person = await repositories.get_person(
            session, person_id=planted.person_id, workspace_external_id="T1"
        )
        assert person is not None and person.display_name == words
        assert repositories.read_person_profile(person, cipher=cipher) == {"email": email}
        assert repositories.read_booking_profile(person, cipher=cipher) == {"email": email}
        key = await repositories.get_credential(
            session, workspace_id=planted.workspace_id, partner="outgoing", cipher=cipher
        )
        assert key is not None and key.key == planted.partner_key
        assert key.fingerprint == cipher.fingerprint(planted.partner_key.encode())
        installation = await repositories.get_installation(
            session, workspace_id=planted.workspace_id
        )
        assert installation is not None
        assert repositories.bot_token(installation, cipher=cipher) == planted.bot_token
        assert repositories.refresh_token(installation, cipher=cipher) == (
            planted.bot_token + "-refresh"
        )
        hook = await session.get(CallWebhook, "fp-1")
        assert hook is not None and hook.url.endswith(planted.partner_key)
        secret_aad = field_aad("call_webhook", "secret_ciphertext", "fp-1")
        assert cipher.decrypt(hook.secret_ciphertext, aad=secret_aad).decode() == planted.bot_token
        event = await get_chat_event(session, platform="slack", workspace_id="T1", chat_id="D1")
        assert event is not None and event.title == f"{words} party"
        (vote,) = await repositories.list_choices(session, plan_id=planted.action_id, kind="vote")
        assert vote.name == words
        claim = await session.get(ProcessedEvent, 1)
        assert claim is not None and claim.payload is not None
        inbox_aad = field_aad("processed_event", "payload", planted.inbox_key)
        opened = cipher.decrypt(base64.b64decode(claim.payload["sealed"]), aad=inbox_aad)
        assert json.loads(opened) == {"text": words}
