"""Render a MeetingReport as JSON, CSV, Markdown and (with matplotlib) a PNG timeline chart."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from airflow_provider_attendee.client.names import distinct_labels
from airflow_provider_attendee.meetings.report import MeetingReport

CSV_FIELDS = [
    "name",
    "uuid",
    "is_host",
    "first_join",
    "last_leave",
    "present_seconds",
    "speaking_seconds",
    "talk_share",
    "speaking_turns",
    "joins",
    "speaking_source",
]
#: How each speaking source reads in the Markdown and on the chart.
SOURCE_LABELS = {
    "speech_events": "from the speech events",
    "transcript": "from the transcript",
    "none": "unknown: no speech events, no transcript",
}


def _minutes(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def to_json(report: MeetingReport, extra: dict[str, Any] | None = None) -> str:
    return json.dumps({**(extra or {}), **asdict(report)}, ensure_ascii=False, indent=1) + "\n"


def to_csv(report: MeetingReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for person in report.participants:
        writer.writerow({**asdict(person), "speaking_source": report.speaking_source})
    return buffer.getvalue()


def to_markdown(report: MeetingReport, title: str = "Meeting report") -> str:
    lines = [
        f"# {title}",
        "",
        f"- Duration: {_minutes(report.duration_seconds)} ({report.start} to {report.end})",
        f"- Participants: {len(report.participants)}, at most {report.peak_concurrent} at once"
        + (f" ({report.peak_at})" if report.peak_at else ""),
        f"- Talk time: {_minutes(report.total_speaking_seconds)} "
        f"({SOURCE_LABELS.get(report.speaking_source, report.speaking_source)})",
        "",
        "| Participant | Present | Spoke | Share | Turns |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = distinct_labels((p.uuid, p.name) for p in report.participants)
    for p in report.participants:
        host = " (host)" if p.is_host else ""
        lines.append(
            f"| {labels[p.uuid]}{host} | {_minutes(p.present_seconds)} | {_minutes(p.speaking_seconds)} | "
            f"{p.talk_share:.0%} | {p.speaking_turns} |"
        )
    if report.notes or report.anomalies:
        lines += ["", "Data notes:", ""] + [f"- {note}" for note in report.notes]
        if report.anomalies:
            lines.append("- Events adjusted: " + ", ".join(f"{k} x{v}" for k, v in report.anomalies.items()))
    return "\n".join(lines) + "\n"


def chart_writer(report: MeetingReport, intervals: dict[str, dict[str, list[tuple[int, int]]]]) -> Any:
    """A function writing the PNG chart to a local file, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    def minutes(iso_or_ms: str | int, origin: float) -> float:
        seconds = (
            iso_or_ms / 1000
            if isinstance(iso_or_ms, int)
            else datetime.fromisoformat(iso_or_ms.replace("Z", "+00:00")).timestamp()
        )
        return (seconds - origin) / 60

    def write(path: str) -> None:
        origin = minutes(report.start, 0) * 60 if report.start else 0.0
        people = [p for p in report.participants if p.uuid in intervals]
        fig, (ax_people, ax_count) = plt.subplots(
            2,
            1,
            figsize=(10, 1.2 + 0.45 * max(len(people), 1) + 2),
            height_ratios=[max(len(people), 1), 2],
            sharex=True,
        )
        for row, person in enumerate(reversed(people)):
            spans = intervals[person.uuid]
            for kind, height, color in (("present", 0.3, "#cfe2f3"), ("speaking", 0.2, "#1f77b4")):
                bars = [(minutes(s, origin), (e - s) / 60_000) for s, e in spans[kind]]
                ax_people.broken_barh(bars, (row - height, 2 * height), color=color)
        labels = distinct_labels((p.uuid, p.name) for p in report.participants)
        ax_people.set_yticks(range(len(people)), [labels[p.uuid] for p in reversed(people)])
        source = SOURCE_LABELS.get(report.speaking_source, report.speaking_source)
        ax_people.set_title(f"Attendance (light) and speaking (dark, {source})")
        times = [minutes(t, origin) for t, _ in report.timeline]
        ax_count.step(times, [c for _, c in report.timeline], where="post")
        ax_count.set_ylabel("present")
        ax_count.set_xlabel("minutes since the bot joined")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return write
