"""Prometheus metrics on each service's own METRICS_PORT: the exposition
passes promtool, counters move by exactly the traffic a test drives, and
cardinality stays bounded whatever paths clients send. Never on the
public port.
"""

import re
import secrets
import shutil
import subprocess

import pytest
import requests

import restc_it as it

PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module")
def gw(db_url, jwt_secret, tmp_path_factory):
    yield from it.managed_stack(str(tmp_path_factory.mktemp("metrics")), db_url, jwt_secret, "metrics")




samples = it.metrics_samples  # {(name, labels-string): value}


def value(text, name, **labels):
    want = {k: v for k, v in labels.items()}
    total = 0.0
    found = False
    for (n, lab), v in samples(text).items():
        if n != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', lab))
        if all(got.get(k) == v for k, v in want.items()):
            total += v
            found = True
    return total if found else None


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus) is not installed")
def test_gateway_exposition_passes_promtool(gw):
    it.http_get(gw.url("/healthz"))
    text = gw.metrics("gateway")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    assert not p.stdout.strip() and not p.stderr.strip(), p.stdout.decode() + p.stderr.decode()
    for family in ("restc_http_requests_total", "restc_http_request_duration_seconds",
                   "restc_http_open_connections", "restc_http_requests_in_flight",
                   "restc_backend_call_duration_seconds", "process_resident_memory_bytes",
                   "process_open_fds", "process_start_time_seconds", "restc_build_info"):
        assert f"# TYPE {family} " in text, family
        assert f"# HELP {family} " in text, family


def test_metrics_are_not_on_the_public_port(gw):
    r = it.http_get(gw.url("/metrics"))
    assert r.status_code == 404, r.status_code


def test_counters_move_by_exactly_the_traffic(gw):
    before = gw.metrics("gateway")
    n_ok, n_404, n_405 = 7, 5, 3
    for _ in range(n_ok):
        assert it.http_get(gw.url("/healthz")).status_code == 200
    for _ in range(n_404):
        assert it.http_get(gw.url("/no/such/" + secrets.token_hex(4))).status_code == 404
    for _ in range(n_405):
        assert requests.delete(gw.url("/healthz"), timeout=10).status_code == 405
    after = gw.metrics("gateway")

    def delta(**labels):
        a = value(after, "restc_http_requests_total", **labels) or 0
        b = value(before, "restc_http_requests_total", **labels) or 0
        return a - b

    assert delta(route="/healthz", method="GET", status="2xx") == n_ok
    # Wrong method on a known path and unknown paths: no route matched.
    assert delta(route="unmatched", status="4xx") == n_404 + n_405
    db = (value(after, "restc_http_request_duration_seconds_count", route="/healthz") or 0) - (
        value(before, "restc_http_request_duration_seconds_count", route="/healthz") or 0)
    assert db == n_ok


def test_random_paths_add_no_series(gw):
    before = samples(gw.metrics("gateway"))
    with requests.Session() as s:
        for _ in range(10000):
            s.get(gw.url("/x/" + secrets.token_hex(8)), timeout=10)
    after = samples(gw.metrics("gateway"))
    new = set(after) - set(before)
    assert not new, f"{len(new)} new series, e.g. {sorted(new)[:5]}"


def test_backend_calls_are_counted_per_op(gw):
    before = gw.metrics("gateway")
    for _ in range(4):
        assert it.http_get(gw.url("/api/v1/health")).status_code == 200
    after = gw.metrics("gateway")
    b = value(before, "restc_backend_call_duration_seconds_count", service="storesvc", op="sys.health") or 0
    a = value(after, "restc_backend_call_duration_seconds_count", service="storesvc", op="sys.health") or 0
    assert a - b == 4, (b, a)
