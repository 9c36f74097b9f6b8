from __future__ import annotations

from airflow_provider_attendee.hooks.attendee import AttendeeHook


def test_full_bot_lifecycle_conforms(attendee_simulator, openapi_contract):
    hook = AttendeeHook()
    bot = hook.create_bot("https://meet.google.com/abc-defg-hij", bot_name="Notes", deduplication_key="k1")
    attendee_simulator.admin.advance(400)
    assert list(hook.list_participant_events(bot.id))
    hook.list_bots(states=["joined_recording", "ended"]).__next__()
    hook.leave_bot(bot.id)
    attendee_simulator.admin.advance(30)
    assert hook.get_transcript(bot.id)
    hook.get_recording(bot.id)
    list(hook.list_participants(bot.id, is_host=True))
    list(hook.list_calendar_events())
    assert len(openapi_contract) >= 8
