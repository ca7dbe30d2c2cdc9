"""Breached passwords (HIBP_ENABLED): the Pwned Passwords range query
against a local stand-in server. Only the first five hex digits of the
SHA-1 leave authsvc; a listed suffix is weak_password; an outage is
accepted (fail open) or 503 (HIBP_FAIL_CLOSED), bounded by HIBP_TIMEOUT_MS.
"""

import hashlib
import http.server
import threading
import time

import pytest

import authutil as au
import restc_it as it

BREACHED = "Breached-Pw-77!x"  # strong by the rules and zxcvbn, but "leaked"


def sha1(pw):
    return hashlib.sha1(pw.encode()).hexdigest().upper()


class StandIn:
    """A range endpoint: /range/<5 hex> -> suffix lines (with padding)."""

    def __init__(self, delay=0.0):
        self.paths = []
        self.headers = []
        self.delay = delay
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.paths.append(self.path)
                outer.headers.append(dict(self.headers))
                if outer.delay:
                    time.sleep(outer.delay)
                prefix = self.path.rsplit("/", 1)[-1]
                full = sha1(BREACHED)
                lines = [f"{'0' * 34}{i:X}:0" for i in range(16)]  # padding
                if prefix == full[:5]:
                    lines.append(f"{full[5:]}:42")
                body = "\r\n".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/range/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def rdb(pg):
    return au.fresh_database(pg, "breach")


@pytest.fixture
def standin():
    s = StandIn()
    yield s
    s.close()


def hibp_stack(pm, rdb, jwt_secret, tmp_path, name, url, **over):
    env = {"HIBP_ENABLED": "true", "HIBP_URL": url, "HIBP_TIMEOUT_MS": "500", **over}
    return au.start_stack(pm, rdb, jwt_secret, tmp_path, name, authsvc=env)


def test_breached_password_is_weak_and_only_a_prefix_leaves(pm, rdb, jwt_secret, tmp_path, standin):
    s = hibp_stack(pm, rdb, jwt_secret, tmp_path, "hibp", standin.url)
    r = au.register(s, password=BREACHED)
    p = au.assert_problem(r, 400, "weak_password")
    assert "breach" in p["detail"], p
    assert any(e["field"] == "password" for e in p.get("errors", [])), p
    r = au.register(s, password=au.strong_password())
    assert r.status_code == 201, r.text
    full = sha1(BREACHED)
    assert standin.paths, "authsvc never asked the range endpoint"
    for path in standin.paths:
        prefix = path.rsplit("/", 1)[-1]
        assert len(prefix) == 5 and all(c in "0123456789ABCDEF" for c in prefix), path
        assert full[5:] not in path and BREACHED not in path
    assert all(h.get("Add-Padding") == "true" for h in standin.headers), standin.headers


def test_password_change_is_checked_too(pm, rdb, jwt_secret, tmp_path, standin):
    s = hibp_stack(pm, rdb, jwt_secret, tmp_path, "hibpc", standin.url)
    u = au.new_user(s)
    r = au.post(s, "/users/me/password", {"current_password": u.password, "new_password": BREACHED},
                token=u.access)
    p = au.assert_problem(r, 400, "weak_password")
    assert p["errors"][0]["field"] == "new_password", p


def test_password_reset_is_checked_too_and_keeps_the_token(pm, rdb, jwt_secret, tmp_path, standin):
    s = hibp_stack(pm, rdb, jwt_secret, tmp_path, "hibpr", standin.url)
    u = au.new_user(s)
    r = au.post(s, "/auth/password-reset", {"email": u.email})
    assert r.status_code == 202, r.text
    token = au.reset_token_of(au.dev_mail(s, r.headers["X-Request-ID"])["text"])
    confirm = {"token": token, "new_password": BREACHED}
    p = au.assert_problem(au.post(s, "/auth/password-reset/confirm", confirm), 400, "weak_password")
    assert "breach" in p["detail"] and p["errors"][0]["field"] == "new_password", p
    assert au.token(s, u.username, BREACHED).status_code == 401  # nothing was set
    new = au.strong_password()
    r = au.post(s, "/auth/password-reset/confirm", {"token": token, "new_password": new})
    assert r.status_code == 204, r.text  # the refused password did not spend the token
    assert au.token(s, u.username, new).status_code == 200


def test_outage_fails_open_by_default(pm, rdb, jwt_secret, tmp_path):
    port = it.free_port()  # nothing listens there
    s = hibp_stack(pm, rdb, jwt_secret, tmp_path, "hibpo", f"http://127.0.0.1:{port}/range/")
    r = au.register(s, password=au.strong_password())
    assert r.status_code == 201, r.text


def test_outage_fails_closed_when_asked(pm, rdb, jwt_secret, tmp_path):
    port = it.free_port()
    s = hibp_stack(pm, rdb, jwt_secret, tmp_path, "hibpf", f"http://127.0.0.1:{port}/range/",
                   HIBP_FAIL_CLOSED="true")
    r = au.register(s, password=au.strong_password())
    au.assert_problem(r, 503, "unavailable")


def test_a_slow_endpoint_is_bounded_by_the_timeout(pm, rdb, jwt_secret, tmp_path):
    slow = StandIn(delay=5.0)
    try:
        s = hibp_stack(pm, rdb, jwt_secret, tmp_path, "hibps", slow.url)
        t0 = time.monotonic()
        r = au.register(s, password=au.strong_password())
        took = time.monotonic() - t0
        assert r.status_code == 201, r.text  # fail open
        assert took < 4.0, f"registration waited {took:.1f}s for a 500 ms HIBP_TIMEOUT_MS"
    finally:
        slow.close()
