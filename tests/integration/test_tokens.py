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
