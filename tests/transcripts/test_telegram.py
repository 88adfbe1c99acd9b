# ruff: noqa: E501 - snapshots hold what people read, line for line
"""Telegram, whole sessions as people see them: the real python-telegram-bot application
polling the recording fake Bot API, the offline planner and the sandbox partners."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from inline_snapshot import snapshot

from tests.bot.telegram.fake_telegram import BOT_USERNAME
from tests.bot.telegram.harness import ALICE, BOB, GROUP, running_telegram
from tests.transcripts.clock import pinned_sandbox
from tests.transcripts.telegram import TelegramTranscript

CHATS = {int(ALICE["id"]): "Alice's chat", int(BOB["id"]): "Bob's chat", GROUP: "the group"}


@pytest.fixture
async def telegram(sqlite_url: str) -> AsyncIterator[TelegramTranscript]:
    async with running_telegram(
        None, database_url=sqlite_url, sandbox=pinned_sandbox(), polling=True
    ) as rig:
        yield TelegramTranscript(rig, CHATS)


async def test_a_search_with_five_results_then_more(telegram: TelegramTranscript) -> None:
    await telegram.say("search jazz in brooklyn")
    await telegram.press("More (1)")
    assert telegram.text() == snapshot("""\
> Alice in Alice's chat (m1): search jazz in brooklyn

message m2 to Alice's chat ↩ m1:
⏳ Searching for jazz in Brooklyn…

edit m2 (refused):
⏳ Searching for jazz in Brooklyn…

album m3 to Alice's chat ↩ m1:
[photo: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500] 1. Celebrate Brooklyn! Jazz in Prospect Park
[photo: https://picsum.photos/seed/bar-lunatico-late-set/800/500] 2. Late Set: Brooklyn Jazz Quartet
[photo: https://picsum.photos/seed/ornithology-jazz-brunch/800/500] 3. Jazz Brunch Trio at Ornithology
[photo: https://picsum.photos/seed/roulette-avant-jazz-series/800/500] 4. Roulette Jazz Series: Avant-Garde Trio
[photo: https://picsum.photos/seed/brooklyn-bowl-big-band/800/500] 5. Brooklyn Big Band Jazz Night

message m4 to Alice's chat ↩ m1:
6 ideas for jazz in Brooklyn:

1. Celebrate Brooklyn! Jazz in Prospect Park
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.

2. Late Set: Brooklyn Jazz Quartet
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.

3. Jazz Brunch Trio at Ornithology
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.

4. Roulette Jazz Series: Avant-Garde Trio
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.

5. Brooklyn Big Band Jazz Night
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[1 · Details] [1 · Book]
[2 · Details] [2 · Book]
[3 · Details] [3 · Book]
[4 · Details] [4 · Book]
[5 · Details] [5 · Book]
[More (1)]

delete m2

> Alice presses [More (1)] on m4

photo m5 to Alice's chat ↩ m4:
[photo: https://picsum.photos/seed/sistas-place-midnight-jam/800/500]
6. Midnight Jazz Jam Session

message m6 to Alice's chat ↩ m4:
More ideas:

6. Midnight Jazz Jam Session
Sistas' Place · Sat 07 Jun, 23:00 · $17.00–$95.00
Matches “jazz”; jazz at Sistas' Place (Bed-Stuy, Brooklyn); next on Sat, Jun 7 at 11:00 PM; tickets $17-$95, bookable through Outgoing.
[6 · Details] [6 · Book]

answer to the press (silently)\
""")


async def test_details_of_a_result(telegram: TelegramTranscript) -> None:
    await telegram.say("search jazz in brooklyn")
    await telegram.press("1 · Details")
    assert telegram.text() == snapshot("""\
> Alice in Alice's chat (m1): search jazz in brooklyn

message m2 to Alice's chat ↩ m1:
⏳ Searching for jazz in Brooklyn…

edit m2 (refused):
⏳ Searching for jazz in Brooklyn…

album m3 to Alice's chat ↩ m1:
[photo: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500] 1. Celebrate Brooklyn! Jazz in Prospect Park
[photo: https://picsum.photos/seed/bar-lunatico-late-set/800/500] 2. Late Set: Brooklyn Jazz Quartet
[photo: https://picsum.photos/seed/ornithology-jazz-brunch/800/500] 3. Jazz Brunch Trio at Ornithology
[photo: https://picsum.photos/seed/roulette-avant-jazz-series/800/500] 4. Roulette Jazz Series: Avant-Garde Trio
[photo: https://picsum.photos/seed/brooklyn-bowl-big-band/800/500] 5. Brooklyn Big Band Jazz Night

message m4 to Alice's chat ↩ m1:
6 ideas for jazz in Brooklyn:

1. Celebrate Brooklyn! Jazz in Prospect Park
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.

2. Late Set: Brooklyn Jazz Quartet
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.

3. Jazz Brunch Trio at Ornithology
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.

4. Roulette Jazz Series: Avant-Garde Trio
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.

5. Brooklyn Big Band Jazz Night
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[1 · Details] [1 · Book]
[2 · Details] [2 · Book]
[3 · Details] [3 · Book]
[4 · Details] [4 · Book]
[5 · Details] [5 · Book]
[More (1)]

delete m2

> Alice presses [1 · Details] on m4

message m5 to Alice's chat ↩ m4:
⏳ Checking live prices…

delete m5

photo m6 to Alice's chat ↩ m4:
[photo: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500]
Celebrate Brooklyn! Jazz in Prospect Park
Lena Horne Bandshell · Prospect Park, Brooklyn
📍 Lena Horne Bandshell
Free open-air jazz concert at the Lena Horne Bandshell — bring a blanket.

Sessions and tickets
• Thu 05 Jun, 19:00
    Free RSVP: Free
    Friends of BRIC Seating: $50.00
💡 RSVP holders get in first; lines start an hour early.
💡 No glass bottles.
Bookable here: press Book or say how many tickets you want. Times are local to the venue.
[Book]

answer to the press (silently)\
""")


async def test_a_private_booking_with_a_ticket_choice_confirmed_twice_is_a_dry_run(
    telegram: TelegramTranscript,
) -> None:
    await telegram.say("search jazz in brooklyn")
    await telegram.press("1 · Book")
    await telegram.press("Free RSVP · Free")
    await telegram.press("2")
    await telegram.press("Confirm")
    await telegram.press("Confirm", stale=True)
    assert telegram.text() == snapshot("""\
> Alice in Alice's chat (m1): search jazz in brooklyn

message m2 to Alice's chat ↩ m1:
⏳ Searching for jazz in Brooklyn…

edit m2 (refused):
⏳ Searching for jazz in Brooklyn…

album m3 to Alice's chat ↩ m1:
[photo: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500] 1. Celebrate Brooklyn! Jazz in Prospect Park
[photo: https://picsum.photos/seed/bar-lunatico-late-set/800/500] 2. Late Set: Brooklyn Jazz Quartet
[photo: https://picsum.photos/seed/ornithology-jazz-brunch/800/500] 3. Jazz Brunch Trio at Ornithology
[photo: https://picsum.photos/seed/roulette-avant-jazz-series/800/500] 4. Roulette Jazz Series: Avant-Garde Trio
[photo: https://picsum.photos/seed/brooklyn-bowl-big-band/800/500] 5. Brooklyn Big Band Jazz Night

message m4 to Alice's chat ↩ m1:
6 ideas for jazz in Brooklyn:

1. Celebrate Brooklyn! Jazz in Prospect Park
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.

2. Late Set: Brooklyn Jazz Quartet
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.

3. Jazz Brunch Trio at Ornithology
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.

4. Roulette Jazz Series: Avant-Garde Trio
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.

5. Brooklyn Big Band Jazz Night
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[1 · Details] [1 · Book]
[2 · Details] [2 · Book]
[3 · Details] [3 · Book]
[4 · Details] [4 · Book]
[5 · Details] [5 · Book]
[More (1)]

delete m2

> Alice presses [1 · Book] on m4

message m5 to Alice's chat ↩ m4:
Which tickets for Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00?
1. Free RSVP · Free
2. Friends of BRIC Seating · $50.00
(Reply here or tap a button. If I hear nothing by <time> UTC, nothing is booked.)
[Free RSVP · Free] [Friends of BRIC Seating · $50.00]

answer to the press (silently)

> Alice presses [Free RSVP · Free] on m5

edit m5:
Which tickets for Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00?
✓ Free RSVP · Free

message m6 to Alice's chat ↩ m5:
How many Free RSVP tickets?
1. 1
2. 2
3. 3
4. 4
(Reply here or tap a button. If I hear nothing by <time> UTC, nothing is booked.)
[1] [2] [3]
[4]

answer to the press (silently)

> Alice presses [2] on m6

edit m6:
How many Free RSVP tickets?
✓ 2

message m7 to Alice's chat ↩ m6:
Book Celebrate Brooklyn! Jazz in Prospect Park?
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)

Nothing is booked until you press Confirm.
[Confirm] [Cancel]

answer to the press (silently)

> Alice presses [Confirm] on m7

edit m7:
✅ Confirmed: booking Celebrate Brooklyn! Jazz in Prospect Park
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)

answer to the press (silently)

message m8 to Alice's chat ↩ m7:
Booking sent to Outgoing for Celebrate Brooklyn! Jazz in Prospect Park; I'll post the result here.

message m9 to Alice's chat ↩ m7:
Outgoing is processing your booking for Celebrate Brooklyn! Jazz in Prospect Park…

message m10 to Alice's chat ↩ m7:
Booked: Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00.
Confirmation code: OG-SBX-<code>
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/1.pdf
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/2.pdf
Venue notes: Show your confirmation code at Lena Horne Bandshell. RSVP holders get in first; lines start an hour early.
Dry run: nothing was charged.

> Alice presses [Confirm] on m7 again

message m11 to Alice's chat ↩ m7:
This booking was already confirmed.

answer to the press (silently)\
""")


async def test_in_a_group_only_the_requester_may_confirm(telegram: TelegramTranscript) -> None:
    await telegram.say("/search jazz in brooklyn", chat=GROUP)
    await telegram.say(f"@{BOT_USERNAME} book 1 2 Free RSVP", chat=GROUP)
    await telegram.press("Confirm", chat=GROUP, user=BOB)
    await telegram.press("Confirm", chat=GROUP)
    assert telegram.text() == snapshot("""\
> Alice in the group (m1): /search jazz in brooklyn

message m2 to the group ↩ m1:
⏳ Searching for jazz in Brooklyn…

edit m2 (refused):
⏳ Searching for jazz in Brooklyn…

album m3 to the group ↩ m1:
[photo: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500] 1. Celebrate Brooklyn! Jazz in Prospect Park
[photo: https://picsum.photos/seed/bar-lunatico-late-set/800/500] 2. Late Set: Brooklyn Jazz Quartet
[photo: https://picsum.photos/seed/ornithology-jazz-brunch/800/500] 3. Jazz Brunch Trio at Ornithology
[photo: https://picsum.photos/seed/roulette-avant-jazz-series/800/500] 4. Roulette Jazz Series: Avant-Garde Trio
[photo: https://picsum.photos/seed/brooklyn-bowl-big-band/800/500] 5. Brooklyn Big Band Jazz Night

message m4 to the group ↩ m1:
6 ideas for jazz in Brooklyn:

1. Celebrate Brooklyn! Jazz in Prospect Park
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.

2. Late Set: Brooklyn Jazz Quartet
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.

3. Jazz Brunch Trio at Ornithology
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.

4. Roulette Jazz Series: Avant-Garde Trio
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.

5. Brooklyn Big Band Jazz Night
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[1 · Details] [1 · Book]
[2 · Details] [2 · Book]
[3 · Details] [3 · Book]
[4 · Details] [4 · Book]
[5 · Details] [5 · Book]
[More (1)]

delete m2

> Alice in the group (m5): @ConciergeTestBot book 1 2 Free RSVP

message m6 to the group ↩ m5:
Book Celebrate Brooklyn! Jazz in Prospect Park?
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)

Only Alice can confirm.
[Confirm] [Cancel]

> Bob presses [Confirm] on m6

answer to the press as an alert: Only the person who asked can confirm or cancel this booking.

> Alice presses [Confirm] on m6

edit m6:
✅ Confirmed: booking Celebrate Brooklyn! Jazz in Prospect Park
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)

answer to the press (silently)

message m7 to the group ↩ m6:
Booking sent to Outgoing for Celebrate Brooklyn! Jazz in Prospect Park; I'll post the result here.

message m8 to the group ↩ m6:
Alice
Outgoing is processing your booking for Celebrate Brooklyn! Jazz in Prospect Park…

message m9 to the group ↩ m6:
Alice
Booked: Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00.
Confirmation code: OG-SBX-<code>
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/1.pdf
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/2.pdf
Venue notes: Show your confirmation code at Lena Horne Bandshell. RSVP holders get in first; lines start an hour early.
Dry run: nothing was charged.\
""")


async def test_start_and_help(telegram: TelegramTranscript) -> None:
    await telegram.say("/start")
    await telegram.say("/help")
    assert telegram.text() == snapshot("""\
> Alice in Alice's chat (m1): /start

message m2 to Alice's chat ↩ m1:
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (plan …): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). Whoever runs this concierge can connect them in its settings.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
[Jazz in Brooklyn tonight] [Things to do near Williamsburg] [My orders]
[What's running]

> Alice in Alice's chat (m3): /help

message m4 to Alice's chat ↩ m3:
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (plan …): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). Whoever runs this concierge can connect them in its settings.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
[Jazz in Brooklyn tonight] [Things to do near Williamsburg] [My orders]
[What's running]\
""")
