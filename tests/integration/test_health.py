"""Health routes and the headers every response carries (docs/API.md: Conventions,
Security headers, Health and operations)."""

import requests

import restc_it as it

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

ALL_OK = {"authsvc": "ok", "storesvc": "ok", "database": "ok", "objectstore": "ok"}


def assert_security_headers(r):
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, f"{name}: {r.headers.get(name)!r} on {r.url}"
    assert "Server" not in r.headers, r.headers
    assert "X-Powered-By" not in r.headers, r.headers


def test_api_health_reports_all_four_checks_ok_with_version(module_stack):
    r = it.http_get(module_stack.url("/api/v1/health"))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"] == ALL_OK
    assert isinstance(body.get("version"), str) and body["version"], body


def test_healthz_is_200_ok(module_stack):
    r = it.http_get(module_stack.url("/healthz"))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_readyz_is_200_ready_when_everything_answers(module_stack):
    r = it.http_get(module_stack.url("/readyz"))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready"}


def test_backends_answer_ping_and_health_over_zeromq(module_stack):
    s = module_stack
    rep = it.rpc(s.store_ep, "sys.ping")
    assert rep == {"v": 1, "ok": True, "body": {"svc": "storesvc"}}
    rep = it.rpc(s.auth_ep, "sys.ping")
    assert rep == {"v": 1, "ok": True, "body": {"svc": "authsvc", "ready": True}}
    rep = it.rpc(s.store_ep, "sys.health", timeout=5)
    assert rep["ok"] is True, rep
    assert rep["body"] == {"status": "ok", "checks": {"database": "ok", "objectstore": "ok"}}
    rep = it.rpc(s.auth_ep, "sys.health", timeout=5)
    assert rep["ok"] is True, rep
    assert rep["body"] == {"status": "ok", "checks": {"storesvc": "ok"}}


def test_request_id_is_a_fresh_uuid_and_client_value_is_not_echoed(module_stack):
    seen = set()
    for path in ("/healthz", "/readyz", "/api/v1/health", "/no/such/route"):
        client_id = "client-chosen-id-0123456789"
        r = it.http_get(module_stack.url(path), headers={"X-Request-ID": client_id})
        rid = r.headers.get("X-Request-ID")
        assert rid is not None, path
        assert it.UUID_RE.match(rid), f"{path}: X-Request-ID {rid!r} is not a UUID"
        assert client_id not in rid
        assert client_id not in r.text
        seen.add(rid)
    assert len(seen) == 4, "request ids repeat"


def test_client_uuid_request_id_is_replaced_too(module_stack):
    client_id = "123e4567-e89b-42d3-a456-426614174000"
    r = it.http_get(module_stack.url("/healthz"), headers={"X-Request-ID": client_id})
    assert it.UUID_RE.match(r.headers["X-Request-ID"])
    assert r.headers["X-Request-ID"] != client_id


def test_security_headers_on_every_kind_of_response(module_stack):
    for path in ("/healthz", "/readyz", "/api/v1/health", "/nope", "/api/v1/nope"):
        r = it.http_get(module_stack.url(path))
        assert_security_headers(r)
    # Method not allowed, and a CORS-less OPTIONS.
    r = requests.delete(module_stack.url("/api/v1/health"), timeout=10)
    assert r.status_code == 405
    assert_security_headers(r)


def test_cache_control_no_store_on_api_routes(module_stack):
    for path in ("/api/v1/health", "/api/v1/does-not-exist"):
        r = it.http_get(module_stack.url(path))
        assert r.headers.get("Cache-Control") == "no-store", (path, r.headers)


def test_no_server_or_powered_by_header_on_raw_response(module_stack):
    # requests may hide duplicates; look at the bytes on the wire.
    resp = it.raw_request(
        module_stack.http_port, b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    assert resp.status == 200, resp
    names = [k.lower() for k, _ in resp.headers]
    assert "server" not in names and "x-powered-by" not in names, resp.headers
    assert names.count("x-request-id") == 1, resp.headers
    assert "strict-transport-security" not in names, "HSTS must be off by default"


def test_hsts_header_only_when_enabled(new_stack):
    s = new_stack("hsts")
    s.start_gateway(HSTS_ENABLED="true")
    for path in ("/healthz", "/nope"):
        r = it.http_get(s.url(path))
        assert r.headers.get("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
