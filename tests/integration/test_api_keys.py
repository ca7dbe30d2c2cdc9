"""API keys over HTTP (the API contract, "Authentication": api-keys routes;
X-API-Key on every route): the key shown once in its documented format,
listed without secrets, narrowed permissions, the owner's current role and
state, revocation and expiry, BOLA on delete, what a key may not do, the
owner's rate-limit bucket, last_used_at at most once per interval, and the
same admission over raw ZeroMQ (auth.authorize with api_key).
"""

import time
import uuid

import pytest

import authutil as au
import restc_it as it

INTERVAL = 2  # API_KEY_LAST_USED_INTERVAL_SECONDS of the module stack
LIMIT = 10


@pytest.fixture(scope="module")
def kdb(pg):
    return au.fresh_database(pg, "apikeys")


@pytest.fixture(scope="module")
def st(kdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(
        tmp_path_factory, kdb, jwt_secret, "keys",
        authsvc={"API_KEY_LAST_USED_INTERVAL_SECONDS": INTERVAL},
    )


@pytest.fixture(scope="module")
def rl(kdb, jwt_secret, tmp_path_factory, st):
    yield from au.module_stack(
        tmp_path_factory, kdb, jwt_secret, "keysrl", authsvc={"RATE_LIMIT_PER_MINUTE": LIMIT},
    )


def with_key(s, method, path, key, body=None):
    return au.call(s, method, path, json_body=body, headers=au.api_key_header(key))


def keys_of(s, u):
    r = au.get(s, "/auth/api-keys", token=u.access)
    assert r.status_code == 200, r.text
    return r


# ============================================================== creation


def test_create_shows_the_key_once_in_the_documented_format(st):
    u = au.new_user(st)
    r = au.post(st, "/auth/api-keys", {"name": "ci deploy", "expires_in_days": 30}, token=u.access)
    assert r.status_code == 201, r.text
    k = r.json()
    assert set(k) == {"id", "name", "key", "created_at", "expires_at", "permissions"}, k
    assert it.UUID_RE.match(k["id"]), k
    assert k["name"] == "ci deploy"
    assert au.API_KEY_RE.match(k["key"]), k["key"]
    assert au.RFC3339_Z.match(k["created_at"]) and au.RFC3339_Z.match(k["expires_at"]), k
    assert 29 * 86400 < au.epoch(k["expires_at"]) - au.epoch(k["created_at"]) <= 30 * 86400, k
    assert k["permissions"] is None, "a key without permissions follows the owner's role"
    # The list: the key's metadata, never its text or secret.
    r = keys_of(st, u)
    listed = r.json()["api_keys"]
    assert [x["id"] for x in listed] == [k["id"]], listed
    assert set(listed[0]) == {"id", "name", "created_at", "expires_at", "last_used_at", "permissions"}
    secret = k["key"].split("_", 2)[2]
    assert secret not in r.text and k["key"] not in r.text, "the list shows the secret"
    assert listed[0]["last_used_at"] is None
    # Without expires_in_days the key does not expire.
    k2 = au.new_api_key(st, u)
    assert k2["expires_at"] is None and k2["key"] != k["key"]


def test_the_key_works_and_stands_for_its_owner(st):
    u = au.new_user(st)
    k = au.new_api_key(st, u)
    r = with_key(st, "GET", "/users/me", k["key"])
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u.id
    assert au.rate_headers(r) is not None


@pytest.mark.parametrize("body,field", [
    ({"name": "x", "permissions": ["users:read"]}, "permissions"),  # more than the role has
    ({"name": "x", "permissions": ["self:read", "nope:nope"]}, "permissions"),
    ({"name": "x", "permissions": []}, "permissions"),
    ({"name": "x", "permissions": "self:read"}, "permissions"),
    ({"name": "x", "permissions": [1]}, "permissions"),
    ({"name": ""}, "name"),
    ({"name": "<b></b>"}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
    ({"name": "x", "expires_in_days": 3651}, "expires_in_days"),
    ({"name": "x", "expires_in_days": "7"}, "expires_in_days"),
    ({"name": "x", "role": "admin"}, "role"),
    ({}, "name"),
], ids=["beyond-role", "unknown", "empty", "not-a-list", "not-strings", "empty-name", "tags-only",
        "long-name", "zero-days", "too-many-days", "days-string", "mass-assignment", "no-name"])
def test_invalid_create_bodies_are_422_naming_the_field(st, body, field):
    u = au.new_user(st)
    r = au.post(st, "/auth/api-keys", body, token=u.access)
    p = au.assert_problem(r, 422, "validation_error")
    assert field in [e["field"] for e in p.get("errors", [])], p
    assert keys_of(st, u).json()["api_keys"] == [], "a refused create made a key"


# ============================================================ permissions


def test_narrowed_permissions_are_enforced(st):
    u = au.new_user(st)
    ro = au.new_api_key(st, u, permissions=["self:read"])
    assert ro["permissions"] == ["self:read"]
    assert with_key(st, "GET", "/users/me", ro["key"]).status_code == 200
    au.assert_forbidden(with_key(st, "PATCH", "/users/me", ro["key"], {"full_name": "K"}))
    # A moderator's key narrowed to self:read cannot list users; one with
    # users:read can, and then cannot read /users/me.
    m = au.new_user(st, role="moderator")
    mine = au.new_api_key(st, m, permissions=["self:read"])
    users = au.new_api_key(st, m, permissions=["users:read"])
    assert with_key(st, "GET", "/users/me", mine["key"]).status_code == 200
    au.assert_forbidden(with_key(st, "GET", "/users", mine["key"]))
    assert with_key(st, "GET", "/users", users["key"]).status_code == 200
    au.assert_forbidden(with_key(st, "GET", "/users/me", users["key"]))
    assert with_key(st, "GET", "/users", au.new_api_key(st, m)["key"]).status_code == 200


def test_a_demoted_owners_key_loses_what_the_role_lost(st):
    m = au.new_user(st, role="moderator")
    follows = au.new_api_key(st, m)
    narrowed = au.new_api_key(st, m, permissions=["users:read", "self:read"])
    for k in (follows, narrowed):
        assert with_key(st, "GET", "/users", k["key"]).status_code == 200
    r = au.patch(st, f"/users/{m.id}", {"role": "user"}, token=au.owner_access(st))
    assert r.status_code == 200, r.text
    for k in (follows, narrowed):
        au.assert_forbidden(with_key(st, "GET", "/users", k["key"]))
        assert with_key(st, "GET", "/users/me", k["key"]).status_code == 200


def test_an_api_key_cannot_manage_credentials_or_the_account(st):
    u = au.new_user(st)
    k = au.new_api_key(st, u)["key"]
    other = au.new_api_key(st, u)
    refused = [
        ("POST", "/auth/api-keys", {"name": "from a key"}),
        ("GET", "/auth/api-keys", None),
        ("DELETE", f"/auth/api-keys/{other['id']}", None),
        ("POST", "/users/me/password", {"current_password": u.password, "new_password": au.strong_password()}),
        ("POST", "/auth/logout-all", None),
        ("GET", "/auth/sessions", None),
        ("GET", "/auth/session", None),
        ("PATCH", "/users/me", {"email": f"taken-over-{uuid.uuid4().hex[:8]}@example.com"}),
        ("POST", "/auth/2fa/setup", None),
        ("POST", "/auth/2fa/enable", {"code": "123456"}),
        ("POST", "/auth/2fa/disable", {"password": u.password, "code": "123456"}),
    ]
    for method, path, body in refused:
        r = with_key(st, method, path, k, body)
        p = au.assert_forbidden(r)
        assert "API key" in p["detail"], p
    # Nothing happened: one key more than before is not there, the other
    # key lives, the password and the email are unchanged, the session lives.
    assert len(keys_of(st, u).json()["api_keys"]) == 2
    assert with_key(st, "GET", "/users/me", other["key"]).json()["email"] == u.email
    au.login_pair(st, u.username, u.password)
    assert au.get(st, "/users/me", token=u.access).status_code == 200


# ====================================================== revocation, expiry


def test_deleted_key_is_refused_at_once_and_delete_is_scoped(st):
    u, v = au.new_user(st), au.new_user(st)
    k = au.new_api_key(st, u)
    assert with_key(st, "GET", "/users/me", k["key"]).status_code == 200  # cached now
    # Someone else's key: 404, and it still works.
    au.assert_problem(au.delete(st, f"/auth/api-keys/{k['id']}", token=v.access), 404, "not_found")
    assert with_key(st, "GET", "/users/me", k["key"]).status_code == 200
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        au.assert_problem(au.delete(st, f"/auth/api-keys/{bad}", token=u.access), 404, "not_found")
    r = au.delete(st, f"/auth/api-keys/{k['id']}", token=u.access)
    assert r.status_code == 204, r.text
    au.assert_unauthorized(with_key(st, "GET", "/users/me", k["key"]))
    au.assert_problem(au.delete(st, f"/auth/api-keys/{k['id']}", token=u.access), 404, "not_found")
    assert keys_of(st, u).json()["api_keys"] == []


def test_expired_key_is_401(st):
    u = au.new_user(st)
    k = au.new_api_key(st, u, expires_in_days=1)
    au.psql(st.db_url, f"UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = '{k['id']}'")
    au.assert_unauthorized(with_key(st, "GET", "/users/me", k["key"]))


def test_disabled_or_deleted_owner_key_is_401(st):
    owner = au.owner_access(st)
    u, w = au.new_user(st), au.new_user(st)
    ku, kw = au.new_api_key(st, u)["key"], au.new_api_key(st, w)["key"]
    assert with_key(st, "GET", "/users/me", ku).status_code == 200
    assert au.patch(st, f"/users/{u.id}", {"is_active": False}, token=owner).status_code == 200
    au.assert_unauthorized(with_key(st, "GET", "/users/me", ku))
    assert au.patch(st, f"/users/{u.id}", {"is_active": True}, token=owner).status_code == 200
    assert with_key(st, "GET", "/users/me", ku).status_code == 200
    assert with_key(st, "GET", "/users/me", kw).status_code == 200
    assert au.delete(st, f"/users/{w.id}", token=owner).status_code == 204
    au.assert_unauthorized(with_key(st, "GET", "/users/me", kw))


def test_keys_of_the_wrong_shape_or_secret_are_401(st):
    u = au.new_user(st)
    k = au.new_api_key(st, u)["key"]
    prefix, key_id, secret = k.split("_", 2)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in (f"{prefix}_{key_id}_{flipped}", f"rk_{'0' * 16}_{secret}", "rk_short", "x" * 200,
                k + "x", k.upper(), "Bearer " + k):
        r = with_key(st, "GET", "/users/me", bad)
        p = au.assert_unauthorized(r)
        assert bad not in r.text and secret not in r.text, p
    # Two headers, or a key and a bearer: not one credential.
    raw = it.raw_request(st.http_port, (
        f"GET /api/v1/users/me HTTP/1.1\r\nHost: t\r\nX-API-Key: {k}\r\nX-API-Key: {k}\r\n"
        "Connection: close\r\n\r\n").encode())
    assert raw.status == 401 and raw.json()["code"] == "unauthorized", raw
    au.assert_unauthorized(au.get(st, "/users/me", token=u.access, headers=au.api_key_header(k)))
    assert with_key(st, "GET", "/users/me", k).status_code == 200


# ============================================================ rate, usage


def test_a_key_counts_in_its_owners_bucket(st, rl):
    u = au.new_user(st)
    k = au.new_api_key(st, u)["key"]
    seen = []
    for i in range(6):
        r = au.get(rl, "/users/me", token=u.access) if i % 2 == 0 else with_key(rl, "GET", "/users/me", k)
        assert r.status_code == 200, r.text
        seen.append(au.rate_headers(r)[1])
    assert seen == list(range(LIMIT - 1, LIMIT - 7, -1)), f"RateLimit-Remaining {seen}"
    for _ in range(LIMIT - 6):
        assert with_key(rl, "GET", "/users/me", k).status_code == 200
    au.assert_problem(with_key(rl, "GET", "/users/me", k), 429, "rate_limited")
    au.assert_problem(au.get(rl, "/users/me", token=u.access), 429, "rate_limited")
    # Another user is not affected.
    assert au.get(rl, "/users/me", token=au.new_user(st).access).status_code == 200


def test_last_used_at_moves_at_most_once_per_interval(st):
    u = au.new_user(st)
    k = au.new_api_key(st, u)

    def last_used():
        return keys_of(st, u).json()["api_keys"][0]["last_used_at"]

    assert last_used() is None
    assert with_key(st, "GET", "/users/me", k["key"]).status_code == 200
    first = last_used()
    assert first is not None and au.RFC3339_Z.match(first), first
    db_before = au.psql(st.db_url, f"SELECT last_used_at FROM api_keys WHERE id = '{k['id']}'")
    for _ in range(10):
        assert with_key(st, "GET", "/users/me", k["key"]).status_code == 200
    assert au.psql(st.db_url, f"SELECT last_used_at FROM api_keys WHERE id = '{k['id']}'") == db_before, \
        "last_used_at written again within the interval"
    time.sleep(INTERVAL + 1.1)
    assert with_key(st, "GET", "/users/me", k["key"]).status_code == 200
    later = last_used()
    assert au.epoch(later) >= au.epoch(first) + INTERVAL, (first, later)


# ================================================================ ZeroMQ


def test_auth_authorize_takes_an_api_key_over_zeromq(st):
    u = au.new_user(st)
    k = au.new_api_key(st, u, permissions=["self:read"])
    rep = au.rpc(st, "auth.authorize", {"api_key": k["key"], "client_ip": "192.0.2.7", "permission": "self:read"})
    assert rep["ok"] is True, rep
    b = rep["body"]
    assert b["user_id"] == u.id and b["role"] == "user" and b["api_key_id"] == k["id"], b
    assert b["anonymous"] is False and b["sid"] == "", b
    rep = au.rpc(st, "auth.authorize", {"api_key": k["key"], "client_ip": "192.0.2.7", "permission": "content:read"})
    assert rep["ok"] is False and rep["err"]["code"] == "forbidden", rep
    rep = au.rpc(st, "auth.authorize", {"api_key": k["key"], "client_ip": "192.0.2.7", "session_only": True})
    assert rep["ok"] is False and rep["err"]["code"] == "forbidden", rep
    rep = au.rpc(st, "auth.authorize", {"api_key": k["key"] + "x", "client_ip": "192.0.2.7"})
    assert rep["ok"] is False and rep["err"]["code"] == "unauthorized", rep


def test_no_key_appears_in_any_log(st):
    u = au.new_user(st)
    k = au.new_api_key(st, u)["key"]
    assert with_key(st, "GET", "/users/me", k).status_code == 200
    secret = k.split("_", 2)[2]
    for p in st.procs():
        assert secret not in p.log_text(whole=True), f"{p.name} logged an API key"
