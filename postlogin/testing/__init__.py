"""Helpers for testing a project's own postlogin extensions with pytest: the provider contract
(:mod:`.providers`), jobs run through the real runner (:mod:`.jobs`), and canned answers to the
guarded outbound client (:mod:`.http`)."""

from .http import CANNED_ADDRESS, Call, CannedResponses, Reply, canned_responses
from .jobs import JobRun, record_login, run_job
from .providers import ODD_VALUES, ProviderContract, assert_well_formed

__all__ = [
    "CANNED_ADDRESS",
    "ODD_VALUES",
    "Call",
    "CannedResponses",
    "JobRun",
    "ProviderContract",
    "Reply",
    "assert_well_formed",
    "canned_responses",
    "record_login",
    "run_job",
]
