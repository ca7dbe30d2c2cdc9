"""Start-up: a service is ready only when its start-up work is done. With
OWNER_* set, authsvc reports not ready (sys.health is not ok) until the
owner account exists, so the gateway's /api/v1/health and /readyz answer 503
until then, and a login as the owner right after health first turns 200
(what deploy/run.sh waits for) succeeds.

AUTHSVC_TEST_STARTUP_DELAY_MS (a test-only knob) holds the owner bootstrap
back, which makes the race deterministic; the rounds without it check the
real start-up as it is.
"""

import time

import pytest

import authutil as au
import restc_it as it

ROUNDS = 4


@pytest.fixture
def fresh_db(pg):
    """A database of its own per test: the owner does not exist yet."""
    return lambda: au.fresh_database(pg, "startup")


def start_without_waiting(pm, db_url, jwt_secret, tmp_path, name, **authsvc):
    """storesvc, authsvc and gateway started (each answering its own
    liveness probe), without waiting for /api/v1/health."""
    s = it.Stack(pm, db_url, str(tmp_path / f"objects-{name}"), jwt_secret, name=name)
    s.env_over["authsvc"].update(au.auth_env(**authsvc))
    s.start_all()
    return s


def health_codes_until_200(s, timeout=30):
    """Polls /api/v1/health as fast as a client would; every status seen,
    ending with the first 200."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = it.http_get(s.url("/api/v1/health"), timeout=5).status_code
        seen.append(code)
        if code == 200:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"/api/v1/health never answered 200: {seen[-5:]}")


def login_owner(s):
    return au.token(s, au.OWNER_USERNAME, au.OWNER_PASSWORD)


def test_not_ready_until_the_owner_exists_then_the_owner_logs_in_at_once(pm, fresh_db, jwt_secret, tmp_path):
    s = start_without_waiting(pm, fresh_db(), jwt_secret, tmp_path, "slowowner",
                              AUTHSVC_TEST_STARTUP_DELAY_MS="1500")
    rep = it.rpc(s.auth_ep, "sys.health", timeout=5)
    assert rep and rep["ok"] is False, f"authsvc is healthy before its start-up is done: {rep}"
    assert rep["err"]["code"] == "unavailable" and "start" in rep["err"].get("msg", ""), rep
    assert it.ping_ok(s.auth_ep, "authsvc"), "sys.ping answers while starting (liveness)"
    r = it.http_get(s.url("/api/v1/health"), timeout=5)
    assert r.status_code == 503, r.text
    assert r.json()["status"] == "degraded" and r.json()["checks"]["authsvc"] == "down", r.json()
    assert it.http_get(s.url("/readyz"), timeout=5).status_code == 503
    assert it.http_get(s.url("/healthz"), timeout=5).status_code == 200  # alive, only not ready
    codes = health_codes_until_200(s)
    r = login_owner(s)
    assert r.status_code == 200, f"owner login right after health turned 200 (after {codes}): {r.status_code} {r.text}"
    assert au.get(s, "/users/me", token=r.json()["access_token"]).json()["role"] == "admin"
    assert it.http_get(s.url("/readyz"), timeout=5).status_code == 200
    assert it.rpc(s.auth_ep, "sys.health", timeout=5)["ok"] is True


def test_owner_logs_in_right_after_health_first_turns_200(pm, fresh_db, jwt_secret, tmp_path):
    """No knob: with the Argon2 parameters of production the owner's hash
    takes a few hundred milliseconds, longer than the gateway takes to
    start, which is the race deploy/run.sh lost."""
    for i in range(ROUNDS):
        s = start_without_waiting(pm, fresh_db(), jwt_secret, tmp_path, f"owner{i}", **au.REALISTIC_ARGON2)
        health_codes_until_200(s)
        r = login_owner(s)
        assert r.status_code == 200, f"round {i}: {r.status_code} {r.text}"
        s.stop()


def test_without_owner_settings_authsvc_is_ready_at_once(pm, fresh_db, jwt_secret, tmp_path):
    s = it.Stack(pm, fresh_db(), str(tmp_path / "objects"), jwt_secret, name="noowner")
    s.start_all()
    health_codes_until_200(s, timeout=15)
    assert it.rpc(s.auth_ep, "sys.health", timeout=5)["ok"] is True


def test_an_existing_admin_counts_as_done(pm, fresh_db, jwt_secret, tmp_path):
    """A second start on the same database finds the admin: ready, and the
    first owner's password still works."""
    db = fresh_db()
    s = start_without_waiting(pm, db, jwt_secret, tmp_path, "first")
    health_codes_until_200(s)
    s.stop()
    s = start_without_waiting(pm, db, jwt_secret, tmp_path, "second", OWNER_USERNAME="another-owner",
                              OWNER_EMAIL="another@example.com")
    health_codes_until_200(s)
    assert login_owner(s).status_code == 200
    assert au.token(s, "another-owner", au.OWNER_PASSWORD).status_code == 401
