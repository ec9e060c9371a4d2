import pytest

from postlogin import tasks
from postlogin.schedules import beat_schedule


def test_relay_runs_every_few_seconds_and_its_messages_expire() -> None:
    entry = beat_schedule(relay_every=7)["postlogin-relay-pending"]
    assert entry["task"] == tasks.relay_pending.name
    assert entry == {
        "task": "postlogin.relay_pending",
        "schedule": 7,
        "options": {"expires": 7},
    }


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        beat_schedule(relay_every=0)
