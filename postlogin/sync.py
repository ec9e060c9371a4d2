"""Deprecated: the ``profile_sync`` kind is :mod:`postlogin.kinds.profile_sync`, and the
account sources it reads are :mod:`postlogin.accounts`; each name used from here warns
(:class:`~postlogin.deprecation.PostloginDeprecationWarning`) and forwards there."""

from .deprecation import MOVED, renamed

__getattr__ = renamed(__name__, MOVED[__name__])
