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


def test_stale_partials_are_cleared_every_ten_minutes() -> None:
    entry = beat_schedule()["postlogin-clear-stale-partials"]
    assert entry["task"] == tasks.clear_stale_partials.name
    assert entry["schedule"] == 600


def test_the_ledger_is_pruned_hourly_unless_turned_off() -> None:
    entry = beat_schedule()["postlogin-prune"]
    assert entry["task"] == tasks.prune_jobs.name
    assert entry == {"task": "postlogin.prune", "schedule": 3600, "options": {"expires": 3600}}
    assert "postlogin-prune" not in beat_schedule(prune_every=None)


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        beat_schedule(relay_every=0)
    with pytest.raises(ValueError, match="positive"):
        beat_schedule(clear_partials_every=-1)
    with pytest.raises(ValueError, match="positive"):
        beat_schedule(prune_every=-1)
