"""Property tests: the report's maths and the simulator's pagination."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_attendee.meetings.report import ReportBuilder, build_report
from tests.unit.events import Ev

T0 = 1_700_000_000_000
END = T0 + 3_600_000


events_strategy = st.lists(
    st.tuples(
        st.integers(min_value=-60_000, max_value=3_700_000),  # some outside the meeting on purpose
        st.sampled_from(["join", "leave", "speech_start", "speech_stop", "update"]),
        st.sampled_from(["a", "b", "c", "d"]),
    ),
    max_size=120,
).map(lambda raw: [Ev(f"pe_{i}", who, who.upper(), kind, T0 + ts) for i, (ts, kind, who) in enumerate(raw)])


@settings(max_examples=150, deadline=None)
@given(events_strategy)
def test_totals_never_exceed_the_meeting(events):
    report = build_report(events, T0, END)
    for person in report.participants:
        assert 0 <= person.speaking_seconds <= person.present_seconds + 1e-9 or person.speaking_seconds == 0
        assert 0 <= person.present_seconds <= report.duration_seconds
    assert report.peak_concurrent <= len(report.participants)
    assert report.total_speaking_seconds <= report.duration_seconds * max(len(report.participants), 1)
    assert (
        abs(sum(p.talk_share for p in report.participants) - (1 if report.total_speaking_seconds else 0))
        < 1e-3
    )


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False))
def test_order_of_same_time_and_nearby_events_does_not_matter(events, rnd):
    expected = build_report(events, T0, END)
    shuffled = events[:]
    rnd.shuffle(shuffled)
    # A window covering the whole meeting: any arrival order gives the same report.
    assert ReportBuilder(T0, END, reorder_window_ms=4_000_000).add_all(shuffled).finish() == expected


@settings(max_examples=100, deadline=None)
@given(events_strategy, st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8))
def test_splitting_the_stream_into_pages_does_not_matter(events, cuts):
    expected = build_report(events, T0, END)
    builder = ReportBuilder(T0, END)
    start = 0
    for size in cuts * 10:  # pages of arbitrary sizes, fed one after another
        if start >= len(events):
            break
        builder.add_all(events[start : start + size])
        start += size
    builder.add_all(events[start:])
    assert builder.finish() == expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=30))
def test_any_page_size_gives_every_item_once(attendee_simulator_server, page_size, count):
    sim = attendee_simulator_server
    sim.admin.reset(time_scale=0, page_size=page_size)
    headers = {"Authorization": f"Token {sim.api_key}", "Content-Type": "application/json"}
    created = []
    for i in range(count):
        response = httpx.post(
            f"{sim.url}/api/v1/bots",
            headers=headers,
            json={"meeting_url": f"https://zoom.us/j/{i + 1}", "bot_name": "b"},
        )
        created.append(response.json()["id"])
    seen, url, pages = [], f"{sim.url}/api/v1/bots", 0
    while url:
        page = httpx.get(url, headers=headers).json()
        assert len(page["results"]) <= page_size
        seen += [b["id"] for b in page["results"]]
        url, pages = page["next"], pages + 1
    assert seen == created  # every item once, in creation order
    assert pages == max(1, -(-count // page_size))
