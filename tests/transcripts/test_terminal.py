# ruff: noqa: E501 - snapshots hold what people read, line for line
"""The terminal demo, whole sessions as printed."""

from __future__ import annotations

from pathlib import Path

from inline_snapshot import snapshot

from tests.transcripts.terminal import demo_output


async def test_a_search_with_five_results_then_more(tmp_path: Path) -> None:
    transcript = await demo_output(tmp_path, ["search jazz in brooklyn", "more"])
    assert transcript == snapshot("""\
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (`plan …`): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). Whoever runs this concierge can connect them in its settings.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
  › search jazz tonight in Brooklyn
  › near Williamsburg
  › my orders
  › status

> search jazz in brooklyn
… Searching for jazz in Brooklyn…
6 ideas for jazz in Brooklyn:
 1. Celebrate Brooklyn! Jazz in Prospect Park
    Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
    Why: Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on
    Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.
    Picture: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500
    `details 1` · `book 1`
 2. Late Set: Brooklyn Jazz Quartet
    Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
    Why: Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4
    at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.
    Picture: https://picsum.photos/seed/bar-lunatico-late-set/800/500
    `details 2` · `book 2`
 3. Jazz Brunch Trio at Ornithology
    Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
    Why: Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on
    Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.
    Picture: https://picsum.photos/seed/ornithology-jazz-brunch/800/500
    `details 3` · `book 3`
 4. Roulette Jazz Series: Avant-Garde Trio
    Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
    Why: Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn);
    next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.
    Picture: https://picsum.photos/seed/roulette-avant-jazz-series/800/500
    `details 4` · `book 4`
 5. Brooklyn Big Band Jazz Night
    Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
    Why: Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun,
    Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
    Picture: https://picsum.photos/seed/brooklyn-bowl-big-band/800/500
    `details 5` · `book 5`
Say `more` for the next ones.

> more
More ideas:
 6. Midnight Jazz Jam Session
    Sistas' Place · Sat 07 Jun, 23:00 · $17.00–$95.00
    Why: Matches “jazz”; jazz at Sistas' Place (Bed-Stuy, Brooklyn); next on Sat, Jun 7
    at 11:00 PM; tickets $17-$95, bookable through Outgoing.
    Picture: https://picsum.photos/seed/sistas-place-midnight-jam/800/500
    `details 6` · `book 6`\
""")


async def test_details_of_a_result(tmp_path: Path) -> None:
    transcript = await demo_output(tmp_path, ["search jazz in brooklyn", "details 1"])
    assert transcript == snapshot("""\
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (`plan …`): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). Whoever runs this concierge can connect them in its settings.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
  › search jazz tonight in Brooklyn
  › near Williamsburg
  › my orders
  › status

> search jazz in brooklyn
… Searching for jazz in Brooklyn…
6 ideas for jazz in Brooklyn:
 1. Celebrate Brooklyn! Jazz in Prospect Park
    Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
    Why: Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on
    Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.
    Picture: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500
    `details 1` · `book 1`
 2. Late Set: Brooklyn Jazz Quartet
    Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
    Why: Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4
    at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.
    Picture: https://picsum.photos/seed/bar-lunatico-late-set/800/500
    `details 2` · `book 2`
 3. Jazz Brunch Trio at Ornithology
    Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
    Why: Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on
    Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.
    Picture: https://picsum.photos/seed/ornithology-jazz-brunch/800/500
    `details 3` · `book 3`
 4. Roulette Jazz Series: Avant-Garde Trio
    Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
    Why: Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn);
    next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.
    Picture: https://picsum.photos/seed/roulette-avant-jazz-series/800/500
    `details 4` · `book 4`
 5. Brooklyn Big Band Jazz Night
    Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
    Why: Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun,
    Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
    Picture: https://picsum.photos/seed/brooklyn-bowl-big-band/800/500
    `details 5` · `book 5`
Say `more` for the next ones.

> details 1
… Checking live prices…
Celebrate Brooklyn! Jazz in Prospect Park
  Lena Horne Bandshell · Prospect Park, Brooklyn
  Free open-air jazz concert at the Lena Horne Bandshell — bring a blanket.
  Sessions and tickets:
  • Thu 05 Jun, 19:00
      Free RSVP: Free
      Friends of BRIC Seating: $50.00
  Tip: RSVP holders get in first; lines start an hour early.
  Tip: No glass bottles.
  Bookable here: press Book or say how many tickets you want. Times are local to the
  venue.
  Picture: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500\
""")


async def test_a_booking_with_a_ticket_choice_confirmed_twice_is_a_dry_run(
    tmp_path: Path,
) -> None:
    typed = ["search jazz in brooklyn", "book 1", "1", "2", "y", "y"]
    transcript = await demo_output(tmp_path, typed)
    assert transcript == snapshot("""\
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (`plan …`): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). Whoever runs this concierge can connect them in its settings.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
  › search jazz tonight in Brooklyn
  › near Williamsburg
  › my orders
  › status

> search jazz in brooklyn
… Searching for jazz in Brooklyn…
6 ideas for jazz in Brooklyn:
 1. Celebrate Brooklyn! Jazz in Prospect Park
    Lena Horne Bandshell · Thu 05 Jun, 19:00 · Free–$50.00
    Why: Matches “jazz”; jazz at Lena Horne Bandshell (Prospect Park, Brooklyn); next on
    Thu, Jun 5 at 7:00 PM; tickets Free-$50, bookable through Outgoing.
    Picture: https://picsum.photos/seed/celebrate-brooklyn-jazz/800/500
    `details 1` · `book 1`
 2. Late Set: Brooklyn Jazz Quartet
    Bar LunÀtico · Wed 04 Jun, 20:00 · $22.50–$66.00
    Why: Matches “jazz”; jazz at Bar LunÀtico (Bed-Stuy, Brooklyn); next on Wed, Jun 4
    at 8:00 PM; tickets $22.50-$66, bookable through Outgoing.
    Picture: https://picsum.photos/seed/bar-lunatico-late-set/800/500
    `details 2` · `book 2`
 3. Jazz Brunch Trio at Ornithology
    Ornithology Jazz Club · Fri 06 Jun, 12:00 · $22.40–$39.20
    Why: Matches “jazz”; jazz at Ornithology Jazz Club (Bushwick, Brooklyn); next on
    Fri, Jun 6 at 12:00 PM; tickets $22.40-$39.20, bookable through Outgoing.
    Picture: https://picsum.photos/seed/ornithology-jazz-brunch/800/500
    `details 3` · `book 3`
 4. Roulette Jazz Series: Avant-Garde Trio
    Roulette Intermedium · Mon 09 Jun, 20:00 · $17.25–$34.50
    Why: Matches “jazz”; jazz at Roulette Intermedium (Downtown Brooklyn, Brooklyn);
    next on Mon, Jun 9 at 8:00 PM; tickets $17.25-$34.50, bookable through Outgoing.
    Picture: https://picsum.photos/seed/roulette-avant-jazz-series/800/500
    `details 4` · `book 4`
 5. Brooklyn Big Band Jazz Night
    Brooklyn Bowl · Sun 08 Jun, 19:30 · $30.25–$135.00
    Why: Matches “jazz”; jazz at Brooklyn Bowl (Williamsburg, Brooklyn); next on Sun,
    Jun 8 at 7:30 PM; tickets $30.25-$135, bookable through Outgoing.
    Picture: https://picsum.photos/seed/brooklyn-bowl-big-band/800/500
    `details 5` · `book 5`
Say `more` for the next ones.

> book 1
Which tickets for Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00?
1. Free RSVP · Free
2. Friends of BRIC Seating · $50.00
(Reply here or tap a button. If I hear nothing by <time> UTC, nothing is booked.)

> 1
Which tickets for Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00?
✓ Free RSVP · Free

How many Free RSVP tickets?
1. 1
2. 2
3. 3
4. 4
(Reply here or tap a button. If I hear nothing by <time> UTC, nothing is booked.)

> 2
How many Free RSVP tickets?
✓ 2

Book Celebrate Brooklyn! Jazz in Prospect Park?
  When: Thu 05 Jun, 19:00 (venue time)
  Where: Lena Horne Bandshell
  2 × Free RSVP (free)
  Total: free (fees included)
  Payment: dry run (no charge)
Confirm? Reply y to book or n to cancel.

> y
✅ Confirmed: booking Celebrate Brooklyn! Jazz in Prospect Park
  When: Thu 05 Jun, 19:00 (venue time)
  Where: Lena Horne Bandshell
  2 × Free RSVP (free)
  Total: free (fees included)
  Payment: dry run (no charge)

Booking sent to Outgoing for Celebrate Brooklyn! Jazz in Prospect Park; I'll post the result here.

Outgoing is processing your booking for Celebrate Brooklyn! Jazz in Prospect Park…

Booked: Celebrate Brooklyn! Jazz in Prospect Park, Thu 05 Jun, 19:00.
Confirmation code: OG-SBX-<code>
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/1.pdf
Tickets: http://127.0.0.1:<port>/sandbox/tickets/<id>/2.pdf
Venue notes: Show your confirmation code at Lena Horne Bandshell. RSVP holders get in first; lines start an hour early.
Dry run: nothing was charged.

> y
If the confirmation above is still open, use its button to go ahead (in the terminal, reply `y`): a typed answer can't approve it.\
""")


async def test_help(tmp_path: Path) -> None:
    transcript = await demo_output(tmp_path, ["help"])
    assert transcript == snapshot("""\
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (`plan …`): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). Whoever runs this concierge can connect them in its settings.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
  › search jazz tonight in Brooklyn
  › near Williamsburg
  › my orders
  › status

> help
Hi! I'm the concierge.
Here is what I can do here:
• Find things to do and book tickets (Outgoing) — nothing is booked until you confirm
• Plan an outing with a group (`plan …`): a vote in the chat, then each person approves their own ticket
Not connected: Call Agent (phone calls) and Onegent (reservations). Whoever runs this concierge can connect them in its settings.
I'm in offline mode (no ANTHROPIC_API_KEY is set), so I understand plain commands only.
Try one of these, or just tell me what you're after:
  › search jazz tonight in Brooklyn
  › near Williamsburg
  › my orders
  › status\
""")
