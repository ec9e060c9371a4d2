"""Microsoft through allauth: the avatar job reads the photo from Graph with the token allauth
stored. Microsoft is answered by ``responses``; the resolver is stubbed and a connect spy is on,
so the fetch guard runs as in production while no connection can leave the machine."""

from __future__ import annotations

import io
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image
from responses import matchers

from postlogin import runner
from postlogin.kinds.avatar.graph import PHOTO_URL
from postlogin.models import Job, Profile

from ..network import connect_spy, stub_resolver
from ..payloads.microsoft import GRAPH_ME, GRAPH_TOKEN
from .flow import allauth_login

pytestmark = [pytest.mark.allauth, pytest.mark.django_db]

TOKEN_URL = "https://login.microsoftonline.com/common/oauth2/v2.0/token"


def test_a_microsoft_login_gets_its_photo_with_the_stored_token(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    memory_broker: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    stub_resolver(monkeypatch, {"graph.microsoft.com": ["20.190.160.1"]})
    spy = connect_spy(monkeypatch)
    picture = io.BytesIO()
    Image.new("RGB", (648, 648), (0, 120, 212)).save(picture, "JPEG")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(TOKEN_URL, json=GRAPH_TOKEN)
        rsps.get("https://graph.microsoft.com/v1.0/me", json=GRAPH_ME)
        with django_capture_on_commit_callbacks(execute=True):
            allauth_login(client, "microsoft")
        user = get_user_model().objects.get()
        job = Job.objects.get(user=user, kind="avatar")
        assert (job.provider, job.payload) == ("microsoft", {"source": "microsoft-graph"})

        rsps.get(
            PHOTO_URL,
            body=picture.getvalue(),
            content_type="image/jpeg",
            match=[
                matchers.header_matcher({"Authorization": f"Bearer {GRAPH_TOKEN['access_token']}"})
            ],
        )
        runner.run(job.pk)
    job.refresh_from_db()
    assert (job.state, job.last_error) == ("done", "")
    assert Profile.objects.get(user=user).avatar_source_url == PHOTO_URL
    assert spy.attempts == []
