"""Dependencies going away and coming back: health and readiness follow, and
nothing needs a restart to recover (ZeroMQ reconnects, storesvc reconnects to
PostgreSQL)."""

import restc_it as it

RECOVER = 15  # seconds allowed for a state change to show in health


def health(s):
    r = it.http_get(s.url("/api/v1/health"), timeout=10)
    return r.status_code, r.json()


def wait_health(s, status, checks=None, timeout=RECOVER):
    """Polls /api/v1/health until it answers `status` (and, if given, exactly
    `checks`, or the listed subset when checks is a dict of wanted values)."""

    def pred():
        code, body = health(s)
        if code != status:
            return False
        if checks is not None and any(body["checks"].get(k) != v for k, v in checks.items()):
            return False
        return code, body

    return it.wait_for(pred, timeout, step=0.2, what=f"/api/v1/health {status} {checks}")


def wait_status(s, path, status, timeout=RECOVER):
    return it.wait_for(
        lambda: it.http_get(s.url(path), timeout=10).status_code == status,
        timeout,
        step=0.2,
        what=f"{path} == {status}",
    )


def store_db_check(s):
    rep = it.rpc(s.store_ep, "sys.health", timeout=5)
    return rep and rep.get("ok") and rep["body"]["checks"]["database"]


def test_storesvc_down_gives_503_and_recovers_on_restart_without_gateway_restart(stack):
    gw_pid = stack.gateway.pid
    auth_pid = stack.authsvc.pid
    assert stack.storesvc.terminate() == 0

    code, body = wait_health(
        stack, 503, {"storesvc": "down", "database": "down", "objectstore": "down"}
    )
    assert body["status"] == "degraded", body
    assert set(body["checks"]) == {"authsvc", "storesvc", "database", "objectstore"}
    r = it.http_get(stack.url("/api/v1/health"))
    assert r.headers["Content-Type"].startswith("application/json")
    assert it.UUID_RE.match(r.headers["X-Request-ID"])
    wait_status(stack, "/readyz", 503)
    assert it.http_get(stack.url("/healthz")).status_code == 200

    # authsvc notices too, and says so without failing the call.
    rep = it.wait_for(
        lambda: (lambda r: r if r and r["ok"] and r["body"]["checks"]["storesvc"] == "down" else None)(
            it.rpc(stack.auth_ep, "sys.health", timeout=5)
        ),
        RECOVER,
        step=0.2,
        what="authsvc sys.health storesvc down",
    )
    assert rep["body"]["status"] == "degraded", rep

    stack.start_storesvc()  # same port
    wait_health(stack, 200, dict.fromkeys(("authsvc", "storesvc", "database", "objectstore"), "ok"))
    wait_status(stack, "/readyz", 200)
    rep = it.wait_for(
        lambda: (lambda r: r if r and r["ok"] and r["body"]["status"] == "ok" else None)(
            it.rpc(stack.auth_ep, "sys.health", timeout=5)
        ),
        RECOVER,
        step=0.2,
        what="authsvc sys.health ok again",
    )
    assert stack.gateway.alive() and stack.gateway.pid == gw_pid
    assert stack.authsvc.alive() and stack.authsvc.pid == auth_pid


def test_postgres_restart_recovers_without_restarting_storesvc(stack, pg):
    store_pid = stack.storesvc.pid
    assert store_db_check(stack) == "ok"
    pg.restart()
    # During the restart database may have been "down"; it must come back.
    it.wait_for(lambda: store_db_check(stack) == "ok", RECOVER, step=0.2, what="storesvc database ok")
    wait_health(stack, 200)
    wait_status(stack, "/readyz", 200)
    assert stack.storesvc.alive() and stack.storesvc.pid == store_pid


def test_postgres_down_shows_database_down_then_recovers(stack, pg):
    store_pid = stack.storesvc.pid
    r = pg._pg("stop", pg.state_dir)
    assert r.returncode == 0, r.stderr
    try:
        it.wait_for(
            lambda: store_db_check(stack) == "down", RECOVER, step=0.2, what="storesvc database down"
        )
        rep = it.rpc(stack.store_ep, "sys.health", timeout=5)
        assert rep["ok"] is True and rep["body"]["status"] == "degraded", rep
        assert rep["body"]["checks"]["objectstore"] == "ok", rep
        code, body = wait_health(stack, 503, {"database": "down"})
        assert body["status"] == "degraded"
        assert body["checks"]["storesvc"] == "ok" and body["checks"]["authsvc"] == "ok", body
        wait_status(stack, "/readyz", 503)
        assert it.http_get(stack.url("/healthz")).status_code == 200
    finally:
        pg.start()
    it.wait_for(lambda: store_db_check(stack) == "ok", RECOVER, step=0.2, what="storesvc database ok")
    wait_health(stack, 200)
    assert stack.storesvc.alive() and stack.storesvc.pid == store_pid


def test_authsvc_down_gives_503_with_authsvc_down_and_recovers(stack):
    gw_pid = stack.gateway.pid
    assert stack.authsvc.terminate() == 0
    code, body = wait_health(
        stack,
        503,
        {"authsvc": "down", "storesvc": "ok", "database": "ok", "objectstore": "ok"},
    )
    assert body["status"] == "degraded"
    wait_status(stack, "/readyz", 503)
    assert it.http_get(stack.url("/healthz")).status_code == 200

    stack.start_authsvc()  # same port
    wait_health(stack, 200, dict.fromkeys(("authsvc", "storesvc", "database", "objectstore"), "ok"))
    wait_status(stack, "/readyz", 200)
    assert stack.gateway.alive() and stack.gateway.pid == gw_pid


def test_health_answers_within_bound_while_a_backend_hangs(stack):
    """A SIGSTOPped storesvc (accepts TCP, never answers) must cost a health
    probe about HEALTH_TIMEOUT_MS (x2 with the one retry), not RPC_TIMEOUT_MS
    or forever."""
    import signal
    import time

    stack.storesvc.signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = it.http_get(stack.url("/api/v1/health"), timeout=10)
        took = time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["storesvc"] == "down"
        assert took < 2 * it.HEALTH_TIMEOUT_MS / 1000 + 1.0, f"health took {took:.2f}s"
    finally:
        stack.storesvc.signal(signal.SIGCONT)
    wait_health(stack, 200)
