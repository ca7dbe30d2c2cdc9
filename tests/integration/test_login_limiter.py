"""The login brute-force limiter over HTTP (docs/API.md "Login
protection"): block after LOGIN_MAX_FAILURES, the correct password still 429
while blocked, cooldown expiry, reset on success, window expiry, isolation
between sources, and client-IP resolution (X-Forwarded-For / X-Real-IP
ignored from untrusted peers, honoured from trusted ones, IPv4-mapped IPv6).

Two stacks on one database:
  lim    the default client-IP rules (every request comes from 127.0.0.1),
         LOGIN_MAX_FAILURES=5, LOGIN_WINDOW_SECONDS=4, LOGIN_COOLDOWN_SECONDS=3
  proxy  LOGIN_TRUSTED_PROXY_IPS=127.0.0.1,10.9.0.0/16, LOGIN_MAX_FAILURES=3,
         the default window and cooldown: every test uses its own source
         addresses in X-Forwarded-For, so the tests do not share a counter.
The 50-parallel-logins case, which needs realistic Argon2, is in test_load.py.
"""

import itertools
import json
import re
import random
import time

import pytest

import authutil as au
import restc_it as it

MAX = 5
WINDOW = 4
COOLDOWN = 3
PROXY_MAX = 3


@pytest.fixture(scope="module")
def ldb(pg):
    return au.fresh_database(pg, "limiter")


@pytest.fixture(scope="module")
def lim(ldb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(
        tmp_path_factory, ldb, jwt_secret, "lim",
        authsvc={"LOGIN_MAX_FAILURES": MAX, "LOGIN_WINDOW_SECONDS": WINDOW, "LOGIN_COOLDOWN_SECONDS": COOLDOWN},
    )


@pytest.fixture(scope="module")
def proxy(ldb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(
        tmp_path_factory, ldb, jwt_secret, "proxy",
        authsvc={"LOGIN_MAX_FAILURES": PROXY_MAX},
        gateway={"LOGIN_TRUSTED_PROXY_IPS": "127.0.0.1,10.9.0.0/16"},
    )


_octets = itertools.count(1)


def new_ip():
    """A source address no other test uses (198.18.0.0/15, benchmarking)."""
    n = next(_octets)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def spoof_ip():
    return f"203.0.113.{random.randint(1, 254)}"


def wrong(s, u, headers=None, route="/auth/token"):
    return au.post(s, route, {"username": u.username, "password": u.password + "-wrong"}, headers=headers)


def right(s, u, headers=None, route="/auth/token"):
    return au.post(s, route, {"username": u.username, "password": u.password}, headers=headers)


def assert_blocked(r, cooldown):
    p = au.assert_problem(r, 429, "login_rate_limited")
    assert p["detail"] == au.LOGIN_BLOCKED_DETAIL, p
    assert r.headers.get("Retry-After") == str(cooldown), f"Retry-After {r.headers.get('Retry-After')!r}"
    assert not au.set_cookies(r), "a refused login sets a cookie"
    for k in p:
        assert k in ("type", "title", "status", "detail", "code", "request_id"), f"429 reveals {k}: {p}"
    return p


def ensure_unblocked(s, u, headers=None, cooldown=COOLDOWN):
    """Polls a correct login until it succeeds (a previous test may have left
    the source blocked); the success also resets the source's counter."""
    it.wait_for(lambda: right(s, u, headers).status_code == 200, cooldown + 5, step=0.25,
                what="login source unblocked")


def log_mark(s):
    return {p.name: len(p.log_text()) for p in s.procs()}


def records_since(s, mark):
    out = []
    for p in s.procs():
        out += it.log_records(p.log_text()[mark.get(p.name, 0):])
    return out


# ============================================================= lifecycle


def test_block_429_even_for_the_correct_password_then_cooldown_expiry(lim):
    s = lim
    u = au.new_user(s, login=False)
    bystander = au.new_user(s, login=False)
    ensure_unblocked(s, u)
    mark = log_mark(s)

    bodies = set()
    for i in range(MAX):  # both login routes count against the same source
        r = wrong(s, u, route="/auth/token" if i % 2 == 0 else "/auth/login")
        au.assert_problem(r, 401, "invalid_credentials")
        bodies.add(json.dumps(au.problem_sans_rid(r), sort_keys=True))
    assert len(bodies) == 1, f"401 answers differ between attempts (they must not reveal a count): {bodies}"

    t_block = time.monotonic()
    assert_blocked(wrong(s, u), COOLDOWN)
    assert_blocked(right(s, u), COOLDOWN)
    assert_blocked(right(s, u, route="/auth/login"), COOLDOWN)
    assert_blocked(right(s, bystander), COOLDOWN)  # per source, not per account
    assert_blocked(au.token(s, au.fresh_name("ghost"), "Xy7#whatever"), COOLDOWN)

    # The block is logged once, at WARNING, with the source and a time.
    def warned():
        return [r for r in records_since(s, mark)
                if str(r.get("level", "")).lower() in ("warning", "warn") and "127.0.0.1" in json.dumps(r)
                and re.search(r"(?i)block|lock|limit", str(r.get("msg", "")))]

    recs = it.wait_for(warned, 5, what="a WARNING log line naming the blocked source")
    assert all("ts" in r for r in recs), recs
    assert len(recs) == 1, f"one block, {len(recs)} WARNING lines: {recs}"
    text = "".join(p.log_text() for p in s.procs())
    assert u.password not in text, "a password reached the logs"

    # Retry-After is the cooldown, not a countdown.
    time.sleep(1.2)
    last = time.monotonic()
    assert_blocked(right(s, u), COOLDOWN)
    # Cooldown over (waiting out the clock from the last attempt, then polling).
    time.sleep(max(0.0, COOLDOWN + 0.3 - (time.monotonic() - last)))
    r = it.wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(right(s, u)), 5, step=0.25,
                    what="login allowed after the cooldown")
    waited = time.monotonic() - t_block
    assert waited < COOLDOWN + 6, f"unblocked only after {waited:.1f}s"
    assert au.get(s, "/users/me", token=r.json()["access_token"]).status_code == 200
    # A fresh counter: one failure is a plain 401 again.
    au.assert_problem(wrong(s, u), 401, "invalid_credentials")
    assert right(s, u).status_code == 200


def test_success_resets_the_counter(lim):
    s = lim
    u = au.new_user(s, login=False)
    ensure_unblocked(s, u)
    for _ in range(MAX - 1):
        au.assert_problem(wrong(s, u), 401, "invalid_credentials")
    assert right(s, u).status_code == 200
    for _ in range(MAX - 1):  # without the reset, the 2nd of these would be blocked
        au.assert_problem(wrong(s, u), 401, "invalid_credentials")
    assert right(s, u).status_code == 200
    for _ in range(MAX):
        au.assert_problem(wrong(s, u), 401, "invalid_credentials")
    assert_blocked(wrong(s, u), COOLDOWN)
    assert_blocked(right(s, u), COOLDOWN)


def test_failures_older_than_the_window_are_forgotten(lim):
    s = lim
    u = au.new_user(s, login=False)
    ensure_unblocked(s, u)
    for _ in range(MAX - 1):
        au.assert_problem(wrong(s, u), 401, "invalid_credentials")
    time.sleep(WINDOW + 1.5)  # LOGIN_WINDOW_SECONDS, nothing to poll
    for _ in range(MAX - 1):
        au.assert_problem(wrong(s, u), 401, "invalid_credentials")
    assert right(s, u).status_code == 200


def test_forwarded_headers_are_ignored_from_an_untrusted_peer(lim):
    """Default LOGIN_TRUSTED_PROXY_IPS (empty): the TCP peer is the client,
    whatever X-Forwarded-For / X-Real-IP say."""
    s = lim
    u = au.new_user(s, login=False)
    ensure_unblocked(s, u)
    pair = au.login_pair(s, u.username, u.password, headers={"X-Forwarded-For": "192.0.2.77", "X-Real-IP": "192.0.2.78"})
    sessions = au.get(s, "/auth/sessions", token=pair["access_token"]).json()["sessions"]
    current = [x for x in sessions if x["current"]]
    assert len(current) == 1 and current[0]["client_ip"] == "127.0.0.1", sessions
    for i in range(MAX):
        h = {"X-Forwarded-For": f"192.0.2.{i + 1}", "X-Real-IP": f"192.0.2.{i + 101}"}
        au.assert_problem(wrong(s, u, headers=h), 401, "invalid_credentials")
    assert_blocked(right(s, u, headers={"X-Forwarded-For": "192.0.2.200"}), COOLDOWN)
    assert_blocked(right(s, u, headers={"X-Real-IP": "192.0.2.201"}), COOLDOWN)
    assert_blocked(right(s, u, headers={"X-Forwarded-For": "192.0.2.202, 10.0.0.1"}), COOLDOWN)
    ensure_unblocked(s, u)


# ============================================ trusted proxies, isolation


def test_sources_are_isolated(proxy):
    s = proxy
    u = au.new_user(s, login=False)
    a, b = au.xff(new_ip()), au.xff(new_ip())
    blocked_before = au.get(s, "/admin/stats", token=au.owner_access(s)).json()["blocked_sources"]
    for _ in range(PROXY_MAX):
        au.assert_problem(wrong(s, u, a), 401, "invalid_credentials")
    assert_blocked(wrong(s, u, a), 900)
    assert_blocked(right(s, u, a), 900)
    # Another source, and the proxy itself, are unaffected.
    au.assert_problem(wrong(s, u, b), 401, "invalid_credentials")
    assert right(s, u, b).status_code == 200
    assert right(s, u).status_code == 200  # no X-Forwarded-For: the peer 127.0.0.1
    assert_blocked(right(s, u, a), 900)
    stats = au.get(s, "/admin/stats", token=au.owner_access(s)).json()
    assert stats["blocked_sources"] == blocked_before + 1, (blocked_before, stats)


def test_forwarded_for_is_walked_from_the_right_skipping_trusted_proxies(proxy):
    s = proxy
    u = au.new_user(s, login=False)
    src = new_ip()
    for _ in range(PROXY_MAX):
        # The leftmost entry is whatever the client claims; 10.9.x.x is our proxy.
        h = au.xff(f"{spoof_ip()}, {src}, 10.9.3.4")
        au.assert_problem(wrong(s, u, h), 401, "invalid_credentials")
    assert_blocked(right(s, u, au.xff(src)), 900)
    assert_blocked(right(s, u, au.xff(f"{src}, 10.9.0.1, 10.9.200.200")), 900)
    assert_blocked(right(s, u, au.xff(f"{spoof_ip()}, {src}")), 900)
    # A client cannot escape by prepending addresses, only the rightmost untrusted one counts...
    assert_blocked(right(s, u, au.xff(f"{new_ip()}, {new_ip()}, {src}")), 900)
    # ...and when that one is someone else, it is someone else.
    assert right(s, u, au.xff(f"{src}, {new_ip()}")).status_code == 200


def test_x_real_ip_is_the_fallback_from_a_trusted_peer(proxy):
    s = proxy
    u = au.new_user(s, login=False)
    src = new_ip()
    for _ in range(PROXY_MAX):
        au.assert_problem(wrong(s, u, {"X-Real-IP": src}), 401, "invalid_credentials")
    assert_blocked(right(s, u, {"X-Real-IP": src}), 900)
    assert_blocked(right(s, u, au.xff(src)), 900)
    assert right(s, u, {"X-Real-IP": new_ip()}).status_code == 200


def test_ipv4_mapped_ipv6_counts_as_the_ipv4_address(proxy):
    s = proxy
    u = au.new_user(s, login=False)
    src = new_ip()
    for _ in range(PROXY_MAX):
        au.assert_problem(wrong(s, u, au.xff(f"::ffff:{src}")), 401, "invalid_credentials")
    assert_blocked(right(s, u, au.xff(src)), 900)
    assert_blocked(right(s, u, au.xff(f"::FFFF:{src}")), 900)


def test_sessions_record_the_resolved_client_ip(proxy):
    s = proxy
    u = au.new_user(s, login=False)
    src = new_ip()
    pair = au.login_pair(s, u.username, u.password, headers=au.xff(f"{spoof_ip()}, {src}, 10.9.8.7"))
    sessions = au.get(s, "/auth/sessions", token=pair["access_token"]).json()["sessions"]
    assert [x["client_ip"] for x in sessions] == [src], sessions
    pair = au.login_pair(s, u.username, u.password, headers=au.xff(f"::ffff:{src}"))
    sessions = au.get(s, "/auth/sessions", token=pair["access_token"]).json()["sessions"]
    assert [x["client_ip"] for x in sessions] == [src, src], sessions
