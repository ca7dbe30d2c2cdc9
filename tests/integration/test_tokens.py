"""Refresh tokens and the sessions they stand for, over HTTP and raw ZeroMQ:

- rotation races: without a grace window exactly one of many parallel
  refreshes of one token wins; with one, the window runs from the rotation
  to the moment a late request is decided;
- revoking a session (logout, DELETE /auth/sessions/{id}, refresh-token
  reuse) kills the access tokens of that session at once, on every path
  (HTTP, auth.authorize, auth.verify), and no other session's;
- refresh tokens of the wrong shape or length are simply unknown tokens.

Every test uses fresh accounts on a database of this module.
"""

import hashlib
import os
import secrets
import subprocess
import threading
import time

import pytest

import authutil as au
import restc_it as it

RACE_ROUNDS = 20
RACE_WIDTH = 20
REFUSED = ("refresh_token_reused", "invalid_refresh_token")


@pytest.fixture(scope="module")
def tdb(pg):
    return au.fresh_database(pg, "tokens")


@pytest.fixture(scope="module")
def st(tdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, tdb, jwt_secret, "tokens")


@pytest.fixture(scope="module")
def grace0(tdb, jwt_secret, tmp_path_factory):
    """No grace window, and enough workers on both backends that parallel
    refreshes really run in parallel transactions."""
    yield from au.module_stack(
        tmp_path_factory, tdb, jwt_secret, "grace0",
        authsvc={"REFRESH_REUSE_GRACE_SECONDS": "0", "AUTHSVC_WORKERS": "8"},
        storesvc={"STORESVC_WORKERS": "8"},
    )


def refresh(s, rt, **kw):
    return au.post(s, "/auth/refresh", {"refresh_token": rt}, **kw)


def token_hash_hex(rt):
    """What storesvc keeps of a refresh token: SHA-256 of its text."""
    return hashlib.sha256(rt.encode()).hexdigest()


def psql_background(db_url, query, name):
    env = dict(os.environ, PGAPPNAME=name)
    return subprocess.Popen(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db_url, "-c", query],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
    )


def psql_scalar(db_url, query):
    r = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db_url, "-c", query],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def parallel(n, fn):
    """fn(i) in n threads released together; the results in order."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def worker(i):
        try:
            barrier.wait(timeout=20)
            out[i] = fn(i)
        except Exception as e:  # surfaced below
            out[i] = e

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    for r in out:
        if isinstance(r, Exception):
            raise r
    return out


# ========================================================= rotation races


def test_without_grace_exactly_one_of_many_parallel_refreshes_wins(grace0):
    s = grace0
    tally = []
    for rnd in range(RACE_ROUNDS):
        u = au.new_user(s)
        rs = parallel(RACE_WIDTH, lambda i: refresh(s, u.refresh))
        winners = [r for r in rs if r.status_code == 200]
        assert len(winners) == 1, f"round {rnd}: {[r.status_code for r in rs]} {[r.text[:80] for r in winners]}"
        for r in rs:
            if r.status_code != 200:
                au.assert_problem(r, 401, codes=REFUSED)
        tally.append(sum(r.status_code == 401 and r.json()["code"] == "refresh_token_reused" for r in rs))
        # The reuse revoked the family: the winner's new token is dead too.
        au.assert_problem(refresh(s, winners[0].json()["refresh_token"]), 401, codes=REFUSED)
    assert all(n >= 1 for n in tally), tally


def test_a_refresh_decided_late_inside_the_grace_window_gets_a_pair(pm, tdb, jwt_secret, tmp_path):
    """The first refresh waits 2.5 s on the token's row lock (held by another
    session), so its transaction began long before it rotated. A second
    refresh of the same token right after the rotation is within a 2 s
    window counted from the rotation, whatever the first transaction's
    start."""
    s = au.start_stack(
        pm, tdb, jwt_secret, tmp_path, "lategrace",
        authsvc={"REFRESH_REUSE_GRACE_SECONDS": "2", "RPC_TIMEOUT_MS": "8000"},
        gateway={"RPC_TIMEOUT_MS": "8000"},
        storesvc={"DB_TIMEOUT_MS": "8000"},
    )
    u = au.new_user(s)
    name = "it-rowlock-" + secrets.token_hex(3)
    holder = psql_background(
        s.db_url,
        "BEGIN; SELECT 1 FROM refresh_tokens"
        f" WHERE token_hash = '\\x{token_hash_hex(u.refresh)}'::bytea FOR UPDATE;"
        " SELECT pg_sleep(2.5); COMMIT;",
        name,
    )
    try:
        it.wait_for(
            lambda: psql_scalar(
                s.db_url,
                "SELECT count(*) FROM pg_stat_activity"
                f" WHERE application_name = '{name}' AND wait_event = 'PgSleep'",
            ) == "1",
            10, what="the row lock to be held",
        )
        first = refresh(s, u.refresh)  # waits for the lock, then rotates
    finally:
        holder.communicate(timeout=30)
    assert first.status_code == 200, first.text
    second = refresh(s, u.refresh)
    assert second.status_code == 200, f"a refresh 0 s after the rotation, grace 2 s: {second.status_code} {second.text}"
    assert second.json()["refresh_token"] != first.json()["refresh_token"]
    sid = au.jwt_payload(first.json()["access_token"])["sid"]
    assert au.jwt_payload(second.json()["access_token"])["sid"] == sid


# =============================================== refresh tokens of any shape


def wrong_tokens(u):
    """Strings no refresh token of ours can be: an access token, over the
    wire bound (256) by a little and by a lot, and odd shapes within it."""
    return {
        "access-token": u.access,
        "257-chars": "A" * 257,
        "300-chars": "x" * 300,
        "40-KiB": "y" * (40 * 1024),
        "empty": "",
        "spaces": "   ",
        "not-base64url": "!@#$%^&*()" * 5,
        "unicode": "\u00e9\u4e2d\U0001f600" * 10,
    }


@pytest.mark.parametrize("what", ["access-token", "257-chars", "300-chars", "40-KiB", "empty", "spaces",
                                  "not-base64url", "unicode"])
def test_refresh_with_a_token_of_the_wrong_shape_or_length_is_401(st, what):
    u = au.new_user(st)
    rt = wrong_tokens(u)[what]
    r = refresh(st, rt)
    p = au.assert_problem(r, 401, "invalid_refresh_token")
    if len(rt) > 8:
        assert rt[:64] not in r.text, "the token is echoed"
    assert "errors" not in p, p
    # The user's real session is untouched.
    assert refresh(st, u.refresh).status_code == 200


@pytest.mark.parametrize("what", ["access-token", "300-chars", "40-KiB", "empty"])
def test_logout_with_a_token_of_the_wrong_shape_or_length_is_an_idempotent_204(st, what):
    u = au.new_user(st)
    rt = wrong_tokens(u)[what]
    for headers in (None, au.bearer(u.access)):
        r = au.post(st, "/auth/logout", {"refresh_token": rt}, headers=headers)
        assert r.status_code == 204, f"{what}: {r.status_code} {r.text[:200]}"
        cleared = au.refresh_cookie(r)
        assert cleared and cleared[0] in ("", '""'), au.set_cookies(r)
    # An unknown token revokes nothing, the bearer's session included.
    assert au.get(st, "/users/me", token=u.access).status_code == 200
    assert refresh(st, u.refresh).status_code == 200


@pytest.mark.parametrize("path", ["/auth/refresh", "/auth/logout"])
@pytest.mark.parametrize("value", [42, 4.5, {"t": "x"}, ["x"], True, None],
                         ids=["int", "float", "object", "array", "bool", "null"])
def test_a_refresh_token_that_is_not_a_string_is_422(st, path, value):
    r = au.post(st, path, {"refresh_token": value})
    p = au.assert_problem(r, 422, "validation_error")
    assert [e["field"] for e in p["errors"]] == ["refresh_token"], p


# ======================================= revoked sessions and their tokens


def rpc_code(rep):
    assert rep.get("v") == 1, rep
    return None if rep.get("ok") else rep["err"]["code"]


def token_paths(s, tok):
    """What each path answers for access token `tok`: HTTP /users/me, and
    auth.authorize (with and without a permission) and auth.verify over
    raw ZeroMQ. None where it was accepted."""
    r = au.get(s, "/users/me", token=tok)
    http = None if r.status_code == 200 else au.assert_unauthorized(r)["code"]
    return {
        "GET /users/me": http,
        "auth.authorize self:read": rpc_code(au.rpc(s, "auth.authorize", {"credential": tok, "client_ip": "192.0.2.9",
                                                                           "permission": "self:read"})),
        "auth.authorize": rpc_code(au.rpc(s, "auth.authorize", {"credential": tok, "client_ip": "192.0.2.9"})),
        "auth.verify": rpc_code(au.rpc(s, "auth.verify", {"token": tok})),
    }


def assert_accepted(s, tok, what):
    got = token_paths(s, tok)
    assert all(v is None for v in got.values()), f"{what}: {got}"


def assert_refused(s, tok, what):
    got = token_paths(s, tok)
    assert all(v == "unauthorized" for v in got.values()), f"{what}: {got}"


def sessions_of(s, n):
    """A fresh user with `n` sessions; each session's tokens were used on
    every path once (so every cache in authsvc holds them)."""
    first = au.new_user(s)
    out = [first]
    for _ in range(n - 1):
        other = au.User(first.username, first.password, first.email, first.info)
        au.relogin(s, other)
        out.append(other)
    for x in out:
        assert_accepted(s, x.access, "before the revocation")
    return out


@pytest.mark.parametrize("how", ["body", "cookie", "bearer"])
def test_logout_kills_the_access_tokens_of_that_session_at_once(st, how):
    a, b = sessions_of(st, 2)
    if how == "body":
        r = au.post(st, "/auth/logout", {"refresh_token": a.refresh})
    elif how == "cookie":
        r = au.post(st, "/auth/logout", {}, headers=au.cookie_header(a.refresh))
    else:
        r = au.post(st, "/auth/logout", {}, token=a.access)
    assert r.status_code == 204, r.text
    assert_refused(st, a.access, f"logout ({how})")
    assert_accepted(st, b.access, "another session of the same user")
    assert refresh(st, b.refresh).status_code == 200


def test_deleting_a_session_kills_its_access_tokens_at_once(st):
    a, b, c = sessions_of(st, 3)
    r = au.delete(st, f"/auth/sessions/{b.sid}", token=a.access)
    assert r.status_code == 204, r.text
    assert_refused(st, b.access, "DELETE /auth/sessions/{id}")
    assert_accepted(st, a.access, "the session that deleted it")
    assert_accepted(st, c.access, "a third session")
    # Its own session, deleted through its own token: refused from then on.
    r = au.delete(st, f"/auth/sessions/{c.sid}", token=c.access)
    assert r.status_code == 204, r.text
    assert_refused(st, c.access, "a session deleted by itself")
    assert_accepted(st, a.access, "the last session")


def test_refresh_token_reuse_kills_the_access_tokens_of_the_family(grace0):
    s = grace0
    a, b = sessions_of(s, 2)
    r = refresh(s, a.refresh)
    assert r.status_code == 200, r.text
    rotated = r.json()["access_token"]
    assert_accepted(s, rotated, "the rotated access token")
    au.assert_problem(refresh(s, a.refresh), 401, "refresh_token_reused")
    assert_refused(s, a.access, "the first access token after reuse")
    assert_refused(s, rotated, "the rotated access token after reuse")
    assert_accepted(s, b.access, "another session of the same user")


def test_a_new_session_after_a_revocation_works(st):
    (a,) = sessions_of(st, 1)
    assert au.post(st, "/auth/logout", {"refresh_token": a.refresh}).status_code == 204
    assert_refused(st, a.access, "logout")
    au.relogin(st, a)
    assert_accepted(st, a.access, "a session opened after the logout")


def test_many_revoked_sessions_stay_refused(st):
    """More sessions revoked within the access-token lifetime than authsvc
    remembers by id: the older ones are still refused (fail closed), and a
    session opened afterwards works."""
    users = sessions_of(st, 12)
    for u in users[:11]:
        assert au.post(st, "/auth/logout", {"refresh_token": u.refresh}).status_code == 204
    for u in users[:11]:
        assert_refused(st, u.access, "one of 11 revoked sessions")
    au.relogin(st, users[11])
    assert_accepted(st, users[11].access, "a session opened after 11 revocations")


def test_another_replica_refuses_within_the_cache_ttl(pm, tdb, jwt_secret, tmp_path):
    """Two authsvc replicas on one storesvc: a logout through one of them is
    seen by the other within AUTH_CACHE_TTL_SECONDS."""
    ttl = 2
    s = au.start_stack(pm, tdb, jwt_secret, tmp_path, "replicas", authsvc={"AUTH_CACHE_TTL_SECONDS": str(ttl)})
    port = it.free_port()
    other_ep = f"tcp://127.0.0.1:{port}"
    env = s.authsvc_env(AUTHSVC_BIND=other_ep, METRICS_PORT="0")  # its own /metrics
    pm.spawn("authsvc", [it.binary("authsvc")], env, log_name="replicas-authsvc-b")
    it.wait_for(lambda: it.ping_ok(other_ep, "authsvc"), 15, what="the second authsvc")
    a, b = sessions_of(s, 2)
    verify_b = lambda tok: rpc_code(it.rpc(other_ep, "auth.verify", {"token": tok}, timeout=5))  # noqa: E731
    assert verify_b(a.access) is None  # replica b has cached the user now
    assert au.post(s, "/auth/logout", {"refresh_token": a.refresh}).status_code == 204
    t0 = time.monotonic()
    it.wait_for(lambda: verify_b(a.access) == "unauthorized", ttl + 3, step=0.05, what="replica b refusing")
    took = time.monotonic() - t0
    assert took <= ttl + 1.0, f"replica b refused after {took:.2f}s (AUTH_CACHE_TTL_SECONDS={ttl})"
    assert verify_b(b.access) is None
