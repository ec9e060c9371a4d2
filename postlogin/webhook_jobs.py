"""Deprecated: the built-in ``webhook`` kind is :mod:`postlogin.kinds.webhook`."""

from typing import Any

from ._deprecated import module_getattr


def __getattr__(name: str) -> Any:
    return module_getattr(__name__)(name)
