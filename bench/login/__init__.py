"""The login latency benchmark's parts; :mod:`bench.login_latency` is its entry point.

- :mod:`.variants`: the variants, their broker, their users' names;
- :mod:`.client`: the HTTP client that logs in, and the concurrent runs of logins;
- :mod:`.servers`: the processes a run starts (the provider, one gunicorn per variant);
- :mod:`.rounds`: warm-up and the interleaved, metered rounds;
- :mod:`.cpu`: the CPU each process group spent;
- :mod:`.summary`: what the samples say (percentiles, the circuit breaker's view, targets);
- :mod:`.report`: the result files (JSON, CSV, plot) and the summary table.
"""
