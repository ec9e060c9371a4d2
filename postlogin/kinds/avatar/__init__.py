"""The ``avatar`` kind: the login's picture, downloaded, checked, normalised and stored.

Planned on every login whose provider sent a picture URL (keyed on the URL's hash: the same
picture is the same work), or, for providers that give no URL but hold a photo (Microsoft, see
:mod:`.graph`), once per login. The download and the image checks are
:mod:`postlogin.avatars`'.
"""

from __future__ import annotations

import hashlib

from ... import providers
from ...avatars import AvatarRejected, fetch_avatar_image, store_avatar
from ...events import LoginEvent
from ...jobs import JobKind, JobSpec, PermanentJobError
from ...models import Job, Profile
from ...scrub import get_logger
from .. import AVATAR
from . import graph

logger = get_logger(__name__)


def plan_avatar(event: LoginEvent) -> JobSpec | None:
    """The picture URL's job (the same URL is the same work), or, for providers that give no
    URL but hold a photo (Microsoft), one fetch per login; nothing otherwise."""
    url = event.profile.avatar_url
    if url:
        digest = hashlib.sha256(url.encode()).hexdigest()[:40]
        return JobSpec(key=f"url:{digest}", payload={"url": url})
    provider = providers.for_id(event.provider)
    if provider is not None and provider.photo_source:
        return JobSpec(
            key=f"{provider.photo_source}:{event.login_id}",
            payload={"source": provider.photo_source},
        )
    return None


def avatar(job: Job) -> None:
    """Download, normalise and store the picture at ``payload["url"]``, or the photo of the
    source named by ``payload["source"]``."""
    try:
        if job.payload.get("source") == graph.SOURCE:
            _graph_avatar(job)
        else:
            _url_avatar(job)
    except AvatarRejected as exc:
        if exc.reason == "no_photo":
            # Not a failure: the user simply has no photo. Nothing to retry or replay.
            logger.info("postlogin: avatar job %s: no photo for user %s", job.pk, job.user_id)
            return
        raise PermanentJobError(str(exc)) from exc


def _url_avatar(job: Job) -> None:
    url = job.payload.get("url")
    if not isinstance(url, str) or not url:
        raise PermanentJobError("the job payload has no picture URL")
    profile = Profile.for_user_id(job.user_id)
    if profile.avatar and profile.avatar_source_url == url:
        return
    store_avatar(profile, fetch_avatar_image(url), url)


def _graph_avatar(job: Job) -> None:
    image = graph.fetch_photo(job.user_id)
    store_avatar(Profile.for_user_id(job.user_id), image, graph.PHOTO_URL)


KIND = JobKind(name=AVATAR, handler=avatar, plan=plan_avatar)
