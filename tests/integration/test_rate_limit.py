"""Limits and rate limiting over HTTP (docs/API.md "Rate limiting"):
RATE_LIMIT_PER_MINUTE per authenticated user, else per client IP, on every
/api/ route, with RateLimit-* headers and 429 rate_limited + Retry-After;
REGISTER_RATE_LIMIT_PER_MINUTE per source; 0 turns the API limit off; health
routes are not limited; MAX_JSON_BYTES gives 413.

Accounts are made on a generous `setup` stack; the limited stacks share its
database and JWT secret, so their limiter counts only what a test sends
there (limiter state lives in each authsvc process).
"""

import json
import uuid

import pytest

import authutil as au
import restc_it as it

LIMIT = 10


@pytest.fixture(scope="module")
def rdb(pg):
    return au.fresh_database(pg, "ratelimit")


@pytest.fixture(scope="module")
def setup(rdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, rdb, jwt_secret, "rlsetup")


@pytest.fixture(scope="module")
def rl(rdb, jwt_secret, tmp_path_factory, setup):
    yield from au.module_stack(
        tmp_path_factory, rdb, jwt_secret, "rl",
        authsvc={"RATE_LIMIT_PER_MINUTE": LIMIT}, gateway={"MAX_JSON_BYTES": "2048"},
    )


def assert_rate_headers(r, limit=LIMIT):
    h = au.rate_headers(r)
    assert h is not None, f"{r.request.method} {r.url} {r.status_code}: no RateLimit-* headers: {dict(r.headers)}"
    lim, remaining, reset = h
    assert lim == limit, h
    assert 0 <= remaining <= limit, h
    assert 0 <= reset <= 60, h
    return h


def assert_rate_limited(r):
    au.assert_problem(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    # A sliding window may ask for up to two windows' wait.
    assert ra is not None and ra.isdigit() and 1 <= int(ra) <= 120, f"Retry-After {ra!r}"
    return int(ra)


def random_refresh():
    return au.b64u(uuid.uuid4().bytes * 2)


# ======================================================= per-user limit


def test_headers_count_down_on_every_answer(setup, rl):
    u = au.new_user(setup)
    seen = []
    for path in ("/users/me", "/auth/session", "/auth/sessions", "/users/me"):
        r = au.get(rl, path, token=u.access)
        assert r.status_code == 200, r.text
        seen.append(assert_rate_headers(r)[1])
    assert seen == list(range(LIMIT - 1, LIMIT - 5, -1)), f"RateLimit-Remaining {seen}"


def test_headers_also_on_refusals_after_authorisation(setup, rl):
    """The team's reading of the contract: every /api/ answer of a
    rate-limited route carries the headers, refusals included."""
    u = au.new_user(setup)
    answers = {
        "422 PATCH /users/me": (au.patch(rl, "/users/me", {"role": "admin"}, token=u.access), 422),
        "403 GET /users": (au.get(rl, "/users", token=u.access), 403),
        "404 DELETE /auth/sessions/{unknown}": (au.delete(rl, f"/auth/sessions/{uuid.uuid4()}", token=u.access), 404),
        "401 POST /auth/token": (au.token(rl, u.username, "Xy7#wrong-password"), 401),
    }
    missing = []
    for what, (r, status) in answers.items():
        assert r.status_code == status, (what, r.status_code, r.text)
        if au.rate_headers(r) is None:
            missing.append(what)
        else:
            assert_rate_headers(r)
    assert not missing, f"answers without RateLimit-* headers: {missing}"


def test_per_user_limit_spans_sessions_and_routes_not_other_users(setup, rl):
    a = au.new_user(setup)
    a2 = au.User(a.username, a.password, a.email, a.info)
    au.relogin(setup, a2)  # a second session: same user, same bucket
    b = au.new_user(setup)
    for i in range(LIMIT):
        r = au.get(rl, "/users/me", token=(a.access, a2.access)[i % 2])
        assert r.status_code == 200, f"request {i + 1} of {LIMIT}: {r.status_code} {r.text}"
    for path in ("/users/me", "/auth/session", "/auth/sessions"):
        for tok in (a.access, a2.access):
            r = au.get(rl, path, token=tok)
            assert_rate_limited(r)
            h = au.rate_headers(r)
            if h is not None:
                assert h[0] == LIMIT and h[1] == 0, h
    r = au.post(rl, "/auth/logout-all", token=a.access)
    assert_rate_limited(r)
    # The refused logout-all did nothing.
    assert au.get(setup, "/users/me", token=a.access).status_code == 200
    # Another user from the same address is not affected.
    r = au.get(rl, "/users/me", token=b.access)
    assert r.status_code == 200, r.text
    assert_rate_headers(r)


# ================================================== per-IP (anonymous)


def test_anonymous_limit_is_per_client_ip_and_probes_are_exempt(pm, rdb, jwt_secret, tmp_path, setup):
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "anon", authsvc={"RATE_LIMIT_PER_MINUTE": LIMIT})
    u = au.new_user(setup)
    remaining = []
    for i in range(LIMIT):
        r = au.post(s, "/auth/logout", {"refresh_token": random_refresh()})
        assert r.status_code == 204, f"anonymous request {i + 1}: {r.status_code} {r.text}"
        remaining.append(assert_rate_headers(r)[1])
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0, remaining
    assert_rate_limited(au.post(s, "/auth/logout", {"refresh_token": random_refresh()}))
    # Every anonymous /api/ route shares the address's bucket: login and register too.
    r = au.token(s, u.username, u.password)
    assert_rate_limited(r)
    assert_rate_limited(au.register(s))
    # GET /api/v1/health is an /api/ route like the others (it fans out to
    # every backend): limited, with the headers...
    assert_rate_limited(it.http_get(s.url("/api/v1/health")))
    # ...while the probes outside /api/ are never limited.
    for _ in range(3 * LIMIT):
        for path in ("/healthz", "/readyz"):
            r = it.http_get(s.url(path))
            assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
            assert "RateLimit-Limit" not in r.headers, r.headers
    # An authenticated user from the same address has a bucket of its own.
    r = au.get(s, "/users/me", token=u.access)
    assert r.status_code == 200, r.text


def test_health_is_counted_and_carries_the_headers(pm, rdb, jwt_secret, tmp_path):
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "health", authsvc={"RATE_LIMIT_PER_MINUTE": LIMIT})
    remaining = []
    for i in range(LIMIT):
        r = it.http_get(s.url("/api/v1/health"))
        assert r.status_code == 200, f"health {i + 1}: {r.status_code} {r.text}"
        remaining.append(assert_rate_headers(r)[1])
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0, remaining
    assert_rate_limited(it.http_get(s.url("/api/v1/health")))
    # The health answer shares the address's bucket with the other anonymous routes.
    assert_rate_limited(au.post(s, "/auth/logout", {"refresh_token": random_refresh()}))


@pytest.mark.parametrize(
    "body,headers",
    [(None, {}), ({}, {}), ({"refresh_token": "x" * 300}, {}), (None, {"Cookie": "refresh_token=a; refresh_token=b"})],
    ids=["no_body_no_cookie", "empty_object", "over_long_token", "ambiguous_cookie"],
)
def test_refresh_refused_by_the_gateway_is_still_counted(pm, rdb, jwt_secret, tmp_path, body, headers):
    """A refresh the gateway refuses without asking about the token is an
    /api/ request like any other: counted, with the RateLimit-* headers."""
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "rfr", authsvc={"RATE_LIMIT_PER_MINUTE": LIMIT})
    remaining = []
    for i in range(LIMIT):
        r = au.call(s, "POST", "/auth/refresh", json_body=body, headers=headers)
        au.assert_problem(r, 401, "invalid_refresh_token")
        remaining.append(assert_rate_headers(r)[1])
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0, remaining
    assert_rate_limited(au.call(s, "POST", "/auth/refresh", json_body=body, headers=headers))


def test_health_still_reports_when_authsvc_is_down(pm, rdb, jwt_secret, tmp_path):
    """The limiter lives in authsvc: without it the health route answers its
    503 with the checks rather than a bare unavailable."""
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "hdown", authsvc={"RATE_LIMIT_PER_MINUTE": LIMIT})
    s.authsvc.terminate()
    r = it.http_get(s.url("/api/v1/health"))
    assert r.status_code == 503, r.text
    assert r.json()["checks"]["authsvc"] == "down", r.json()


def test_requests_refused_for_their_body_still_count(pm, rdb, jwt_secret, tmp_path, setup):
    """The limit is on every /api/ request, so a client cannot hammer a
    protected route with bodies that fail validation without meeting it."""
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "bodies", authsvc={"RATE_LIMIT_PER_MINUTE": LIMIT})
    u = au.new_user(setup)
    for who, token in (("authenticated user", u.access), ("anonymous client", None)):
        statuses = [au.patch(s, "/users/me", {"role": "admin"}, token=token).status_code for _ in range(2 * LIMIT)]
        assert 429 in statuses, f"{who}: {2 * LIMIT} invalid PATCH /users/me in a row, never 429: {statuses}"


def test_register_limit_per_source(pm, rdb, jwt_secret, tmp_path):
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "reg",
                       authsvc={"REGISTER_RATE_LIMIT_PER_MINUTE": "3"},
                       gateway={"LOGIN_TRUSTED_PROXY_IPS": "127.0.0.1"})
    a, b = au.xff("198.51.100.31"), au.xff("198.51.100.32")
    made = []
    for i in range(3):
        name, password = au.fresh_name(), au.strong_password()
        r = au.register(s, name, password, headers=a)
        assert r.status_code == 201, f"registration {i + 1} of 3: {r.status_code} {r.text}"
        made.append((name, password))
    name = au.fresh_name()
    r = au.register(s, name, headers=a)
    assert_rate_limited(r)
    # The refusal created nothing; another source still registers (the same name).
    r = au.register(s, name, headers=b)
    assert r.status_code == 201, f"another source must still register: {r.status_code} {r.text}"
    # The limit is on registration only: the limited source still logs in.
    for name, password in made:
        au.login_pair(s, name, password, headers=a)


def test_rate_limit_zero_turns_it_off(pm, rdb, jwt_secret, tmp_path, setup):
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "off", authsvc={"RATE_LIMIT_PER_MINUTE": "0"})
    u = au.new_user(setup)
    for i in range(5 * LIMIT):
        r = au.get(s, "/users/me", token=u.access)
        assert r.status_code == 200, f"request {i + 1}: {r.status_code} {r.text}"
        assert au.rate_headers(r) is None, f"RateLimit headers with the limit off: {dict(r.headers)}"
    for _ in range(2 * LIMIT):
        r = au.post(s, "/auth/logout", {"refresh_token": random_refresh()})
        assert r.status_code == 204, r.text


# ============================================================ body limit


def test_json_body_over_max_json_bytes_is_413(setup):
    body = {"username": au.fresh_name(), "email": f"{au.fresh_name()}@example.com",
            "password": au.strong_password(), "full_name": "x" * 70000}
    for path in ("/auth/register", "/auth/token"):
        r = au.post(setup, path, body if path.endswith("register") else {"username": "x" * 70000, "password": "p"})
        au.assert_problem(r, 413, "payload_too_large")
    # Just under the limit: read, and refused for its content instead.
    body["full_name"] = "x" * 60000
    r = au.post(setup, "/auth/register", body)
    au.assert_problem(r, 422, "validation_error")


def test_max_json_bytes_is_configurable_and_checked_before_the_body_arrives(setup, rl):
    u = au.new_user(setup)
    r = au.patch(rl, "/users/me", {"full_name": "y" * 3000}, token=u.access)
    au.assert_problem(r, 413, "payload_too_large")
    r = au.patch(rl, "/users/me", {"full_name": "y" * 50}, token=u.access)
    assert r.status_code == 200, r.text
    # A Content-Length over the limit is refused without waiting for the body.
    with it.raw_connect(rl.http_port) as c:
        c.sendall(b"POST /api/v1/auth/register HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 10000000\r\n\r\n{")
        resp = it.read_response(c, timeout=5)
    assert resp is not None and resp.status == 413, resp
    assert json.loads(resp.body)["code"] == "payload_too_large", resp
