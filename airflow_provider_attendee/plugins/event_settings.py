"""The administrator's switches for the webhook receiver and its background work, in Airflow's config
(section ``[attendee]``, or ``AIRFLOW__ATTENDEE__<OPTION>``); declared in the provider info, so that
``airflow config list`` shows them with their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

SECTION = "attendee"

#: name -> (default, description): the provider info's ``config`` section is built from this.
OPTIONS: dict[str, tuple[str, str]] = {
    "webhook_receiver": (
        "True",
        "Serve POST /attendee/webhooks on the API server (signature-checked, no Airflow login). "
        "False: the endpoint is not mounted.",
    ),
    "event_sweeper": (
        "True",
        "Run the background work in each API server: get attendee:// asset events that Airflow left "
        "behind consumed, catch up meetings that webhooks missed, prune old deliveries. It checks every 10 s "
        "whether any DAG is scheduled on an attendee:// asset, and does nothing else while none is.",
    ),
    "catch_up_interval": (
        "30",
        "Seconds between catch-up looks at the Attendee API for meetings that finished while webhooks "
        "could not be delivered (Airflow down, restarting, refusing). 0 turns the catch-up off.",
    ),
    "catch_up_conn_ids": (
        "",
        "Comma-separated Attendee connection ids to catch up, besides those the catch-up finds itself: "
        "Attendee connections with a webhook secret (metadata DB and AIRFLOW_CONN_* variables), and "
        "connections that deliveries named, accepted or refused, within delivery_retention_days.",
    ),
    "catch_up_lookback": (
        "3600",
        "Seconds the catch-up's first look at a connection reaches back: meetings that finished that long "
        "before it and that no delivery recorded (an outage or a refused secret before the catch-up "
        "first looked) are emitted then, once. 0: the first look starts from now. Capped at "
        "delivery_retention_days (the record that keeps a pushed meeting from being emitted twice).",
    ),
    "delivery_retention_days": (
        "3",
        "Days to keep webhook deliveries (replay protection, audit) and emitted meetings; older rows are "
        "pruned, and deliveries whose payload is older are refused.",
    ),
}


@dataclass(frozen=True)
class EventSettings:
    """The ``[attendee]`` options, parsed."""

    webhook_receiver: bool
    event_sweeper: bool
    catch_up_interval: float
    catch_up_conn_ids: tuple[str, ...]
    retention: timedelta
    #: How far the first look at a connection reaches back (at most ``retention``).
    catch_up_lookback: timedelta = timedelta(0)


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes", "on", "t", "y")


def read_settings() -> EventSettings:
    """The options as configured now (defaults where unset)."""
    from airflow_provider_attendee._compat import conf

    def get(name: str) -> str:
        return str(conf.get(SECTION, name, fallback=OPTIONS[name][0]))

    retention = timedelta(days=float(get("delivery_retention_days")))
    lookback = timedelta(seconds=max(0.0, float(get("catch_up_lookback"))))
    return EventSettings(
        webhook_receiver=_truthy(get("webhook_receiver")),
        event_sweeper=_truthy(get("event_sweeper")),
        catch_up_interval=max(0.0, float(get("catch_up_interval"))),
        catch_up_conn_ids=tuple(c.strip() for c in get("catch_up_conn_ids").split(",") if c.strip()),
        retention=retention,
        # Beyond the retention a pushed meeting's record is pruned: it could be emitted a second time.
        catch_up_lookback=min(lookback, retention),
    )


def provider_config() -> dict[str, object]:
    """The ``config`` entry of the provider info."""
    return {
        SECTION: {
            "description": "Attendee webhooks and finished-meeting events in the API server.",
            "options": {
                name: {
                    "description": description,
                    "version_added": "0.2.0",
                    "type": "boolean" if default in ("True", "False") else "string",
                    "example": None,
                    "default": default,
                }
                for name, (default, description) in OPTIONS.items()
            },
        }
    }
