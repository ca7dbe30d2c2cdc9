"""Authentication over HTTP (the API contract, "Authentication"; 2FA, password reset and
API keys excluded): registration and its field rules, /auth/token and
/auth/login, refresh rotation with the grace window and reuse detection,
logout, logout-all, /auth/session(s), and forged access tokens.

Every test uses fresh accounts (uuid suffixes) on a database of its own
module, so the tests are independent of each other and of other modules.
"""

import json
import re
import threading
import time
import uuid

import pytest

import authutil as au
import restc_it as it


@pytest.fixture(scope="module")
def adb(pg):
    return au.fresh_database(pg, "auth")


@pytest.fixture(scope="module")
def st(adb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, adb, jwt_secret, "auth")


@pytest.fixture(scope="module")
def grace1(adb, jwt_secret, tmp_path_factory):
    """REFRESH_REUSE_GRACE_SECONDS=1, so reuse after the window is testable
    without waiting 10 s."""
    yield from au.module_stack(
        tmp_path_factory, adb, jwt_secret, "grace1", authsvc={"REFRESH_REUSE_GRACE_SECONDS": "1"}
    )


@pytest.fixture(scope="module")
def alt(adb, jwt_secret, tmp_path_factory):
    """Self-registration off, cookies without Secure."""
    yield from au.module_stack(
        tmp_path_factory, adb, jwt_secret, "alt",
        authsvc={"REGISTRATION_ENABLED": "false"}, gateway={"COOKIE_SECURE": "false"},
    )


# ============================================================ registration


def test_register_answers_201_with_the_user_object_and_never_a_hash(st):
    name = au.fresh_name("reg")
    password = au.strong_password()
    r = au.register(st, name, password, f"{name}@example.com", full_name="Ada Lovelace")
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    u = r.json()
    au.assert_user_shape(u)
    assert u["username"] == name
    assert u["email"] == f"{name}@example.com"
    assert u["full_name"] == "Ada Lovelace"
    assert u["role"] == "user", "new accounts get role user"
    assert u["is_active"] is True and u["totp_enabled"] is False
    assert password not in r.text
    # created_at is "now" (RFC 3339 UTC).
    assert abs(au.epoch(u["created_at"]) - time.time()) < 120, u["created_at"]
    # The account works.
    pair = au.login_pair(st, name, password)
    assert au.jwt_payload(pair["access_token"])["sub"] == u["id"]


def test_register_without_full_name(st):
    r = au.register(st)
    assert r.status_code == 201, r.text
    u = r.json()
    au.assert_user_shape(u)
    assert u["full_name"] in (None, ""), u


def test_register_lower_cases_the_email_and_cleans_full_name(st):
    name = au.fresh_name("mail")
    r = au.register(st, name, email=f"Mixed.Case+{name}@Example.COM",
                    full_name="  <b>Grace</b> <script>x</script>Hopper\u0007\n ")
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["email"] == f"mixed.case+{name}@example.com"
    fn = u["full_name"]
    assert "<" not in fn and ">" not in fn, fn
    assert not any(ord(c) < 32 or ord(c) == 127 for c in fn), repr(fn)
    assert "Grace" in fn and "Hopper" in fn, fn


PASSWORD_RULES = [
    # id, password (from the username), what the detail must name
    ("too-short", lambda n: "Xy7#abc", r"(?i)\b8\b|short|at least"),
    ("too-long", lambda n: "Xy7#" + "a" * 125, r"(?i)\b128\b|long|at most"),
    ("no-upper-case", lambda n: "xy7#abcdefgh", r"(?i)upper"),
    ("no-lower-case", lambda n: "XY7#ABCDEFGH", r"(?i)lower"),
    ("no-digit", lambda n: "Xyz#abcdefgh", r"(?i)digit|number"),
    ("no-special", lambda n: "Xyz7abcdefgh", r"(?i)special|symbol"),
    ("common-Password1!", lambda n: "Password1!", r"(?i)common|known|guess"),
    ("common-P@ssw0rd", lambda n: "P@ssw0rd", r"(?i)common|known|guess"),
    ("equals-username", lambda n: n, r"(?i)user\s?name"),
]


@pytest.mark.parametrize("rule,make,detail_re", PASSWORD_RULES, ids=[r[0] for r in PASSWORD_RULES])
def test_each_password_rule_is_400_weak_password_naming_the_rule(st, rule, make, detail_re):
    name = "Xy7-" + uuid.uuid4().hex[:10]  # upper, lower, digit, special: a valid password itself
    password = make(name)
    r = au.register(st, name, password)
    p = au.assert_problem(r, 400, "weak_password")
    assert re.search(detail_re, p["detail"]), f"detail {p['detail']!r} does not name the rule ({rule})"
    assert password not in r.text, "the submitted password is echoed"
    # The refusal created nothing: the same username registers with a good password.
    r = au.register(st, name, au.strong_password())
    assert r.status_code == 201, f"{rule}: username taken by a refused registration: {r.text}"


@pytest.mark.parametrize("length", [8, 128])
def test_password_length_boundaries_are_accepted(st, length):
    password = ("Xy7#" + "k" * 200)[:length]
    r = au.register(st, password=password)
    assert r.status_code == 201, f"{length}-character password refused: {r.text}"


def test_duplicate_registration_answers_exactly_like_any_other_refusal(st):
    first = au.new_user(st, login=False)
    other = au.fresh_name("dup")
    refusals = {
        "same-username": au.register(st, first.username, au.strong_password(), f"{other}@example.com"),
        "same-email": au.register(st, other, au.strong_password(), first.email),
        "same-email-upper-case": au.register(st, other + "y", au.strong_password(), first.email.upper()),
        "both": au.register(st, first.username, au.strong_password(), first.email),
    }
    bodies = {}
    for why, r in refusals.items():
        p = au.assert_problem(r, 400, "registration_failed")
        assert p["detail"] == au.REG_FAILED_DETAIL, (why, p)
        assert "errors" not in p, f"{why}: the refusal names the field: {p}"
        assert first.username not in r.text and first.email not in r.text, (why, r.text)
        bodies[why] = au.problem_sans_rid(r)
    distinct = {json.dumps(b, sort_keys=True) for b in bodies.values()}
    assert len(distinct) == 1, f"refusals differ: {bodies}"
    ctypes = {r.headers.get("Content-Type") for r in refusals.values()}
    assert len(ctypes) == 1, ctypes
    # The first account is untouched and the refused ones do not exist.
    au.login_pair(st, first.username, first.password)
    assert au.token(st, other, "whatever-Pass1!").status_code == 401


def test_parallel_registrations_of_one_username_create_one_account(st):
    name = au.fresh_name("race")
    n = 8
    barrier = threading.Barrier(n)
    out = [None] * n

    def go(i):
        barrier.wait()
        out[i] = au.register(st, name, au.strong_password(), f"{name}-{i}@example.com")

    ts = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    codes = sorted(r.status_code for r in out)
    assert codes == [201] + [400] * (n - 1), [(r.status_code, r.text[:120]) for r in out]
    for r in out:
        if r.status_code == 400:
            assert au.assert_problem(r, 400, "registration_failed")["detail"] == au.REG_FAILED_DETAIL


RESERVED = ["admin", "administrator", "root", "system", "api", "www", "mail", "support", "help",
            "null", "undefined", "true", "false"]


@pytest.mark.parametrize("name", RESERVED + ["Admin", "ROOT", "NuLL", "False", "Administrator"])
def test_reserved_usernames_are_422_in_any_case(st, name):
    r = au.register(st, name, email=f"{au.fresh_name()}@example.com")
    au.assert_problem(r, 422, "validation_error")


@pytest.mark.parametrize(
    "name",
    ["ab", "x" * 51, "with space", "dot.name", "semi;colon", "\u00fcnicode", "slash/name", "at@name", "", "tab\tname"],
    ids=["2-chars", "51-chars", "space", "dot", "semicolon", "non-ascii", "slash", "at", "empty", "tab"],
)
def test_malformed_usernames_are_422(st, name):
    r = au.register(st, name, email=f"{au.fresh_name()}@example.com")
    au.assert_problem(r, 422, "validation_error")


@pytest.mark.parametrize("length", [3, 50])
def test_username_length_boundaries_are_accepted(st, length):
    name = ("Q" + uuid.uuid4().hex + uuid.uuid4().hex)[:length]
    r = au.register(st, name, email=f"{au.fresh_name()}@example.com")
    assert r.status_code == 201, r.text
    assert r.json()["username"] == name


@pytest.mark.parametrize(
    "email",
    [
        "no-at-sign.example.com",
        "two@@example.com",
        "@example.com",
        "local@",
        "sp ace@example.com",
        "trailing-space@example.com ",
        "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".com",  # 260 characters
        "dots..in@example.com",
    ],
    ids=["no-at", "two-at", "no-local", "no-domain", "space", "trailing-space", "over-254", "double-dot"],
)
def test_invalid_emails_are_422(st, email):
    r = au.register(st, au.fresh_name(), email=email)
    p = au.assert_problem(r, 422, "validation_error")
    assert email.strip() not in p["detail"], "detail echoes the input"


def test_full_name_over_100_characters_is_422(st):
    r = au.register(st, full_name="N" * 101)
    au.assert_problem(r, 422, "validation_error")
    r = au.register(st, full_name="N" * 100)
    assert r.status_code == 201, r.text


FIELD_CASES = [
    ("reserved-username", dict(username="admin"), "username"),
    ("malformed-username", dict(username="a b"), "username"),
    ("short-username", dict(username="ab"), "username"),
    ("invalid-email", dict(email="not-an-email"), "email"),
    ("long-full_name", dict(full_name="N" * 101), "full_name"),
    ("unknown-field", dict(extra={"role": "admin"}), "role"),
    ("username-not-a-string", dict(extra={"username": 5}), "username"),
]


@pytest.mark.parametrize("case,kw,field", FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_validation_errors_list_the_offending_field(st, case, kw, field):
    """The API contract, Conventions: 'Validation errors add "errors": [{"field", "message"}]'."""
    r = au.register(st, **kw)
    p = au.assert_problem(r, 422, "validation_error")
    errs = p.get("errors")
    assert isinstance(errs, list) and errs, f"422 without an errors list: {p}"
    assert all(set(e) >= {"field", "message"} for e in errs), errs
    assert any(e["field"] == field for e in errs), f"errors do not name {field!r}: {errs}"


@pytest.mark.parametrize(
    "extra",
    [{"role": "admin"}, {"role": "user"}, {"is_active": True}, {"id": str(uuid.uuid4())},
     {"totp_enabled": False}, {"password_hash": "x"}, {"created_at": "2020-01-01T00:00:00Z"}],
    ids=["role-admin", "role-user", "is_active", "id", "totp_enabled", "password_hash", "created_at"],
)
def test_register_mass_assignment_is_422_and_creates_nothing(st, extra):
    name = au.fresh_name("mass")
    password = au.strong_password()
    r = au.register(st, name, password, extra=extra)
    au.assert_problem(r, 422, "validation_error")
    assert au.token(st, name, password).status_code == 401, "a refused registration created the account"
    r = au.register(st, name, password)
    assert r.status_code == 201 and r.json()["role"] == "user", r.text


def test_register_body_errors(st):
    ok = {"username": au.fresh_name(), "email": f"{au.fresh_name()}@example.com", "password": au.strong_password()}
    url = "/auth/register"
    # Wrong or missing content type: 415.
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}):
        r = au.call(st, "POST", url, data=json.dumps(ok).encode(), headers=headers)
        au.assert_problem(r, 415, "unsupported_media_type")
    # Malformed JSON: 400 bad_request.
    for raw in (b"{", b'{"username": }', b"\xff\xfe", b'{"username": "a",}'):
        r = au.call(st, "POST", url, data=raw, headers={"Content-Type": "application/json"})
        au.assert_problem(r, 400, "bad_request")
    # Well-formed JSON that is not an object, wrong types, missing fields: 422.
    for body in ([ok], "text", 42, None, dict(ok, username=123), dict(ok, password=None),
                 dict(ok, email=["x@example.com"]), {k: v for k, v in ok.items() if k != "password"},
                 {k: v for k, v in ok.items() if k != "username"}, {}):
        r = au.call(st, "POST", url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        au.assert_problem(r, 422, "validation_error")
    # None of that created the account.
    r = au.register(st, ok["username"], ok["password"], ok["email"])
    assert r.status_code == 201, r.text


def test_deeply_nested_bodies_are_400_before_parsing(st):
    """Bodies nest at most 16 arrays/objects deep (README, gateway limits): deeper
    ones are refused before the JSON parser, which recurses per level, and the
    gateway keeps serving."""
    url = "/auth/register"
    hdr = {"Content-Type": "application/json"}
    name = au.fresh_name()
    for depth in (17, 1000, 20000):  # the whole body, counted from the outer object
        raw = b'{"username":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
        r = au.call(st, "POST", url, data=raw, headers=hdr)
        au.assert_problem(r, 400, "bad_request")
        assert "nested too deeply" in r.json()["detail"], r.text
    # 16 levels parse, and then fail the field rules like any other wrong type.
    raw = b'{"username":' + b"[" * 15 + b"]" * 15 + b"}"
    r = au.call(st, "POST", url, data=raw, headers=hdr)
    au.assert_problem(r, 422, "validation_error")
    # Brackets inside strings are text, not nesting.
    body = {"username": name, "email": f"{name}@example.com", "password": au.strong_password() + "[" * 40}
    r = au.call(st, "POST", url, data=json.dumps(body).encode(), headers=hdr)
    assert r.status_code == 201, r.text
    au.login_pair(st, name, body["password"])  # and the gateway still serves


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/auth/register"), ("GET", "/auth/token"), ("PUT", "/auth/login"), ("GET", "/auth/refresh"),
     ("GET", "/auth/logout"), ("GET", "/auth/logout-all"), ("POST", "/auth/session"), ("POST", "/auth/sessions")],
)
def test_auth_routes_with_the_wrong_method_are_405_with_allow(st, method, path):
    r = au.call(st, method, path)
    au.assert_problem(r, 405, "method_not_allowed")
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
    assert method not in allow and allow & {"GET", "POST", "DELETE"}, r.headers.get("Allow")


def test_registration_disabled_is_403_and_login_still_works(alt, st):
    r = au.register(alt)
    au.assert_problem(r, 403, "registration_disabled")
    u = au.new_user(st, login=False)  # made on the other stack, same database
    pair = au.login_pair(alt, u.username, u.password)
    assert au.get(alt, "/users/me", token=pair["access_token"]).status_code == 200


# ================================================================ token


def test_token_answers_the_pair_with_the_documented_claims(st, jwt_secret):
    u = au.new_user(st, login=False)
    r = au.token(st, u.username, u.password)
    assert r.status_code == 200, r.text
    body = r.json()
    au.assert_token_pair(body)
    assert body["expires_in"] == au.ACCESS_TTL_S, body
    assert body["refresh_expires_in"] == au.REFRESH_TTL_S, body
    assert u.password not in r.text

    tok = body["access_token"]
    header, claims, _ = au.jwt_split(tok)
    assert header.get("alg") == "HS256", header
    assert au.jwt_verify_hs256(tok, jwt_secret), "not signed with JWT_SECRET_KEY (HS256)"
    for k in ("sub", "role", "type", "iat", "exp", "jti", "iss", "aud", "sid"):
        assert k in claims, f"claim {k} missing: {claims}"
    assert claims["sub"] == u.id and claims["role"] == "user" and claims["type"] == "access", claims
    assert claims["exp"] - claims["iat"] == au.ACCESS_TTL_S, claims
    assert abs(claims["iat"] - time.time()) < 60, claims
    assert claims["iss"] == au.ISSUER, claims
    assert claims["aud"] == au.AUDIENCE or (isinstance(claims["aud"], list) and au.AUDIENCE in claims["aud"]), claims
    assert "password" not in json.dumps(claims).lower()

    # The refresh token is opaque and carries at least 256 bits.
    rt = body["refresh_token"]
    assert rt.count(".") != 2 or not rt.startswith("ey"), "refresh token looks like a JWT"
    if re.fullmatch(r"[0-9a-fA-F]+", rt):
        assert len(rt) >= 64, rt
    else:
        assert re.fullmatch(r"[A-Za-z0-9_\-+/=.~]+", rt), rt
        assert len(rt.rstrip("=")) >= 43, f"refresh token of {len(rt)} characters"

    # Two logins: distinct jti, sid and refresh token.
    other = au.login_pair(st, u.username, u.password)
    c2 = au.jwt_payload(other["access_token"])
    assert c2["jti"] != claims["jti"] and c2["sid"] != claims["sid"]
    assert other["refresh_token"] != rt


def test_token_accepts_the_email_as_username(st):
    u = au.new_user(st, login=False)
    pair = au.login_pair(st, u.email, u.password)
    assert au.jwt_payload(pair["access_token"])["sub"] == u.id
    # Emails are stored lower-cased, so the email typed in another case is the same login.
    pair = au.login_pair(st, u.email.upper(), u.password)
    assert au.jwt_payload(pair["access_token"])["sub"] == u.id


def test_wrong_password_and_unknown_user_answer_identically(st):
    u = au.new_user(st, login=False)
    answers = {
        "wrong-password": au.token(st, u.username, u.password + "x"),
        "wrong-password-by-email": au.token(st, u.email, "Xy7#wrong-one"),
        "unknown-user": au.token(st, au.fresh_name("ghost"), u.password),
        "unknown-email": au.token(st, f"{au.fresh_name('ghost')}@example.com", u.password),
        "login-wrong-password": au.post(st, "/auth/login", {"username": u.username, "password": "Xy7#wrong-one"}),
        "login-unknown-user": au.post(st, "/auth/login", {"username": au.fresh_name("ghost"), "password": "Xy7#x"}),
    }
    bodies = {}
    for why, r in answers.items():
        p = au.assert_problem(r, 401, "invalid_credentials")
        assert u.username not in p["detail"] and u.password not in r.text, (why, p)
        assert not au.set_cookies(r), f"{why}: a failed login sets a cookie"
        bodies[why] = json.dumps(au.problem_sans_rid(r), sort_keys=True)
    assert len(set(bodies.values())) == 1, bodies


def test_token_body_errors(st):
    u = au.new_user(st, login=False)
    for body in ({"username": u.username, "password": u.password, "role": "admin"},
                 {"username": u.username, "password": u.password, "remember": True},
                 {"username": u.username}, {"password": u.password}, [u.username, u.password],
                 {"username": 7, "password": u.password}):
        for path in ("/auth/token", "/auth/login"):
            r = au.call(st, "POST", path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            au.assert_problem(r, 422, "validation_error")
    r = au.call(st, "POST", "/auth/token", data=b'{"username":', headers={"Content-Type": "application/json"})
    au.assert_problem(r, 400, "bad_request")
    r = au.call(st, "POST", "/auth/token", data=f"username={u.username}&password={u.password}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    au.assert_problem(r, 415, "unsupported_media_type")


def test_login_answers_the_access_token_and_sets_the_refresh_cookie(st):
    u = au.new_user(st, login=False)
    r = au.post(st, "/auth/login", {"username": u.username, "password": u.password})
    assert r.status_code == 200, r.text
    body = r.json()
    assert au.LOGIN_KEYS <= set(body), body
    assert "refresh_token" not in body, "the browser flow must keep the refresh token out of the body"
    assert body["token_type"] == "bearer" and body["expires_in"] == au.ACCESS_TTL_S, body
    assert au.get(st, "/users/me", token=body["access_token"]).status_code == 200
    c = au.refresh_cookie(r)
    assert c, f"no refresh_token cookie: {au.set_cookies(r)}"
    value, attrs = c
    assert len(value) >= 43, value
    assert attrs.get("httponly") is True, attrs
    assert str(attrs.get("samesite", "")).lower() == "lax", attrs
    assert attrs.get("path") == "/api/v1/auth", attrs
    assert attrs.get("max-age") == str(au.REFRESH_TTL_S), attrs
    assert attrs.get("secure") is True, "COOKIE_SECURE defaults to true"


def test_cookie_without_secure_when_cookie_secure_false(alt, st):
    u = au.new_user(st, login=False)
    r = au.post(alt, "/auth/login", {"username": u.username, "password": u.password})
    assert r.status_code == 200, r.text
    value, attrs = au.refresh_cookie(r)
    assert "secure" not in attrs, attrs
    assert attrs.get("httponly") is True and attrs.get("path") == "/api/v1/auth", attrs


# ============================================================== refresh


def refresh(s, rt, **kw):
    return au.post(s, "/auth/refresh", {"refresh_token": rt}, **kw)


def test_refresh_with_the_body_rotates_the_pair(st):
    u = au.new_user(st)
    r = refresh(st, u.refresh)
    assert r.status_code == 200, r.text
    pair = r.json()
    au.assert_token_pair(pair)
    assert pair["refresh_token"] != u.refresh and pair["access_token"] != u.access
    assert au.jwt_payload(pair["access_token"])["sid"] == u.sid, "rotation must stay in the same family"
    assert au.jwt_payload(pair["access_token"])["sub"] == u.id
    assert au.get(st, "/users/me", token=pair["access_token"]).status_code == 200
    # The new refresh token works in turn.
    r = refresh(st, pair["refresh_token"])
    assert r.status_code == 200, r.text


def test_refresh_with_the_cookie_answers_the_login_shape_and_a_new_cookie(st):
    u = au.new_user(st, login=False)
    r = au.post(st, "/auth/login", {"username": u.username, "password": u.password})
    assert r.status_code == 200, r.text
    c0, _ = au.refresh_cookie(r)
    r = au.post(st, "/auth/refresh", {}, headers=au.cookie_header(c0))
    assert r.status_code == 200, r.text
    body = r.json()
    assert au.LOGIN_KEYS <= set(body) and "refresh_token" not in body, body
    assert au.get(st, "/users/me", token=body["access_token"]).status_code == 200
    c1, attrs = au.refresh_cookie(r) or (None, None)
    assert c1 and c1 != c0, "refresh via cookie must set a new cookie"
    assert attrs.get("httponly") is True and attrs.get("path") == "/api/v1/auth", attrs
    r = au.post(st, "/auth/refresh", {}, headers=au.cookie_header(c1))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("what", ["random", "access-token", "empty-looking", "truncated"])
def test_refresh_with_an_unknown_token_is_401_invalid_refresh_token(st, what):
    u = au.new_user(st)
    rt = {"random": au.b64u(uuid.uuid4().bytes * 2), "access-token": u.access,
          "empty-looking": "A" * 43, "truncated": u.refresh[:-4]}[what]
    r = refresh(st, rt)
    au.assert_problem(r, 401, "invalid_refresh_token")
    assert rt not in r.text
    r = au.post(st, "/auth/refresh", {}, headers=au.cookie_header(rt))
    au.assert_problem(r, 401, "invalid_refresh_token")


def test_two_refreshes_of_the_same_token_within_the_grace_window_both_succeed(st):
    u = au.new_user(st)
    r1 = refresh(st, u.refresh)
    r2 = refresh(st, u.refresh)
    assert r1.status_code == 200, r1.text
    assert r2.status_code == 200, f"second refresh within REFRESH_REUSE_GRACE_SECONDS: {r2.status_code} {r2.text}"
    p1, p2 = r1.json(), r2.json()
    assert p1["refresh_token"] != p2["refresh_token"], "the grace answer must be a fresh pair"
    assert au.jwt_payload(p1["access_token"])["sid"] == au.jwt_payload(p2["access_token"])["sid"] == u.sid
    # Both tabs go on with their own tokens.
    for p in (p1, p2):
        assert au.get(st, "/users/me", token=p["access_token"]).status_code == 200
        r = refresh(st, p["refresh_token"])
        assert r.status_code == 200, r.text


def test_parallel_refreshes_of_the_same_token_both_succeed(st):
    for _ in range(3):
        u = au.new_user(st)
        barrier = threading.Barrier(2)
        out = [None, None]

        def go(i):
            barrier.wait()
            out[i] = refresh(st, u.refresh)

        ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        codes = [r.status_code for r in out]
        assert codes == [200, 200], [r.text for r in out]
        assert out[0].json()["refresh_token"] != out[1].json()["refresh_token"]


def test_reuse_after_the_grace_window_is_401_and_kills_the_newest_token_of_the_family(grace1):
    s = grace1
    u = au.new_user(s)
    other = au.User(u.username, u.password, u.email, u.info)
    au.relogin(s, other)  # a second, independent session of the same user
    t0 = u.refresh
    r = refresh(s, t0)
    assert r.status_code == 200, r.text
    t1 = r.json()["refresh_token"]
    r = refresh(s, t1)
    assert r.status_code == 200, r.text
    t2 = r.json()["refresh_token"]  # the newest token of the family
    time.sleep(2.2)  # wait out REFRESH_REUSE_GRACE_SECONDS=1 (second-granular clocks: > 2 s)
    r = refresh(s, t0)
    au.assert_problem(r, 401, "refresh_token_reused")
    r = refresh(s, t2)
    au.assert_problem(r, 401, codes=("invalid_refresh_token", "refresh_token_reused"))
    r = refresh(s, t1)
    au.assert_problem(r, 401, codes=("invalid_refresh_token", "refresh_token_reused"))
    # The family is gone from the session list; the other session is not.
    r = au.get(s, "/auth/sessions", token=other.access)
    assert r.status_code == 200, r.text
    ids = {x["id"] for x in r.json()["sessions"]}
    assert u.sid not in ids and other.sid in ids, ids
    r = refresh(s, other.refresh)
    assert r.status_code == 200, "reuse in one family must not revoke the user's other sessions"


def test_reuse_of_a_cookie_token_after_the_grace_window(grace1):
    s = grace1
    u = au.new_user(s, login=False)
    r = au.post(s, "/auth/login", {"username": u.username, "password": u.password})
    c0, _ = au.refresh_cookie(r)
    r = au.post(s, "/auth/refresh", {}, headers=au.cookie_header(c0))
    assert r.status_code == 200, r.text
    c1, _ = au.refresh_cookie(r)
    time.sleep(2.2)
    r = au.post(s, "/auth/refresh", {}, headers=au.cookie_header(c0))
    au.assert_problem(r, 401, "refresh_token_reused")
    r = au.post(s, "/auth/refresh", {}, headers=au.cookie_header(c1))
    au.assert_problem(r, 401, codes=("invalid_refresh_token", "refresh_token_reused"))


# =============================================================== logout


def test_logout_with_the_body_revokes_that_family_and_is_idempotent(st):
    u = au.new_user(st)
    other = au.User(u.username, u.password, u.email, u.info)
    au.relogin(st, other)
    r = au.post(st, "/auth/logout", {"refresh_token": u.refresh})
    assert r.status_code == 204, r.text
    assert r.content == b""
    au.assert_problem(refresh(st, u.refresh), 401, "invalid_refresh_token")
    for body in ({"refresh_token": u.refresh}, {"refresh_token": au.b64u(uuid.uuid4().bytes * 2)}):
        r = au.post(st, "/auth/logout", body)
        assert r.status_code == 204, f"logout must be idempotent: {r.status_code} {r.text}"
    assert refresh(st, other.refresh).status_code == 200, "logout revoked another session"


def test_logout_with_the_cookie_clears_it(st):
    u = au.new_user(st, login=False)
    r = au.post(st, "/auth/login", {"username": u.username, "password": u.password})
    c0, _ = au.refresh_cookie(r)
    r = au.post(st, "/auth/logout", {}, headers=au.cookie_header(c0))
    assert r.status_code == 204, r.text
    cleared = au.refresh_cookie(r)
    assert cleared, f"logout must clear the cookie: {au.set_cookies(r)}"
    value, attrs = cleared
    assert value in ("", '""'), value
    assert attrs.get("max-age") == "0" or "1970" in str(attrs.get("expires", "")), attrs
    assert attrs.get("path") == "/api/v1/auth", attrs
    au.assert_problem(au.post(st, "/auth/refresh", {}, headers=au.cookie_header(c0)), 401, "invalid_refresh_token")
    # Again, with the dead cookie: still 204.
    r = au.post(st, "/auth/logout", {}, headers=au.cookie_header(c0))
    assert r.status_code == 204, r.text


def test_logout_with_only_the_bearer_revokes_that_session(st):
    u = au.new_user(st)
    r = au.post(st, "/auth/logout", {}, token=u.access)
    assert r.status_code == 204, r.text
    au.assert_problem(refresh(st, u.refresh), 401, "invalid_refresh_token")


def test_logout_all_kills_live_access_tokens_and_every_refresh_token(st):
    u = au.new_user(st)
    b = au.User(u.username, u.password, u.email, u.info)
    au.relogin(st, b)
    r = au.post(st, "/auth/login", {"username": u.username, "password": u.password})
    cookie, _ = au.refresh_cookie(r)
    browser_access = r.json()["access_token"]
    for tok in (u.access, b.access, browser_access):
        assert au.get(st, "/users/me", token=tok).status_code == 200
    au.wait_next_second()  # the tokens above are issued strictly before "now"
    r = au.post(st, "/auth/logout-all", token=u.access)
    assert r.status_code == 204, r.text
    for tok in (u.access, b.access, browser_access):
        au.assert_unauthorized(au.get(st, "/users/me", token=tok))
        au.assert_unauthorized(au.get(st, "/auth/session", token=tok))
    au.assert_problem(refresh(st, u.refresh), 401, "invalid_refresh_token")
    au.assert_problem(refresh(st, b.refresh), 401, "invalid_refresh_token")
    au.assert_problem(au.post(st, "/auth/refresh", {}, headers=au.cookie_header(cookie)), 401, "invalid_refresh_token")
    # Logging in again right away works.
    pair = au.login_pair(st, u.username, u.password)
    r = au.get(st, "/users/me", token=pair["access_token"])
    assert r.status_code == 200, f"a token issued right after logout-all is refused: {r.text}"
    r = au.get(st, "/auth/sessions", token=pair["access_token"])
    assert len(r.json()["sessions"]) == 1, r.json()


def test_logout_all_without_a_bearer_is_401(st):
    au.assert_unauthorized(au.post(st, "/auth/logout-all"))
    au.assert_unauthorized(au.post(st, "/auth/logout-all", token="nope"))


# ============================================================== sessions


def test_session_describes_the_caller(st):
    u = au.new_user(st)
    r = au.get(st, "/auth/session", token=u.access)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"user_id", "username", "role", "expires_at"}, body
    assert body["user_id"] == u.id and body["username"] == u.username and body["role"] == "user"
    assert au.RFC3339_Z.match(body["expires_at"]), body
    exp = au.jwt_payload(u.access)["exp"]
    assert abs(au.epoch(body["expires_at"]) - exp) <= 1, (body["expires_at"], exp)


@pytest.mark.parametrize(
    "authz",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer a.b.c", "Bearer " + "A" * 5000],
    ids=["absent", "empty", "scheme-only", "scheme-space", "basic", "token-scheme", "abc", "huge"],
)
def test_protected_routes_without_a_valid_bearer_are_401_with_www_authenticate(st, authz):
    headers = {} if authz is None else {"Authorization": authz}
    for method, path in (("GET", "/auth/session"), ("GET", "/auth/sessions"), ("GET", "/users/me"),
                         ("POST", "/auth/logout-all"), ("DELETE", f"/auth/sessions/{uuid.uuid4()}")):
        r = au.call(st, method, path, headers=headers)
        au.assert_unauthorized(r)


def test_sessions_lists_one_entry_per_family_and_marks_the_current_one(st):
    u = au.new_user(st, login=False)
    a = au.User(u.username, u.password, u.email, u.info)
    b = au.User(u.username, u.password, u.email, u.info)
    au.relogin(st, a, headers={"User-Agent": "it-agent-A/1.0"})
    au.relogin(st, b, headers={"User-Agent": "it-agent-B/2.0"})
    r = refresh(st, a.refresh, headers={"User-Agent": "it-agent-A/1.1"})  # rotation keeps the family
    assert r.status_code == 200, r.text
    a.access, a.refresh = r.json()["access_token"], r.json()["refresh_token"]

    r = au.get(st, "/auth/sessions", token=a.access)
    assert r.status_code == 200, r.text
    sessions = r.json()["sessions"]
    assert len(sessions) == 2, sessions
    by_id = {x["id"]: x for x in sessions}
    assert set(by_id) == {a.sid, b.sid}, (by_id.keys(), a.sid, b.sid)
    for x in sessions:
        assert set(x) == {"id", "created_at", "last_used_at", "client_ip", "user_agent", "current"}, x
        assert au.RFC3339_Z.match(x["created_at"]) and au.RFC3339_Z.match(x["last_used_at"]), x
        assert x["client_ip"] == "127.0.0.1", x
        assert a.refresh not in json.dumps(x) and b.refresh not in json.dumps(x), x
    assert by_id[a.sid]["current"] is True and by_id[b.sid]["current"] is False, sessions
    assert by_id[b.sid]["user_agent"] == "it-agent-B/2.0", by_id[b.sid]
    assert by_id[a.sid]["user_agent"].startswith("it-agent-A/"), by_id[a.sid]
    # Seen from b, b is current.
    r = au.get(st, "/auth/sessions", token=b.access)
    cur = [x["id"] for x in r.json()["sessions"] if x["current"]]
    assert cur == [b.sid], r.json()


def test_delete_session_revokes_that_family_only_for_its_owner(st):
    u = au.new_user(st)
    b = au.User(u.username, u.password, u.email, u.info)
    au.relogin(st, b)
    stranger = au.new_user(st)
    # Someone else's session, an unknown id, a malformed id: 404.
    for sid in (stranger.sid, str(uuid.uuid4()), "not-a-uuid"):
        au.assert_problem(au.delete(st, f"/auth/sessions/{sid}", token=u.access), 404, "not_found")
    assert refresh(st, stranger.refresh).status_code == 200, "a stranger's session was revoked"
    r = au.delete(st, f"/auth/sessions/{b.sid}", token=u.access)
    assert r.status_code == 204, r.text
    au.assert_problem(refresh(st, b.refresh), 401, "invalid_refresh_token")
    r = au.get(st, "/auth/sessions", token=u.access)
    assert [x["id"] for x in r.json()["sessions"]] == [u.sid], r.json()
    au.assert_problem(au.delete(st, f"/auth/sessions/{b.sid}", token=u.access), 404, "not_found")


# ========================================================== forged tokens


@pytest.fixture(scope="module")
def victim(st):
    return au.new_user(st)


def test_forging_helper_positive_control(st, victim, jwt_secret):
    """A token we sign ourselves with the right secret and complete claims is
    accepted, so the refusals below are about the one thing each changes."""
    tok = au.jwt_encode(au.HS256_HEADER, au.claims_for(victim), jwt_secret)
    r = au.get(st, "/users/me", token=tok)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == victim.id


@pytest.mark.parametrize("name", au.FORGERIES)
def test_forged_access_tokens_are_401(st, victim, jwt_secret, name):
    tok = au.forged_token(name, victim, jwt_secret)
    for path in ("/users/me", "/auth/session", "/auth/sessions"):
        r = au.get(st, path, token=tok)
        p = au.assert_unauthorized(r)
        if len(tok) > 20:
            assert tok not in r.text and tok.split(".")[0] not in p["detail"], "the token is echoed"
    # And the real token still works (nothing above locked the account).
    assert au.get(st, "/users/me", token=victim.access).status_code == 200


def test_refresh_token_used_as_bearer_is_401(st):
    u = au.new_user(st)
    au.assert_unauthorized(au.get(st, "/users/me", token=u.refresh))


# ======================================================= backends down


def test_backend_down_is_503_unavailable_never_a_credential_error(pm, adb, jwt_secret, tmp_path):
    s = au.start_stack(pm, adb, jwt_secret, tmp_path, "down")
    u = au.new_user(s)
    assert s.storesvc.terminate() == 0
    r = au.token(s, u.username, u.password)
    au.assert_problem(r, 503, "unavailable")
    r = au.register(s)
    au.assert_problem(r, 503, "unavailable")
    assert s.authsvc.terminate() == 0
    r = au.get(s, "/users/me", token=u.access)
    au.assert_problem(r, 503, "unavailable")
    r = au.token(s, u.username, u.password)
    au.assert_problem(r, 503, "unavailable")


# ================================================================ rehash


def _stored_hash(s, login):
    rep = it.rpc(s.store_ep, "store.user_find_login", {"login": login})
    assert rep and rep["ok"], rep
    return rep["body"]["password_hash"]


def test_hash_made_with_older_parameters_is_rehashed_at_login(pm, pg, jwt_secret, tmp_path):
    """Argon2 parameters raised between two starts: the next successful
    login re-hashes the password with the new ones; a wrong password
    changes nothing."""
    db = au.fresh_database(pg, "rehash")
    old = au.start_stack(pm, db, jwt_secret, tmp_path, "rehash-old",
                         authsvc={"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024"})
    u = au.new_user(old, login=False)
    assert "$m=1024,t=1,p=1$" in _stored_hash(old, u.username)
    for p in old.procs():
        p.terminate()
    new = au.start_stack(pm, db, jwt_secret, tmp_path, "rehash-new",
                         authsvc={"ARGON2_TIME_COST": "2", "ARGON2_MEMORY_COST": "2048"})
    au.assert_problem(au.token(new, u.username, u.password + "x"), 401, "invalid_credentials")
    assert "$m=1024,t=1,p=1$" in _stored_hash(new, u.username)
    au.login_pair(new, u.username, u.password)  # verifies against the old hash
    assert "$m=2048,t=2,p=1$" in _stored_hash(new, u.username)
    au.login_pair(new, u.username, u.password)  # and the new one works
