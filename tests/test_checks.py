"""System checks: each one fires on the configuration it is about, and only there."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from celery import current_app
from django.apps import apps
from django.core.checks import CheckMessage, Error, Warning
from django.core.checks import run_checks as run_all_checks
from django.core.management import call_command
from django.test import modify_settings, override_settings

from postlogin.checks import celery_config
from postlogin.checks import conf as conf_checks
from postlogin.schedules import beat_schedule
from postlogin.social import checks as pipeline

from . import settings as test_settings
from .helpers import BOUNDED_BROKER_OPTIONS, celery_app

Check = Callable[..., list[CheckMessage]]
STEP = "postlogin.social.pipeline.schedule_post_login_tasks"
DEFAULT_PIPELINE = [
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
]
REDIS = "redis://127.0.0.1:6379/0"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def run_checks(**kwargs: Any) -> list[Any]:
    """Django's check framework, less what settings.SILENCED_SYSTEM_CHECKS silences (as
    `manage.py check` shows them)."""
    return [message for message in run_all_checks(**kwargs) if not message.is_silenced()]


@pytest.fixture(autouse=True)
def no_project_app() -> None:
    """Unless a test makes one current, there is no project app: Celery's fallback is current."""
    assert current_app.main == "default", "an earlier test left its Celery app current"


def ids(check: Check, **kwargs: Any) -> list[str]:
    return [str(message.id) for message in check(None, **kwargs)]


def only_message(check: Check) -> CheckMessage:
    (message,) = check(None)
    return message


# --- the good configurations ------------------------------------------------------------------


def test_the_test_settings_pass_every_check() -> None:
    assert run_checks(tags=["postlogin"]) == []
    call_command("check", fail_level="WARNING", stdout=StringIO())


def test_every_check_has_a_hint_and_an_id_of_its_own() -> None:
    with (
        override_settings(
            DEBUG=False,
            SOCIAL_AUTH_PIPELINE=[STEP, *DEFAULT_PIPELINE, pipeline.ASSOCIATE_BY_EMAIL],
        ),
        celery_app(
            REDIS,
            broker_transport_options={"visibility_timeout": 60},
            result_backend=REDIS,
            task_store_errors_even_if_ignored=True,
            task_annotations={"*": {"acks_late": False}},
        ),
    ):
        messages = run_checks(tags=["postlogin"])
    found = [str(message.id) for message in messages]
    assert sorted(found) == [
        "postlogin.E001",
        "postlogin.W002",
        "postlogin.W003",
        "postlogin.W004",
        "postlogin.W005",
        "postlogin.W006",
        "postlogin.W007",
    ]
    assert all(message.hint for message in messages)


# --- SOCIAL_AUTH_PIPELINE: E001, W001, W002 ---------------------------------------------------


def test_step_missing_from_the_pipeline_is_w001() -> None:
    with override_settings(SOCIAL_AUTH_PIPELINE=DEFAULT_PIPELINE):
        message = only_message(pipeline.check_pipeline_step)
    assert isinstance(message, Warning)
    assert message.id == "postlogin.W001"
    assert STEP in str(message.hint)


def test_social_auths_default_pipeline_lacks_the_step(settings: Any) -> None:
    del settings.SOCIAL_AUTH_PIPELINE
    assert ids(pipeline.check_pipeline_step) == ["postlogin.W001"]


@pytest.mark.parametrize(
    ("position", "named"),
    [
        (6, "social_core.pipeline.user.create_user"),
        (7, "social_core.pipeline.social_auth.associate_user"),
    ],
)
def test_step_before_the_user_exists_is_e001(position: int, named: str) -> None:
    steps = [*DEFAULT_PIPELINE]
    steps.insert(position, STEP)
    with override_settings(SOCIAL_AUTH_PIPELINE=steps):
        message = only_message(pipeline.check_pipeline_step)
    assert isinstance(message, Error)
    assert message.id == "postlogin.E001"
    assert f"comes before {named!r}" in message.msg
    assert "Move" in str(message.hint)


def test_a_custom_create_user_step_counts_too() -> None:
    steps = [*DEFAULT_PIPELINE[:6], STEP, "myapp.pipeline.create_user"]
    with override_settings(SOCIAL_AUTH_PIPELINE=steps):
        assert ids(pipeline.check_pipeline_step) == ["postlogin.E001"]


def test_step_after_the_user_steps_is_right() -> None:
    # Not necessarily last: what matters is that the user and the association exist.
    steps = [*DEFAULT_PIPELINE[:8], STEP, *DEFAULT_PIPELINE[8:]]
    with override_settings(SOCIAL_AUTH_PIPELINE=steps):
        assert ids(pipeline.check_pipeline_step) == []


def test_associate_by_email_is_w002() -> None:
    steps = [*DEFAULT_PIPELINE[:5], pipeline.ASSOCIATE_BY_EMAIL, *DEFAULT_PIPELINE[5:], STEP]
    with override_settings(SOCIAL_AUTH_PIPELINE=steps):
        message = only_message(pipeline.check_associate_by_email)
        assert ids(pipeline.check_pipeline_step) == []
    assert message.id == "postlogin.W002"
    assert f"Remove {pipeline.ASSOCIATE_BY_EMAIL!r}" in str(message.hint)


def test_pipeline_checks_are_silent_without_social_auth() -> None:
    with (
        modify_settings(INSTALLED_APPS={"remove": ["social_django"]}),
        override_settings(SOCIAL_AUTH_PIPELINE=[pipeline.ASSOCIATE_BY_EMAIL]),
    ):
        assert ids(pipeline.check_pipeline_step) == []
        assert ids(pipeline.check_associate_by_email) == []


def test_a_malformed_pipeline_is_left_to_social_auth() -> None:
    with override_settings(SOCIAL_AUTH_PIPELINE=STEP):
        assert ids(pipeline.check_pipeline_step) == []


OLD_STEP = "postlogin.pipeline.schedule_post_login_tasks"
OLD_GATE = "postlogin.pipeline.require_phone_number"


def test_the_old_step_path_counts_as_the_step_and_is_w011() -> None:
    with override_settings(SOCIAL_AUTH_PIPELINE=[*DEFAULT_PIPELINE, OLD_GATE, OLD_STEP]):
        assert ids(pipeline.check_pipeline_step) == []
        messages = pipeline.check_deprecated_step_paths(None)
    assert [message.id for message in messages] == ["postlogin.W011", "postlogin.W011"]
    assert all(isinstance(message, Warning) for message in messages)
    assert messages[1].hint == f"Replace {OLD_STEP!r} with {STEP!r}."
    assert "postlogin.social.pipeline.require_phone_number" in str(messages[0].hint)


def test_the_old_step_path_before_the_user_exists_is_e001_naming_it() -> None:
    steps = [*DEFAULT_PIPELINE[:6], OLD_STEP, *DEFAULT_PIPELINE[6:]]
    with override_settings(SOCIAL_AUTH_PIPELINE=steps):
        message = only_message(pipeline.check_pipeline_step)
    assert message.id == "postlogin.E001"
    assert message.msg.startswith(f"{OLD_STEP!r} comes before")


def test_the_new_paths_are_not_w011() -> None:
    assert ids(pipeline.check_deprecated_step_paths) == []


# --- settings.POSTLOGIN: E002, W008, W009 -----------------------------------------------------


def test_invalid_postlogin_settings_are_e002_not_a_crash() -> None:
    with override_settings(POSTLOGIN={"JOB_LEASE": 0}):
        message = only_message(conf_checks.check_settings_valid)
        # The other checks that read POSTLOGIN leave it to E002.
        with celery_app(REDIS):
            assert ids(celery_config.check_visibility_timeout) == []
    assert isinstance(message, Error)
    assert message.id == "postlogin.E002"
    assert "POSTLOGIN['JOB_LEASE'] must be a positive integer" in message.msg


@pytest.mark.parametrize(
    "network", ["10.0.0.0/8", "127.0.0.1/32", "192.168.1.7", "0.0.0.0/0", "fd00::/8", "::1"]
)
def test_private_networks_for_fetching_outside_debug_are_w008(network: str) -> None:
    networks = ["203.0.113.0/24", network, "not a network"]
    with override_settings(DEBUG=False, POSTLOGIN={"FETCH_ALLOWED_NETWORKS": networks}):
        message = only_message(conf_checks.check_private_fetching)
    assert message.id == "postlogin.W008"
    assert f"({network})" in message.msg
    assert f"Remove {network} from POSTLOGIN['FETCH_ALLOWED_NETWORKS']" in str(message.hint)


@pytest.mark.parametrize(
    ("debug", "networks"),
    [
        (True, ["10.0.0.0/8"]),
        (False, ["203.0.113.0/24", "2001:db8::/32"]),
        (False, []),
        (False, "10.0.0.0/8"),
    ],
)
def test_fetch_networks_that_are_fine(debug: bool, networks: Any) -> None:
    with override_settings(DEBUG=debug, POSTLOGIN={"FETCH_ALLOWED_NETWORKS": networks}):
        assert ids(conf_checks.check_private_fetching) == []


def test_fetch_networks_check_survives_a_postlogin_setting_that_is_not_a_dict() -> None:
    with override_settings(DEBUG=False, POSTLOGIN=["10.0.0.0/8"]):
        assert ids(conf_checks.check_private_fetching) == []


def test_welcoming_unverified_addresses_is_w009() -> None:
    with override_settings(POSTLOGIN={"WELCOME_EMAIL_UNVERIFIED": True}):
        message = only_message(conf_checks.check_unverified_welcome)
    assert message.id == "postlogin.W009"
    assert "Microsoft's 'mail'" in message.msg


@pytest.mark.parametrize("postlogin", [{}, {"WELCOME_EMAIL_UNVERIFIED": False}, {"JOB_LEASE": 0}])
def test_welcoming_only_verified_addresses_is_silent(postlogin: dict[str, Any]) -> None:
    with override_settings(POSTLOGIN=postlogin):
        assert ids(conf_checks.check_unverified_welcome) == []


# --- Celery: W003 to W007 ---------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["postlogin.run_job", "*"])
def test_run_job_annotated_out_of_acks_late_is_w003(pattern: str) -> None:
    with celery_app("memory://", task_annotations={pattern: {"acks_late": False}}):
        message = only_message(celery_config.check_acks_late)
    assert message.id == "postlogin.W003"
    assert "CELERY_TASK_ANNOTATIONS" in str(message.hint)


def test_the_global_acks_late_setting_does_not_matter() -> None:
    # postlogin.run_job sets acks_late=True itself, which wins over task_acks_late.
    with celery_app("memory://", task_acks_late=False):
        assert ids(celery_config.check_acks_late) == []


def test_checks_leave_the_project_app_unfinalized() -> None:
    with celery_app("memory://", task_acks_late=False) as app:
        run_checks(tags=["postlogin"])
        assert not app.finalized


@pytest.mark.parametrize(
    ("broker", "missing"),
    [(REDIS, "'socket_connect_timeout': 1, 'socket_timeout': 2"), (AMQP, "'read_timeout': 2")],
)
def test_broker_without_socket_timeouts_is_w004(broker: str, missing: str) -> None:
    with celery_app(broker, broker_transport_options={"max_retries": 1}):
        message = only_message(celery_config.check_broker_timeouts)
    assert message.id == "postlogin.W004"
    assert f"Add {missing}" in str(message.hint)
    assert "CELERY_BROKER_TRANSPORT_OPTIONS" in str(message.hint)


def test_broker_without_connection_timeout_is_w004() -> None:
    with celery_app(AMQP, broker_connection_timeout=None):
        message = only_message(celery_config.check_broker_timeouts)
    assert message.hint == "Set CELERY_BROKER_CONNECTION_TIMEOUT = 2."


@pytest.mark.parametrize(
    "broker", [REDIS, "rediss://127.0.0.1:6380/0", AMQP, "memory://", "sqla+sqlite:///b.db"]
)
def test_bounded_brokers_and_socketless_transports_pass(broker: str) -> None:
    with celery_app(broker, **BOUNDED_BROKER_OPTIONS):
        assert ids(celery_config.check_broker_timeouts) == []


def test_the_url_that_publishes_is_the_one_checked() -> None:
    with celery_app("memory://", broker_write_url=f"{REDIS};{REDIS}", broker_transport_options={}):
        assert ids(celery_config.check_broker_timeouts) == ["postlogin.W004"]
    with celery_app("memory://", broker_transport_options={}) as app:
        app.conf.broker_url = [AMQP]  # failover URLs: the first one is used first
        assert ids(celery_config.check_broker_timeouts) == ["postlogin.W004"]


def test_redis_visibility_timeout_shorter_than_a_retry_and_a_run_is_w005() -> None:
    options = {**BOUNDED_BROKER_OPTIONS["broker_transport_options"], "visibility_timeout": 900}
    with celery_app(REDIS, broker_transport_options=options):
        message = only_message(celery_config.check_visibility_timeout)
    assert message.id == "postlogin.W005"
    assert "(900 s)" in message.msg
    assert "more than 900" in str(message.hint), "RETRY_BACKOFF_MAX 600 + JOB_LEASE 300"


def test_kombus_default_visibility_timeout_against_a_long_backoff_is_w005() -> None:
    with override_settings(POSTLOGIN={"RETRY_BACKOFF_MAX": 3400}), celery_app(REDIS):
        assert ids(celery_config.check_visibility_timeout) == ["postlogin.W005"]


@pytest.mark.parametrize(
    ("broker", "visibility"), [(REDIS, None), (REDIS, 1800), (AMQP, 10), ("memory://", 10)]
)
def test_visibility_timeouts_that_are_fine(broker: str, visibility: int | None) -> None:
    options = {} if visibility is None else {"visibility_timeout": visibility}
    with celery_app(broker, broker_transport_options=options):
        assert ids(celery_config.check_visibility_timeout) == []


@pytest.mark.parametrize(
    ("conf", "storing"),
    [
        ({"task_store_errors_even_if_ignored": True}, "postlogin.run_job, postlogin.relay_pending"),
        (
            {"task_annotations": {"postlogin.run_job": {"ignore_result": False}}},
            "postlogin.run_job",
        ),
    ],
)
def test_postlogin_tasks_storing_results_is_w006(conf: dict[str, Any], storing: str) -> None:
    with celery_app("memory://", result_backend=REDIS, **conf):
        message = only_message(celery_config.check_result_backend)
    assert message.id == "postlogin.W006"
    assert message.msg.startswith(f"{storing} store results")


@pytest.mark.parametrize("backend", [None, "disabled", REDIS])
def test_result_backends_postlogin_does_not_use_pass(backend: str | None) -> None:
    # Even with a result backend and task_ignore_result off: the tasks ignore results themselves.
    with celery_app("memory://", result_backend=backend, task_ignore_result=False):
        assert ids(celery_config.check_result_backend) == []


def test_no_relay_in_the_beat_schedule_is_w007() -> None:
    other = {"cleanup": {"task": "myapp.cleanup", "schedule": 60.0}}
    with celery_app("memory://", beat_schedule=other):
        message = only_message(celery_config.check_relay_scheduled)
    assert message.id == "postlogin.W007"
    assert "beat_schedule()" in str(message.hint)


@pytest.mark.parametrize(
    "schedule",
    [
        beat_schedule(),
        {"my-own-name": {"task": "postlogin.relay_pending", "schedule": 10.0}},
    ],
)
def test_any_beat_entry_running_the_relay_passes(schedule: dict[str, Any]) -> None:
    with celery_app("memory://", beat_schedule=schedule):
        assert ids(celery_config.check_relay_scheduled, databases=["default"]) == []


def test_with_django_celery_beat_and_no_database_the_relay_check_stays_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its periodic tasks live in the database, which checks read only with --database.
    is_installed = apps.is_installed
    monkeypatch.setattr(
        apps, "is_installed", lambda name: name == "django_celery_beat" or is_installed(name)
    )
    with celery_app("memory://"):
        assert ids(celery_config.check_relay_scheduled, databases=None) == []


# --- where the Celery configuration comes from ------------------------------------------------


def test_without_a_project_app_the_checks_read_the_django_settings() -> None:
    with override_settings(
        CELERY_BROKER_URL=REDIS, CELERY_BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 60}
    ):
        assert ids(celery_config.check_broker_timeouts) == ["postlogin.W004"]
        assert ids(celery_config.check_visibility_timeout) == ["postlogin.W005"]
    with override_settings(
        CELERY_BROKER_URL=REDIS, CELERY_BROKER_TRANSPORT_OPTIONS={"socket_timeout": 2}
    ):
        assert ids(celery_config.check_broker_timeouts) == ["postlogin.W004"]
    with override_settings(
        CELERY_BROKER_URL=REDIS,
        CELERY_BROKER_TRANSPORT_OPTIONS={"socket_timeout": 2, "socket_connect_timeout": 1},
    ):
        assert ids(celery_config.check_broker_timeouts) == []


def test_celery_not_configured_at_all_gives_warnings_not_errors(settings: Any) -> None:
    for name in [name for name in vars(test_settings) if name.startswith("CELERY_")]:
        delattr(settings, name)
    found = sorted(str(message.id) for message in run_checks(tags=["postlogin"]))
    # Celery's default broker is RabbitMQ on localhost, with no socket timeouts.
    assert found == ["postlogin.W004", "postlogin.W007"]
