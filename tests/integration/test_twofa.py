"""TOTP two-factor authentication over HTTP (the API contract, "Authentication":
POST /auth/2fa/setup, /enable, /disable, and /auth/token and /auth/login with
totp_code or backup_code).

Codes are computed by the test with oathtool (Debian's oathtool package):
`oathtool --totp -b -N @<unix time> <base32 secret>`, for the previous,
current and next 30 s step and two steps away. Tests that depend on which
step "now" is first wait until the current step has a few seconds left, so
a step boundary never falls between computing a code and its check.

Two stacks on one database of this module:
  st    the defaults of authutil (cheap Argon2, high limits)
  lim   LOGIN_MAX_FAILURES=3 for the source limiter test
"""

import json
import re
import subprocess
import threading
import time

import pytest

import authutil as au
import restc_it as it

STEP = 30
B32_RE = re.compile(r"^[A-Z2-7]{32}$")
BACKUP_RE = re.compile(r"^[A-Z2-7]{5}-[A-Z2-7]{5}$")


@pytest.fixture(scope="module")
def tdb(pg):
    return au.fresh_database(pg, "twofa")


@pytest.fixture(scope="module")
def st(tdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, tdb, jwt_secret, "twofa")


@pytest.fixture(scope="module")
def lim(tdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(
        tmp_path_factory, tdb, jwt_secret, "twofa-lim",
        authsvc={"LOGIN_MAX_FAILURES": 3, "LOGIN_COOLDOWN_SECONDS": 60},
        gateway={"LOGIN_TRUSTED_PROXY_IPS": "127.0.0.1"},
    )


# ---------------------------------------------------------------- helpers


def code(secret, steps=0, at=None):
    """The code of `secret` `steps` steps from now (or from `at`), by oathtool."""
    t = int(time.time() if at is None else at) + STEP * steps
    r = subprocess.run(["oathtool", "--totp", "-b", "-N", f"@{t}", secret],
                       capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert re.match(r"^\d{6}$", out), out
    return out


def settle_in_step(margin=6):
    """Waits until the current step has at least `margin` seconds left."""
    left = STEP - time.time() % STEP
    if left < margin:
        time.sleep(left + 0.5)


def wait_next_step():
    time.sleep(STEP - time.time() % STEP + 0.5)


def setup_2fa(s, u):
    r = au.post(s, "/auth/2fa/setup", token=u.access)
    assert r.status_code == 200, r.text
    return r.json()


def enable(s, u, c):
    return au.post(s, "/auth/2fa/enable", {"code": c}, token=u.access)


def with_2fa(s, steps=0):
    """A logged-in user with TOTP on (enabled with the code `steps` from now):
    (user, secret, backup codes)."""
    u = au.new_user(s)
    secret = setup_2fa(s, u)["secret"]
    settle_in_step()
    r = enable(s, u, code(secret, steps))
    assert r.status_code == 200, r.text
    return u, secret, r.json()["backup_codes"]


def login(s, u, route="/auth/token", headers=None, **extra):
    return au.post(s, route, {"username": u.username, "password": u.password, **extra}, headers=headers)


def me(s, u):
    r = au.get(s, "/users/me", token=u.access)
    assert r.status_code == 200, r.text
    return r.json()


def assert_400(r, code_):
    p = au.assert_problem(r, 400, code_)
    assert p["title"] == "Bad Request", p
    assert "WWW-Authenticate" not in r.headers, "a signed-in caller's typo is no 401"
    return p


# ================================================================== setup


def test_setup_answers_a_base32_secret_and_its_otpauth_uri(st):
    u = au.new_user(st)
    r = au.post(st, "/auth/2fa/setup", token=u.access)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"secret", "otpauth_uri"}, body
    assert B32_RE.match(body["secret"]), body
    assert body["otpauth_uri"] == (
        f"otpauth://totp/restc:{u.username}?secret={body['secret']}&issuer=restc"
        "&algorithm=SHA1&digits=6&period=30"), body
    assert r.headers.get("Cache-Control") == "no-store"
    assert me(st, u)["totp_enabled"] is False, "setup alone does not turn 2FA on"
    assert login(st, u).status_code == 200, "nor does it ask logins for a code"
    # Not for anonymous callers, and only for JSON-less POSTs as routed.
    au.assert_unauthorized(au.post(st, "/auth/2fa/setup"))


def test_setup_again_before_enabling_replaces_the_secret(st):
    u = au.new_user(st)
    first = setup_2fa(st, u)["secret"]
    second = setup_2fa(st, u)["secret"]
    assert first != second
    settle_in_step()
    assert_400(enable(st, u, code(first)), "totp_invalid")
    r = enable(st, u, code(second))
    assert r.status_code == 200, r.text


def test_enable_checks_the_code_and_shows_ten_backup_codes_once(st):
    u = au.new_user(st)
    secret = setup_2fa(st, u)["secret"]
    settle_in_step()
    good = code(secret)
    wrong = f"{(int(good) + 1) % 1000000:06d}"
    p = assert_400(enable(st, u, wrong), "totp_invalid")
    assert p["status"] == 400, p
    assert_400(enable(st, u, "12ab56"), "totp_invalid")
    assert me(st, u)["totp_enabled"] is False
    r = enable(st, u, good)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"backup_codes"}, body
    codes = body["backup_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    assert all(BACKUP_RE.match(c) for c in codes), codes
    user = me(st, u)
    au.assert_user_shape(user)
    assert user["totp_enabled"] is True, user


def test_enable_twice_409_and_setup_after_enable_409(st):
    u, secret, _ = with_2fa(st)
    r = enable(st, u, code(secret, 1))
    au.assert_problem(r, 409, "conflict")
    au.assert_problem(au.post(st, "/auth/2fa/setup", token=u.access), 409, "conflict")


def test_enable_without_setup_409(st):
    u = au.new_user(st)
    au.assert_problem(enable(st, u, "123456"), 409, "conflict")


def test_bodies_are_checked(st):
    u = au.new_user(st)
    au.assert_problem(au.post(st, "/auth/2fa/enable", {}, token=u.access), 422, "validation_error")
    au.assert_problem(au.post(st, "/auth/2fa/enable", {"code": "1", "role": "admin"}, token=u.access),
                      422, "validation_error")
    au.assert_problem(au.post(st, "/auth/2fa/disable", {"code": "123456"}, token=u.access),
                      422, "validation_error")


# ================================================================== login


def test_second_factor_errors_only_after_a_correct_password(st):
    u, secret, _ = with_2fa(st)
    ghost = au.fresh_name("ghost")
    settle_in_step()
    right = code(secret, 1)
    wrong = f"{(int(right) + 7) % 1000000:06d}"
    for route in ("/auth/token", "/auth/login"):
        bodies = set()
        for extra in ({}, {"totp_code": wrong}, {"totp_code": right}, {"backup_code": "AAAAA-AAAAA"}):
            r = au.post(st, route, {"username": u.username, "password": u.password + "x", **extra})
            au.assert_problem(r, 401, "invalid_credentials")
            bodies.add(json.dumps(au.problem_sans_rid(r), sort_keys=True))
            r = au.post(st, route, {"username": ghost, "password": u.password, **extra})
            au.assert_problem(r, 401, "invalid_credentials")
            bodies.add(json.dumps(au.problem_sans_rid(r), sort_keys=True))
        assert len(bodies) == 1, f"a wrong password answers differently with codes: {bodies}"
        p = au.assert_unauthorized(login(st, u, route), "totp_required")
        assert not au.set_cookies(login(st, u, route)), "no cookie before the second factor"
        au.assert_unauthorized(login(st, u, route, totp_code=wrong), "totp_invalid")
        au.assert_unauthorized(login(st, u, route, totp_code="12345"), "totp_invalid")
        au.assert_unauthorized(login(st, u, route, totp_code=None), "totp_required")
        assert "code" not in p["detail"].lower() or secret not in p["detail"]


def test_codes_of_the_previous_current_and_next_step_are_accepted_once(st):
    # Enabled with the previous step's code: that step counts as used.
    u, secret, _ = with_2fa(st, steps=-1)
    settle_in_step()
    now = time.time()
    prev, cur, nxt = code(secret, -1, now), code(secret, 0, now), code(secret, 1, now)
    au.assert_unauthorized(login(st, u, totp_code=prev), "totp_invalid")  # used by the enable
    r = login(st, u, totp_code=cur)
    assert r.status_code == 200, r.text
    au.assert_token_pair(r.json())
    au.assert_unauthorized(login(st, u, totp_code=cur), "totp_invalid")  # replay
    r = login(st, u, route="/auth/login", totp_code=nxt)
    assert r.status_code == 200, r.text
    au.assert_unauthorized(login(st, u, totp_code=nxt), "totp_invalid")  # replay
    au.assert_unauthorized(login(st, u, totp_code=cur), "totp_invalid")  # an older step
    # A step later the previous step's code (not used yet) is accepted.
    u2, secret2, _ = with_2fa(st, steps=-1)
    wait_next_step()
    r = login(st, u2, totp_code=code(secret2, -1))
    assert r.status_code == 200, f"the previous step's code: {r.text}"


def test_codes_two_steps_away_are_refused(st):
    u, secret, _ = with_2fa(st, steps=-1)
    settle_in_step()
    for steps in (2, 3, -2, -3):
        au.assert_unauthorized(login(st, u, totp_code=code(secret, steps)), "totp_invalid")
    r = login(st, u, totp_code=code(secret))
    assert r.status_code == 200, r.text


def test_parallel_logins_with_one_code_exactly_one_passes(st):
    u, secret, _ = with_2fa(st, steps=-1)
    settle_in_step(10)
    c = code(secret, 1)
    results = []

    def go():
        results.append(login(st, u, totp_code=c))

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [401] * 5, [(r.status_code, r.text[:80]) for r in results]
    for r in results:
        if r.status_code == 401:
            au.assert_problem(r, 401, "totp_invalid")


def test_a_backup_code_works_once(st):
    u, secret, codes = with_2fa(st)
    r = login(st, u, backup_code=codes[0])
    assert r.status_code == 200, r.text
    au.assert_unauthorized(login(st, u, backup_code=codes[0]), "totp_invalid")
    # Typed loosely: lower case, a space for the hyphen.
    r = login(st, u, route="/auth/login", backup_code=codes[1].lower().replace("-", " "))
    assert r.status_code == 200, r.text
    au.assert_unauthorized(login(st, u, backup_code="AAAAA-AAAAA"), "totp_invalid")
    au.assert_unauthorized(login(st, u, backup_code=codes[2][:-1]), "totp_invalid")
    # One user's code is nothing for another.
    v, _, _ = with_2fa(st)
    au.assert_unauthorized(login(st, v, backup_code=codes[3]), "totp_invalid")
    assert login(st, u, backup_code=codes[3]).status_code == 200


def test_both_factors_at_once_is_422(st):
    u, secret, codes = with_2fa(st)
    r = login(st, u, totp_code=code(secret, 1), backup_code=codes[0])
    p = au.assert_problem(r, 422, "validation_error")
    assert p["errors"][0]["field"] == "backup_code", p
    assert login(st, u, backup_code=codes[0]).status_code == 200, "the refused request used nothing"


# ================================================================ disable


def disable(s, u, password, c):
    return au.post(s, "/auth/2fa/disable", {"password": password, "code": c}, token=u.access)


def test_disable_needs_the_password_and_a_code(st):
    u, secret, codes = with_2fa(st, steps=-1)
    settle_in_step()
    assert_400(disable(st, u, u.password + "x", code(secret)), "invalid_password")
    assert_400(disable(st, u, u.password, "000000" if code(secret) != "000000" else "111111"),
               "totp_invalid")
    assert_400(disable(st, u, u.password, "ZZZZZ-ZZZZZ"), "totp_invalid")
    r = disable(st, u, u.password, code(secret))
    assert r.status_code == 204, r.text
    assert me(st, u)["totp_enabled"] is False
    assert login(st, u).status_code == 200, "no code asked once disabled"
    au.assert_problem(disable(st, u, u.password, code(secret, 1)), 409, "conflict")
    # The old backup codes are gone with it: enabled again, they are refused.
    secret2 = setup_2fa(st, u)["secret"]
    settle_in_step()
    r = enable(st, u, code(secret2))
    assert r.status_code == 200, r.text
    assert set(r.json()["backup_codes"]).isdisjoint(codes), "backup codes regenerated on enable"
    au.assert_unauthorized(login(st, u, backup_code=codes[0]), "totp_invalid")


def test_disable_with_a_backup_code(st):
    u, secret, codes = with_2fa(st)
    r = disable(st, u, u.password, codes[4])
    assert r.status_code == 204, r.text
    assert me(st, u)["totp_enabled"] is False


# ================================================================ limiter


def test_wrong_codes_count_as_failures_for_the_source_limiter(lim):
    s = lim
    u, secret, _ = with_2fa(s, steps=-1)
    ip = {"X-Forwarded-For": "198.19.7.1"}
    settle_in_step()
    right = code(secret)
    wrong = f"{(int(right) + 3) % 1000000:06d}"
    for _ in range(3):
        au.assert_unauthorized(login(s, u, headers=ip, totp_code=wrong), "totp_invalid")
    r = login(s, u, headers=ip, totp_code=right)
    au.assert_problem(r, 429, "login_rate_limited")
    assert r.headers.get("Retry-After") == "60"
    # totp_required is no failure: another source asking without a code is never blocked.
    other = {"X-Forwarded-For": "198.19.7.2"}
    for _ in range(4):
        au.assert_unauthorized(login(s, u, headers=other), "totp_required")
    assert login(s, u, headers=other, totp_code=right).status_code == 200


# ========================================================= data at rest


def dump_tables(s, tables):
    m = re.match(r"^postgresql://([^@]+)@([^:/]+):(\d+)/(.+)$", s.db_url)
    assert m, s.db_url
    user, host, port, db = m.groups()
    args = ["pg_dump", "-h", host, "-p", port, "-U", user, "--data-only", "--inserts"]
    for t in tables:
        args += ["-t", t]
    r = subprocess.run(args + [db], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_no_plaintext_secret_or_backup_code_in_the_database_or_logs(st):
    import base64

    u, secret, codes = with_2fa(st, steps=-1)
    assert login(st, u, backup_code=codes[0]).status_code == 200
    assert login(st, u, totp_code=code(secret, 1)).status_code == 200
    pending = au.new_user(st)
    pending_secret = setup_2fa(st, pending)["secret"]  # set up, never enabled
    dump = dump_tables(st, ["users", "totp_backup_codes"])
    assert u.id in dump and "totp_backup_codes" in dump, dump[:2000]
    raw = base64.b32decode(secret)
    needles = [secret, secret.lower(), raw.hex(), pending_secret, base64.b32decode(pending_secret).hex()]
    for c in codes:
        needles += [c, c.replace("-", ""), c.lower(), c.replace("-", "").lower()]
    for n in needles:
        assert n not in dump, f"{n!r} stored in plain text"
    # Nine backup-code rows remain for the user, each a 32-byte hash.
    rows = [line for line in dump.splitlines() if line.startswith("INSERT INTO public.totp_backup_codes")
            and u.id in line]
    assert len(rows) == 9, rows
    assert all(re.search(r"'\\x[0-9a-f]{64}'", line) for line in rows), rows[:2]
    # The user's row holds the secret sealed: version, nonce, MAC, id and secret (77 bytes).
    row = [line for line in dump.splitlines() if line.startswith("INSERT INTO public.users")
           and u.id in line]
    assert len(row) == 1 and re.search(r"'\\x01[0-9a-f]{152}'", row[0]), row
    text = "".join(p.log_text(whole=True) for p in st.procs())
    for n in needles + [u.password]:
        assert n not in text, f"{n!r} reached a log"
