"""Signal receivers: record the jobs once allauth has logged the user in.

``user_signed_up`` fires when the account is created, which may be well before its first login
(email verification, or another login stage, holds it) or without one at all. So a signup is
only remembered, on the ``SocialLogin``, and the jobs are recorded from ``user_logged_in``,
which fires once the login is done, with the same ``SocialLogin``. allauth keeps that
``SocialLogin``, ``state`` included, in the session while a login stage waits, so the mark
reaches the login that completes the signup.

When that login happens in another session instead (by default allauth does not log the user
in when the verification link is opened), the next social login of the account is its first:
``pre_social_login`` marks it as the signup's completion.
"""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_logged_in, user_signed_up
from allauth.socialaccount.signals import pre_social_login

from ..dispatch import dispatch
from .logins import login_event

#: Key in ``SocialLogin.state`` that marks the login as the one completing a signup.
SIGNUP_STATE_KEY = "postlogin_signup"


def remember_signup(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is not None:
        sociallogin.state[SIGNUP_STATE_KEY] = True


def remember_unfinished_signup(sender: Any, request: Any, sociallogin: Any, **kwargs: Any) -> None:
    """Mark the first login of an account whose social signup never reached a login."""
    user = sociallogin.user
    known_account = getattr(sociallogin.account, "pk", None) is not None
    # Django sets last_login on every login: None means this account never had one.
    if known_account and user is not None and getattr(user, "last_login", False) is None:
        sociallogin.state[SIGNUP_STATE_KEY] = True


def schedule_post_login_tasks(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Record this social login's jobs; their messages go out after the commit."""
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is None or user is None or user.pk is None:
        return  # a password, code or passkey login: no provider data, no post-login jobs
    is_new = bool(sociallogin.state.get(SIGNUP_STATE_KEY))
    dispatch(login_event(sociallogin, user.pk, is_new=is_new))


def connect() -> None:
    # user_signed_up provides args: request, user, sociallogin (social signups only)
    user_signed_up.connect(remember_signup, dispatch_uid="postlogin.allauth.remember_signup")
    # pre_social_login provides args: request, sociallogin (the account looked up)
    pre_social_login.connect(
        remember_unfinished_signup, dispatch_uid="postlogin.allauth.remember_unfinished_signup"
    )
    # user_logged_in provides args: request, response, user, sociallogin (social logins only)
    user_logged_in.connect(
        schedule_post_login_tasks, dispatch_uid="postlogin.allauth.schedule_post_login_tasks"
    )
