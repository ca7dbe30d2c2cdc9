"""SIGTERM: stop taking work, finish what is in flight, exit 0 (docs/ARCHITECTURE.md,
"Failure policy"). In-flight work is made slow on purpose by freezing a
dependency with SIGSTOP; every frozen process is SIGCONTed in a finally."""

import signal
import threading
import time

import pytest

import restc_it as it

IDLE_EXIT = 5.0  # an idle service must be gone this fast after SIGTERM
BUSY_EXIT = 15.0  # with a request in flight (well under SHUTDOWN_GRACE_SECONDS + slack)
SETTLE = 0.3  # lets a just-sent request reach the service before the signal


@pytest.mark.parametrize("svc", ["gateway", "authsvc", "storesvc"])
def test_sigterm_idle_service_exits_zero_promptly(stack, svc):
    p = getattr(stack, svc)
    t0 = time.monotonic()
    rc = p.terminate(timeout=IDLE_EXIT + 5)
    took = time.monotonic() - t0
    assert rc == 0, f"{svc} exit code {rc} after SIGTERM; log:\n{p.tail()}"
    assert took < IDLE_EXIT, f"{svc} took {took:.1f}s to exit"


def test_sigterm_all_services_in_order_exit_zero(stack):
    assert stack.stop() == {"gateway": 0, "authsvc": 0, "storesvc": 0}


class Caller(threading.Thread):
    """Runs fn() in a thread and keeps its result or exception."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = self.error = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # reported by the test
            self.error = e

    def outcome(self, timeout):
        self.join(timeout)
        assert not self.is_alive(), f"no answer within {timeout}s"
        if self.error:
            raise self.error
        return self.result


def test_gateway_sigterm_completes_in_flight_request(new_stack):
    s = new_stack()
    s.start_storesvc()
    s.start_authsvc()
    s.start_gateway(HEALTH_TIMEOUT_MS="1500", SHUTDOWN_GRACE_SECONDS="10")
    s.wait_healthy()
    sock = it.raw_connect(s.http_port)
    s.storesvc.signal(signal.SIGSTOP)
    try:
        # The probe of storesvc now waits HEALTH_TIMEOUT_MS.
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(SETTLE)
        t0 = time.monotonic()
        s.gateway.signal(signal.SIGTERM)
        resp = it.read_response(sock, timeout=BUSY_EXIT)
        assert resp is not None, "connection closed without an answer"
        assert resp.status in (200, 503), resp
        assert resp.json()["checks"]["storesvc"] in ("ok", "down")
        assert it.UUID_RE.match(resp.header("X-Request-ID") or "")
        rc = s.gateway.wait(BUSY_EXIT)
        assert rc == 0, f"gateway exit {rc}"
        assert time.monotonic() - t0 < BUSY_EXIT
    finally:
        s.storesvc.signal(signal.SIGCONT)
        sock.close()
    # It really did answer the request it had (the access log has it).
    recs = [r for r in s.gateway.log_records() if r.get("path") == "/api/v1/health"]
    assert recs and recs[-1].get("status") in (200, 503), recs


def test_authsvc_sigterm_completes_in_flight_health(new_stack):
    s = new_stack()
    s.start_storesvc()
    s.start_authsvc(HEALTH_TIMEOUT_MS="1500", SHUTDOWN_GRACE_SECONDS="10")
    assert it.rpc(s.auth_ep, "sys.health", timeout=5)["body"]["status"] == "ok"
    s.storesvc.signal(signal.SIGSTOP)
    try:
        call = Caller(lambda: it.rpc(s.auth_ep, "sys.health", rid="it-shutdown-auth", timeout=BUSY_EXIT))
        call.start()
        time.sleep(SETTLE)
        s.authsvc.signal(signal.SIGTERM)
        rep = call.outcome(BUSY_EXIT + 2)
        assert rep is not None, "authsvc dropped the in-flight sys.health on SIGTERM"
        assert rep["v"] == 1 and rep["ok"] is True, rep
        assert rep["body"]["checks"]["storesvc"] in ("ok", "down"), rep
        rc = s.authsvc.wait(BUSY_EXIT)
        assert rc == 0, f"authsvc exit {rc}"
    finally:
        s.storesvc.signal(signal.SIGCONT)


def test_storesvc_sigterm_completes_in_flight_db_query(new_stack, pg):
    s = new_stack()
    s.start_storesvc(DB_TIMEOUT_MS="1500", SHUTDOWN_GRACE_SECONDS="10", STORESVC_WORKERS="1")
    # One worker, so the request below uses the connection this one opened.
    rep = it.rpc(s.store_ep, "sys.health", timeout=5)
    assert rep["body"]["checks"]["database"] == "ok", rep
    pg.stop_all()
    try:
        call = Caller(lambda: it.rpc(s.store_ep, "sys.health", rid="it-shutdown-store", timeout=BUSY_EXIT))
        call.start()
        time.sleep(SETTLE)
        s.storesvc.signal(signal.SIGTERM)
        time.sleep(SETTLE)
    finally:
        pg.cont_all()
    rep = call.outcome(BUSY_EXIT + 2)
    assert rep is not None, "storesvc dropped the in-flight sys.health on SIGTERM"
    assert rep["v"] == 1 and rep["ok"] is True, rep
    assert rep["body"]["checks"]["database"] in ("ok", "down"), rep
    rc = s.storesvc.wait(BUSY_EXIT)
    assert rc == 0, f"storesvc exit {rc}"


def test_storesvc_health_is_bounded_while_postgres_hangs(new_stack, pg):
    """A frozen database costs sys.health about DB_TIMEOUT_MS, not forever."""
    s = new_stack()
    s.start_storesvc(DB_TIMEOUT_MS="1000", STORESVC_WORKERS="1")
    assert it.rpc(s.store_ep, "sys.health", timeout=5)["body"]["checks"]["database"] == "ok"
    pg.stop_all()
    try:
        t0 = time.monotonic()
        rep = it.rpc(s.store_ep, "sys.health", timeout=10)
        took = time.monotonic() - t0
    finally:
        pg.cont_all()
    assert rep is not None, "no sys.health answer within 10s while PostgreSQL hangs"
    assert rep["ok"] is True and rep["body"]["checks"]["database"] == "down", rep
    assert rep["body"]["status"] == "degraded", rep
    assert took < 1.0 + 2.0, f"sys.health took {took:.2f}s with DB_TIMEOUT_MS=1000"
    it.wait_for(
        lambda: it.rpc(s.store_ep, "sys.health", timeout=5)["body"]["checks"]["database"] == "ok",
        15,
        step=0.2,
        what="database ok after PostgreSQL resumes",
    )
