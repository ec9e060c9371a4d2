from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.apps import apps
from hypothesis import HealthCheck, settings
from PIL import Image

from .helpers import SERVICE_URLS, celery_app, require_service

Published = list[tuple[str, tuple[Any, ...]]]

#: Marker -> the app a test needs. `make test` runs the suite under each settings module
#: (tests/settings.py, settings_allauth.py, settings_both.py); each run leaves out the tests
#: whose auth stack its settings do not install.
STACK_APPS = {"social": "social_django", "allauth": "postlogin.allauth"}
ALLAUTH_TESTS = Path(__file__).resolve().parent / "allauth"

# Hypothesis profiles: a small example budget by default, a larger one where CI sets
# HYPOTHESIS_PROFILE=ci (.ci/run). Tests that fix their own max_examples keep it.
# Database round trips are slow for hypothesis' taste: no deadline, no too_slow health check.
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=10,
    stateful_step_count=30,
)
settings.register_profile(
    "ci", settings.get_profile("dev"), max_examples=100, stateful_step_count=50
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # allauth's models refuse to be imported unless allauth is installed: without it, the
    # allauth tests cannot even be collected.
    if collection_path == ALLAUTH_TESTS and not apps.is_installed("postlogin.allauth"):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [marker for marker, app in STACK_APPS.items() if not apps.is_installed(app)]
    # The fault matrix's slow rows run only when asked for by name (`make pytest-faults`,
    # `-m faults_slow`), whatever other -m expression a run uses.
    if "faults_slow" not in (config.getoption("markexpr") or ""):
        missing.append("faults_slow")
    selected, deselected = [], []
    for item in items:
        if any(item.get_closest_marker(marker) for marker in missing):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def drain(app: Celery) -> Published:
    """Every message waiting in the default queue, as ``(task name, args)``; removes them."""
    messages: Published = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(app.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                messages.append((message.headers["task"], tuple(message.payload[0])))
                message.ack()
        finally:
            queue.close()
    return messages


@pytest.fixture(autouse=True)
def closed_breaker() -> Iterator[None]:
    """Each test starts with the publish circuit breaker closed."""
    from postlogin.breaker import publish_breaker

    publish_breaker.record_success()
    yield
    publish_breaker.record_success()


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("ada", "ada@example.com", first_name="Ada")


@pytest.fixture
def kind_name() -> Iterator[str]:
    """A fresh job kind name per test (and so a fresh rate-limit budget), unregistered after."""
    from postlogin import jobs

    name = f"kind-{uuid.uuid4().hex[:12]}"
    yield name
    jobs.unregister(name)


@pytest.fixture
def make_job(user: Any) -> Callable[..., Any]:
    from postlogin.models import Job

    def make(
        kind: str = "avatar", key: str = "k", payload: dict[str, Any] | None = None, **fields: Any
    ) -> Job:
        return Job.objects.create(
            user=fields.pop("user", user), kind=kind, key=key, payload=payload or {}, **fields
        )

    return make


@pytest.fixture
def memory_broker() -> Iterator[Callable[[], Published]]:
    """A current Celery app on kombu's in-memory broker; call the fixture to read what was sent."""
    with celery_app("memory://") as app:
        drain(app)
        yield lambda: drain(app)


@pytest.fixture
def png_bytes() -> Callable[..., bytes]:
    def make(size: tuple[int, int] = (64, 48), color: str = "teal", fmt: str = "PNG") -> bytes:
        out = io.BytesIO()
        Image.new("RGB", size, color).save(out, format=fmt)
        return out.getvalue()

    return make


@pytest.fixture(params=["redis", "amqp"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """A real broker (Redis and RabbitMQ), emptied first."""
    name = request.param
    url = SERVICE_URLS[name]
    port = 6379 if name == "redis" else 5672
    require_service(name, "127.0.0.1", port)
    with celery_app(url) as app:
        app.control.purge()
    return url


@pytest.fixture
def redis_url() -> str:
    url = SERVICE_URLS["redis"]
    require_service("redis", "127.0.0.1", 6379)
    return url


@pytest.fixture
def recorded_kind() -> Iterator[list[Any]]:
    """A ``test`` job kind whose handler records its calls and raises what it is given."""
    from postlogin import jobs

    calls: list[Any] = []

    def handler(job: Any) -> None:
        calls.append(job.pk)
        error = job.payload.get("raise")
        if error == "transient":
            raise ConnectionError("provider unreachable")
        if error == "permanent":
            raise jobs.PermanentJobError("bad input")

    jobs.register("test", plan=jobs.once)(handler)
    yield calls
    jobs.unregister("test")


@pytest.fixture
def signals() -> Iterator[dict[str, list[Any]]]:
    """The jobs ``job_succeeded`` and ``job_failed`` were sent for (the error's class name)."""
    from postlogin.signals import job_failed, job_succeeded

    seen: dict[str, list[Any]] = {"succeeded": [], "failed": []}

    def on_success(sender: Any, job: Any, **kwargs: Any) -> None:
        seen["succeeded"].append(job.pk)

    def on_failure(sender: Any, job: Any, error: Exception, **kwargs: Any) -> None:
        seen["failed"].append((job.pk, type(error).__name__))

    job_succeeded.connect(on_success)
    job_failed.connect(on_failure)
    yield seen
    job_succeeded.disconnect(on_success)
    job_failed.disconnect(on_failure)
