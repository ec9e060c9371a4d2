"""The demo, end to end: local OpenID Connect provider, web app, worker and beat, as `make demo`
runs them; driven over plain HTTP and in Debian's Chromium through Playwright."""

from __future__ import annotations

import html
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from .demo_stack import DemoStack, demo_stack

pytestmark = pytest.mark.demo

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "demo-profile.png"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    with demo_stack(tmp_path_factory.mktemp("demo")) as stack:
        yield stack


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def hidden_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page))


def http_login(stack: DemoStack, username: str) -> tuple[requests.Session, requests.Response]:
    """Sign in through the provider's login page with plain HTTP, like a browser would, and
    pass the onboarding gate (a bad phone number first, then a good one)."""
    session = requests.Session()
    home = session.get(f"{stack.web}/", timeout=10)
    begin = session.post(
        f"{stack.web}/login/oidc/",
        data={"csrfmiddlewaretoken": csrf_token(home.text)},
        headers={"Referer": f"{stack.web}/"},
        timeout=10,
    )
    assert urlsplit(begin.url).path == "/accounts/login/", "the provider asks for a password"
    next_url = re.search(r'name="next" value="([^"]+)"', begin.text)
    assert next_url
    gate = session.post(
        begin.url,
        data={
            "csrfmiddlewaretoken": csrf_token(begin.text),
            "username": username,
            "password": "demo-password",
            "next": html.unescape(next_url.group(1)),
        },
        headers={"Referer": begin.url},
        timeout=10,
    )
    assert urlsplit(gate.url).path == "/postlogin/onboarding/", "a new account gives a phone"
    complete = f"{stack.web}/complete/oidc/"
    again = session.post(
        complete, data={**hidden_fields(gate.text), "phone": "12"}, headers={"Referer": gate.url}
    )
    assert again.status_code == 400
    assert "Start the number with + and its country code" in again.text
    profile = session.post(
        complete,
        data={**hidden_fields(again.text), "phone": "+44 20 7946 0018"},
        headers={"Referer": complete},
        timeout=10,
    )
    return session, profile


def wait_for_jobs(session: requests.Session, stack: DemoStack, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    status: Any = None
    while time.monotonic() < deadline:
        status = session.get(f"{stack.web}/postlogin/jobs/", timeout=10).json()
        if status["jobs"] and all(job["state"] in ("done", "failed") for job in status["jobs"]):
            return status
        time.sleep(0.3)
    raise AssertionError(f"jobs not finished within {timeout} s: {status}")


def test_login_over_http_then_the_jobs_complete(demo: DemoStack) -> None:
    session, profile = http_login(demo, "alan")
    assert profile.status_code == 200
    assert urlsplit(profile.url).path == "/profile/"
    assert "Alan Turing" in profile.text
    assert "+442079460018" in profile.text
    status = wait_for_jobs(session, demo)
    assert sorted((job["kind"], job["state"]) for job in status["jobs"]) == [
        ("avatar", "done"),
        ("login_history", "done"),
        ("welcome_email", "done"),
    ]
    avatar = session.get(f"{demo.web}{status['profile']['avatar_url']}", timeout=10)
    assert avatar.headers["Content-Type"] == "image/webp"
    assert status["profile"]["welcomed_at"]


def require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing (CI=true: install the chromium package)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 900, "height": 900})
    blocked: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    yield page
    context.close()
    assert blocked == [], "the pages asked for something off this machine"


def browser_login(page: Any, stack: DemoStack, username: str) -> float:
    page.goto(f"{stack.web}/")
    page.click("button[data-backend=oidc]")
    page.wait_for_url(re.compile(r".*/accounts/login/.*"))
    page.fill("#id_username", username)
    page.fill("#id_password", "demo-password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/postlogin/onboarding/.*"))
    page.fill("#id_phone", "not a number")
    page.click("#postlogin-onboarding button[type=submit]")
    assert "does not look like a phone number" in (page.text_content("#phone-error") or "")
    page.fill("#id_phone", "+1 415 555 2671")
    started = time.monotonic()
    page.click("#postlogin-onboarding button[type=submit]")
    page.wait_for_url(f"{stack.web}/profile/")
    return time.monotonic() - started


def test_sign_in_in_a_browser_and_watch_the_jobs_arrive(
    page: Any, demo: DemoStack, tmp_path: Path
) -> None:
    browser_login(page, demo, "ada")
    assert page.text_content("h1") == "Your profile"
    assert "+14155552671" in (page.text_content(".identity") or "")
    assert "ms" in (page.text_content("#login-ms") or "")
    page.wait_for_selector("tr[data-kind=welcome_email][data-state=done]", timeout=30_000)
    page.wait_for_selector("tr[data-kind=avatar][data-state=done]", timeout=30_000)
    page.wait_for_function(
        "() => { const img = document.getElementById('avatar');"
        " return !img.hidden && img.complete && img.naturalWidth > 0; }",
        timeout=30_000,
    )
    assert page.text_content("#welcomed") == "sent"
    # One poll renders the jobs and what they produced: a done login_history job comes with
    # its login listed.
    page.wait_for_selector("tr[data-kind=login_history][data-state=done]", timeout=30_000)
    assert (page.text_content("#logins") or "").startswith("oidc ")
    shot = tmp_path / "profile.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("POSTLOGIN_UPDATE_SCREENSHOT"):  # refreshes the README's picture
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOT)


def test_a_failing_avatar_host_does_not_fail_the_login(page: Any, tmp_path: Path) -> None:
    with demo_stack(
        tmp_path,
        DEVIDP_AVATAR_FAIL_RATE="1",
        POSTLOGIN_JSON='{"MAX_RETRIES": 1, "RETRY_BACKOFF": 0}',
    ) as stack:
        browser_login(page, stack, "grace")
        row = page.wait_for_selector("tr[data-kind=avatar][data-state=failed]", timeout=30_000)
        # Users see the failure's code and safe message, never the error text (HTTP 503 from...).
        assert "The service answered with an error." in (row.text_content() or "")
        assert "503" not in (row.text_content() or "")
        assert page.is_visible("#avatar-placeholder")
        page.wait_for_selector("tr[data-kind=welcome_email][data-state=done]", timeout=30_000)


def test_the_allauth_flavour_in_a_browser(page: Any, tmp_path: Path) -> None:
    """`DEMO_AUTH=allauth make demo`: allauth's openid_connect provider (PKCE) against the same
    local provider, its signup page asking for the phone number, the same jobs."""
    with demo_stack(tmp_path, DEMO_AUTH="allauth") as stack:
        page.goto(f"{stack.web}/")
        page.click("button[data-provider=devidp]")
        page.wait_for_url(re.compile(r".*/accounts/login/.*"))
        assert urlsplit(page.url).port == urlsplit(stack.idp).port
        page.fill("#id_username", "grace")
        page.fill("#id_password", "demo-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{stack.web}/accounts/3rdparty/signup/")
        assert page.input_value("#id_email") == "grace@example.com"
        page.fill("#id_phone", "not a number")
        page.click("#postlogin-signup button[type=submit]")
        assert "does not look like a phone number" in (page.text_content("#phone-error") or "")
        page.fill("#id_phone", "+1 415 555 2671")
        page.click("#postlogin-signup button[type=submit]")
        page.wait_for_url(f"{stack.web}/profile/")
        assert "+14155552671" in (page.text_content(".identity") or "")
        assert "ms" in (page.text_content("#login-ms") or "")
        for kind in ("welcome_email", "login_history", "avatar"):
            page.wait_for_selector(f"tr[data-kind={kind}][data-state=done]", timeout=30_000)
        page.wait_for_function(
            "() => { const img = document.getElementById('avatar');"
            " return !img.hidden && img.complete && img.naturalWidth > 0; }",
            timeout=30_000,
        )
        assert page.text_content("#welcomed") == "sent"
    # One poll renders the jobs and what they produced: a done login_history job comes with
    # its login listed.
    page.wait_for_selector("tr[data-kind=login_history][data-state=done]", timeout=30_000)
    assert (page.text_content("#logins") or "").startswith("oidc ")
