"""Deprecated: the built-in ``webhook`` kind is :mod:`postlogin.kinds.webhook`."""

from .deprecation import MOVED, renamed

__getattr__ = renamed(__name__, MOVED[__name__])
