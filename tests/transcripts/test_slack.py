# ruff: noqa: E501 - snapshots hold what people read, line for line
"""Slack, whole sessions as people see them: the real bolt app inside `serve`, signed
requests, the offline planner, the sandbox partners and the recording fake Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from inline_snapshot import snapshot

from tests.bot.slack.harness import running_slack
from tests.transcripts.clock import pinned_sandbox
from tests.transcripts.slack import SlackTranscript


@pytest.fixture
async def slack(sqlite_url: str) -> AsyncIterator[SlackTranscript]:
    async with running_slack(None, database_url=sqlite_url, sandbox=pinned_sandbox()) as rig:
        yield SlackTranscript(rig)


async def test_a_search_with_five_results_then_more(slack: SlackTranscript) -> None:
    await slack.dm("search jazz in brooklyn")
    await slack.press("More (1)")
    assert slack.text() == snapshot("""\
> U0ALICE in their DM: search jazz in brooklyn

post m1 #D0ALICE:
⏳ Searching for jazz in Brooklyn…

edit m1:
⏳ Searching for jazz in Brooklyn…

edit m1:
6 ideas for jazz in Brooklyn:
*1. Celebrate Brooklyn! Jazz in Prospect Park*
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
_Why:_ Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.
[image: Celebrate Brooklyn! Jazz in Prospect Park]
[Details] [Book]
---
*2. Late Set: Brooklyn Jazz Quartet*
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
_Why:_ Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.
[image: Late Set: Brooklyn Jazz Quartet]
[Details] [Book]
---
*3. Jazz Brunch Trio at Ornithology*
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
_Why:_ Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.
[image: Jazz Brunch Trio at Ornithology]
[Details] [Book]
---
*4. Roulette Jazz Series: Avant-Garde Trio*
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
_Why:_ Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.
[image: Roulette Jazz Series: Avant-Garde Trio]
[Details] [Book]
---
*5. Brooklyn Big Band Jazz Night*
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
_Why:_ Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[image: Brooklyn Big Band Jazz Night]
[Details] [Book]
[More (1)]

> U0ALICE presses [More (1)] on m1

post m2 #D0ALICE:
More ideas:
*6. Midnight Jazz Jam Session*
Sistas' Place · Sat 07 Jun, 23:00 · $17.00–$95.00
_Why:_ Matches “jazz”; jazz at Sistas' Place (Bed-Stuy, Brooklyn); next on Sat, Jun 7 at 11:00 PM; tickets $17-$95, bookable through Outgoing.
[image: Midnight Jazz Jam Session]
[Details] [Book]\
""")


async def test_details_of_a_result(slack: SlackTranscript) -> None:
    await slack.dm("search jazz in brooklyn")
    await slack.press("Details", on="m1")
    assert slack.text() == snapshot("""\
> U0ALICE in their DM: search jazz in brooklyn

post m1 #D0ALICE:
⏳ Searching for jazz in Brooklyn…

edit m1:
⏳ Searching for jazz in Brooklyn…

edit m1:
6 ideas for jazz in Brooklyn:
*1. Celebrate Brooklyn! Jazz in Prospect Park*
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
_Why:_ Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.
[image: Celebrate Brooklyn! Jazz in Prospect Park]
[Details] [Book]
---
*2. Late Set: Brooklyn Jazz Quartet*
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
_Why:_ Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.
[image: Late Set: Brooklyn Jazz Quartet]
[Details] [Book]
---
*3. Jazz Brunch Trio at Ornithology*
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
_Why:_ Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.
[image: Jazz Brunch Trio at Ornithology]
[Details] [Book]
---
*4. Roulette Jazz Series: Avant-Garde Trio*
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
_Why:_ Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.
[image: Roulette Jazz Series: Avant-Garde Trio]
[Details] [Book]
---
*5. Brooklyn Big Band Jazz Night*
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
_Why:_ Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[image: Brooklyn Big Band Jazz Night]
[Details] [Book]
[More (1)]

> U0ALICE presses [Details] on m1

post m2 #D0ALICE:
⏳ Checking live prices…

edit m2:
# Celebrate Brooklyn! Jazz in Prospect Park
Lena Horne Bandshell · Prospect Park, Brooklyn
Free open-air jazz concert at the Lena Horne Bandshell — bring a blanket.
[image: Celebrate Brooklyn! Jazz in Prospect Park]
*Sessions and tickets* · Live prices
*Thu 05 Jun, 19:00*
• Free RSVP: Free
• Friends of BRIC Seating: $50.00 · _Reserved seating near the stage; supports the free programming._
Tip: RSVP holders get in first; lines start an hour early.
Tip: No glass bottles.
Bookable here: press Book or say how many tickets you want. Times are local to the venue.
[Book]\
""")


async def test_a_booking_in_a_dm_with_a_ticket_choice_confirmed_twice_is_a_dry_run(
    slack: SlackTranscript,
) -> None:
    await slack.dm("search jazz in brooklyn")
    await slack.press("Book", on="m1")
    await slack.press("Free RSVP · Free")
    await slack.press("2")
    await slack.press("Confirm")
    await slack.press("Confirm", stale=True)
    assert slack.text() == snapshot("""\
> U0ALICE in their DM: search jazz in brooklyn

post m1 #D0ALICE:
⏳ Searching for jazz in Brooklyn…

edit m1:
⏳ Searching for jazz in Brooklyn…

edit m1:
6 ideas for jazz in Brooklyn:
*1. Celebrate Brooklyn! Jazz in Prospect Park*
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
_Why:_ Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.
[image: Celebrate Brooklyn! Jazz in Prospect Park]
[Details] [Book]
---
*2. Late Set: Brooklyn Jazz Quartet*
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
_Why:_ Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.
[image: Late Set: Brooklyn Jazz Quartet]
[Details] [Book]
---
*3. Jazz Brunch Trio at Ornithology*
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
_Why:_ Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.
[image: Jazz Brunch Trio at Ornithology]
[Details] [Book]
---
*4. Roulette Jazz Series: Avant-Garde Trio*
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
_Why:_ Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.
[image: Roulette Jazz Series: Avant-Garde Trio]
[Details] [Book]
---
*5. Brooklyn Big Band Jazz Night*
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
_Why:_ Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[image: Brooklyn Big Band Jazz Night]
[Details] [Book]
[More (1)]

> U0ALICE presses [Book] on m1

post m2 #D0ALICE:
Which tickets for Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00?
1. Free RSVP · Free
2. Friends of BRIC Seating · $50.00
(Reply here or tap a button. If I hear nothing by <time> UTC, nothing is booked.)
[Free RSVP · Free] [Friends of BRIC Seating · $50.00]

> U0ALICE presses [Free RSVP · Free] on m2

edit m2:
Which tickets for Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00?
✓ Free RSVP · Free

post m3 #D0ALICE:
How many Free RSVP tickets?
1. 1
2. 2
3. 3
4. 4
(Reply here or tap a button. If I hear nothing by <time> UTC, nothing is booked.)
[1] [2] [3] [4]

> U0ALICE presses [2] on m3

edit m3:
How many Free RSVP tickets?
✓ 2

post m4 #D0ALICE:
*Book Celebrate Brooklyn! Jazz in Prospect Park?*
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)
Nothing is booked until you press Confirm.
[Confirm] [Cancel]

> U0ALICE presses [Confirm] on m4

edit m4:
✅ *Confirmed: booking Celebrate Brooklyn! Jazz in Prospect Park*
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)

post m5 #D0ALICE:
Booking sent to Outgoing for Celebrate Brooklyn! Jazz in Prospect Park; I'll post the result here.

post m6 #D0ALICE:
Outgoing is processing your booking for Celebrate Brooklyn! Jazz in Prospect Park…

post m7 #D0ALICE:
Booked: Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00.
Confirmation code: OG-SBX-<code>
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/1.pdf
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/2.pdf
Venue notes: Show your confirmation code at Lena Horne Bandshell. RSVP holders get in first; lines start an hour early.
Dry run: nothing was charged.

> U0ALICE presses [Confirm] on m4 again

post m8 #D0ALICE:
This booking was already confirmed.\
""")


async def test_in_a_channel_only_the_requester_may_confirm(slack: SlackTranscript) -> None:
    thread = await slack.mention("search jazz in brooklyn")
    await slack.in_thread("book 1 2 Free RSVP", thread)
    await slack.press("Confirm", user="U0BOB")
    await slack.press("Confirm")
    assert slack.text() == snapshot("""\
> U0ALICE in #C0PLANS (m1): @concierge search jazz in brooklyn

post m2 #C0PLANS (thread m1):
⏳ Searching for jazz in Brooklyn…

edit m2:
⏳ Searching for jazz in Brooklyn…

edit m2:
6 ideas for jazz in Brooklyn:
*1. Celebrate Brooklyn! Jazz in Prospect Park*
Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
_Why:_ Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.
[image: Celebrate Brooklyn! Jazz in Prospect Park]
[Details] [Book]
---
*2. Late Set: Brooklyn Jazz Quartet*
Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
_Why:_ Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4 at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.
[image: Late Set: Brooklyn Jazz Quartet]
[Details] [Book]
---
*3. Jazz Brunch Trio at Ornithology*
Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
_Why:_ Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.
[image: Jazz Brunch Trio at Ornithology]
[Details] [Book]
---
*4. Roulette Jazz Series: Avant-Garde Trio*
Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
_Why:_ Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn); next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.
[image: Roulette Jazz Series: Avant-Garde Trio]
[Details] [Book]
---
*5. Brooklyn Big Band Jazz Night*
Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
_Why:_ Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun, Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
[image: Brooklyn Big Band Jazz Night]
[Details] [Book]
[More (1)]

> U0ALICE in #C0PLANS (thread m1): book 1 2 Free RSVP

post m3 #C0PLANS (thread m1):
<@U0ALICE>
*Book Celebrate Brooklyn! Jazz in Prospect Park?*
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)
Only <@U0ALICE> can confirm.
[Confirm] [Cancel]

> U0BOB presses [Confirm] on m3

post m4 #C0PLANS (thread m1) (only U0BOB sees):
Only the person who asked can confirm or cancel this booking.

> U0ALICE presses [Confirm] on m3

edit m3:
<@U0ALICE>
✅ *Confirmed: booking Celebrate Brooklyn! Jazz in Prospect Park*
When: Thu 05 Jun, 19:00 (venue time)
Where: Lena Horne Bandshell
2 × Free RSVP (free)
Total: free (fees included)
Payment: dry run (no charge)

post m5 #C0PLANS (thread m1):
Booking sent to Outgoing for Celebrate Brooklyn! Jazz in Prospect Park; I'll post the result here.

post m6 #C0PLANS (thread m1):
<@U0ALICE>
Outgoing is processing your booking for Celebrate Brooklyn! Jazz in Prospect Park…

post m7 #C0PLANS (thread m1):
<@U0ALICE>
Booked: Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00.
Confirmation code: OG-SBX-<code>
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/1.pdf
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/2.pdf
Venue notes: Show your confirmation code at Lena Horne Bandshell. RSVP holders get in first; lines start an hour early.
Dry run: nothing was charged.\
""")


async def test_help_in_the_dm_and_as_a_command(slack: SlackTranscript) -> None:
    await slack.dm("help")
    await slack.command("help")
    assert slack.text() == snapshot("""\
> U0ALICE in their DM: help

post m1 #D0ALICE:
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (`plan …`): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). A workspace admin can connect them with `/concierge settings`.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
[Jazz in Brooklyn tonight] [Things to do near Williamsburg] [My orders] [What's running]

> U0ALICE: /concierge help

answer (only U0ALICE sees):
*Concierge* finds things to do and books them for you. Talk to me in a DM, mention me in a channel (I answer in the thread), or use:
• `/concierge <anything>` — ask me; I answer in our DM
• `/concierge plan <outing>` — a group plan in this channel: a vote, then who's in, then each approves their own booking
• `/concierge orders` — your bookings
• `/concierge status` — what I'm working on for you (searches, bookings)
• `/concierge settings` — how I am set up here (admins: connect Outgoing, spend limit)
• `/concierge forget me` — delete what I stored about you here
• `/concierge help` — this list\
""")


async def test_the_app_home(slack: SlackTranscript) -> None:
    await slack.home()
    assert slack.text() == snapshot("""\
> U0ALICE opens the App Home

App Home of U0ALICE:
# Concierge
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (`plan …`): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). A workspace admin can connect them with `/concierge settings`.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
[Jazz in Brooklyn tonight] [Things to do near Williamsburg] [My orders] [What's running]
A suggestion runs in our DM.
*How to start:* message me in the *Messages* tab, mention me in a channel (I answer in the thread), or type `/concierge <anything>`.
---
# Working on it for you
Nothing is running for you right now.
---
# Your recent orders
You have no bookings yet.\
""")
