"""A raw ZeroMQ client calling auth.verify and auth.authorize directly, as an
internal service would (proto/PROTOCOL.md: "authsvc — admission"). Accounts
and tokens come from the HTTP API; the checks are on the msgpack replies.
"""


import msgpack
import pytest
import zmq

import authutil as au
import restc_it as it

IDENTITY = {"user_id", "username", "role", "sid", "exp"}


@pytest.fixture(scope="module")
def idb(pg):
    return au.fresh_database(pg, "rpc")


@pytest.fixture(scope="module")
def st(idb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, idb, jwt_secret, "rpc")


@pytest.fixture(scope="module")
def users(st):
    return {role: au.new_user(st, role=role) for role in au.ROLES}


def ok_body(rep):
    assert rep.get("v") == 1, rep
    assert rep.get("ok") is True, f"want ok, got {rep}"
    return rep["body"]


def err_code(rep):
    assert rep.get("v") == 1, rep
    assert rep.get("ok") is False, f"want an error, got {rep}"
    return rep["err"]["code"]


def authorize(s, credential=None, permission=None, client_ip="127.0.0.1"):
    body = {"client_ip": client_ip}
    if credential is not None:
        body["credential"] = credential
    if permission is not None:
        body["permission"] = permission
    return au.rpc(s, "auth.authorize", body)


def assert_rate(rate):
    assert set(rate) == {"limit", "remaining", "reset"}, rate
    assert all(isinstance(v, int) for v in rate.values()), rate


# ============================================================ auth.verify


def test_verify_answers_the_identity_of_a_valid_token(st):
    u = au.new_user(st)
    body = ok_body(au.rpc(st, "auth.verify", {"token": u.access}))
    assert set(body) == {"user_id", "username", "role", "sid", "exp", "jti"}, body
    claims = au.jwt_payload(u.access)
    assert body["user_id"] == u.id == claims["sub"]
    assert body["username"] == u.username
    assert body["role"] == "user"
    assert body["sid"] == claims["sid"] and body["jti"] == claims["jti"] and body["exp"] == claims["exp"]
    assert isinstance(body["exp"], int)


@pytest.mark.parametrize("name", [f for f in au.FORGERIES if f != "unknown-sub"])
def test_verify_refuses_forged_tokens(st, jwt_secret, name):
    u = au.new_user(st)
    tok = au.forged_token(name, u, jwt_secret)
    rep = au.rpc(st, "auth.verify", {"token": tok})
    assert err_code(rep) == "unauthorized", rep
    if len(tok) > 20:
        assert tok not in str(rep), "the token is echoed"


def test_verify_positive_control_for_the_forging_helper(st, jwt_secret):
    u = au.new_user(st)
    tok = au.jwt_encode(au.HS256_HEADER, au.claims_for(u), jwt_secret)
    assert ok_body(au.rpc(st, "auth.verify", {"token": tok}))["user_id"] == u.id


@pytest.mark.parametrize(
    "body",
    [{}, {"token": 5}, {"token": None}, {"token": "a.b.c", "extra": 1}, {"token": "x" * 5000}, {"credential": "a.b.c"}],
    ids=["empty", "int", "nil", "unknown-field", "over-4200", "wrong-field"],
)
def test_verify_malformed_requests_are_bad_request(st, body):
    assert err_code(au.rpc(st, "auth.verify", body)) == "bad_request"
    assert it.ping_ok(st.auth_ep, "authsvc")


# ========================================================= auth.authorize


def test_authorize_anonymous_without_permission(st):
    body = ok_body(authorize(st))
    assert body["anonymous"] is True, body
    assert not (IDENTITY & set(body)), f"identity keys on an anonymous answer: {body}"
    assert_rate(body["rate"])


def test_authorize_a_permission_without_credential_is_unauthorized(st):
    for perm in ("self:read", "content:read", "users:read"):
        assert err_code(authorize(st, permission=perm)) == "unauthorized"


def test_authorize_answers_identity_and_rate(st, users):
    u = users["user"]
    body = ok_body(authorize(st, u.access, "content:read", client_ip="192.0.2.50"))
    assert body["anonymous"] is False
    assert IDENTITY <= set(body), body
    claims = au.jwt_payload(u.access)
    assert body["user_id"] == u.id and body["username"] == u.username and body["role"] == "user"
    assert body["sid"] == claims["sid"] and body["exp"] == claims["exp"]
    assert_rate(body["rate"])
    # Authentication only (no permission asked).
    body = ok_body(authorize(st, u.access))
    assert body["anonymous"] is False and body["user_id"] == u.id


@pytest.mark.parametrize("role", au.ROLES)
def test_authorize_follows_the_role_matrix(st, users, role):
    u = users[role]
    for perm in au.ALL_PERMISSIONS:
        rep = authorize(st, u.access, perm)
        if perm in au.PERMISSIONS[role]:
            assert ok_body(rep)["role"] == role, (perm, rep)
        else:
            assert err_code(rep) == "forbidden", (role, perm, rep)


def test_authorize_unknown_permission_is_never_granted(st, users):
    for perm in ("users:fly", "admin", "USERS:READ", "*", "users:read "):
        rep = authorize(st, users["admin"].access, perm)
        assert rep.get("ok") is False and rep["err"]["code"] in ("forbidden", "bad_request"), (perm, rep)


@pytest.mark.parametrize("name", ["alg-none", "hs512-right-secret", "expired", "wrong-type-refresh",
                                  "tampered-payload-role-admin", "missing-sub", "unknown-sub", "garbage"])
def test_authorize_refuses_forged_tokens(st, users, jwt_secret, name):
    tok = au.forged_token(name, users["viewer"], jwt_secret)
    assert err_code(authorize(st, tok)) == "unauthorized"
    assert err_code(authorize(st, tok, "users:read")) == "unauthorized"
    assert err_code(authorize(st, tok, "self:read")) == "unauthorized"


def test_authorize_uses_the_current_role_not_the_claim(st):
    u = au.new_user(st)
    assert err_code(authorize(st, u.access, "users:read")) == "forbidden"
    r = au.patch(st, f"/users/{u.id}", {"role": "moderator"}, token=au.owner_access(st))
    assert r.status_code == 200, r.text
    body = ok_body(authorize(st, u.access, "users:read"))
    assert body["role"] == "moderator", body
    r = au.patch(st, f"/users/{u.id}", {"role": "viewer"}, token=au.owner_access(st))
    assert r.status_code == 200, r.text
    assert err_code(authorize(st, u.access, "self:write")) == "forbidden"
    assert ok_body(authorize(st, u.access, "self:read"))["role"] == "viewer"


def test_authorize_refuses_revoked_disabled_and_deleted_users(st):
    revoked, disabled, deleted = au.new_user(st), au.new_user(st), au.new_user(st)
    for u in (revoked, disabled, deleted):
        ok_body(authorize(st, u.access, "self:read"))
    au.wait_next_second()
    assert au.post(st, "/auth/logout-all", token=revoked.access).status_code == 204
    assert au.patch(st, f"/users/{disabled.id}", {"is_active": False}, token=au.owner_access(st)).status_code == 200
    assert au.delete(st, f"/users/{deleted.id}", token=au.owner_access(st)).status_code == 204
    for u in (revoked, disabled, deleted):
        assert err_code(authorize(st, u.access, "self:read")) == "unauthorized", u
        assert err_code(authorize(st, u.access)) == "unauthorized", u


@pytest.mark.parametrize(
    "body",
    [{}, {"client_ip": 5}, {"client_ip": "1.2.3.4", "credential": 7}, {"client_ip": "1.2.3.4", "user": "x"},
     {"client_ip": "1.2.3.4", "permission": "x" * 40}],
    ids=["no-client-ip", "client-ip-int", "credential-int", "unknown-field", "permission-over-32"],
)
def test_authorize_malformed_requests_are_bad_request(st, body):
    assert err_code(au.rpc(st, "auth.authorize", body)) == "bad_request"


def test_authorize_enforces_the_api_rate_limit(pm, idb, jwt_secret, tmp_path):
    s = au.start_stack(pm, idb, jwt_secret, tmp_path, "rpcrate", authsvc={"RATE_LIMIT_PER_MINUTE": "5"})
    u = au.new_user(s)  # register + token: anonymous, per-IP bucket of 127.0.0.1
    remaining = []
    for _ in range(5):
        body = ok_body(authorize(s, u.access, "self:read", client_ip="192.0.2.1"))
        assert body["rate"]["limit"] == 5, body
        remaining.append(body["rate"]["remaining"])
    assert remaining == [4, 3, 2, 1, 0], remaining
    rep = authorize(s, u.access, "self:read", client_ip="192.0.2.2")  # per user, whatever the address
    assert err_code(rep) == "rate_limited", rep
    assert isinstance(rep["err"].get("retry_after"), int) and 1 <= rep["err"]["retry_after"] <= 120, rep
    assert rep["err"].get("limit") == 5, rep
    # Anonymous callers are counted per client_ip.
    for _ in range(5):
        ok_body(authorize(s, client_ip="192.0.2.10"))
    assert err_code(authorize(s, client_ip="192.0.2.10")) == "rate_limited"
    assert ok_body(authorize(s, client_ip="192.0.2.11"))["anonymous"] is True


def test_authorize_count_rate_false_checks_without_counting(pm, idb, jwt_secret, tmp_path):
    """An internal caller that checks a request the gateway has counted
    already passes count_rate false: identity and permission are checked as
    ever, nothing is counted (the reply has no "rate"), and an exhausted
    bucket does not refuse it. The gateway, which sends no count_rate,
    keeps counting."""
    s = au.start_stack(pm, idb, jwt_secret, tmp_path, "rpcnocount", authsvc={"RATE_LIMIT_PER_MINUTE": "5"})
    u, viewer = au.new_user(s), au.new_user(s, role="viewer")
    for _ in range(8):
        body = ok_body(au.rpc(s, "auth.authorize", {"credential": u.access, "client_ip": "192.0.2.40",
                                                     "permission": "content:write", "count_rate": False}))
        assert body["user_id"] == u.id and body["role"] == "user", body
        assert "rate" not in body, body
    counted = ok_body(authorize(s, u.access, "self:read", client_ip="192.0.2.40"))
    assert counted["rate"]["remaining"] == 4, f"the uncounted calls were counted: {counted}"
    # The gateway counts in the same bucket.
    r = au.get(s, "/users/me", token=u.access)
    assert r.status_code == 200 and au.rate_headers(r)[1] == 3, (r.status_code, r.headers)
    for _ in range(3):
        ok_body(authorize(s, u.access, client_ip="192.0.2.40"))
    assert err_code(authorize(s, u.access, client_ip="192.0.2.40")) == "rate_limited"
    assert au.get(s, "/users/me", token=u.access).status_code == 429
    # Exhausted, the uncounted check still answers, and still refuses what it must.
    nocount = {"client_ip": "192.0.2.40", "count_rate": False}
    assert ok_body(au.rpc(s, "auth.authorize", dict(nocount, credential=u.access)))["user_id"] == u.id
    assert err_code(au.rpc(s, "auth.authorize", dict(nocount, credential=viewer.access,
                                                      permission="content:write"))) == "forbidden"
    assert err_code(au.rpc(s, "auth.authorize", dict(nocount, credential=u.access[:-2]))) == "unauthorized"
    assert err_code(au.rpc(s, "auth.authorize", dict(nocount, permission="self:read"))) == "unauthorized"
    # Anonymous: nothing counted against the address either.
    for _ in range(8):
        body = ok_body(au.rpc(s, "auth.authorize", {"client_ip": "192.0.2.41", "count_rate": False}))
        assert body == {"anonymous": True}, body
    assert ok_body(authorize(s, client_ip="192.0.2.41"))["rate"]["remaining"] == 4
    # count_rate true is the default.
    assert ok_body(au.rpc(s, "auth.authorize", {"client_ip": "192.0.2.41", "count_rate": True}))["rate"]["remaining"] == 3
    for bad in (0, 1, "false", None):
        assert_bad_field(au.rpc(s, "auth.authorize", {"client_ip": "192.0.2.41", "count_rate": bad}), "count_rate")


def test_credential_is_the_token_without_a_bearer_prefix(st, users):
    """credential (and auth.verify's token) is the access token itself; the
    HTTP scheme "Bearer " is not part of it. A prefixed value is a bad token:
    unauthorized, never an anonymous caller."""
    tok = users["user"].access
    assert ok_body(authorize(st, tok, "self:read"))["user_id"] == users["user"].id
    for prefixed in (f"Bearer {tok}", f"bearer {tok}", f"Bearer  {tok}", f"Bearer{tok}"):
        rep = authorize(st, prefixed)
        assert err_code(rep) == "unauthorized", rep
        assert err_code(authorize(st, prefixed, "self:read")) == "unauthorized"
        assert err_code(au.rpc(st, "auth.verify", {"token": prefixed})) == "unauthorized"
        assert tok not in str(rep), "the token is echoed"


def test_strings_sent_as_bin_are_bad_request_naming_the_field(st, users):
    """Strings must be msgpack str: bytes (bin, what Go's []byte and Java's
    byte[] become) where a string is expected are refused naming the field,
    however valid their content."""
    tok = users["user"].access
    rep = au.rpc(st, "auth.authorize", {"credential": tok.encode(), "client_ip": "192.0.2.7"})
    assert_bad_field(rep, "credential")
    assert_bad_field(au.rpc(st, "auth.authorize", {"client_ip": b"192.0.2.7"}), "client_ip")
    assert_bad_field(au.rpc(st, "auth.authorize", {"client_ip": "192.0.2.7", "permission": b"self:read"}),
                     "permission")
    assert_bad_field(au.rpc(st, "auth.verify", {"token": tok.encode()}), "token")
    # The same values as str pass.
    assert ok_body(au.rpc(st, "auth.verify", {"token": tok}))["user_id"] == users["user"].id


# ============================================================ DEALER framing


def test_dealer_with_tags_keeps_many_calls_in_flight(st, users):
    """proto/PROTOCOL.md "Transport": a DEALER may send [tag][empty][request];
    the reply comes back as [tag][empty][reply], so several calls can be out
    on one socket at once and each reply names its call (what the gateway's
    event loops do)."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.connect(st.auth_ep)
    try:
        token = users["user"].access
        calls = {}
        for i in range(8):
            tag = i.to_bytes(8, "little")
            if i % 2:
                req = {"v": 1, "op": "auth.verify", "rid": f"it-dealer-{i}", "body": {"token": token}}
            else:
                req = {"v": 1, "op": "sys.ping", "rid": f"it-dealer-{i}", "body": {}}
            calls[tag] = req["op"]
            sock.send_multipart([tag, b"", msgpack.packb(req)])
        seen = set()
        for _ in range(8):
            frames = sock.recv_multipart()
            assert len(frames) == 3 and frames[1] == b"", frames
            tag = frames[0]
            assert tag in calls and tag not in seen, (tag, seen)
            seen.add(tag)
            body = ok_body(msgpack.unpackb(frames[2], raw=False))
            if calls[tag] == "auth.verify":
                assert body["user_id"] == users["user"].info["id"], body
            else:
                assert body.get("svc") == "authsvc", body
        assert len(seen) == 8
    finally:
        sock.close()


# ============================================= bounded fields of every op

# The public flows and admission, each with a body that is valid apart from
# client_ip (proto_catalog.c: client_ip is str<=64 in every one of them).
CLIENT_IP_OPS = {
    "auth.register": lambda: {"username": au.fresh_name(), "email": au.fresh_name() + "@example.com",
                              "password": au.strong_password()},
    "auth.token": lambda: {"username": au.fresh_name(), "password": "Wrong-pw-123!"},
    "auth.refresh": lambda: {"refresh_token": au.b64u(b"\x01" * 32)},
    "auth.logout": lambda: {"refresh_token": au.b64u(b"\x02" * 32)},
    "auth.authorize": lambda: {"permission": "self:read"},
}
ADDRESS_64 = "internal:" + "batch-job_" * 5 + "x.1-2"  # 64 bytes: the longest client_ip


def assert_bad_field(rep, field):
    assert err_code(rep) == "bad_request", rep
    assert rep["err"].get("field") == field, f"bad_request must name the field {field}: {rep}"
    assert field in rep["err"].get("msg", ""), rep


@pytest.mark.parametrize("size", [65, 10 * 1024], ids=["65-bytes", "10-KiB"])
@pytest.mark.parametrize("op", sorted(CLIENT_IP_OPS))
def test_over_long_client_ip_is_bad_request_naming_the_field(st, op, size):
    body = dict(CLIENT_IP_OPS[op](), client_ip="1" * size)
    assert_bad_field(au.rpc(st, op, body), "client_ip")
    assert it.ping_ok(st.auth_ep, "authsvc")


@pytest.mark.parametrize("op", sorted(CLIENT_IP_OPS))
def test_wrongly_typed_client_ip_is_bad_request_naming_the_field(st, op):
    for bad in (64, ["127.0.0.1"], {"ip": "127.0.0.1"}, b"127.0.0.1", True):
        body = dict(CLIENT_IP_OPS[op](), client_ip=bad)
        assert_bad_field(au.rpc(st, op, body), "client_ip")
    assert it.ping_ok(st.auth_ep, "authsvc")


def test_client_ip_at_the_bound_is_used_as_given(st):
    """64 bytes is within the bound (only the internal form gets there): the
    op runs with exactly that value (its session records it), never with
    whatever a too small buffer held."""
    assert len(ADDRESS_64.encode()) == 64
    u = au.new_user(st)
    pair = ok_body(au.rpc(st, "auth.token", {"username": u.username, "password": u.password,
                                             "client_ip": ADDRESS_64}))
    sessions = ok_body(au.rpc(st, "auth.sessions", {"actor_id": u.id}))["sessions"]
    mine = [x for x in sessions if x["id"] == pair["session_id"]]
    assert mine and mine[0]["client_ip"] == ADDRESS_64, sessions
    other = ADDRESS_64[:-1] + "3"
    again = ok_body(au.rpc(st, "auth.refresh", {"refresh_token": pair["refresh_token"], "client_ip": other}))
    sessions = ok_body(au.rpc(st, "auth.sessions", {"actor_id": u.id}))["sessions"]
    mine = [x for x in sessions if x["id"] == again["session_id"]]
    assert mine and mine[0]["client_ip"] == other, sessions
    # The others answer as they would for any address.
    assert err_code(au.rpc(st, "auth.refresh", dict(CLIENT_IP_OPS["auth.refresh"](), client_ip=ADDRESS_64))) == \
        "invalid_refresh_token"
    ok_body(au.rpc(st, "auth.logout", dict(CLIENT_IP_OPS["auth.logout"](), client_ip=ADDRESS_64)))
    body = ok_body(authorize(st, u.access, "self:read", client_ip=ADDRESS_64))
    assert body["user_id"] == u.id, body
    anon = [ok_body(authorize(st, client_ip=ADDRESS_64))["rate"]["remaining"] for _ in range(2)]
    assert anon[1] == anon[0] - 1, f"one address, one bucket: {anon}"
    reg = CLIENT_IP_OPS["auth.register"]()
    assert ok_body(au.rpc(st, "auth.register", dict(reg, client_ip=ADDRESS_64)))["user"]["username"] == reg["username"]


NOT_CLIENT_IPS = ["", "unknown", "localhost", "example.com", "01.2.3.4", "192.0.2.7:8080", "[2001:db8::1]",
                  "fe80::1%eth0", " 192.0.2.7", "internal:", "internal:two words", "internal:" + "x" * 56,
                  "Internal:billing"]


@pytest.mark.parametrize("op", sorted(CLIENT_IP_OPS))
def test_client_ip_must_be_an_address_or_internal_name(st, op):
    """proto/PROTOCOL.md "client_ip": an IPv4 or IPv6 address in text form,
    or internal:<name> for a caller acting for no client; anything else is
    bad_request naming the field, before any work."""
    for bad in NOT_CLIENT_IPS:
        assert_bad_field(au.rpc(st, op, dict(CLIENT_IP_OPS[op](), client_ip=bad)), "client_ip")
    for good in ("192.0.2.77", "2001:db8::77", "::ffff:192.0.2.78", "internal:billing-batch.2"):
        rep = au.rpc(st, op, dict(CLIENT_IP_OPS[op](), client_ip=good))
        assert rep.get("ok") or rep["err"]["code"] != "bad_request", (good, rep)


def test_client_ip_is_one_bucket_however_it_is_written(st):
    """The address is used in its canonical text: the spellings of one IPv6
    address, and an IPv4-mapped one, count in one bucket and are recorded
    alike."""
    spellings = ["2001:db8:0:0:0:0:0:5a", "2001:DB8::5A", "2001:db8::5a"]
    left = [ok_body(authorize(st, client_ip=ip))["rate"]["remaining"] for ip in spellings]
    assert left == [left[0], left[0] - 1, left[0] - 2], left
    mapped = [ok_body(authorize(st, client_ip=ip))["rate"]["remaining"] for ip in ("192.0.2.90", "::ffff:192.0.2.90")]
    assert mapped[1] == mapped[0] - 1, mapped
    u = au.new_user(st)
    pair = ok_body(au.rpc(st, "auth.token", {"username": u.username, "password": u.password,
                                             "client_ip": "2001:DB8:0::7"}))
    sessions = ok_body(au.rpc(st, "auth.sessions", {"actor_id": u.id}))["sessions"]
    assert [x["client_ip"] for x in sessions if x["id"] == pair["session_id"]] == ["2001:db8::7"], sessions


def test_credential_longer_than_a_token_is_unauthorized_never_anonymous(st):
    """A credential within the wire bound (4200) but longer than any token
    authsvc issues is a bad token: unauthorized, not an anonymous caller."""
    for n in (4097, 4200):
        rep = authorize(st, "A" * n)
        assert err_code(rep) == "unauthorized", (n, rep)
        assert err_code(au.rpc(st, "auth.verify", {"token": "A" * n})) == "unauthorized"
    assert_bad_field(authorize(st, "A" * 4201), "credential")
    assert_bad_field(au.rpc(st, "auth.verify", {"token": "A" * 4201}), "token")
