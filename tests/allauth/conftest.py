from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """allauth keeps rate limits (one verification email per address every few minutes) and
    used ID tokens in the cache: each test starts with none."""
    for cache in caches.all():
        cache.clear()


@pytest.fixture(scope="session")
def local_idp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the local provider keeps its database and signing key."""
    return tmp_path_factory.mktemp("devidp")


@pytest.fixture(scope="session")
def local_idp_issuer(local_idp_dir: Path) -> Iterator[str]:
    """example/devidp running on a free port for the whole session."""
    from ..devidp_server import devidp
    from .test_local_provider import CALLBACK

    with devidp(local_idp_dir, CALLBACK) as issuer:
        yield issuer


@pytest.fixture
def devidp(local_idp_issuer: str, settings: Any) -> str:
    """The allauth ``openid_connect`` app ``devidp`` pointed at the running provider."""
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    (app,) = providers["openid_connect"]["APPS"]
    app["settings"]["server_url"] = local_idp_issuer
    settings.SOCIALACCOUNT_PROVIDERS = providers
    return local_idp_issuer
