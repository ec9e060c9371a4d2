"""``manage.py postlogin status | retry --failed | relay | prune``: the job ledger from the
shell."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ... import enqueue, prune, publish
from ...models import Job


def iso_datetime(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date and time: {value!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"not a positive integer: {value!r}")
    return number


class Command(BaseCommand):
    help = "Inspect and operate the post-login job ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="Counts by state and kind; oldest pending job.")
        status.add_argument("--json", action="store_true", help="Print JSON.")
        retry = sub.add_parser("retry", help="Send failed jobs round again.")
        retry.add_argument("--failed", action="store_true", help="Required: replay failed jobs.")
        retry.add_argument("--kind", help="Only jobs of this kind.")
        retry.add_argument("--since", type=iso_datetime, help="Only jobs created since (ISO).")
        relay = sub.add_parser("relay", help="Publish due jobs now, as the periodic relay does.")
        relay.add_argument("--batch-size", type=int, default=None)
        prune_ = sub.add_parser(
            "prune", help="Delete old done and failed jobs (PRUNE_* settings), in batches."
        )
        prune_.add_argument("--batch-size", type=positive_int, default=None)
        prune_.add_argument(
            "--max-batches", type=positive_int, default=None, help="Default: PRUNE_MAX_BATCHES."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(**options)

    def handle_status(self, **options: Any) -> None:
        rows = Job.objects.values("kind", "state").annotate(n=Count("pk")).order_by("kind")
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["kind"], {})[row["state"]] = row["n"]
        oldest = Job.objects.filter(state=Job.State.PENDING).aggregate(at=Min("created_at"))["at"]
        age = None if oldest is None else round((timezone.now() - oldest).total_seconds(), 1)
        if options["json"]:
            self.stdout.write(json.dumps({"counts": counts, "oldest_pending_seconds": age}))
            return
        states = [state.value for state in Job.State]
        self.stdout.write(f"{'kind':<20}" + "".join(f"{s:>10}" for s in states))
        for kind, by_state in sorted(counts.items()):
            self.stdout.write(f"{kind:<20}" + "".join(f"{by_state.get(s, 0):>10}" for s in states))
        if age is None:
            self.stdout.write("no pending jobs")
        else:
            self.stdout.write(f"oldest pending job: {age} s")

    def handle_retry(self, **options: Any) -> None:
        if not options["failed"]:
            raise CommandError("say which jobs to retry: `postlogin retry --failed`")
        jobs = Job.objects.filter(state=Job.State.FAILED)
        if options["kind"]:
            jobs = jobs.filter(kind=options["kind"])
        if options["since"]:
            jobs = jobs.filter(created_at__gte=options["since"])
        replayed = enqueue.replay(jobs)
        self.stdout.write(f"{len(replayed)} failed job(s) sent round again")

    def handle_relay(self, **options: Any) -> None:
        sent = publish.relay(options["batch_size"])
        self.stdout.write(f"{len(sent)} job(s) published")

    def handle_prune(self, **options: Any) -> None:
        pruned = prune.prune(batch_size=options["batch_size"], max_batches=options["max_batches"])
        self.stdout.write(
            f"{pruned.done} done and {pruned.failed} failed job(s) deleted"
            f" in {pruned.batches} batch(es)"
        )
