"""The variants of the login latency benchmark: what each one's last pipeline step and broker
are (``bench/settings_variants.py`` reads ``BENCH_VARIANT``), and how their users are named."""

from __future__ import annotations

VARIANTS = ("bare", "offload", "inline", "offload-broker-down", "offload-broker-hung")
BROKER_OUTAGES = ("offload-broker-down", "offload-broker-hung")
#: Each variant's users start with its letter, so the ledger can be read per variant.
SHORT = {
    "bare": "b",
    "offload": "o",
    "inline": "i",
    "offload-broker-down": "d",
    "offload-broker-hung": "h",
}
COLORS = {
    "bare": "#444444",
    "offload": "#1f77b4",
    "inline": "#d62728",
    "offload-broker-down": "#2ca02c",
    "offload-broker-hung": "#9467bd",
}


def broker_urls(broker: str, *, down_port: int, hung_port: int) -> dict[str, str]:
    """Each variant's ``CELERY_BROKER_URL``: the run's broker, or one that is down or hung."""
    return {
        "bare": broker,
        "offload": broker,
        "inline": broker,
        # Nothing listens there: connections are refused.
        "offload-broker-down": f"redis://127.0.0.1:{down_port}/0",
        # Accepts connections, never answers.
        "offload-broker-hung": f"redis://127.0.0.1:{hung_port}/0",
    }


def user_names(prefix: str, batch: int, count: int, run_id: str) -> list[str]:
    """``count`` user names, unique in the run and across runs (``run_id``)."""
    return [f"{prefix}{batch}x{i}{run_id}" for i in range(count)]
