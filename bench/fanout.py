"""Benchmark 2: N bot-state triggers in one asyncio loop, as a triggerer runs them, until their bots end.

Ours: AttendeeBotStateTrigger (the hook's shared AsyncClient: one connection pool for all). Baseline: the
same polling with a new httpx.AsyncClient per poll (what a hook without client reuse does). Reports RSS
growth per trigger, CPU seconds per 1,000 polls, TCP connections opened, and requests per bot per interval.
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

import httpx

from bench.common import print_table, rss_kb, save, simulator_process, use_connection


def _create_bots(count: int) -> list[str]:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    with AttendeeHook() as hook:
        return [
            hook.create_bot(f"https://zoom.us/j/{500_000 + i}", bot_name="Bench").id for i in range(count)
        ]


def _make_triggers(bot_ids: list[str], interval: float, baseline: bool) -> list[Any]:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.triggers.attendee import AttendeeBotStateTrigger

    class Counting(AttendeeBotStateTrigger):
        """Ours, counting its polls."""

        polls = 0

        async def poll(self, hook: AttendeeHook) -> dict[str, Any] | None:
            self.polls += 1
            return await super().poll(hook)

    class NewClientPerPoll(AttendeeBotStateTrigger):
        """The baseline: every poll opens (and closes) its own client and connection."""

        polls = 0

        async def poll(self, hook: AttendeeHook) -> dict[str, Any] | None:
            self.polls += 1
            settings = await hook.aget_settings()
            async with httpx.AsyncClient(**settings.client_kwargs()) as client:
                response = await client.get(f"{settings.base_url}/api/v1/bots/{self.bot_id}")
            from airflow_provider_attendee.models import Bot

            bot = Bot.model_validate_json(response.content)
            return {"status": "success", "state": bot.state} if bot.state in self.target_states else None

    cls = NewClientPerPoll if baseline else Counting
    return [
        cls(bot_id=b, target_states=["ended"], failure_states=["fatal_error"], poll_interval=interval)
        for b in bot_ids
    ]


async def _run_all(triggers: list[Any], interval: float) -> tuple[float, int, float]:
    peak = rss_kb()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kb())
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()

    async def until_event(trigger: Any) -> tuple[Any, float]:
        event = await anext(trigger.run())
        return event, time.monotonic() - started

    outcomes = await asyncio.gather(*(until_event(t) for t in triggers))
    elapsed = time.monotonic() - started
    done.set()
    await sampler
    assert all(e.payload["status"] == "success" for e, _ in outcomes), {
        e.payload["status"] for e, _ in outcomes
    }
    # A trigger alive for L seconds should poll 1 + L / interval times: the ratio, averaged over bots.
    rates = [t.polls / (1 + lifetime / interval) for t, (_, lifetime) in zip(triggers, outcomes, strict=True)]
    return elapsed, peak, sum(rates) / len(rates)


def measure(count: int, interval: float, time_scale: float, baseline: bool) -> dict[str, Any]:
    with simulator_process("--time-scale", "0", "--seed", "3") as sim:
        use_connection(sim)
        bot_ids = _create_bots(count)
        sim.admin.set_time_scale(time_scale)
        sim.admin.reset_counters()
        before = rss_kb()  # before the trigger objects exist: their own memory counts
        triggers = _make_triggers(bot_ids, interval, baseline)
        cpu = time.process_time()
        elapsed, peak, rate = asyncio.run(_run_all(triggers, interval))
        cpu = time.process_time() - cpu
        counters = sim.admin.counters()
    polls = counters["requests"].get("GET /api/v1/bots/{bot_id}", 0)
    return {
        "triggers": count,
        "seconds": round(elapsed, 2),
        "polls": polls,
        "rss_growth_kb_per_trigger": round((peak - before) / count, 1),
        "cpu_s_per_1000_polls": round(cpu / polls * 1000, 3),
        "tcp_connections": counters["connections"],
        "requests_per_bot_per_interval": round(rate, 3),
        "max_rss_kb_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def run(count: int = 1000, interval: float = 2.0, time_scale: float = 150.0) -> dict[str, Any]:
    return {
        "interval_s": interval,
        "ours": measure(count, interval, time_scale, baseline=False),
        "baseline_new_client_per_poll": measure(count, interval, time_scale, baseline=True),
    }


def report(results: dict[str, Any]) -> None:
    keys = [
        "seconds",
        "polls",
        "rss_growth_kb_per_trigger",
        "cpu_s_per_1000_polls",
        "tcp_connections",
        "requests_per_bot_per_interval",
    ]
    rows = [(name, *(results[name][k] for k in keys)) for name in ("ours", "baseline_new_client_per_poll")]
    print_table(
        f"2. Trigger fan-out: {results['ours']['triggers']} bot-state triggers in one event loop, "
        f"polling every {results['interval_s']:g} s until their bots end",
        [
            "run",
            "seconds",
            "polls",
            "RSS KB/trigger",
            "CPU s/1000 polls",
            "TCP connections",
            "req/bot/interval",
        ],
        rows,
    )


if __name__ == "__main__":
    data = run()
    report(data)
    save("fanout", data)
