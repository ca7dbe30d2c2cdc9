"""Password reset over HTTP (the API contract, "Authentication":
password-reset routes): 202 whatever the email, with the same answer and
timing for unknown addresses; the token from the dev-mode log and from a
real SMTP sink (aiosmtpd on loopback); single use, expiry, superseded
tokens; every session revoked; a weak new password refused without spending
the token; the per-email limiter that answers 202 and sends nothing; a mail
queue that drops instead of blocking a request.
"""

import asyncio
import socket
import statistics
import time
import uuid

import pytest

import authutil as au
import restc_it as it

GENEROUS = {"PASSWORD_RESET_PER_EMAIL_PER_HOUR": 100000, "PASSWORD_RESET_PER_IP_PER_HOUR": 100000}


@pytest.fixture(scope="module")
def rdb(pg):
    return au.fresh_database(pg, "reset")


@pytest.fixture(scope="module")
def st(rdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, rdb, jwt_secret, "reset", authsvc=GENEROUS)


@pytest.fixture(scope="module")
def short(rdb, jwt_secret, tmp_path_factory, st):
    yield from au.module_stack(
        tmp_path_factory, rdb, jwt_secret, "resetttl",
        authsvc={**GENEROUS, "PASSWORD_RESET_TTL_SECONDS": 2},
    )


def ask(s, email, **kw):
    r = au.post(s, "/auth/password-reset", {"email": email}, **kw)
    assert r.status_code == 202, f"{r.status_code} {r.text[:300]}"
    return r


def mailed_token(s, email):
    r = ask(s, email)
    rec = au.dev_mail(s, r.headers["X-Request-ID"])
    return au.reset_token_of(rec["text"]), rec


def confirm(s, token, password):
    return au.post(s, "/auth/password-reset/confirm", {"token": token, "new_password": password})


def no_mail_for(s, rid, after_rid):
    """True when the mail of `after_rid` (queued later) was written and none
    for `rid`: the worker runs jobs in order, so `rid` is done."""
    au.dev_mail(s, after_rid)
    return not any(r.get("rid") == rid and r.get("event") == "mail_dev_mode" for r in s.authsvc.log_records())


# ============================================================ the flow


def test_reset_with_the_token_from_the_dev_mode_log_revokes_every_session(st):
    u = au.new_user(st)
    other = au.User(u.username, u.password, u.email, u.info)
    au.relogin(st, other)  # a second session
    r = ask(st, u.email)
    assert r.content == b"" and r.headers.get("Content-Length") == "0", r.content
    rec = au.dev_mail(st, r.headers["X-Request-ID"])
    assert rec["level"] == "INFO", rec
    assert rec["to"] != u.email and u.email.split("@")[0] not in rec["to"], rec["to"]
    token = au.reset_token_of(rec["text"])
    assert len(au.b64u_decode(token)) == 32, "256 random bits"
    new = au.strong_password()
    r = confirm(st, token, new)
    assert r.status_code == 204, r.text
    # Every session and access token of the user is dead, at once.
    for x in (u, other):
        au.assert_unauthorized(au.get(st, "/users/me", token=x.access))
        r = au.post(st, "/auth/refresh", {"refresh_token": x.refresh})
        au.assert_problem(r, 401, "invalid_refresh_token")
    au.assert_problem(au.token(st, u.username, u.password), 401, "invalid_credentials")
    au.login_pair(st, u.username, new)


def test_the_token_is_single_use(st):
    u = au.new_user(st, login=False)
    token, _ = mailed_token(st, u.email)
    assert confirm(st, token, au.strong_password()).status_code == 204
    p = au.assert_problem(confirm(st, token, au.strong_password()), 400, "invalid_reset_token")
    assert token not in json_text(p)


def json_text(p):
    import json
    return json.dumps(p)


def test_a_newer_token_supersedes_the_older(st):
    u = au.new_user(st, login=False)
    first, _ = mailed_token(st, u.email)
    second, _ = mailed_token(st, u.email)
    assert first != second
    au.assert_problem(confirm(st, first, au.strong_password()), 400, "invalid_reset_token")
    pw = au.strong_password()
    assert confirm(st, second, pw).status_code == 204
    au.login_pair(st, u.username, pw)


def test_the_token_expires(short):
    u = au.new_user(short, login=False)
    token, rec = mailed_token(short, u.email)
    assert "2 seconds" in rec["text"], rec["text"]
    time.sleep(2.5)
    au.assert_problem(confirm(short, token, au.strong_password()), 400, "invalid_reset_token")
    fresh, _ = mailed_token(short, u.email)  # a new one works within its lifetime
    assert confirm(short, fresh, au.strong_password()).status_code == 204


def test_a_weak_new_password_is_refused_and_the_token_stays_usable(st):
    u = au.new_user(st, login=False)
    token, _ = mailed_token(st, u.email)
    for weak in ("Sh0rt!a", u.username, "Password1!", "alllowercase1!"):
        r = confirm(st, token, weak)
        p = au.assert_problem(r, 400, "weak_password")
        assert [e["field"] for e in p["errors"]] == ["new_password"], p
        assert weak not in r.text
    au.assert_problem(au.token(st, u.username, "Sh0rt!a"), 401, "invalid_credentials")
    pw = au.strong_password()
    assert confirm(st, token, pw).status_code == 204
    au.login_pair(st, u.username, pw)


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 256, "A" * 257, "\u00e9" * 20])
def test_unknown_tokens_are_400_invalid_reset_token(st, token):
    r = confirm(st, token, au.strong_password())
    if len(token.encode()) > 256:
        au.assert_problem(r, 422, "validation_error")
    else:
        au.assert_problem(r, 400, "invalid_reset_token")


@pytest.mark.parametrize("body", [{}, {"email": 5}, {"email": None}, {"email": "a@example.com", "x": 1}])
def test_malformed_request_bodies_are_422(st, body):
    au.assert_problem(au.post(st, "/auth/password-reset", body), 422, "validation_error")


def test_disabled_accounts_get_no_mail(st):
    u = au.new_user(st, login=False)
    assert au.patch(st, f"/users/{u.id}", {"is_active": False}, token=au.owner_access(st)).status_code == 200
    rid = ask(st, u.email).headers["X-Request-ID"]
    marker = ask(st, au.new_user(st, login=False).email).headers["X-Request-ID"]
    assert no_mail_for(st, rid, marker)


# ================================================ nothing tells who exists


IGNORED_HEADERS = {"x-request-id", "date", "ratelimit-remaining", "ratelimit-reset"}


def comparable(r):
    return r.status_code, r.content, {k.lower(): v for k, v in r.headers.items() if k.lower() not in IGNORED_HEADERS}


def test_unknown_and_invalid_emails_answer_exactly_like_a_known_one(st):
    u = au.new_user(st, login=False)
    known = ask(st, u.email)
    unknown = ask(st, f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    invalid = ask(st, "not an email")
    upper = ask(st, u.email.upper())  # the same account, normalised
    assert comparable(known) == comparable(unknown) == comparable(invalid) == comparable(upper)
    assert no_mail_for(st, unknown.headers["X-Request-ID"], upper.headers["X-Request-ID"])
    au.dev_mail(st, known.headers["X-Request-ID"])


def test_unknown_email_takes_the_same_time(st):
    """Median of 30 tries each, interleaved, within 20 % (the work is done
    off the request, so there is nothing to see). Up to three rounds: a
    shared machine can disturb one."""
    u = au.new_user(st, login=False)
    import requests

    session = requests.Session()
    url = st.url("/api/v1/auth/password-reset")

    def timed(email):
        t = time.perf_counter()
        r = session.post(url, json={"email": email}, timeout=30)
        dt = time.perf_counter() - t
        assert r.status_code == 202
        return dt

    rounds = []
    for _ in range(3):
        for _ in range(5):  # warm up the connection and the caches
            timed(u.email), timed("warm@example.com")
        known, unknown = [], []
        for i in range(30):
            known.append(timed(u.email))
            unknown.append(timed(f"nobody-{i}-{uuid.uuid4().hex[:6]}@example.com"))
        mk, mu = statistics.median(known), statistics.median(unknown)
        rounds.append((mk * 1000, mu * 1000))
        if abs(mk - mu) <= 0.2 * min(mk, mu):
            print(f"password-reset medians (known ms, unknown ms) per round: {rounds}")
            return
    pytest.fail(f"medians (known ms, unknown ms) differ by more than 20 %: {rounds}")


# ================================================================ limits


def test_per_email_limit_answers_202_and_sends_nothing(pm, rdb, jwt_secret, tmp_path):
    s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "resetlim",
                       authsvc={"PASSWORD_RESET_PER_EMAIL_PER_HOUR": 2})
    u = au.new_user(s, login=False)
    rs = [ask(s, u.email) for _ in range(4)]
    assert all(comparable(r) == comparable(rs[0]) for r in rs)
    marker = ask(s, au.new_user(s, login=False).email).headers["X-Request-ID"]
    au.dev_mail(s, marker)
    mailed = [r for r in rs if any(x.get("rid") == r.headers["X-Request-ID"] and x.get("event") == "mail_dev_mode"
                                   for x in s.authsvc.log_records())]
    assert mailed == rs[:2], "the limit is 2 mails per address and hour"
    # The case and form of the address do not get around it.
    rid = ask(s, u.email.upper()).headers["X-Request-ID"]
    marker = ask(s, au.new_user(s, login=False).email).headers["X-Request-ID"]
    assert no_mail_for(s, rid, marker)
    assert u.email not in s.authsvc.log_text(), "an address in the log"


def test_a_full_mail_queue_drops_instead_of_blocking(pm, rdb, jwt_secret, tmp_path):
    """An SMTP server that accepts the connection and never speaks: each
    mail holds the worker until SMTP_TIMEOUT_MS; with a queue of 1, the
    requests behind are dropped (a WARNING with the count), all 202 at once."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    try:
        s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "resetq", authsvc={
            **GENEROUS, "SMTP_URL": f"smtp://127.0.0.1:{hole.getsockname()[1]}",
            "MAIL_FROM": "noreply@example.com", "SMTP_TIMEOUT_MS": 1500, "MAIL_QUEUE_SIZE": 1})
        u = au.new_user(s, login=False)
        t = time.monotonic()
        for _ in range(6):
            ask(s, u.email)
        assert time.monotonic() - t < 1.5, "a request waited for the mail worker"
        it.wait_for(lambda: any(r.get("event") == "reset_dropped" and r.get("level") == "WARNING"
                                for r in s.authsvc.log_records()), 5, what="a dropped reset logged")
        it.wait_for(lambda: any(r.get("event") == "mail_failed" for r in s.authsvc.log_records()), 10,
                    what="the SMTP timeout")
    finally:
        hole.close()


# ============================================================ SMTP sink


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def test_reset_with_the_token_from_an_smtp_sink(pm, rdb, jwt_secret, tmp_path):
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = it.free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "resetsmtp", authsvc={
            **GENEROUS, "SMTP_URL": f"smtp://127.0.0.1:{port}", "MAIL_FROM": "noreply@example.com"})
        u = au.new_user(s)
        ask(s, u.email)
        env = it.wait_for(lambda: sink.messages and sink.messages[0], 15, what="a mail at the sink")
        assert env.mail_from == "noreply@example.com" and env.rcpt_tos == [u.email], (env.mail_from, env.rcpt_tos)
        text = env.content.decode()
        assert "Subject: Reset your password" in text and f"To: <{u.email}>" in text, text
        token = au.reset_token_of(text)
        pw = au.strong_password()
        assert confirm(s, token, pw).status_code == 204
        au.assert_unauthorized(au.get(s, "/users/me", token=u.access))
        au.login_pair(s, u.username, pw)
        log = s.authsvc.log_text()
        assert token not in log and u.email not in log, "the token or the address in the log"
        assert any(r.get("event") == "mail_sent" for r in s.authsvc.log_records())
    finally:
        ctl.stop()


def test_starttls_is_required_when_the_url_asks_for_it(pm, rdb, jwt_secret, tmp_path):
    """smtp+starttls:// against a server that offers no STARTTLS: the mail
    fails (logged), it never goes out in clear; the request is 202 as ever."""
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = it.free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        s = au.start_stack(pm, rdb, jwt_secret, tmp_path, "resettls", authsvc={
            **GENEROUS, "SMTP_URL": f"smtp+starttls://127.0.0.1:{port}", "MAIL_FROM": "noreply@example.com",
            "SMTP_TIMEOUT_MS": 3000})
        u = au.new_user(s, login=False)
        ask(s, u.email)
        it.wait_for(lambda: any(r.get("event") == "mail_failed" for r in s.authsvc.log_records()), 10,
                    what="the mail refused for want of STARTTLS")
        assert sink.messages == [], "a mail went out without TLS"
    finally:
        ctl.stop()
