"""Every answer is one well-formed HTTP/1.1 response with problem JSON and
the standard headers, including refusals decided before routing, while the
head is read, or when a client trickles. Each case sends raw bytes and
parses everything the gateway writes until it closes (or goes quiet), so a
second status line, an HTML body or a missing header cannot hide behind a
client library.
"""

import json
import secrets
import socket
import time

import pytest
import requests

import authutil as au
import restc_it as it

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@pytest.fixture(scope="module")
def gw(db_url, jwt_secret, tmp_path_factory):
    yield from it.managed_stack(
        str(tmp_path_factory.mktemp("edge")),
        db_url,
        jwt_secret,
        "edge",
        {"gateway": {"GATEWAY_REQUEST_TIMEOUT_SECONDS": "2"}, "authsvc": au.auth_env()},
    )


def read_all(sock, quiet=1.0, limit=30.0):
    """Everything the server sends until it closes, or until it has been
    quiet for `quiet` seconds after the first byte. Returns (bytes, closed)."""
    buf = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        sock.settimeout(quiet if buf else max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return buf, False
        except (ConnectionResetError, BrokenPipeError):
            return buf, True
        if not chunk:
            return buf, True
        buf += chunk
    return buf, False


def exchange(port, data, quiet=1.0):
    s = it.raw_connect(port, timeout=10)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_all(s, quiet)
    finally:
        s.close()


def parse_exactly_one(raw):
    """Parses `raw` as exactly one HTTP/1.1 response; returns (status,
    headers dict (lower-case names, duplicates refused), body)."""
    assert b"\r\n\r\n" in raw, f"no response head in {raw[:300]!r}"
    head, rest = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status_line = lines[0].decode("latin-1")
    assert status_line.startswith("HTTP/1.1 "), status_line
    status = int(status_line.split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        assert sep and name and name == name.strip(), f"malformed header line {line!r}"
        key = name.lower()
        assert key not in headers or key == "set-cookie", f"{name} twice in {head!r}"
        headers[key] = value.strip()
    assert "content-length" in headers, headers
    n = int(headers["content-length"])
    assert len(rest) == n, f"{len(rest) - n} bytes after the body: {rest[n:n + 200]!r}"
    return status, headers, rest


def assert_one_problem(raw, status, code):
    st, h, body = parse_exactly_one(raw)
    assert st == status, (st, body)
    assert h.get("content-type", "").startswith("application/problem+json"), h
    for k, v in SECURITY.items():
        assert h.get(k) == v, (k, h)
    assert "server" not in h and "x-powered-by" not in h, h
    assert it.UUID_RE.match(h.get("x-request-id", "")), h
    p = json.loads(body)
    assert p["status"] == status and p["code"] == code, p
    assert p["request_id"] == h["x-request-id"], p
    return h, p


CL_CASES = [
    ("minus_one", b"-1", 400, "bad_request"),
    ("overflow", b"18446744073709551617", 413, "payload_too_large"),
    ("plus", b"+5", 400, "bad_request"),
    ("hex", b"0x10", 400, "bad_request"),
    ("list", b"5, 5", 400, "bad_request"),
    ("empty", b"", 400, "bad_request"),
]


@pytest.mark.parametrize("name,value,status,code", CL_CASES, ids=[c[0] for c in CL_CASES])
def test_bad_content_length_is_one_problem_response(gw, name, value, status, code):
    raw, closed = exchange(
        gw.http_port,
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + value + b"\r\n\r\n{}",
    )
    h, _ = assert_one_problem(raw, status, code)
    assert h.get("connection") == "close" and closed, "the framing is unknown: must close"


def test_64k_header_is_one_431_problem_response(gw):
    raw, closed = exchange(
        gw.http_port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"h" * 65536 + b"\r\n\r\n"
    )
    assert_one_problem(raw, 431, "header_too_large")
    assert closed


def test_many_small_headers_are_431(gw):
    hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    raw, _ = exchange(gw.http_port, b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n")
    assert_one_problem(raw, 431, "header_too_large")


def test_70k_target_is_one_414_problem_response(gw):
    raw, closed = exchange(gw.http_port, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert_one_problem(raw, 414, "uri_too_long")
    assert closed


@pytest.mark.parametrize("nparams", [500, 1000, 1900])
def test_query_with_many_parameters_is_answered(gw, nparams):
    """1000 x "a=b&" is 4 KB, under the 8 KiB target limit: served."""
    q = "&".join(["a=b"] * nparams)
    raw, _ = exchange(gw.http_port, f"GET /healthz?{q} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    st, h, body = parse_exactly_one(raw)
    assert st == 200, (st, body)
    assert json.loads(body) == {"status": "ok"}


def test_query_over_the_target_limit_is_414(gw):
    q = "&".join(["a=b"] * 3000)  # 12 KB
    raw, _ = exchange(gw.http_port, f"GET /healthz?{q} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert_one_problem(raw, 414, "uri_too_long")


def access_line(gw, rid):
    return it.wait_for(
        lambda: [r for r in gw.gateway.log_records() if r.get("rid") == rid and "status" in r],
        5,
        what=f"access log line {rid}",
    )


def test_many_parameters_get_an_access_log_line(gw):
    q = "&".join(["a=b"] * 1000)
    raw, _ = exchange(gw.http_port, f"GET /healthz?{q} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    _, h, _ = parse_exactly_one(raw)
    lines = access_line(gw, h["x-request-id"])
    assert len(lines) == 1 and lines[0]["status"] == 200 and lines[0]["path"] == "/healthz"


HOST_CASES = [
    ("missing", b"GET /healthz HTTP/1.1\r\n\r\n"),
    ("twice", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("twice_same", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
    ("twice_http10", b"GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("bad_chars", b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n"),
]


@pytest.mark.parametrize("name,req", HOST_CASES, ids=[c[0] for c in HOST_CASES])
def test_host_rules_of_rfc9112(gw, name, req):
    raw, _ = exchange(gw.http_port, req)
    assert_one_problem(raw, 400, "bad_request")


def test_http10_without_host_is_served(gw):
    raw, closed = exchange(gw.http_port, b"GET /healthz HTTP/1.0\r\n\r\n")
    st, h, _ = parse_exactly_one(raw)
    assert st == 200 and closed and h.get("connection") == "close"


MALFORMED = [
    ("garbage", b"HELLO\r\n\r\n", 400, "bad_request"),
    ("space_before_colon", b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n", 400, "bad_request"),
    ("obs_fold", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400, "bad_request"),
    ("bare_lf_in_field", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\nb\r\n\r\n", 400, "bad_request"),
    ("nul_in_field", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n", 400, "bad_request"),
    ("http2", b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505, "http_version_not_supported"),
    ("te_gzip", b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_request"),
    ("bad_chunk", b"POST /api/v1/auth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request"),
]


@pytest.mark.parametrize("name,req,status,code", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_requests_get_one_problem_response(gw, name, req, status, code):
    raw, _ = exchange(gw.http_port, req)
    assert_one_problem(raw, status, code)


def test_trickling_head_gets_a_408_problem(gw):
    s = it.raw_connect(gw.http_port, timeout=10)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        raw, closed = read_all(s, quiet=1.0, limit=10)
    finally:
        s.close()
    assert_one_problem(raw, 408, "request_timeout")
    assert closed


def test_expect_100_continue_gets_the_interim_answer_then_one_response(gw):
    s = it.raw_connect(gw.http_port, timeout=10)
    try:
        body = b'{"username":"nobody1","password":"x"}'
        s.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        s.settimeout(5)
        first = s.recv(65536)
        assert first == b"HTTP/1.1 100 Continue\r\n\r\n", first
        s.sendall(body)
        raw, _ = read_all(s, quiet=2.0)
    finally:
        s.close()
    st, h, _ = parse_exactly_one(raw)
    assert st == 401, raw[:300]


def test_expect_100_continue_with_an_oversized_body_gets_413_without_sending_it(gw):
    s = it.raw_connect(gw.http_port, timeout=10)
    try:
        s.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: 999999999\r\n\r\n"
        )
        raw, closed = read_all(s, quiet=1.0)
    finally:
        s.close()
    assert_one_problem(raw, 413, "payload_too_large")
    assert closed


def test_pipelined_refusal_closes_after_one_answer(gw):
    """A malformed head ends the connection: the request behind it is not served."""
    raw, closed = exchange(
        gw.http_port, b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    assert_one_problem(raw, 400, "bad_request")
    assert closed


# ------------------------------------------------------- \u0000 in JSON


def post_raw_json(gw, path, text):
    """POSTs `text` as it is (json.dumps would escape differently)."""
    return requests.post(
        gw.url(path), data=text.encode(), headers={"Content-Type": "application/json"}, timeout=10
    )


@pytest.mark.parametrize("field", ["username", "email", "password"])
def test_nul_in_a_field_with_rules_is_422_naming_it(gw, field):
    vals = {"username": '"nul_%s"' % field, "email": '"nul_%s@example.com"' % field, "password": '"Nul-Pw-123!x"'}
    vals[field] = '"ab\\u0000cd"' if field != "email" else '"a\\u0000b@example.com"'
    body = "{" + ",".join(f'"{k}":{v}' for k, v in vals.items()) + "}"
    r = post_raw_json(gw, "/api/v1/auth/register", body)
    p = au.assert_problem(r, 422, "validation_error")
    assert any(e["field"] == field for e in p.get("errors", [])), p


def test_nul_in_token_fields_is_422(gw):
    r = post_raw_json(gw, "/api/v1/auth/token", '{"username":"a\\u0000","password":"x"}')
    p = au.assert_problem(r, 422, "validation_error")
    assert p["errors"][0]["field"] == "username", p


def test_nul_in_a_member_name_is_422(gw):
    r = post_raw_json(gw, "/api/v1/auth/token", '{"user\\u0000name":"a","password":"x"}')
    au.assert_problem(r, 422, "validation_error")


def test_nul_in_full_name_is_removed_and_the_account_created(gw):
    name = "nulname_" + secrets.token_hex(3)
    body = (
        '{"username":"%s","email":"%s@example.com","password":"Nul-Pw-123!x",'
        '"full_name":"Ada\\u0000 <b>Love</b>\\u0007lace"}' % (name, name)
    )
    r = post_raw_json(gw, "/api/v1/auth/register", body)
    assert r.status_code == 201, r.text
    full = r.json()["full_name"]
    assert "\0" not in full and "<" not in full and "\x07" not in full, full
    assert full.replace(" ", "").startswith("Ada"), full
