"""Behaviour under load, with realistic Argon2 (the API.md defaults: t=3,
m=65536 KiB, p=4, AUTHSVC_HASH_WORKERS=2) so that hashing really costs what
it costs in production:

  - 50 parallel wrong logins from one source: at most LOGIN_MAX_FAILURES of
    them are evaluated (401), every other one is 429 (API.md "Login
    brute-force protection": attempts in flight count);
  - a wrong password and an unknown user take the same time;
  - while 64 clients flood /auth/token, authenticated GET /api/v1/users/me
    keeps a p99 under 50 ms (DESIGN.md: slow work never blocks fast work).

On 2 cores with an ASan build (RESTC_BUILD_DIR ending in -asan) the latency
budget is multiplied by ASAN_FACTOR: the sanitizer slows the gateway and
authsvc request paths about 2-3x while libargon2 (not instrumented) keeps
its speed, so the same design gives proportionally longer fast paths.
"""

import http.client
import json
import os
import select
import statistics
import subprocess
import sys
import threading
import time

import pytest
import requests

import authutil as au
import restc_it as it

P99_BUDGET_MS = 50.0
ASAN_FACTOR = 3.0
FLOOD_CLIENTS = 64
BURST = 50
MAX_FAILURES = 5


@pytest.fixture(scope="module")
def ldb(pg):
    return au.fresh_database(pg, "load")


@pytest.fixture(scope="module")
def load(ldb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(
        tmp_path_factory, ldb, jwt_secret, "load",
        authsvc={**au.REALISTIC_ARGON2, "AUTHSVC_HASH_WORKERS": "2"},
        gateway={"LOGIN_TRUSTED_PROXY_IPS": "127.0.0.1"},
    )


def machine_busy():
    """(busy, total) jiffies of all CPUs together, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# =============================================== 50 parallel wrong logins


def test_50_parallel_wrong_logins_from_one_source(pm, ldb, jwt_secret, tmp_path):
    s = au.start_stack(pm, ldb, jwt_secret, tmp_path, "burst",
                       authsvc={**au.REALISTIC_ARGON2, "LOGIN_MAX_FAILURES": str(MAX_FAILURES)})
    u = au.new_user(s, login=False)
    t0 = time.monotonic()
    au.login_pair(s, u.username, u.password)  # one real hash, to calibrate
    t_hash = time.monotonic() - t0
    barrier = threading.Barrier(BURST)
    results = [None] * BURST

    def one(i):
        barrier.wait()
        t0 = time.monotonic()
        try:
            r = requests.post(s.url("/api/v1/auth/token"), json={"username": u.username, "password": f"Wrong#{i}x"},
                              timeout=120)
            results[i] = (r.status_code, r.json().get("code") if r.content else None, time.monotonic() - t0)
        except Exception as e:  # recorded, asserted below
            results[i] = ("error", repr(e), time.monotonic() - t0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    statuses = [r[0] for r in results]
    n401 = statuses.count(401)
    n429 = statuses.count(429)
    summary = {k: statuses.count(k) for k in set(statuses)}
    print(f"{BURST} parallel wrong logins: {summary}")
    assert n401 + n429 == BURST, f"answers other than 401/429: {summary} {[r for r in results if r[0] not in (401, 429)][:5]}"
    assert n401 <= MAX_FAILURES, f"{n401} of {BURST} parallel wrong logins were evaluated (LOGIN_MAX_FAILURES={MAX_FAILURES}): {summary}"
    assert n401 >= 1, f"no attempt evaluated at all: {summary}"
    assert all(r[1] == "invalid_credentials" for r in results if r[0] == 401), results
    assert all(r[1] == "login_rate_limited" for r in results if r[0] == 429), results
    # The source has now used up its failures: even the correct password is refused.
    if n401 == MAX_FAILURES:
        t0 = time.monotonic()
        r = au.token(s, u.username, u.password)
        t_blocked = time.monotonic() - t0
        au.assert_problem(r, 429, "login_rate_limited")
        # Refused before any credential work: no hash in that answer.
        assert t_blocked < t_hash / 2, f"blocked login took {t_blocked * 1000:.0f} ms, a hash {t_hash * 1000:.0f} ms"


# ================================================== timing, unknown user


def test_unknown_user_takes_as_long_as_a_wrong_password(load):
    u = au.new_user(load, login=False)
    known, unknown = [], []
    for i in range(6):
        pair = [(known, u.username), (unknown, au.fresh_name("ghost"))]
        if i % 2:
            pair.reverse()
        for bucket, name in pair:
            t0 = time.monotonic()
            r = au.token(load, name, "Xy7#not-the-password")
            bucket.append(time.monotonic() - t0)
            au.assert_problem(r, 401, "invalid_credentials")
    mk, mu = statistics.median(known), statistics.median(unknown)
    assert mk > 0.02, f"a wrong password took {mk * 1000:.1f} ms: is realistic Argon2 configured?"
    ratio = mu / mk
    assert 0.5 <= ratio <= 2.0, (
        f"unknown user median {mu * 1000:.0f} ms vs wrong password {mk * 1000:.0f} ms: "
        "timing tells whether an account exists"
    )


# ======================================================== flood + p99


def _probe(port, token, seconds, max_samples):
    """Sequential GET /api/v1/users/me on a keep-alive connection; returns
    (latencies in seconds, non-200 answers)."""
    lat, bad = [], []
    conn = None
    headers = {"Authorization": f"Bearer {token}"}
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(lat) < max_samples:
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/api/v1/users/me", headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:
            status = repr(e)
            if conn is not None:
                conn.close()
            conn = None
        lat.append(time.perf_counter() - t0)
        if status != 200:
            bad.append((status, round(lat[-1] * 1000, 1), round(time.monotonic() - (end - seconds), 2)))
    if conn is not None:
        conn.close()
    return lat, bad


def test_users_me_p99_stays_under_50ms_while_64_clients_flood_token(load):
    s = load
    budget_ms = P99_BUDGET_MS * (ASAN_FACTOR if au.asan_build() else 1.0)
    probe = au.new_user(s)
    flooder = au.new_user(s, login=False)
    quiet, bad = _probe(s.http_port, probe.access, 2, 100)
    assert not bad, bad

    gen = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "loadgen.py"), str(s.http_port),
         flooder.username, flooder.password, str(FLOOD_CLIENTS), "90"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([gen.stdout], [], [], 30)
        assert ready and gen.stdout.readline().strip() == "ready", "load generator did not start"
        pid = s.authsvc.pid

        # Wait until the flood keeps authsvc's hash pool busy.
        def busy():
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(0.25)
            return (cpu_seconds(pid) - c0) / (time.monotonic() - t0) >= 0.8

        it.wait_for(busy, 20, step=0, what="authsvc busy hashing under the flood")
        c0, t0, m0 = cpu_seconds(pid), time.monotonic(), machine_busy()
        lat, bad = _probe(s.http_port, probe.access, 6, 3000)
        cores = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        m1 = machine_busy()
        machine = (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
    finally:
        try:
            gen.stdin.write("stop\n")
            gen.stdin.flush()
        except BrokenPipeError:
            pass
        try:
            out, err = gen.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            gen.kill()
            out, err = gen.communicate()
    counts = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}

    ms = sorted(x * 1000 for x in lat)
    p50, p99, worst = au.percentile(ms, 50), au.percentile(ms, 99), ms[-1]
    info = (f"{len(ms)} samples under the flood: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
            f"(quiet p99 {au.percentile([x * 1000 for x in quiet], 99):.1f} ms); authsvc {cores:.2f} cores, "
            f"all CPUs {machine:.0%} busy; "
            f"flood answers {counts}; budget {budget_ms:.0f} ms")
    print(info)
    assert not bad, f"/users/me failed under the flood: {bad[:10]} ({len(bad)} of {len(ms)}); {info}"
    assert len(ms) >= 200, f"too few samples: {info}"
    # The flood must really load the machine: all CPUs nearly saturated, and
    # authsvc (hashing) a large part of it. On a quiet 2-core host authsvc
    # takes ~1.3 cores here; other jobs on a shared host can take half of
    # that, so authsvc alone is only required to use a quarter of the box.
    assert machine >= 0.85 and cores >= 0.5, f"the flood did not saturate the CPUs with hashing: {info}"
    assert counts.get("200", 0) >= 2, f"the flood got (almost) no login through: {info}"
    assert p99 < budget_ms, f"p99 {p99:.1f} ms >= {budget_ms:.0f} ms: {info}"
