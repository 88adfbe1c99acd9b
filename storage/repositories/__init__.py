"""Keyword-only async repository functions; each takes an ``AsyncSession`` first and runs
inside the caller's transaction (``Database.session()`` commits or rolls back)."""

from storage.repositories.actions import (
    IdempotencyKeyConflict,
    claim_action_lease,
    create_action,
    get_action,
    get_action_by_partner_ref,
    get_action_by_webhook_token,
    list_open_actions,
    release_action_lease,
    transition_action,
)
from storage.repositories.approvals import (
    create_approval,
    expire_approvals,
    get_approval,
    resolve_approval,
)
from storage.repositories.conversations import (
    NewMessage,
    append_message,
    append_messages,
    get_conversation,
    get_or_create_conversation,
    recent_messages,
    update_conversation_state,
)
from storage.repositories.events import (
    claim_event,
    mark_event_done,
    prune_events,
    unfinished_events,
)
from storage.repositories.outbox import (
    due_outbox,
    enqueue_outbox,
    mark_outbox_failed,
    mark_outbox_sent,
)
from storage.repositories.people import (
    get_or_create_person,
    get_person,
    mark_person_provisioned,
    read_person_profile,
    update_person_profile,
)
from storage.repositories.workspaces import (
    OutgoingKeyKind,
    bind_outgoing_key,
    bot_token,
    get_installation,
    get_or_create_workspace,
    get_workspace,
    outgoing_key,
    refresh_token,
    save_installation,
)

__all__ = [
    "IdempotencyKeyConflict",
    "NewMessage",
    "OutgoingKeyKind",
    "append_message",
    "append_messages",
    "bind_outgoing_key",
    "bot_token",
    "claim_action_lease",
    "claim_event",
    "create_action",
    "create_approval",
    "due_outbox",
    "enqueue_outbox",
    "expire_approvals",
    "get_action",
    "get_action_by_partner_ref",
    "get_action_by_webhook_token",
    "get_approval",
    "get_conversation",
    "get_installation",
    "get_or_create_conversation",
    "get_or_create_person",
    "get_or_create_workspace",
    "get_person",
    "get_workspace",
    "list_open_actions",
    "mark_event_done",
    "mark_outbox_failed",
    "mark_outbox_sent",
    "mark_person_provisioned",
    "outgoing_key",
    "prune_events",
    "read_person_profile",
    "recent_messages",
    "refresh_token",
    "release_action_lease",
    "resolve_approval",
    "save_installation",
    "transition_action",
    "unfinished_events",
    "update_conversation_state",
    "update_person_profile",
]
