"""A small but real recording: a mono 16-bit PCM WAV with a tone, generated in chunks on the fly."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator

SAMPLE_RATE = 8000
CHUNK_SAMPLES = 8000


def wav_size(seconds: float) -> int:
    """Total bytes of the WAV file for ``seconds`` of audio (44-byte header + 2 bytes a sample)."""
    return 44 + 2 * int(seconds * SAMPLE_RATE)


def wav_header(samples: int) -> bytes:
    data_bytes = 2 * samples
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def wav_chunks(seconds: float, frequency: float = 440.0) -> Iterator[bytes]:
    """The WAV file for ``seconds`` of a sine tone, yielded in one-second chunks (constant memory)."""
    samples = int(seconds * SAMPLE_RATE)
    yield wav_header(samples)
    step = 2 * math.pi * frequency / SAMPLE_RATE
    for start in range(0, samples, CHUNK_SAMPLES):
        count = min(CHUNK_SAMPLES, samples - start)
        values = (int(8000 * math.sin(step * (start + i))) for i in range(count))
        yield struct.pack(f"<{count}h", *values)
