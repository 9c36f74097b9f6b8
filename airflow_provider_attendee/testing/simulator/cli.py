"""The simulator's CLI (run as ``python -m airflow_provider_attendee.testing serve --port 8000 --scenario demo``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from airflow_provider_attendee.testing.simulator.core import DEFAULT_API_KEY, AttendeeSimulator
from airflow_provider_attendee.testing.simulator.faults import FaultConfig, FaultRule
from airflow_provider_attendee.testing.simulator.server import SimulatorServer
from airflow_provider_attendee.testing.simulator.webhook_delivery import SENDERS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_attendee.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the simulated Attendee API",
        description="Serve the simulated Attendee API. Point an Attendee connection at it: Attendee URL "
        f"http://127.0.0.1:8000 (the --host and --port), API key {DEFAULT_API_KEY} (or the --api-key given).",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--api-key",
        default=DEFAULT_API_KEY,
        help=f"the API key clients must send (default: {DEFAULT_API_KEY})",
    )
    serve.add_argument("--scenario", default=None, help="JSON/YAML file or bundled name (e.g. demo)")
    serve.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--page-size", type=int, default=None)
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument("--jitter-ms", type=float, default=0.0)
    serve.add_argument("--rate-429", type=float, default=0.0, help="fraction of requests answered 429")
    serve.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds of injected 429s")
    serve.add_argument("--rate-5xx", type=float, default=0.0, help="fraction answered 500/502/503")
    serve.add_argument("--rate-reset", type=float, default=0.0, help="fraction of dropped connections")
    serve.add_argument(
        "--webhook-senders",
        type=int,
        default=SENDERS,
        help=f"webhooks delivered at once (default {SENDERS}; Attendee: one per free Celery worker slot)",
    )
    return parser


def banner(host: str, port: int, api_key: str, time_scale: float) -> str:
    """What a person needs to point a connection at the simulator (a key given with --api-key is theirs:
    not echoed)."""
    key = api_key if api_key == DEFAULT_API_KEY else "the one given with --api-key"
    return (
        f"Attendee simulator on http://{host}:{port} (admin: /_sim/, time scale {time_scale:g})\n"
        f"API key: {key}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = FaultConfig(
        seed=args.seed,
        default=FaultRule(
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            rate_429=args.rate_429,
            retry_after_seconds=args.retry_after,
            rate_5xx=args.rate_5xx,
            rate_reset=args.rate_reset,
        ),
    )
    simulator = AttendeeSimulator(
        api_key=args.api_key,
        scenario=args.scenario,
        time_scale=args.time_scale,
        seed=args.seed,
        page_size=args.page_size,
        faults=faults,
        webhook_senders=args.webhook_senders,
    )
    server = SimulatorServer(simulator, host=args.host, port=args.port)
    print(banner(args.host, args.port, args.api_key, args.time_scale), flush=True)
    server.serve_forever()
    return 0
