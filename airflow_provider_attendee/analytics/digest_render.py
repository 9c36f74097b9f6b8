"""Render a :class:`~airflow_provider_attendee.analytics.digest.Digest` as Markdown, HTML and (with
matplotlib, the ``report`` extra) PNG charts (pure, no Airflow)."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date
from typing import Any

from airflow_provider_attendee.analytics.action_items import per_owner
from airflow_provider_attendee.analytics.digest import Digest

#: Chart file names, in the order the digest shows them.
CHARTS = {
    "hours": "hours.png",
    "talk_share": "talk_share.png",
    "attendance": "attendance.png",
    "failures": "failures.png",
}
TOP_PEOPLE = 15
TOP_CALENDARS = 6
TOP_SERIES = 8


def _short(week: str) -> str:
    return date.fromisoformat(week).strftime("%b %d")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _trend(value: float | None) -> str:
    if value is None:
        return "new"
    points = round(value * 100)
    return "=" if points == 0 else f"{'▲' if points > 0 else '▼'} {abs(points)} pts"


def _change(value: float | None) -> str:
    if value is None:
        return "-"
    return "=" if abs(value) < 0.05 else f"{'+' if value > 0 else ''}{value:.1f}"


def _people(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def summary_line(digest: Digest) -> str:
    week = digest.this_week()
    failed = sum(f.this_week for f in digest.failures)
    reasons = ", ".join(f"{f.reason} x{f.this_week}" for f in digest.failures if f.this_week)
    return (
        f"{week.meetings} meeting{'s' if week.meetings != 1 else ''}, {week.hours:g} h of meetings, "
        f"{week.person_hours:g} person-hours, {week.people} people. "
        + (f"{failed} bot{'s' if failed != 1 else ''} failed ({reasons})." if failed else "No bot failed.")
    )


def tables(digest: Digest) -> list[tuple[str, list[str], list[list[str]], str | None]]:
    """The digest's sections as (title, header, rows, chart key): shared by Markdown and HTML."""
    weeks = digest.weeks
    hours = [
        [
            w.week + (" (this week)" if w.week == digest.week else ""),
            str(w.meetings),
            f"{w.hours:g}",
            f"{w.person_hours:g}",
            str(w.people),
        ]
        for w in digest.totals
    ]
    calendars = [
        [c.calendar, *(f"{c.hours[w]:g}" for w in weeks), str(c.meetings)]
        for c in digest.calendars[:TOP_CALENDARS]
    ]
    people = [
        [
            p.name + (f" <{p.email}>" if p.email else ""),
            str(p.meetings),
            _duration(p.speaking_seconds),
            f"{p.share:.0%}",
            "-" if p.previous_share is None else f"{p.previous_share:.0%}",
            _trend(p.trend),
        ]
        for p in digest.people[:TOP_PEOPLE]
    ]
    series = [
        [
            s.name,
            str(s.occurrences),
            " → ".join(f"{attended:g}" for _, _, attended, _ in s.weeks),
            _people(s.weeks[-1][3]),
            _change(s.change),
        ]
        for s in digest.series[:TOP_SERIES]
    ]
    failures = [[f.reason, str(f.this_week), str(f.window)] for f in digest.failures]
    actions = [
        [
            owner,
            str(len(items)),
            "; ".join(
                f"{i.what}{f' (due {i.due})' if i.due else ''}{f' [{i.meeting}]' if i.meeting else ''}"
                for i in items
            ),
        ]
        for owner, items in per_owner(digest.open_action_items).items()
    ]
    return [
        ("Meeting hours per week", ["Week", "Meetings", "Hours", "Person-hours", "People"], hours, "hours"),
        (
            "Meeting hours per calendar",
            ["Calendar", *(_short(w) for w in weeks), "Meetings this week"],
            calendars,
            None,
        ),
        (
            "Talk-time share (of the talk in the meetings each person attended)",
            ["Person", "Meetings", "Spoke", "Share", f"Previous {len(weeks) - 1} weeks", "Trend"],
            people,
            "talk_share",
        ),
        (
            "Attendance per recurring meeting (average attended per week, oldest first)",
            ["Meeting", "Occurrences", "Attended", "Invited (last)", "Change"],
            series,
            "attendance",
        ),
        (
            "Failed bots by reason",
            ["Reason", "This week", f"Last {len(weeks)} weeks"],
            failures,
            "failures",
        ),
        ("Open action items per owner (from the meeting notes)", ["Owner", "Open", "Items"], actions, None),
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(digest: Digest, charts: dict[str, str], title: str = "Meeting digest") -> str:
    """The digest as Markdown; ``charts`` maps chart keys to the file names written beside it."""
    lines = [f"# {title}: week of {digest.week}", "", summary_line(digest), ""]
    for heading, header, rows, chart in tables(digest):
        lines += [f"## {heading}", ""]
        if rows:
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        else:
            lines.append("None in these weeks.")
        if chart and chart in charts and rows:
            lines += ["", f"![{heading}]({charts[chart]})"]
        lines.append("")
    if digest.failed_bots:
        lines += ["Failed this week:", ""]
        lines += [f"- {b.name} ({b.platform}, {b.when or '?'} UTC): {b.reason}" for b in digest.failed_bots]
        lines.append("")
    return "\n".join(lines)


STYLE = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;
padding:0 1em;color:#1f2328;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #d0d7de}
.summary{font-size:1.05em;color:#444}table{border-collapse:collapse;margin:.6em 0}
th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;margin:.5em 0}
.up{color:#1a7f37}.down{color:#cf222e}.muted{color:#6e7781}
"""


def _html_cell(text: str) -> str:
    numeric = text.replace(".", "").replace(":", "").replace("%", "").replace("-", "").strip().isdigit()
    css = "num" if numeric else ""
    if text.startswith("▲"):
        css = "num up"
    elif text.startswith("▼"):
        css = "num down"
    return f'<td class="{css}">{html.escape(text)}</td>' if css else f"<td>{html.escape(text)}</td>"


def to_html(digest: Digest, charts: dict[str, str], title: str = "Meeting digest") -> str:
    """The digest as one self-contained HTML page (charts referenced by file name, beside it)."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}: week of {digest.week}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}: week of {digest.week}</h1>",
        f'<p class="summary">{html.escape(summary_line(digest))}</p>',
    ]
    for heading, header, rows, chart in tables(digest):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if not rows:
            parts.append('<p class="muted">None in these weeks.</p>')
            continue
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
        if chart and chart in charts:
            parts.append(f'<img src="{html.escape(charts[chart])}" alt="{html.escape(heading)}">')
    if digest.failed_bots:
        parts.append("<p>Failed this week:</p><ul>")
        parts += [
            f"<li>{html.escape(b.name)} ({html.escape(b.platform)}, {html.escape(b.when or '?')} UTC): "
            f"<code>{html.escape(b.reason)}</code></li>"
            for b in digest.failed_bots
        ]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def chart_writers(digest: Digest) -> dict[str, Callable[[str], None]] | None:
    """Functions writing each chart with data to a local PNG, by chart key; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None

    def save(fig: Any, path: str) -> None:
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    labels = [_short(w) for w in digest.weeks]

    def hours(path: str) -> None:
        fig, ax = plt.subplots(figsize=(9, 3.8))
        bottom = [0.0] * len(digest.weeks)
        shown = digest.calendars[:TOP_CALENDARS]
        rest = digest.calendars[TOP_CALENDARS:]
        stacks = [(c.calendar, [c.hours[w] for w in digest.weeks]) for c in shown]
        if rest:
            stacks.append(("other", [sum(c.hours[w] for c in rest) for w in digest.weeks]))
        # Numeric positions, then the week labels: bars at the labels themselves make matplotlib log
        # "Using categorical units ..." once per stack (the labels parse as dates).
        positions = range(len(labels))
        for name, values in stacks:
            ax.bar(positions, values, bottom=bottom, label=name)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(positions, labels)
        ax.set_ylabel("meeting hours")
        ax.set_title("Meeting hours per week, by calendar")
        if stacks:
            ax.legend(fontsize=8, loc="upper left")
        save(fig, path)

    def talk_share(path: str) -> None:
        people = list(reversed(digest.people[:TOP_PEOPLE]))
        fig, ax = plt.subplots(figsize=(9, 1 + 0.38 * len(people)))
        names = [p.name for p in people]
        ax.barh(names, [p.share * 100 for p in people], color="#1f77b4", label="this week")
        earlier = [(i, p.previous_share * 100) for i, p in enumerate(people) if p.previous_share is not None]
        if earlier:
            ax.scatter([v for _, v in earlier], [i for i, _ in earlier], color="#d62728", zorder=3,
                       marker="|", s=300, label="previous weeks")  # fmt: skip
        ax.set_xlabel("% of the talk in the meetings attended")
        ax.set_title("Talk-time share, this week against the previous weeks")
        ax.legend(fontsize=8, loc="lower right")
        save(fig, path)

    def attendance(path: str) -> None:
        fig, ax = plt.subplots(figsize=(9, 3.8))
        for item in digest.series[:TOP_SERIES]:
            points = {week: attended for week, _, attended, _ in item.weeks}
            values = [points.get(w, float("nan")) for w in digest.weeks]  # NaN: no meeting that week
            ax.plot(range(len(labels)), values, marker="o", label=item.name[:40])
        ax.set_xticks(range(len(labels)), labels)
        ax.set_ylabel("people attending (average)")
        ax.set_title("Attendance per recurring meeting")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="lower left")
        save(fig, path)

    def failures(path: str) -> None:
        reasons = list(reversed(digest.failures))
        fig, ax = plt.subplots(figsize=(9, 1.6 + 0.45 * len(reasons)))
        names = [f.reason for f in reasons]
        ax.barh(names, [f.window for f in reasons], color="#f4b6b6", label=f"last {len(digest.weeks)} weeks")
        ax.barh(names, [f.this_week for f in reasons], color="#cf222e", label="this week")
        ax.set_xlabel("failed bots")
        ax.set_title("Failed bots by reason")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False)
        save(fig, path)

    available = {
        "hours": (hours, bool(digest.calendars)),
        "talk_share": (talk_share, bool(digest.people)),
        "attendance": (attendance, bool(digest.series)),
        "failures": (failures, bool(digest.failures)),
    }
    return {key: writer for key, (writer, has_data) in available.items() if has_data}
