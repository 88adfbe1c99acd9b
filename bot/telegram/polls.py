"""A reply's `Poll` as a native Telegram poll: the poll path of `TelegramReplier`.

The first time a reply with a poll is sent under its key (nothing posted there yet, or only
its status line, deleted once the poll is up): the cards' pictures as an album, silent, then
`sendPoll`, non-anonymous with one answer each (changed or taken back at will) and the
reply's own buttons (Close vote) as its keyboard; the poll notifies. Telegram shows the
counts itself, so the reply's text and cards are not posted, nor the cards' vote buttons:
the poll's options are the votes. The poll's message is recorded under the key, and the poll
under its id (`PollRecord`), so any process resolves its answers and changes it, after a
restart too.

A later reply under the key changes only what a poll can change: a closed poll is stopped
(`stopPoll`, which drops its keyboard); otherwise its keyboard is edited when the buttons
changed, and nothing is sent when they did not. A closed poll with nothing to stop, or one
Telegram cannot show (fewer than two options), is shown as an ordinary reply instead.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from telegram import InputPollOption

from bot.telegram.records import DB_ERRORS, PollRecord, Posted, quietly
from bot.telegram.render import button_rows, render_albums
from conversations.replies import Button, Poll, Reply

if TYPE_CHECKING:
    from bot.telegram.replier import TelegramReplier

log = logging.getLogger(__name__)

MIN_OPTIONS = 2


def keyboard_signature(buttons: tuple[Button, ...]) -> str:
    """What the buttons under a poll show and do, to tell whether they changed."""
    return "\n".join(f"{b.label}\t{b.value}\t{b.style}\t{b.url or ''}" for b in buttons)


async def send_poll(
    replier: TelegramReplier, reply: Reply, poll: Poll, key: str, target: Posted | None
) -> bool:
    """Show `reply` as the poll under `key` (`target`: what that key shows now); False when
    it is to be shown as an ordinary reply."""
    if target is not None and target.poll:
        await _change(replier, reply, poll, key, target)
        return True
    if poll.closed or len(poll.options) < MIN_OPTIONS:
        return False
    for album in render_albums(reply.cards):
        await replier._post(dataclasses.replace(album, silent=True), None)
    bot = replier._shared.bot
    markup = await replier._keyboard(button_rows(reply.buttons), key)
    sent = await replier._call(
        "sendPoll",
        lambda chat: bot.send_poll(
            chat,
            poll.question,
            [InputPollOption(o.label, text_parse_mode=None) for o in poll.options],
            is_anonymous=False,
            allows_multiple_answers=False,
            allows_revoting=True,  # a vote may be changed or taken back
            question_parse_mode=None,
            message_thread_id=replier._thread(),
            reply_parameters=replier._reply_parameters(),
            reply_markup=markup,
        ),
    )
    if sent is None:
        return True  # logged; a later reply under the key posts it anew
    posted = Posted(sent.chat.id, sent.message_id, poll=True)
    if sent.poll is not None:
        record = PollRecord(
            replier.address,
            key,
            tuple(o.value for o in poll.options),
            poll.retract,
            posted.chat_id,
            posted.message_id,
            keyboard_signature(reply.buttons),
        )
        await quietly(replier._shared.records.save_poll(sent.poll.id, record))
    await replier._record(key, posted)
    if target is not None and target.status:
        await replier._delete(target)
    return True


async def _change(
    replier: TelegramReplier, reply: Reply, poll: Poll, key: str, target: Posted
) -> None:
    """Stop the poll `target` shows, or give it the reply's buttons if they changed."""
    bot = replier._shared.bot
    markup = await replier._keyboard(button_rows(reply.buttons), key) if poll.closed else None
    if poll.closed:
        await replier._change(
            "stopPoll",
            lambda: bot.stop_poll(target.chat_id, target.message_id, reply_markup=markup),
        )
        return
    records = replier._shared.records
    signature = keyboard_signature(reply.buttons)
    try:
        known = await records.poll_at(target)
    except DB_ERRORS as error:
        log.info("Telegram poll record not read: %s", type(error).__name__)
        known = None
    if known is not None and known[1].keyboard == signature:
        return  # Telegram shows the new counts itself
    markup = await replier._keyboard(button_rows(reply.buttons), key)
    changed = await replier._change(
        "editMessageReplyMarkup",
        lambda: bot.edit_message_reply_markup(
            chat_id=target.chat_id, message_id=target.message_id, reply_markup=markup
        ),
    )
    if changed and known is not None:
        await quietly(records.poll_keyboard(known[0], known[1], signature))
