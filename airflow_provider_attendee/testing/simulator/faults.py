"""Fault injection for the simulator: latency, 429s, 5xx (some as HTML pages), connection resets.

Faults are drawn from a seeded random generator, per route (first matching rule) or globally, and
counted so that tests and benchmarks can assert on what was injected.
"""

from __future__ import annotations

import random
import re
import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["none", "429", "5xx", "reset_before", "reset_after"]

HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>nginx</center></body></html>"
)


class FaultRule(BaseModel):
    """Faults for the requests it matches (``method`` and a regex on the path); rates are 0..1."""

    model_config = ConfigDict(extra="forbid")

    method: str | None = None
    path: str | None = None
    #: a regex the request body must match (e.g. one calendar event id), for faults aimed at one object
    body: str | None = None
    latency_ms: float = Field(default=0.0, ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    rate_429: float = Field(default=0.0, ge=0, le=1)
    retry_after_seconds: float = Field(default=1.0, ge=0)
    rate_5xx: float = Field(default=0.0, ge=0, le=1)
    html_fraction: float = Field(default=0.5, ge=0, le=1)
    rate_reset: float = Field(default=0.0, ge=0, le=1)
    #: Of the resets, the share that happen after the server processed the request (lost response).
    reset_after_fraction: float = Field(default=0.5, ge=0, le=1)

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.body and re.search(self.body, body.decode("utf-8", errors="replace")) is None:
            return False
        return not self.path or re.search(self.path, path) is not None


class FaultConfig(BaseModel):
    """The global rule plus per-route rules (the first matching route rule replaces the global one)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    default: FaultRule = Field(default_factory=FaultRule)
    routes: list[FaultRule] = Field(default_factory=list)


class Fault(BaseModel):
    kind: FaultKind = "none"
    delay_s: float = 0.0
    status: int = 0
    html: bool = False
    retry_after: float = 0.0


class FaultInjector:
    """Decides, per request, which fault (if any) to inject; thread-safe and reproducible by seed."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def decide(self, method: str, path: str, body: bytes = b"") -> Fault:
        config = self.config
        rule = next((r for r in config.routes if r.matches(method, path, body)), config.default)
        with self._lock:
            rng = self._rng
            delay = rule.latency_ms + (rng.uniform(0, rule.jitter_ms) if rule.jitter_ms else 0.0)
            roll = rng.random()
            fault = Fault(delay_s=delay / 1000.0)
            if roll < rule.rate_429:
                fault.kind, fault.status, fault.retry_after = "429", 429, rule.retry_after_seconds
            elif roll < rule.rate_429 + rule.rate_5xx:
                fault.kind, fault.status = "5xx", rng.choice([500, 502, 503])
                fault.html = rng.random() < rule.html_fraction
            elif roll < rule.rate_429 + rule.rate_5xx + rule.rate_reset:
                fault.kind = "reset_after" if rng.random() < rule.reset_after_fraction else "reset_before"
        return fault
