"""Benchmark 2: N bot-state triggers in one asyncio loop, as a triggerer runs them, until their bots end.

Ours: AttendeeBotStateTrigger (the hook's shared AsyncClient: one connection pool for all). Baseline: the
same polling with a new httpx.AsyncClient per poll (what a hook without client reuse does). Reports memory
per trigger (tracemalloc: the Python memory the triggers hold once each has polled, over an idle baseline),
CPU seconds per 1,000 polls, TCP connections opened, and requests per bot per interval.

Then an outage: every request fails (HTTP 503) for ``outage_s`` seconds while the triggers poll. Ours retries
in one layer (the trigger's loop, one request per attempt, jittered backoff); the baseline is the two layers
of before (the connection's hook retries, 5 tries, inside the loop). Reports the requests sent during the
outage and the time until every trigger has polled successfully after it.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import time
import tracemalloc
from typing import Any

import httpx

from bench.common import print_table, save, simulator_process, use_connection


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
            from airflow_provider_attendee.client.models import Bot

            bot = Bot.model_validate_json(response.content)
            return {"status": "success", "state": bot.state} if bot.state in self.target_states else None

    cls = NewClientPerPoll if baseline else Counting
    return [
        cls(bot_id=b, target_states=["ended"], failure_states=["fatal_error"], poll_interval=interval)
        for b in bot_ids
    ]


async def _run_all(triggers: list[Any], interval: float) -> tuple[float, float]:
    started = time.monotonic()

    async def until_event(trigger: Any) -> tuple[Any, float]:
        event = await anext(trigger.run())
        return event, time.monotonic() - started

    outcomes = await asyncio.gather(*(until_event(t) for t in triggers))
    elapsed = time.monotonic() - started
    assert all(e.payload["status"] == "success" for e, _ in outcomes), {
        e.payload["status"] for e, _ in outcomes
    }
    # A trigger alive for L seconds should poll 1 + L / interval times: the ratio, averaged over bots.
    rates = [t.polls / (1 + lifetime / interval) for t, (_, lifetime) in zip(triggers, outcomes, strict=True)]
    return elapsed, sum(rates) / len(rates)


def measure(count: int, interval: float, time_scale: float, baseline: bool) -> dict[str, Any]:
    with simulator_process("--time-scale", "0", "--seed", "3") as sim:
        use_connection(sim)
        bot_ids = _create_bots(count)
        sim.admin.set_time_scale(time_scale)
        sim.admin.reset_counters()
        triggers = _make_triggers(bot_ids, interval, baseline)
        cpu = time.process_time()
        elapsed, rate = asyncio.run(_run_all(triggers, interval))
        cpu = time.process_time() - cpu
        counters = sim.admin.counters()
    polls = counters["requests"].get("GET /api/v1/bots/{bot_id}", 0)
    return {
        "triggers": count,
        "seconds": round(elapsed, 2),
        "polls": polls,
        "cpu_s_per_1000_polls": round(cpu / polls * 1000, 3),
        "tcp_connections": counters["connections"],
        "requests_per_bot_per_interval": round(rate, 3),
        "max_rss_kb_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def memory_per_trigger(count: int, interval: float) -> float:
    """KB of Python memory each trigger holds once it has polled (tracemalloc, over an idle baseline)."""
    with simulator_process("--time-scale", "0", "--seed", "4") as sim:
        use_connection(sim)
        bot_ids = _create_bots(count)

        async def hold() -> float:
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            triggers = _make_triggers(bot_ids, interval, baseline=False)
            tasks = [asyncio.create_task(anext(t.run())) for t in triggers]
            while any(t.polls == 0 for t in triggers):  # every trigger has polled once, and sleeps now
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.1)
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return held / count / 1024

        return round(asyncio.run(hold()), 2)


def outage(count: int, interval: float, outage_s: float, two_layers: bool) -> dict[str, Any]:
    """Requests sent during an outage of ``outage_s`` seconds, and the time to recover after it."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.triggers.attendee import AttendeeBotStateTrigger

    class Watched(AttendeeBotStateTrigger):
        last_ok = 0.0

        def make_hook(self) -> AttendeeHook:  # the baseline: the connection's retries inside the loop
            return AttendeeHook(self.attendee_conn_id) if two_layers else super().make_hook()

        async def poll(self, hook: AttendeeHook) -> dict[str, Any] | None:
            result = await super().poll(hook)
            self.last_ok = time.monotonic()
            return result

    with simulator_process("--time-scale", "0", "--seed", "5") as sim:
        use_connection(sim, retry_backoff=1.0, max_retries=5, max_retry_time=120)
        bot_ids = _create_bots(count)
        triggers = [
            Watched(
                bot_id=b,
                target_states=["ended"],
                failure_states=[],
                poll_interval=interval,
                max_transient_errors=1000,
            )
            for b in bot_ids
        ]

        async def scenario() -> dict[str, Any]:
            tasks = [asyncio.create_task(anext(t.run())) for t in triggers]
            await asyncio.sleep(interval * 1.5)  # everyone polls normally first
            sim.admin.reset_counters()
            sim.admin.set_faults(default={"rate_5xx": 1.0})
            await asyncio.sleep(outage_s)
            during = sim.admin.counters()["requests"].get("GET /api/v1/bots/{bot_id}", 0)
            sim.admin.set_faults()
            ended = time.monotonic()
            while any(t.last_ok < ended for t in triggers):
                await asyncio.sleep(0.05)
            recovered = time.monotonic() - ended
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return {
                "requests_during_outage": during,
                "requests_per_trigger": round(during / count, 1),
                "recovery_s": round(recovered, 1),
            }

        return asyncio.run(scenario())


def run(
    count: int = 1000,
    interval: float = 2.0,
    time_scale: float = 150.0,
    outage_s: float = 30.0,
    outage_interval: float = 30.0,
) -> dict[str, Any]:
    """``outage_interval``: the poll interval during the outage runs (the sensors' default, 30 s)."""
    return {
        "interval_s": interval,
        "outage_s": outage_s,
        "outage_interval_s": outage_interval,
        "ours": measure(count, interval, time_scale, baseline=False),
        "baseline_new_client_per_poll": measure(count, interval, time_scale, baseline=True),
        "memory_kb_per_trigger": memory_per_trigger(count, interval),
        "outage_one_layer": outage(count, outage_interval, outage_s, two_layers=False),
        "outage_two_layers": outage(count, outage_interval, outage_s, two_layers=True),
    }


def report(results: dict[str, Any]) -> None:
    keys = [
        "seconds",
        "polls",
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
            "CPU s/1000 polls",
            "TCP connections",
            "req/bot/interval",
        ],
        rows,
    )
    print(f"Memory held per polling trigger (tracemalloc): {results['memory_kb_per_trigger']} KB")
    outage_keys = ["requests_during_outage", "requests_per_trigger", "recovery_s"]
    print_table(
        f"   {results['ours']['triggers']} triggers polling every {results['outage_interval_s']:g} s through a "
        f"{results['outage_s']:g} s outage (every request answered 503)",
        ["retries", "requests during outage", "per trigger", "recovered after (s)"],
        [
            ("one layer (trigger loop, jittered)", *(results["outage_one_layer"][k] for k in outage_keys)),
            ("two layers (hook 5 tries x loop)", *(results["outage_two_layers"][k] for k in outage_keys)),
        ],
    )


if __name__ == "__main__":
    data = run()
    report(data)
    save("fanout", data)
