"""Helpers that the tests and the benchmarks (``bench/``) share: loopback sockets and child
processes. Standard library only, so that importing them needs neither pytest nor Django."""
