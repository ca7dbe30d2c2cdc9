"""The per-account login limiter over HTTP: guessing one account's password
from many source addresses (X-Forwarded-For through a trusted proxy) is slowed
after LOGIN_ACCOUNT_MAX_FAILURES failures with a Retry-After that doubles,
while the owner, whose client carries the device cookie of an earlier login,
logs in at once; unknown and known login names answer alike.

One stack: LOGIN_TRUSTED_PROXY_IPS=127.0.0.1, LOGIN_ACCOUNT_MAX_FAILURES=10
(the default), the source limiter far away (LOGIN_MAX_FAILURES=1000), so
every attempt from its own address is judged by the account limiter alone.
"""

import itertools
import json
import time

import pytest

import authutil as au

MAX = 10
LIMITED = au.LOGIN_BLOCKED_DETAIL


@pytest.fixture(scope="module")
def adb(pg):
    return au.fresh_database(pg, "acctlim")


@pytest.fixture(scope="module")
def s(adb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(
        tmp_path_factory, adb, jwt_secret, "acctlim",
        authsvc={"LOGIN_ACCOUNT_MAX_FAILURES": MAX},
        gateway={"LOGIN_TRUSTED_PROXY_IPS": "127.0.0.1"},
    )


_n = itertools.count(1)


def new_ip():
    n = next(_n)
    return {"X-Forwarded-For": f"198.18.{n // 250}.{n % 250 + 1}"}


def attempt(s, name, password, route="/auth/token", cookie=None, headers=None):
    h = dict(headers or new_ip())
    if cookie:
        h["Cookie"] = f"device={cookie}"
    return au.post(s, route, {"username": name, "password": password}, headers=h)


def device_cookie(r):
    found = [au.parse_set_cookie(c) for c in au.set_cookies(r)]
    found = [(v, a) for n, v, a in found if n == "device"]
    assert len(found) == 1, f"want one device cookie: {au.set_cookies(r)}"
    return found[0]


def assert_limited(r, retry_after):
    p = au.assert_problem(r, 429, "login_rate_limited")
    assert p["detail"] == LIMITED, p
    assert r.headers.get("Retry-After") == str(retry_after), (r.headers.get("Retry-After"), retry_after)
    assert not au.set_cookies(r)
    return p


def owner_device(s, u, route="/auth/login"):
    r = attempt(s, u.username, u.password, route=route)
    assert r.status_code == 200, r.text
    value, attrs = device_cookie(r)
    return value, attrs


def test_login_sets_a_device_cookie_on_both_routes(s):
    u = au.new_user(s, login=False)
    for route in ("/auth/login", "/auth/token"):
        value, attrs = owner_device(s, u, route)
        assert len(value) == 98, value
        assert attrs.get("httponly") is True, attrs
        assert str(attrs.get("samesite", "")).lower() == "strict", attrs
        assert attrs.get("path") == "/api/v1/auth", attrs
        assert attrs.get("max-age") == str(365 * 86400), attrs
        assert attrs.get("secure") is True, "COOKIE_SECURE defaults to true"
    r = attempt(s, u.username, u.password, route="/auth/token")
    assert "device_cookie" not in r.json(), "the cookie is not part of the body"
    r = attempt(s, u.username, u.password + "x")
    assert not au.set_cookies(r), "a failed login sets no cookie"


def test_distributed_guessing_is_slowed_but_the_owner_logs_in(s):
    u = au.new_user(s, login=False)
    cookie, _ = owner_device(s, u)
    wrong = u.password + "-wrong"
    for _ in range(MAX):  # ten addresses, ten failures
        au.assert_problem(attempt(s, u.username, wrong), 401, "invalid_credentials")
    sent = MAX
    # From the tenth on: slowed, whatever the address; the delay doubles per
    # further failure: 1, 2, 4, then 8 s.
    assert_limited(attempt(s, u.username, wrong), 1)
    sent += 1
    for want in (1, 2, 4):
        time.sleep(want + 0.1)
        au.assert_problem(attempt(s, u.username, wrong), 401, "invalid_credentials")
        assert_limited(attempt(s, u.username, wrong), want * 2)
        sent += 2
    # Within the 8 s delay: a fresh client is delayed even with the right password ...
    assert_limited(attempt(s, u.username, u.password), 8)
    assert_limited(attempt(s, u.username, u.password, route="/auth/login"), 8)
    # ... the owner, with the device cookie, logs in at once (and on /token) ...
    r = attempt(s, u.username, u.password, route="/auth/login", cookie=cookie)
    assert r.status_code == 200, r.text
    r = attempt(s, u.username, u.password, route="/auth/token", cookie=cookie)
    assert r.status_code == 200, r.text
    # ... which does not lift the delay for the others.
    assert_limited(attempt(s, u.username, u.password), 8)
    # Another account's cookie, or a tampered one, exempts nobody.
    v = au.new_user(s, login=False)
    other_cookie, _ = owner_device(s, v)
    assert_limited(attempt(s, u.username, u.password, cookie=other_cookie), 8)
    tampered = cookie[:-5] + ("AAAAA" if not cookie.endswith("AAAAA") else "BBBBB")
    assert_limited(attempt(s, u.username, u.password, cookie=tampered), 8)
    # Forty wrong passwords from forty addresses in all: none gets through,
    # and the delay never shrinks (a slow machine may outlast a delay: then
    # that attempt is evaluated, fails, and the delay doubles).
    delays = []
    while sent < 40:
        r = attempt(s, u.username, wrong)
        assert r.status_code in (401, 429), r.text
        if r.status_code == 429:
            delays.append(int(r.headers["Retry-After"]))
        sent += 1
    assert delays and delays == sorted(delays) and delays[0] >= 8, delays
    r = attempt(s, u.username, u.password, cookie=cookie)
    assert r.status_code == 200, "the owner is never locked out"


def sequence(s, name, password):
    """Twelve wrong passwords from twelve addresses, then one more after the
    first delay: what each answered, without request ids."""
    out = []
    for i in range(MAX + 2):
        r = attempt(s, name, password)
        out.append((r.status_code, r.headers.get("Retry-After"),
                    json.dumps(au.problem_sans_rid(r), sort_keys=True)))
    time.sleep(1.1)
    for _ in range(2):
        r = attempt(s, name, password)
        out.append((r.status_code, r.headers.get("Retry-After"),
                    json.dumps(au.problem_sans_rid(r), sort_keys=True)))
    return out


def test_unknown_and_known_names_answer_alike(s):
    u = au.new_user(s, login=False)
    known = sequence(s, u.username, u.password + "-wrong")
    unknown = sequence(s, au.fresh_name("ghost"), u.password + "-wrong")
    assert known == unknown, f"known {known}\nunknown {unknown}"
    assert [k[0] for k in known] == [401] * MAX + [429, 429, 401, 429], known
    assert known[-1][1] == "2", known
    # An email is a name of its own: its budget says nothing about the username's.
    r = attempt(s, u.email, u.password)
    assert r.status_code == 200, r.text
