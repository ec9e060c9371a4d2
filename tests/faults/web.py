"""The login front end of fault tests, run as a process of its own (``python -m
tests.faults.web``) on the database the test's private server provides (``DATABASE_URL``).

Each line on stdin asks for one Google signup; each answer is a JSON line on stdout:
``{"status": <HTTP status of the step that answered last>, "seconds": ..., "retry_after": ...}``.
User ``n`` (1, 2, ... in order of the provider's answers) has the picture
``$POSTLOGIN_TEST_PICTURES/u<n>.png``. Google itself is answered by ``responses``.
"""

from __future__ import annotations

import json
import os
import sys
import time

import django


def main() -> None:
    django.setup()
    import responses

    from tests.worker_app import app  # the workers' broker (POSTLOGIN_TEST_BROKER_URL)

    app.set_current()
    app.set_default()
    from django.db import close_old_connections
    from django.test import Client

    from tests.social_flow import begin_login, complete_login, mock_google_users

    pictures = os.environ["POSTLOGIN_TEST_PICTURES"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")
        mock_google_users(rsps, lambda n: f"{pictures}/u{n}.png")
        for _line in sys.stdin:
            # What a real server does at each request's start and end, and Django's test client
            # leaves out: drop connections that are too old or that failed.
            close_old_connections()
            # The client's own exception capture would re-raise what handler500 answers.
            client = Client(raise_request_exception=False)
            started = time.monotonic()
            response = begin_login(client, "google-oauth2")
            if response.status_code == 302:
                response, _seconds = complete_login(client, "google-oauth2", response)
            answer = {
                "status": response.status_code,
                "location": response.get("Location"),
                "seconds": round(time.monotonic() - started, 3),
                "retry_after": response.get("Retry-After"),
            }
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
