"""Deprecated: moved to :mod:`postlogin.social.checks`; each name used from here warns
(:class:`~postlogin.deprecation.PostloginDeprecationWarning`) and forwards there."""

from ..deprecation import moved_module

__getattr__ = moved_module(__name__, "postlogin.social.checks")
