"""The benchmarks' pure parts: statistics, result shapes, and the fake provider (no timings)."""

from __future__ import annotations

import ast
import base64
import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from bench import common, stats, worker_throughput
from bench.__main__ import summary_markdown
from bench.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeProvider, make_code
from bench.login.client import Sample
from bench.login.cpu import cpu_summary
from bench.login.summary import summarize_run, targets

BENCH = Path(__file__).resolve().parent.parent / "bench"
#: The longest a function in bench/ may be, in lines (decorators and docstring included).
LONGEST_FUNCTION = 60


def test_percentile_interpolates_between_ranks() -> None:
    assert stats.percentile([4, 1, 3, 2], 50) == 2.5
    assert stats.percentile([1, 2, 3, 4], 0) == 1
    assert stats.percentile([1, 2, 3, 4], 100) == 4
    assert stats.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert stats.percentile([7], 99) == 7
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        stats.percentile([1], 101)


def test_summarize_skips_missing_values() -> None:
    assert stats.summarize([10, None, 20, 30]) == {
        "n": 3,
        "p50": 20.0,
        "p95": 29.0,
        "p99": 29.8,
        "mean": 20.0,
        "max": 30.0,
    }
    assert stats.summarize([None])["p50"] is None
    assert stats.ratio(110, 100) == 1.1
    assert stats.ratio(None, 100) is None
    assert stats.ratio(1, 0) is None


def long_functions(path: Path, limit: int) -> list[str]:
    """``file:line name (n lines)`` of every function or method in ``path`` over ``limit``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > limit:
                found.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_benchmark_function_is_longer_than_sixty_lines() -> None:
    files = sorted(BENCH.rglob("*.py"))
    assert BENCH / "login_latency.py" in files
    assert BENCH / "login" / "client.py" in files, "the walk reaches the subpackages"
    too_long = [entry for path in files for entry in long_functions(path, LONGEST_FUNCTION)]
    assert too_long == [], f"split these into named steps: {too_long}"


def test_the_length_check_sees_nested_functions_and_methods(tmp_path: Path) -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(5))
    source = tmp_path / "sample.py"
    source.write_text(
        f"class C:\n    @staticmethod\n    def method() -> None:\n{body}\n\n"
        f"def outer() -> None:\n    def inner() -> None:\n{body}\n"
    )
    # The decorator counts; the nested function counts on its own as well as in its parent.
    assert sorted(long_functions(source, 6)) == [
        "sample.py:10 outer (7 lines)",
        "sample.py:3 method (7 lines)",
    ]
    assert "sample.py:11 inner (6 lines)" in long_functions(source, 5)
    assert long_functions(source, 7) == []


def sample(variant: str, complete: float, **fields: Any) -> Sample:
    fields.setdefault("ok", True)
    return Sample(
        variant=variant,
        round=0,
        user="u",
        started_s=fields.pop("started_s", 0.0),
        login_ms=complete + 50,
        complete_ms=complete,
        **fields,
    )


def test_login_latency_results_have_the_published_shape() -> None:
    samples = [sample("bare", ms) for ms in (100, 110, 120)]
    samples += [sample("offload", ms, publish_attempts=1) for ms in (105, 115, 125)]
    samples += [sample("inline", 2100), sample("inline", 0, ok=False, error="begin: HTTP 500")]
    # An outage: process 1 tries the broker (2 s) and trips; later logins skip it.
    samples += [
        sample("offload-broker-hung", 2000, pid=1, publish_attempts=1, publish_failures=1),
        sample("offload-broker-hung", 1900, pid=1, started_s=0.1),
        sample("offload-broker-hung", 100, pid=1, started_s=3.0),
        sample("offload-broker-hung", 120, pid=1, started_s=3.1),
    ]
    variants = summarize_run(samples, ["bare", "offload", "inline", "offload-broker-hung"])
    for summary in variants.values():
        assert set(summary["complete_ms"]) >= {"p50", "p95", "p99"}
        assert set(summary["login_ms"]) >= {"p50", "p95", "p99"}
        assert "failed" in summary
    assert variants["inline"]["failed"] == 1
    assert variants["offload"]["ratio_to_bare"]["complete_ms_p50"] == round(115 / 110, 3)
    breaker = variants["offload-broker-hung"]["breaker"]
    assert breaker["processes_tripped"] == 1
    assert breaker["logins_before_trip"] == 2, "the probe, and the login queued behind it"
    assert breaker["complete_ms_after_trip"]["max"] == 120
    assert breaker["probe_logins"] == 1
    checks = {c["target"]: c["met"] for c in targets(variants)}
    assert checks["inline p50 > 2000 ms"] is True
    assert checks["offload p50 / bare p50 <= 1.10"] is True
    assert checks["offload-broker-hung: p99 after the breaker tripped / bare p99 <= 1.25"]
    result = {"machine": common.machine_info(), "params": {}, "variants": variants}
    assert json.loads(json.dumps(result))["variants"]["bare"]["failed"] == 0


def test_cpu_summary_and_worker_efficiency() -> None:
    chunks = [
        {"variant": "bare", "logins": 10, "seconds": 2.0, "cpu_s": {"web": 0.2, "client": 0.01}},
        {"variant": "bare", "logins": 10, "seconds": 2.0, "cpu_s": {"web": 0.2, "client": 0.01}},
    ]
    assert cpu_summary(chunks) == {
        "logins_per_second": 5.0,
        "cpu_ms_per_login": {"client": 1.0, "web": 20.0, "total": 21.0},
    }
    assert worker_throughput.efficiency(1000, 1.0, 16, 62.5) == 1.0
    assert worker_throughput.efficiency(1000, 1.0, 16, 125) == 0.5
    with pytest.raises(ValueError, match="positive"):
        worker_throughput.efficiency(1, 1, 1, 0)


def test_summary_markdown_renders_the_tables() -> None:
    variants = summarize_run(
        [sample("bare", 100), sample("offload", 104, publish_attempts=1)], ["bare", "offload"]
    )
    latency = {
        "machine": common.machine_info(),
        "params": {
            "logins_per_variant": 1,
            "concurrency": 1,
            "rounds": 1,
            "server": "gunicorn",
            "avatar_delay_s": 2.0,
        },
        "variants": variants,
        "targets": targets(variants),
    }
    text = summary_markdown(latency, None, None)
    assert "| offload | 104 |" in text
    assert "offload p50 / bare p50 <= 1.10: 1.04 (met)" in text


def test_summary_markdown_renders_the_prune_table() -> None:
    def logins(p50: float) -> dict[str, Any]:
        return stats.summarize([p50, p50 * 2], digits=0)

    alone = {"signup": logins(3000), "returning": logins(2000)}
    beside = {"signup": logins(3300), "returning": logins(2000)}
    prune = {
        "params": {"rounds": 5, "batches_per_round": 150},
        "filled": {"rows": 1_000_000},
        "batched": {
            "batch_size": 1000,
            "batches": 750,
            "batch_ms": stats.summarize([20.0, 30.0], digits=2),
            "rows_per_second": 40_000,
        },
        "one_delete": {"deleted": 142_000, "ms": 1131.3},
        "logins_us": {"alone": alone, "batched": beside},
        "ratio_to_alone": {
            "batched": {
                kind: {s: stats.ratio(beside[kind][s], alone[kind][s]) for s in ("p50", "p99")}
                for kind in alone
            }
        },
    }
    text = summary_markdown(None, None, None, prune)
    assert "Pruning a ledger of 1,000,000 jobs" in text
    assert "| batched | signup | 2 | 4,950 | 6,435 | 6,567 | 6,600 |" in text
    assert "| 1.10x | 1.10x | - |" in text
    assert "One DELETE of 142,000 rows: 1,131 ms in one transaction." in text


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


def test_fake_provider_speaks_openid_connect() -> None:
    with FakeProvider(avatar_delay=0) as idp:
        config = get_json(f"{idp.issuer}/.well-known/openid-configuration")
        assert config["issuer"] == idp.issuer
        keys = get_json(config["jwks_uri"])["keys"]

        # /authorize sends the browser straight back with a code for the login hint.
        query = urlencode({"redirect_uri": "http://app/cb", "state": "s1", "nonce": "n1"})
        no_redirect = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            no_redirect.open(f"{idp.issuer}/authorize?{query}&login_hint=ada", timeout=5)
        location = urlsplit(redirect.value.headers["Location"])
        assert parse_qs(location.query)["code"] == [make_code("ada", "n1")]

        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        body = urlencode({"grant_type": "authorization_code", "code": make_code("ada", "n1")})
        request = urllib.request.Request(  # noqa: S310
            config["token_endpoint"],
            data=body.encode(),
            headers={"Authorization": f"Basic {basic}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            token = json.loads(response.read())
        claims = jwt.decode(
            token["id_token"],
            jwt.PyJWK(keys[0]).key,
            algorithms=["RS256"],
            audience=CLIENT_ID,
            issuer=idp.issuer,
        )
        assert (claims["sub"], claims["nonce"]) == ("ada", "n1")

        userinfo = get_json(
            config["userinfo_endpoint"], {"Authorization": f"Bearer {token['access_token']}"}
        )
        assert userinfo["sub"] == "ada"
        assert userinfo["email_verified"] is True
        assert userinfo["picture"] == idp.avatar_url("ada")
        with urllib.request.urlopen(userinfo["picture"], timeout=5) as response:  # noqa: S310
            assert response.headers["Content-Type"] == "image/png"
            assert response.read().startswith(b"\x89PNG")

        assert idp.token({"code": "x"}, "Basic bad")[0] == 401
        assert idp.token({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, "")[0] == 400
        assert idp.userinfo("Bearer !")[0] == 401


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_the_benchmark_settings_skip_the_gate_and_reach_the_loopback_avatar_host(
    tmp_path: Any,
) -> None:
    """The variants run the example project as shipped, minus what would stop a benchmark
    login (the phone gate) or its avatar download (loopback refused outside DEBUG)."""
    import subprocess
    import sys

    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "from postlogin import addresses; "
        "print(json.dumps([settings.SOCIAL_AUTH_PIPELINE[-2:], settings.DEBUG, "
        "[str(n) for n in addresses.allowed_networks()]]))"
    )
    seen = {}
    for variant in ("bare", "offload", "inline"):
        env = common.django_environment(
            database_url=f"sqlite:///{tmp_path}/db.sqlite3",
            broker="memory://",
            var_dir=tmp_path,
            variant=variant,
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=common.EXAMPLE,
            capture_output=True,
            text=True,
            check=True,
        )
        seen[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["bare"][0] == [
        "social_core.pipeline.social_auth.load_extra_data",
        "social_core.pipeline.user.user_details",
    ]
    assert seen["offload"][0][-1] == "postlogin.social.pipeline.schedule_post_login_tasks"
    assert seen["inline"][0][-1] == "bench.inline.fetch_avatar_and_send_welcome_email"
    assert all(debug is False for _pipeline, debug, _networks in seen.values())
    assert all(networks == ["127.0.0.0/8"] for _pipeline, _debug, networks in seen.values())
