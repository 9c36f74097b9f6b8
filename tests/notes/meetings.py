"""Scripted meetings for the notes tests: transcript records as the transcript operator writes them."""

from __future__ import annotations

import random
from typing import Any

PEOPLE = ["Maya Chen", "Tom Okafor", "Priya Raman", "Lukas Berg", "Sofia Alvarez"]
UUIDS = {name: f"{i:08d}-uuid-{name.split()[0].lower()}" for i, name in enumerate(PEOPLE)}
SENTENCES = [
    "Tickets are down twelve percent since the release.",
    "I'll send the migration plan by Friday.",
    "We decided to ship the new onboarding flow next sprint.",
    "Can we afford another week of testing before the launch?",
    "The dashboard numbers look right to me but the export is still slow.",
    "Let's go with the smaller rollout and watch the error rate.",
    "I will talk to the vendor about the renewal terms.",
    "Who owns the on-call rotation after the reorg?",
]


def record(speaker: str, offset_ms: int, text: str, duration_ms: int = 6000) -> dict[str, Any]:
    return {
        "speaker": speaker,
        "speaker_name": speaker,
        "speaker_uuid": UUIDS.get(speaker, "ffffffff-unknown"),
        "offset_ms": offset_ms,
        "duration_ms": duration_ms,
        "text": text,
    }


def meeting(minutes: int, seed: int = 7) -> list[dict[str, Any]]:
    """A meeting of ``minutes``: a turn every ~20 s, speakers mostly alternating (sometimes twice in a row)."""
    rng = random.Random(seed)
    rows, offset, speaker = [], 0, PEOPLE[0]
    while offset < minutes * 60_000:
        if rng.random() > 0.2:
            speaker = rng.choice([p for p in PEOPLE if p != speaker])
        text = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 3)))
        rows.append(record(speaker, offset, text, duration_ms=15_000))
        offset += 20_000
    return rows
