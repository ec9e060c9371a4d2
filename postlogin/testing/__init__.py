"""Helpers for testing a project's own postlogin extensions with pytest."""

from .providers import ODD_VALUES, ProviderContract, assert_well_formed

__all__ = ["ODD_VALUES", "ProviderContract", "assert_well_formed"]
