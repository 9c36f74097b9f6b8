"""Ground truth of the bundled ``demo`` scenario (scenarios/demo.json), defined once: what a correct run of
the example DAGs against it must produce. Used by the tests, the soak and the demo script."""

from __future__ import annotations

#: The demo's main meeting (Google Meet), with five participants.
PRODUCT_SYNC = "https://meet.google.com/abc-defg-hij"

#: The demo's calendar events that get a bot: a meeting link, not personal/lunch/focus, 2+ attendees.
ELIGIBLE = frozenset(
    {
        "Weekly product sync",
        "Acme renewal call",
        "Engineering standup",
        "Board prep",
        "1:1 Maya / Tom",
        "Design review",
        "Hiring sync",
    }
)

#: The product sync without faults: seconds spoken per participant.
TALK_TIME = {"Maya Chen": 72, "Tom Okafor": 58, "Priya Raman": 67, "Lukas Berg": 30, "Sofia Alvarez": 35}
