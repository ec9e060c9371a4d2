"""Benchmarks for django-postlogin: login latency, worker throughput, dispatch cost.

Run them all with ``make bench`` (or ``python -m bench``); each module also runs on its own
(``python -m bench.login_latency --help``). Results go to ``bench/results/``.
"""
