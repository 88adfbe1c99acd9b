"""The Voyagent sandbox's streamed agent turns over a real socket: the first turn pauses at
an approval, the map resumes it (grant, deny, resolved first, contradicted, expired), a
dropped stream resumes with ``Last-Event-ID`` while the turn went on server-side, the 409s,
heartbeats, later turns (hotel, itinerary) and the replay buffer's cap."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from integrations.sandbox import VoyagentSandboxConfig
from integrations.sandbox.voyagent_agent import chunks
from integrations.sandbox.voyagent_state import REPLAY_BUFFER_CAP, ChatSession
from tests.integrations.test_voyagent_sandbox import World, detail, world


@dataclass
class Streamed:
    status: int
    frames: list[tuple[str, int | None, dict[str, Any]]] = field(default_factory=list)
    dropped: bool = False
    error: Any = None

    @property
    def events(self) -> list[tuple[int, dict[str, Any]]]:
        return [(i, data) for kind, i, data in self.frames if kind == "agent_event" and i]

    @property
    def kinds(self) -> list[str]:
        return [data["kind"] for _, data in self.events]

    @property
    def ids(self) -> list[int]:
        return [i for i, _ in self.events]

    def text(self) -> str:
        return "".join(data["text"] for _, data in self.events if data["kind"] == "text_delta")

    def last(self) -> dict[str, Any]:
        return self.events[-1][1]


def _frame(raw: str) -> tuple[str, int | None, dict[str, Any]]:
    fields = dict(line.split(": ", 1) for line in raw.splitlines())
    number = int(fields["id"]) if "id" in fields else None
    return fields["event"], number, json.loads(fields["data"])


async def post(
    w: World,
    auth: dict[str, str],
    session_id: str,
    message: str = "",
    approvals: dict[str, bool] | None = None,
    last_event_id: int | None = None,
) -> Streamed:
    headers = {**auth, "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    body: dict[str, Any] = {"message": message}
    if approvals is not None:
        body["approvals"] = approvals
    url = f"/chat/sessions/{session_id}/messages"
    async with w.http.stream("POST", url, json=body, headers=headers) as response:
        result = Streamed(response.status_code)
        if response.status_code != 200:
            result.error = json.loads(await response.aread())["detail"]
            return result
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        try:
            async for text in response.aiter_text():
                buffer += text
                while "\n\n" in buffer:
                    raw, buffer = buffer.split("\n\n", 1)
                    result.frames.append(_frame(raw))
        except httpx.RemoteProtocolError:
            result.dropped = True
        return result


async def lisbon_session(w: World, auth: dict[str, str]) -> str:
    made = await w.enquiry(auth)
    promoted = await w.http.post(f"/enquiries/{made['id']}/promote-to-session", headers=auth)
    session_id: str = promoted.json()["session_id"]
    return session_id


async def paused(w: World, auth: dict[str, str]) -> tuple[str, Streamed]:
    """A Lisbon session whose first turn stopped at the seat hold."""
    session_id = await lisbon_session(w, auth)
    first = await post(w, auth, session_id, "Plan our Lisbon trip")
    assert first.kinds[-1] == "approval_request", first.kinds
    return session_id, first


async def test_the_first_turn_restates_the_trip_and_pauses_at_the_seat_hold() -> None:
    async with world() as w:
        auth = await w.sign_in()
        _, first = await paused(w, auth)
        kinds = first.kinds
        deltas = kinds.count("text_delta")
        assert 8 <= deltas <= 15 and not first.dropped
        tool = kinds.index("tool_use")
        assert set(kinds[:tool]) == {"text_delta"}
        assert kinds[tool : tool + 2] == ["tool_use", "tool_result"]
        assert "final" not in kinds
        assert first.ids == list(range(1, len(kinds) + 1))
        text = first.text()
        assert "Sandbox Travel Co." in text and "4 travellers from London to Lisbon" in text
        assert "2026-05-04 to 2026-05-09" in text and "  " not in text
        assert "checking flights now. TAP has seats" in text
        request = first.last()
        assert request["approval_summary"].startswith("Hold 4 seats London ⇄ Lisbon on TAP")
        assert request["approval_summary"].endswith("€1,240 total")
        expires = datetime.fromisoformat(request["expires_at"])
        assert abs(expires - (datetime.now(UTC) + timedelta(seconds=900))) < timedelta(seconds=5)
        row = w.sandbox.state.approvals[request["approval_id"]]
        assert row["status"] == "pending" and row["summary"] == request["approval_summary"]


async def test_resuming_with_a_grant_holds_the_seats() -> None:
    async with world() as w:
        auth = await w.sign_in()
        session_id, first = await paused(w, auth)
        approval_id = first.last()["approval_id"]
        resumed = await post(w, auth, session_id, approvals={approval_id: True})
        assert resumed.kinds[0] == "approval_granted" and resumed.kinds[-1] == "final"
        assert resumed.ids[0] == first.ids[-1] + 1
        assert resumed.last()["text"] == resumed.text() and "Seats held" in resumed.text()
        assert w.sandbox.state.approvals[approval_id]["status"] == "granted"
        assert w.sandbox.state.messages_of(session_id)[-1]["approvals"] == {approval_id: True}


async def test_a_denial_resolved_first_then_sent_in_the_map_releases_the_hold() -> None:
    async with world() as w:
        auth = await w.sign_in()
        session_id, first = await paused(w, auth)
        approval_id = first.last()["approval_id"]
        resolved = await w.http.post(
            f"/approvals/{approval_id}/resolve", json={"granted": False}, headers=auth
        )
        assert resolved.json()["status"] == "rejected"
        resumed = await post(w, auth, session_id, approvals={approval_id: False})
        assert resumed.kinds[0] == "approval_denied" and resumed.kinds[-1] == "final"
        assert "No problem, I released the hold" in resumed.last()["text"]


async def test_a_contradicting_or_expired_decision_ends_the_turn_with_an_error() -> None:
    async with world() as w:
        auth = await w.sign_in()
        session_id, first = await paused(w, auth)
        approval_id = first.last()["approval_id"]
        await w.http.post(f"/approvals/{approval_id}/resolve", json={"granted": True}, headers=auth)
        contradicted = await post(w, auth, session_id, approvals={approval_id: False})
        assert contradicted.kinds == ["error"]
        assert "already granted" in contradicted.last()["message"]

        other_session, other_first = await paused(w, auth)
        other_id = other_first.last()["approval_id"]
        w.sandbox.state.expire_approval(other_id)
        late = await post(w, auth, other_session, approvals={other_id: True})
        assert (
            late.kinds == ["error"] and late.last()["message"] == f"approval {other_id} is expired"
        )
        assert w.sandbox.state.approvals[other_id]["status"] == "expired"
        after = await post(w, auth, other_session, "Any other dates?")
        assert after.kinds[-1] == "final"  # no longer waiting on the expired hold


async def test_a_new_message_while_busy_or_waiting_is_a_409() -> None:
    slow = VoyagentSandboxConfig.fast(delta_delay_s=0.02)
    async with world(slow) as w:
        auth = await w.sign_in()
        session_id = await lisbon_session(w, auth)
        started = asyncio.Event()  # woken by the turn's first event
        w.sandbox.state.sessions[session_id].listeners.add(started)
        running = asyncio.create_task(post(w, auth, session_id, "Plan our Lisbon trip"))
        async with asyncio.timeout(2):
            await started.wait()
        busy = await post(w, auth, session_id, "Also Porto?")
        assert busy.status == 409 and busy.error == "turn_in_progress"
        first = await running
        waiting = await post(w, auth, session_id, "Also Porto?")
        assert waiting.status == 409 and waiting.error == "approval_pending"
        unrelated = await post(w, auth, session_id, "Also Porto?", approvals={"apr_x": True})
        assert unrelated.status == 409
        empty = await w.http.post(
            f"/chat/sessions/{session_id}/messages", json={"message": " "}, headers=auth
        )
        assert empty.status_code == 422 and detail(empty)[0]["loc"] == ["body", "message"]
        assert first.kinds[-1] == "approval_request"


async def test_a_dropped_stream_resumes_after_last_event_id_without_duplicates() -> None:
    slow = VoyagentSandboxConfig.fast(delta_delay_s=0.02)
    async with world(slow) as w:
        auth = await w.sign_in()
        session_id = await lisbon_session(w, auth)
        w.sandbox.state.drop_next_stream(after_events=3)
        cut = await post(w, auth, session_id, "Plan our Lisbon trip")
        assert cut.dropped and cut.ids == [1, 2, 3]
        session = w.sandbox.state.sessions[session_id]
        assert session.running  # the turn goes on without a listener
        await asyncio.sleep(0.05)
        assert session.last_event_id > 3
        rest = await post(w, auth, session_id, "Plan our Lisbon trip", last_event_id=3)
        assert not rest.dropped and rest.ids[0] == 4 and rest.kinds[-1] == "approval_request"
        assert cut.ids + rest.ids == list(range(1, rest.ids[-1] + 1))
        assert len(session.messages) == 1  # a reconnect is never a new turn
        again = await post(w, auth, session_id, last_event_id=0)
        assert again.ids == cut.ids + rest.ids
        whole = cut.text() + rest.text()
        assert whole == again.text() and "Lisbon" in whole


async def test_heartbeats_fill_the_silence_without_ids() -> None:
    chatty = VoyagentSandboxConfig.fast(delta_delay_s=0.03, heartbeat_s=0.01)
    async with world(chatty) as w:
        auth = await w.sign_in()
        session_id = await lisbon_session(w, auth)
        first = await post(w, auth, session_id, "Plan our Lisbon trip")
        beats = [f for f in first.frames if f[0] == "heartbeat"]
        assert beats and all(number is None and data == {} for _, number, data in beats)
        assert first.kinds[-1] == "approval_request"


async def test_later_turns_answer_hold_a_hotel_and_build_the_itinerary() -> None:
    async with world() as w:
        auth = await w.sign_in()
        session_id, first = await paused(w, auth)
        await post(w, auth, session_id, approvals={first.last()["approval_id"]: True})
        noted = await post(w, auth, session_id, "We love seafood")
        assert noted.kinds[-1] == "final"
        assert noted.last()["text"] == "Noted: “We love seafood”. I'll include that in the plan."

        hotel = await post(w, auth, session_id, "A hotel near Alfama, please")
        tools = [data["tool"] for _, data in hotel.events if data["kind"] == "tool_use"]
        assert tools == ["search_hotels"] and hotel.kinds[-1] == "approval_request"
        assert "5 nights" in hotel.last()["approval_summary"]
        held = await post(w, auth, session_id, approvals={hotel.last()["approval_id"]: True})
        assert "hotel is held" in held.last()["text"]
        ready = await post(w, auth, session_id, "Send the itinerary")
        assert "itinerary is ready" in ready.last()["text"]
        assert ready.ids == sorted(ready.ids) and ready.ids[0] == held.ids[-1] + 1

        plan = await w.http.get(
            "/reports/itinerary", params={"session_id": session_id}, headers=auth
        )
        days = plan.json()["days"]
        assert plan.json()["total"] == {"amount": "2140.00", "currency": "EUR"}
        assert [i["kind"] for i in days[0]["items"]] == ["flight", "hotel"]
        assert [i["kind"] for i in days[-1]["items"]] == ["hotel", "flight"]
        assert days[2]["city"] == "Lisbon" and days[2]["items"][0]["kind"] == "activity"
        kinds = [row["kind"] for row in w.sandbox.state.audit]
        assert kinds.count("approval.requested") == 2 and kinds.count("approval.granted") == 2
        assert "session.created" in kinds
        summary = (await w.http.get(f"/chat/sessions/{session_id}", headers=auth)).json()
        assert summary["message_count"] == 6


async def test_a_session_without_an_enquiry_reads_the_brief() -> None:
    async with world() as w:
        auth = await w.sign_in()
        made = (await w.http.post("/chat/sessions", json={"title": "Porto"}, headers=auth)).json()
        first = await post(w, auth, made["id"], "Plan 3 days in Porto for 2")
        assert "2 travellers from London to Porto" in first.text()
        assert first.last()["approval_summary"].endswith("€620 total")


def test_chunks_join_back_to_the_text() -> None:
    for text in (" Seats held.", "Hello from the agency!  Two  spaces\n", "one", ""):
        assert "".join(chunks(text)) == text
    assert len(chunks("a b c d e f g h i")) == 3


def test_the_replay_buffer_keeps_the_last_events() -> None:
    session = ChatSession("ses_1", "t_sandbox", "Cap", "2026-01-01T00:00:00Z")
    for n in range(REPLAY_BUFFER_CAP + 50):
        session.emit({"kind": "text_delta", "text": str(n)})
    assert len(session.events) == REPLAY_BUFFER_CAP == 200
    assert session.events[0].id == 51 and session.last_event_id == 250
