"""Shared helpers for the auth / users / limiter integration tests (docs/API.md:
Authentication, Login protection, Users and roles, Rate limiting).

  fresh_database(pg, tag)    a new, migrated database in the session cluster,
                             so a module sees only its own users and its own
                             owner bootstrap
  auth_env / gateway_env     the service environment the tests run with
                             (cheap Argon2, generous limits, a known owner)
  module_stack(...)          generator for module-scoped stacks on such a DB
  start_stack(pm, ...)       a function-scoped stack with other settings
  api / post / get / ...     HTTP helpers on /api/v1 with a bearer
  register / login / User    a user factory (roles are set by the owner
                             admin through PATCH /api/v1/users/{id})
  jwt_*                      token decoding and forging with the stdlib only
  assert_problem / ...       checks of RFC 9457 problem replies

Nothing here sleeps where it could poll; the few waits that exist wait out a
clock (a grace window, a cooldown, the next wall-clock second) on purpose.
"""

import base64
import calendar
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import subprocess
import time
import uuid

import requests

import restc_it as it

API = "/api/v1"
HTTP_TIMEOUT = 30

OWNER_USERNAME = "it-owner"
OWNER_PASSWORD = "It-0wner!Passphrase-2026"
OWNER_EMAIL = "it-owner@example.com"

CHEAP_ARGON2 = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1"}
REALISTIC_ARGON2 = {"ARGON2_TIME_COST": "3", "ARGON2_MEMORY_COST": "65536", "ARGON2_PARALLELISM": "4"}

# Defaults of docs/API.md that the tests check against.
ACCESS_TTL_S = 15 * 60
REFRESH_TTL_S = 7 * 86400
ISSUER = "restc"
AUDIENCE = "restc-api"

REG_FAILED_DETAIL = "Unable to create account with provided information"
LOGIN_BLOCKED_DETAIL = "Too many failed login attempts. Please try again later."

USER_KEYS = {"id", "username", "email", "full_name", "role", "is_active", "totp_enabled", "created_at"}
TOKEN_KEYS = {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
LOGIN_KEYS = {"access_token", "token_type", "expires_in"}
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

ROLES = ("admin", "moderator", "user", "viewer")
PERMISSIONS = {
    "admin": {
        "users:read", "users:write", "users:delete", "admin:read", "admin:write",
        "content:read", "content:write", "content:delete", "self:read", "self:write",
    },
    "moderator": {
        "users:read", "users:write", "content:read", "content:write", "content:delete",
        "self:read", "self:write",
    },
    "user": {"content:read", "content:write", "self:read", "self:write"},
    "viewer": {"content:read", "self:read"},
}
ALL_PERMISSIONS = sorted(PERMISSIONS["admin"])


def asan_build():
    return os.environ.get("RESTC_BUILD_DIR", "build").rstrip("/").endswith("-asan")


# ------------------------------------------------------------- databases


def fresh_database(pg, tag):
    """Creates database it_<tag>_<random> in the session's cluster, runs
    `storesvc migrate` on it and returns its URL."""
    name = f"it_{re.sub(r'[^a-z0-9_]', '_', tag.lower())}_{secrets.token_hex(4)}"
    m = re.match(r"^postgresql://([^@]+)@([^:/]+):(\d+)/", pg.url)
    assert m, pg.url
    user, host, port = m.groups()
    r = subprocess.run(
        ["psql", "-X", "-q", "-h", host, "-p", port, "-U", user, "-d", "postgres", "-c", f"CREATE DATABASE {name}"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, f"CREATE DATABASE {name}: {r.stderr}"
    url = pg.url.rsplit("/", 1)[0] + "/" + name
    env = it.base_env()
    env["DATABASE_URL"] = url
    env["LOG_LEVEL"] = "INFO"
    r = subprocess.run(
        [it.binary("storesvc"), "migrate"], env=env, cwd=it.ROOT, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, f"storesvc migrate on {name} exited {r.returncode}:\n{r.stdout}{r.stderr}"
    return url


# ---------------------------------------------------------------- stacks


def auth_env(**over):
    """authsvc settings for tests: a known owner, cheap Argon2, limits high
    enough that only the tests of a limit ever meet it."""
    env = {
        "OWNER_USERNAME": OWNER_USERNAME,
        "OWNER_PASSWORD": OWNER_PASSWORD,
        "OWNER_EMAIL": OWNER_EMAIL,
        "REGISTER_RATE_LIMIT_PER_MINUTE": "100000",
        "RATE_LIMIT_PER_MINUTE": "100000",
        "LOGIN_MAX_FAILURES": "1000",
        "LOGIN_ACCOUNT_MAX_FAILURES": "1000",
        **CHEAP_ARGON2,
    }
    env.update({k: str(v) for k, v in over.items()})
    return env


def gateway_env(**over):
    return {k: str(v) for k, v in over.items()}


def module_stack(tmp_path_factory, db_url, jwt_secret, name, authsvc=None, gateway=None, storesvc=None):
    """Generator for a module-scoped fixture: a healthy stack on `db_url`
    with auth_env(**authsvc) and the given gateway / storesvc overrides."""
    yield from it.managed_stack(
        str(tmp_path_factory.mktemp(name)),
        db_url,
        jwt_secret,
        name,
        {"authsvc": auth_env(**(authsvc or {})), "gateway": gateway_env(**(gateway or {})),
         "storesvc": dict(storesvc or {})},
    )


def start_stack(pm, db_url, jwt_secret, tmp_path, name, authsvc=None, gateway=None, storesvc=None):
    """A started, healthy stack owned by the process manager `pm` (the
    function-scoped `pm` fixture kills it after the test)."""
    s = it.Stack(pm, db_url, str(tmp_path / f"objects-{name}"), jwt_secret, name=name)
    s.env_over["authsvc"].update(auth_env(**(authsvc or {})))
    s.env_over["gateway"].update(gateway_env(**(gateway or {})))
    s.env_over["storesvc"].update(storesvc or {})
    s.start_all()
    s.wait_healthy()
    return s


# ------------------------------------------------------------------ HTTP


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def call(s, method, path, token=None, json_body=None, data=None, headers=None, timeout=HTTP_TIMEOUT, **kw):
    """One request to s.base + /api/v1 + path (path may also start with '/'
    outside /api/v1 if it begins with '//'). No cookie jar, no redirects."""
    h = dict(headers or {})
    if token is not None:
        h.update(bearer(token))
    url = s.url(path[1:] if path.startswith("//") else API + path)
    if json_body is not None:
        data = json.dumps(json_body).encode()
        h.setdefault("Content-Type", "application/json")
    return requests.request(method, url, data=data, headers=h, timeout=timeout, allow_redirects=False, **kw)


def get(s, path, token=None, **kw):
    return call(s, "GET", path, token=token, **kw)


def post(s, path, body=None, token=None, **kw):
    return call(s, "POST", path, token=token, json_body=body, **kw)


def patch(s, path, body=None, token=None, **kw):
    return call(s, "PATCH", path, token=token, json_body=body, **kw)


def delete(s, path, token=None, **kw):
    return call(s, "DELETE", path, token=token, **kw)


def xff(ip):
    return {"X-Forwarded-For": ip}


# ----------------------------------------------------------- problem JSON


def assert_problem(r, status, code=None, codes=None):
    """Checks an RFC 9457 reply of `status` whose code is `code` (or one of
    `codes`); returns the decoded body."""
    assert r.status_code == status, f"{r.request.method} {r.url}: want {status} {code or codes}, got {r.status_code} {r.text[:400]}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("application/problem+json"), f"{r.url}: Content-Type {ctype!r}"
    p = r.json()
    for k in ("type", "title", "status", "detail", "code", "request_id"):
        assert k in p, f"problem JSON without {k}: {p}"
    assert p["status"] == status, p
    if code is not None:
        assert p["code"] == code, f"{r.request.method} {r.url}: want code {code}, got {p}"
    if codes is not None:
        assert p["code"] in codes, f"{r.request.method} {r.url}: want a code in {codes}, got {p}"
    rid = r.headers.get("X-Request-ID")
    assert rid and it.UUID_RE.match(rid), rid
    assert p["request_id"] == rid, (p, rid)
    return p


def assert_unauthorized(r, code="unauthorized"):
    p = assert_problem(r, 401, code)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.split(" ")[0].lower() == "bearer", f"401 without WWW-Authenticate: Bearer ({www!r})"
    return p


def assert_forbidden(r):
    return assert_problem(r, 403, "forbidden")


def problem_sans_rid(r):
    p = dict(r.json())
    p.pop("request_id", None)
    return p


def assert_user_shape(u):
    assert set(u) == USER_KEYS, f"User object keys {sorted(u)} (want exactly {sorted(USER_KEYS)})"
    assert it.UUID_RE.match(u["id"]), u
    assert u["role"] in ROLES, u
    assert isinstance(u["is_active"], bool) and isinstance(u["totp_enabled"], bool), u
    assert RFC3339_Z.match(u["created_at"]), u
    assert "$argon2" not in json.dumps(u).lower(), u


def assert_token_pair(body):
    assert TOKEN_KEYS <= set(body), f"token answer keys {sorted(body)}"
    assert body["token_type"] == "bearer", body
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0, body
    assert isinstance(body["refresh_expires_in"], int) and body["refresh_expires_in"] > 0, body
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2, body
    assert isinstance(body["refresh_token"], str) and body["refresh_token"], body


def rate_headers(r):
    """(limit, remaining, reset) as ints, or None when absent."""
    vals = [r.headers.get(h) for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")]
    if all(v is None for v in vals):
        return None
    assert all(v is not None for v in vals), f"partial RateLimit headers: {r.headers}"
    return tuple(int(v) for v in vals)


# --------------------------------------------------------------- cookies


def set_cookies(r):
    """Every Set-Cookie header of a requests response, unjoined."""
    return r.raw.headers.getlist("Set-Cookie")


def parse_set_cookie(raw):
    """'name=value; Attr; Attr2=x' -> (name, value, {attr lower: value or True})."""
    parts = [p.strip() for p in raw.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), value.strip(), attrs


def refresh_cookie(r):
    """The refresh_token Set-Cookie of a response: (value, attrs) or None."""
    found = [parse_set_cookie(c) for c in set_cookies(r)]
    found = [(v, a) for n, v, a in found if n == "refresh_token"]
    assert len(found) <= 1, f"several refresh_token cookies: {set_cookies(r)}"
    return found[0] if found else None


def cookie_header(value):
    return {"Cookie": f"refresh_token={value}"}


# -------------------------------------------------------------- identity


def fresh_name(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def strong_password():
    return "Xy7#" + secrets.token_hex(8)


class User:
    """A registered account and (after login) one session of it."""

    def __init__(self, username, password, email, info=None):
        self.username = username
        self.password = password
        self.email = email
        self.info = info or {}
        self.access = self.refresh = None

    @property
    def id(self):
        return self.info["id"]

    @property
    def role(self):
        return self.info.get("role")

    @property
    def sid(self):
        return jwt_payload(self.access)["sid"]

    def __repr__(self):
        return f"User({self.username!r}, role={self.role!r})"


def register(s, username=None, password=None, email=None, full_name=None, headers=None, extra=None):
    username = fresh_name() if username is None else username
    password = strong_password() if password is None else password
    email = f"{username or fresh_name()}@example.com" if email is None else email
    body = {"username": username, "email": email, "password": password}
    if full_name is not None:
        body["full_name"] = full_name
    body.update(extra or {})
    return post(s, "/auth/register", body, headers=headers)


def token(s, login, password, headers=None, **extra):
    return post(s, "/auth/token", {"username": login, "password": password, **extra}, headers=headers)


def login_pair(s, login, password, headers=None):
    """POST /auth/token that must succeed; the token pair."""
    r = token(s, login, password, headers=headers)
    assert r.status_code == 200, f"login of {login!r}: {r.status_code} {r.text[:300]}"
    return r.json()


def new_user(s, role="user", login=True, password=None, headers=None):
    """A fresh account with `role` (set by the owner) and, with login, a
    session whose tokens (issued after the role change) are on the object."""
    u = User(fresh_name(), password or strong_password(), None)
    u.email = f"{u.username}@example.com"
    r = register(s, u.username, u.password, u.email, headers=headers)
    assert r.status_code == 201, f"register {u.username}: {r.status_code} {r.text[:300]}"
    u.info = r.json()
    if role != "user":
        r = patch(s, f"/users/{u.id}", {"role": role}, token=owner_access(s))
        assert r.status_code == 200, f"owner sets role {role}: {r.status_code} {r.text[:300]}"
        u.info = r.json()
        assert u.role == role, u.info
    if login:
        relogin(s, u, headers=headers)
    return u


def relogin(s, u, headers=None):
    pair = login_pair(s, u.username, u.password, headers=headers)
    u.access, u.refresh = pair["access_token"], pair["refresh_token"]
    return pair


def owner_access(s):
    """An access token of the bootstrap admin, cached on the stack object."""
    tok = getattr(s, "_it_owner_access", None)
    if tok is not None:
        r = get(s, "/auth/session", token=tok)
        if r.status_code == 200:
            return tok
    pair = login_pair(s, OWNER_USERNAME, OWNER_PASSWORD)
    s._it_owner_access = pair["access_token"]
    return s._it_owner_access


def owner_id(s):
    r = get(s, "/users/me", token=owner_access(s))
    assert r.status_code == 200, r.text
    return r.json()["id"]


# ------------------------------------------------------------------- JWT


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_split(tok):
    h, p, sig = tok.split(".")
    return json.loads(b64u_decode(h)), json.loads(b64u_decode(p)), b64u_decode(sig)


def jwt_header(tok):
    return jwt_split(tok)[0]


def jwt_payload(tok):
    return jwt_split(tok)[1]


_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def jwt_encode(header, payload, secret, alg=None, raw_sig=None):
    """Compact JWT of `header` and `payload` (dicts, or bytes used as they
    are). Signed with HMAC of `alg` (default: header["alg"]) under `secret`;
    alg "none" (any case) gives an empty signature; `raw_sig` overrides."""
    hb = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    pb = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    signing_input = (b64u(hb) + "." + b64u(pb)).encode()
    alg = alg or (header.get("alg") if isinstance(header, dict) else "HS256")
    if raw_sig is not None:
        sig = raw_sig
    elif str(alg).lower() == "none":
        sig = b""
    else:
        key = secret.encode() if isinstance(secret, str) else secret
        sig = hmac.new(key, signing_input, _HASHES[alg.upper()]).digest()
    return signing_input.decode() + "." + b64u(sig)


def jwt_verify_hs256(tok, secret):
    """True when `tok` carries a valid HMAC-SHA256 signature under `secret`."""
    signing_input, _, sig = tok.rpartition(".")
    want = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(want, b64u_decode(sig))


def claims_for(u, **over):
    """A complete, valid set of access-token claims for user `u` (with the
    real sid of its session), to be altered one claim at a time."""
    now = int(time.time())
    base = dict(jwt_payload(u.access))
    base.update(iat=now, exp=now + 600, jti=str(uuid.uuid4()))
    for k, v in over.items():
        if v is DROP:
            base.pop(k, None)
        else:
            base[k] = v
    return base


DROP = object()
HS256_HEADER = {"alg": "HS256", "typ": "JWT"}


FORGERIES = (
    "alg-none", "alg-None", "alg-NONE", "alg-none-with-signature", "alg-missing",
    "hs512-right-secret", "hs384-right-secret", "alg-lowercase-hs256", "expired",
    "wrong-type-refresh", "type-missing", "tampered-payload-role-admin",
    "tampered-payload-other-sub", "missing-sub", "empty-sub", "unknown-sub", "missing-exp",
    "missing-sid", "wrong-issuer", "wrong-audience", "issued-in-the-future", "wrong-secret",
    "signature-stripped", "two-parts", "garbage",
)


def forged_token(name, u, secret):
    """One forgery the contract says must be refused (401 over HTTP,
    unauthorized over ZeroMQ). `u` is a logged-in user whose real access
    token provides the claims, so each forgery differs in one point only."""
    real = u.access
    h, p, sig = real.split(".")
    payload = jwt_payload(real)
    now = int(time.time())

    def signed(claims, header=HS256_HEADER, alg=None, key=secret):
        return jwt_encode(header, claims, key, alg=alg)

    def resealed(claims):  # the original header and signature over other claims
        return ".".join([h, b64u(json.dumps(claims, separators=(",", ":")).encode()), sig])

    makers = {
        "alg-none": lambda: signed(claims_for(u), {"alg": "none", "typ": "JWT"}),
        "alg-None": lambda: signed(claims_for(u), {"alg": "None", "typ": "JWT"}),
        "alg-NONE": lambda: signed(claims_for(u), {"alg": "NONE", "typ": "JWT"}),
        "alg-none-with-signature": lambda: signed(claims_for(u), {"alg": "none", "typ": "JWT"}, alg="HS256"),
        "alg-missing": lambda: signed(claims_for(u), {"typ": "JWT"}, alg="HS256"),
        "hs512-right-secret": lambda: signed(claims_for(u), {"alg": "HS512", "typ": "JWT"}),
        "hs384-right-secret": lambda: signed(claims_for(u), {"alg": "HS384", "typ": "JWT"}),
        "alg-lowercase-hs256": lambda: signed(claims_for(u), {"alg": "hs256", "typ": "JWT"}, alg="HS256"),
        "expired": lambda: signed(claims_for(u, iat=now - 7200, exp=now - 3600)),
        "wrong-type-refresh": lambda: signed(claims_for(u, type="refresh")),
        "type-missing": lambda: signed(claims_for(u, type=DROP)),
        "tampered-payload-role-admin": lambda: resealed(dict(payload, role="admin")),
        "tampered-payload-other-sub": lambda: resealed(dict(payload, sub=str(uuid.uuid4()))),
        "missing-sub": lambda: signed(claims_for(u, sub=DROP)),
        "empty-sub": lambda: signed(claims_for(u, sub="")),
        "unknown-sub": lambda: signed(claims_for(u, sub=str(uuid.uuid4()))),
        "missing-exp": lambda: signed(claims_for(u, exp=DROP)),
        "missing-sid": lambda: signed(claims_for(u, sid=DROP)),
        "wrong-issuer": lambda: signed(claims_for(u, iss="evil")),
        "wrong-audience": lambda: signed(claims_for(u, aud="other-api")),
        "issued-in-the-future": lambda: signed(claims_for(u, iat=now + 3600, exp=now + 7200)),
        "wrong-secret": lambda: signed(claims_for(u), key=secret + "x"),
        "signature-stripped": lambda: ".".join([h, p, ""]),
        "two-parts": lambda: ".".join([h, p]),
        "garbage": lambda: "not-a-jwt",
    }
    assert set(makers) == set(FORGERIES)
    return makers[name]()


# ---------------------------------------------------------------- clocks


def wait_next_second():
    """Waits until just after the next wall-clock second boundary. JWT iat
    has whole-second precision, so a test that needs "token issued before
    event X" to be decidable lets the second tick over before X."""
    now = time.time()
    time.sleep(math.floor(now) + 1.02 - now)


def epoch(rfc3339):
    """Seconds since the epoch of an RFC 3339 UTC time ('...Z')."""
    assert RFC3339_Z.match(rfc3339), rfc3339
    return calendar.timegm(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S"))


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, math.ceil(q / 100.0 * len(v)) - 1)
    return v[k]


def rpc(s, op, body, timeout=5.0):
    rep = it.rpc(s.auth_ep, op, body, rid="it-auth-" + secrets.token_hex(4), timeout=timeout)
    assert rep is not None, f"{op}: no reply within {timeout}s"
    return rep


# ------------------------------------------------- API keys, reset, SQL


API_KEY_RE = re.compile(r"^rk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")


def api_key_header(key):
    return {"X-API-Key": key}


def new_api_key(s, u, name=None, **body):
    """POST /auth/api-keys as `u` (its bearer) that must succeed; the answer."""
    r = post(s, "/auth/api-keys", {"name": name or fresh_name("key"), **body}, token=u.access)
    assert r.status_code == 201, f"create API key: {r.status_code} {r.text[:300]}"
    return r.json()


def psql(db_url, query):
    """One statement through psql; its unaligned, tuples-only output."""
    r = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db_url, "-c", query],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def dev_mail(s, rid, timeout=10):
    """The mail authsvc wrote to its log in dev mode (SMTP_URL unset) for
    the request `rid`: the log record (to, subject, text)."""
    def find():
        for rec in s.authsvc.log_records():
            if rec.get("rid") == rid and rec.get("event") == "mail_dev_mode":
                return rec
        return None

    return it.wait_for(find, timeout, what=f"a dev-mode mail for request {rid}")


RESET_TOKEN_RE = re.compile(r"^    ([A-Za-z0-9_-]{43})\r?$", re.M)


def reset_token_of(text):
    m = RESET_TOKEN_RE.search(text)
    assert m, f"no token in the mail: {text!r}"
    return m.group(1)
