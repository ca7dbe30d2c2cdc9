"""storesvc's data ops over ZeroMQ (proto/PROTOCOL.md, "storesvc"): every
store.* op against the real binary and a real PostgreSQL, with its error
paths, the concurrent refresh-token races, and the log hygiene rules.

The module runs one storesvc (8 workers, so concurrent requests really run
concurrently) on a database of its own in the session's PostgreSQL cluster:
counts (store.stats, store.user_list, "no admin yet") then depend on this
module only. Tests set up the rows they need themselves; psql is used to
look at rows and to move timestamps (no test sleeps through a grace period
or an expiry).
"""

import hashlib
import math
import os
import re
import secrets
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest

import restc_it as it

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
USER_KEYS = {"id", "username", "email", "full_name", "role", "is_active", "totp_enabled", "created_at"}
LOGIN_KEYS = {"id", "username", "role", "is_active", "totp_enabled", "password_hash", "valid_after_ms"}
AUTH_STATE_KEYS = {"id", "username", "role", "is_active", "valid_after_ms"}
SESSION_KEYS = {"id", "created_at", "last_used_at", "client_ip", "user_agent"}
WORKERS = 8

# Ids that are not UUIDs; each must be not_found wherever an id goes.
BAD_IDS = [
    "",
    "nope",
    "1234",
    "00000000-0000-0000-0000-00000000000",  # one digit short
    "00000000-0000-0000-0000-0000000000000",  # one digit long
    "0000000000000000000000000000000000000",
    "{00000000-0000-0000-0000-000000000000}",  # PostgreSQL would take it; we do not
    "g0000000-0000-0000-0000-000000000000",
    "'; DROP TABLE users; --",
]


# ------------------------------------------------------------------ setup


class Store:
    """The module's storesvc and its database."""

    def __init__(self, stack, db_url, objects_dir):
        self.stack = stack
        self.ep = stack.store_ep
        self.db_url = db_url
        self.db_name = db_url.rsplit("/", 1)[1]
        self.objects_dir = objects_dir
        self._n = 0

    # ---- RPC

    def call(self, op, body=None, rid=None, timeout=5.0):
        self._n += 1
        rid = rid or f"ops-{self._n}"
        rep = it.rpc(self.ep, op, body if body is not None else {}, rid=rid, timeout=timeout)
        assert rep is not None, f"{op}: no reply"
        assert rep.get("v") == 1, rep
        if rep["ok"]:
            assert isinstance(rep.get("body"), dict), rep
        return rep

    def ok(self, op, body=None, **kw):
        rep = self.call(op, body, **kw)
        assert rep["ok"] is True, f"{op} {body!r}: {rep}"
        return rep["body"]

    def err(self, op, body=None, **kw):
        rep = self.call(op, body, **kw)
        assert rep["ok"] is False, f"{op} {body!r} should fail: {rep}"
        assert set(rep) == {"v", "ok", "err"}, rep
        return rep["err"]["code"]

    # ---- SQL, for looking and for moving clocks

    def sql(self, query, db=None):
        """Runs `query` with psql; returns the rows as lists of strings."""
        r = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"]
            + ["-d", db or self.db_url, "-c", query],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert r.returncode == 0, f"psql failed: {r.stderr}"
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def sql_background(self, query, name):
        """Starts `query` in a psql of its own (application_name `name`) and
        returns the Popen; `finish` collects its rows. For holding a
        transaction open while a test sends other requests."""
        env = dict(os.environ, PGAPPNAME=name)
        return subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", self.db_url, "-c", query],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def wait_backend(self, name, wait_event, timeout=10):
        """Waits until the session `name` is inside a wait of `wait_event`
        (PgSleep, advisory, tuple ...)."""
        q = (
            "SELECT count(*) FROM pg_stat_activity"
            f" WHERE application_name = '{name}' AND state = 'active' AND wait_event = '{wait_event}'"
        )
        it.wait_for(lambda: self.scalar(q) == "1", timeout, what=f"psql session {name} waiting on {wait_event}")

    @staticmethod
    def finish(proc, timeout=30):
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"psql failed: {err}"
        return [line.split("|") for line in out.splitlines() if line]

    def scalar(self, query):
        rows = self.sql(query)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]

    def admin_sql(self, query):
        """On the cluster's main database (for ALTER DATABASE and the like)."""
        return self.sql(query, db=self.db_url.rsplit("/", 1)[0] + "/restc")

    # ---- fixtures in data

    def new_user(self, **over):
        tag = secrets.token_hex(5)
        body = {
            "username": f"u_{tag}",
            "email": f"e_{tag}@example.test",
            "password_hash": f"$argon2id$v=19$m=65536,t=3,p=1$salt{tag}$hash{tag}",
            "role": "user",
        }
        body.update(over)
        return self.ok("store.user_create", body)

    def new_token(self, user_id, family=None, expires_s=3600, **over):
        """Creates a refresh token; returns (raw hash, family id)."""
        h = token_hash()
        family = family or str(uuid.uuid4())
        body = {"user_id": user_id, "token_hash": h, "family_id": family, "expires_s": expires_s}
        body.update(over)
        rep = self.ok("store.token_create", body)
        assert it.UUID_RE.match(rep["id"]), rep
        return h, family

    def rotate(self, h, new=None, grace_s=10, expires_s=3600, **over):
        body = {"token_hash": h, "new_hash": new or token_hash(), "grace_s": grace_s}
        body["expires_s"] = expires_s
        body.update(over)
        return self.ok("store.token_rotate", body)

    def live_tokens(self, family):
        return int(
            self.scalar(
                f"SELECT count(*) FROM refresh_tokens WHERE family_id = '{family}'"
                " AND revoked_at IS NULL AND expires_at > now()"
            )
        )

    def log_text(self):
        return self.stack.storesvc.log_text()

    def log_records(self):
        return self.stack.storesvc.log_records()


def rfc3339_sql(expr):
    """The SQL that formats `expr` the way storesvc does."""
    return f"to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


def by_hash(h):
    """A WHERE condition on refresh_tokens.token_hash."""
    return f"token_hash = '\\x{h.hex()}'"


def user_body(**over):
    body = {"username": "x_" + secrets.token_hex(5), "email": f"{secrets.token_hex(5)}@example.test",
            "password_hash": "h", "role": "user"}
    body.update(over)
    return body


def token_hash():
    return hashlib.sha256(secrets.token_bytes(32)).digest()


def hexs(b):
    return b.hex()


@pytest.fixture(scope="module")
def store(pg, db_url, tmp_path_factory):
    """storesvc on a database of its own (db_url: the session's migration ran,
    so the binary works against this cluster)."""
    root = str(tmp_path_factory.mktemp("storeops"))
    name = "store_ops_" + secrets.token_hex(4)
    base = pg.url.rsplit("/", 1)[0]
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.url, "-c", f"CREATE DATABASE {name}"],
        check=True,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    url = f"{base}/{name}"
    m = it.ProcManager(os.path.join(root, "logs"))
    stack = it.Stack(m, url, os.path.join(root, "objects"), it.new_secret(), name="storeops")
    try:
        stack.start_storesvc(STORESVC_WORKERS=str(WORKERS))
        yield Store(stack, url, stack.objects_dir)
        stack.stop()
    finally:
        m.cleanup()
        subprocess.run(
            ["psql", "-X", "-q", "-d", pg.url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )


def run_parallel(n, fn):
    """Runs fn(i) in n threads released together; returns the results in order."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def worker(i):
        barrier.wait(timeout=10)
        try:
            out[i] = fn(i)
        except Exception as e:  # surfaced to the test below
            out[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for r in out:
        if isinstance(r, Exception):
            raise r
    return out


def assert_user(u, **expect):
    assert set(u) == USER_KEYS, u
    assert it.UUID_RE.match(u["id"]), u
    assert RFC3339_Z.match(u["created_at"]), u
    assert isinstance(u["is_active"], bool) and isinstance(u["totp_enabled"], bool)
    for k, v in expect.items():
        assert u[k] == v, (k, u)


# ------------------------------------------------------------ user_create


def test_user_create_returns_the_user_without_hash(store):
    u = store.new_user(username="Create_One", email="create.one@example.test", full_name="Create One")
    assert_user(
        u,
        username="Create_One",
        email="create.one@example.test",
        full_name="Create One",
        role="user",
        is_active=True,
        totp_enabled=False,
    )
    created = datetime.strptime(u["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60
    # Second precision: the stored value may have microseconds, the reply not.
    stored = store.scalar(f"SELECT {rfc3339_sql('created_at')} FROM users WHERE id = '{u['id']}'")
    assert stored == u["created_at"]


def test_user_create_without_full_name_gives_nil(store):
    u = store.new_user()
    assert u["full_name"] is None
    u = store.new_user(full_name=None)
    assert u["full_name"] is None


def test_user_create_every_role(store):
    for role in ("admin", "moderator", "user", "viewer"):
        assert store.new_user(role=role)["role"] == role


def test_user_create_duplicate_username_is_conflict_case_insensitively(store):
    u = store.new_user(username="Dup_Name")
    for name in ("Dup_Name", "dup_name", "DUP_NAME"):
        assert store.err("store.user_create", {
            "username": name, "email": f"{secrets.token_hex(4)}@example.test",
            "password_hash": "h", "role": "user"}) == "conflict"
    assert store.ok("store.user_get", {"id": u["id"]})["username"] == "Dup_Name"


def test_user_create_duplicate_email_is_conflict(store):
    store.new_user(email="dup.mail@example.test")
    assert store.err("store.user_create", {
        "username": "other_" + secrets.token_hex(4), "email": "dup.mail@example.test",
        "password_hash": "h", "role": "user"}) == "conflict"


def test_user_create_bad_fields_are_bad_request(store):
    good = user_body()
    bad = ({"role": "root"}, {"role": "Admin"}, {"username": ""}, {"email": ""}, {"password_hash": ""})
    for over in bad:
        assert store.err("store.user_create", {**good, **over}) == "bad_request", over
    # The codec: unknown field, wrong type, missing field.
    assert store.err("store.user_create", {**good, "password": "x"}) == "bad_request"
    assert store.err("store.user_create", {**good, "if_no_admin": "yes"}) == "bad_request"
    assert store.err("store.user_create", {k: v for k, v in good.items() if k != "role"}) == "bad_request"
    assert store.scalar(f"SELECT count(*) FROM users WHERE username = '{good['username']}'") == "0"


def test_user_create_if_no_admin_only_while_no_admin_exists(store):
    store.sql("DELETE FROM users WHERE role = 'admin'")
    owner = store.new_user(role="admin", if_no_admin=True)
    assert owner["role"] == "admin"
    assert store.err("store.user_create", {
        "username": "owner2_" + secrets.token_hex(3), "email": f"{secrets.token_hex(4)}@example.test",
        "password_hash": "h", "role": "admin", "if_no_admin": True}) == "conflict"
    # if_no_admin=false (or absent) ignores existing admins.
    assert store.new_user(role="admin", if_no_admin=False)["role"] == "admin"
    assert store.scalar("SELECT count(*) FROM users WHERE role = 'admin'") == "2"


def test_user_create_if_no_admin_concurrent_bootstrap_creates_one(store):
    store.sql("DELETE FROM users WHERE role = 'admin'")
    name = "owner_" + secrets.token_hex(3)

    def boot(i):
        return store.call("store.user_create", {
            "username": name, "email": f"{name}@example.test", "password_hash": "h",
            "role": "admin", "if_no_admin": True})

    reps = run_parallel(WORKERS, boot)
    oks = [r for r in reps if r["ok"]]
    assert len(oks) == 1, reps
    assert all(r["err"]["code"] == "conflict" for r in reps if not r["ok"]), reps
    assert store.scalar("SELECT count(*) FROM users WHERE role = 'admin'") == "1"


# ------------------------------------------------------ user_get and ids


def test_user_get_returns_the_user(store):
    u = store.new_user(full_name="Get Me")
    assert store.ok("store.user_get", {"id": u["id"]}) == u
    # Upper-case hex is the same UUID.
    assert store.ok("store.user_get", {"id": u["id"].upper()}) == u


def test_user_get_unknown_id_is_not_found(store):
    assert store.err("store.user_get", {"id": str(uuid.uuid4())}) == "not_found"


# Every op with id fields: (op, body builder(bad id, a real user id)).
ID_CASES = [
    ("store.user_get", lambda bad, uid: {"id": bad}),
    ("store.user_auth_state", lambda bad, uid: {"id": bad}),
    ("store.user_update", lambda bad, uid: {"id": bad, "full_name": "x"}),
    ("store.user_set_password", lambda bad, uid: {"id": bad, "password_hash": "h"}),
    (
        "store.user_set_password",
        lambda bad, uid: {"id": uid, "password_hash": "h", "revoke_sessions": True, "keep_family": bad},
    ),
    ("store.user_revoke_all", lambda bad, uid: {"id": bad, "at_ms": 0}),
    ("store.user_revoke_all", lambda bad, uid: {"id": uid, "at_ms": 0, "keep_family": bad}),
    ("store.user_delete", lambda bad, uid: {"id": bad}),
    (
        "store.token_create",
        lambda bad, uid: {"user_id": bad, "token_hash": token_hash(), "family_id": str(uuid.uuid4()),
                          "expires_s": 60},
    ),
    (
        "store.token_create",
        lambda bad, uid: {"user_id": uid, "token_hash": token_hash(), "family_id": bad, "expires_s": 60},
    ),
    ("store.token_revoke", lambda bad, uid: {"family_id": bad}),
    ("store.token_revoke", lambda bad, uid: {"family_id": str(uuid.uuid4()), "user_id": bad}),
    ("store.sessions", lambda bad, uid: {"user_id": bad}),
]


@pytest.mark.parametrize("op,build", ID_CASES, ids=[f"{op}-{i}" for i, (op, _) in enumerate(ID_CASES)])
def test_malformed_ids_are_not_found_never_an_error(store, op, build):
    u = store.new_user()
    before = store.ok("store.user_get", {"id": u["id"]})
    for bad in BAD_IDS:
        assert store.err(op, build(bad, u["id"])) == "not_found", (op, bad)
    # Nothing happened to the real user, and nothing was logged as an error.
    assert store.ok("store.user_get", {"id": u["id"]}) == before
    assert store.scalar(f"SELECT count(*) FROM refresh_tokens WHERE user_id = '{u['id']}'") == "0"
    assert not [r for r in store.log_records() if r.get("level") == "ERROR" and r.get("op") == op]


# -------------------------------------------------------------- user_list


def test_user_list_pages_in_creation_order(store):
    for _ in range(5):
        store.new_user()
    total = int(store.scalar("SELECT count(*) FROM users"))
    order = [r[0] for r in store.sql("SELECT id FROM users ORDER BY created_at, id")]
    per_page = 3
    seen = []
    pages = math.ceil(total / per_page)
    for page in range(1, pages + 2):
        rep = store.ok("store.user_list", {"page": page, "per_page": per_page})
        assert set(rep) == {"users", "total", "page", "per_page", "pages"}
        assert (rep["total"], rep["page"], rep["per_page"], rep["pages"]) == (total, page, per_page, pages)
        for u in rep["users"]:
            assert_user(u)
        seen += [u["id"] for u in rep["users"]]
        assert len(rep["users"]) == (min(per_page, total - (page - 1) * per_page) if page <= pages else 0)
    assert seen == order


def test_user_list_bounds(store):
    store.new_user()
    for page, per_page in ((0, 10), (-1, 10), (1, 0), (1, -5), (1, 101), (1, 1000), (2**62, 100)):
        body = {"page": page, "per_page": per_page}
        assert store.err("store.user_list", body) == "bad_request", body
    rep = store.ok("store.user_list", {"page": 1, "per_page": 100})
    assert len(rep["users"]) == min(100, rep["total"])
    far = store.ok("store.user_list", {"page": 2**40, "per_page": 1})
    assert far["users"] == [] and far["total"] == rep["total"]


def test_user_list_empty_has_zero_pages(store):
    store.sql("DELETE FROM users")
    rep = store.ok("store.user_list", {"page": 1, "per_page": 20})
    assert rep == {"users": [], "total": 0, "page": 1, "per_page": 20, "pages": 0}


# --------------------------------------------- find_login and auth_state


def test_user_find_login_by_username_any_case(store):
    u = store.new_user(username="Login_Case")
    want = store.ok("store.user_find_login", {"login": "Login_Case"})
    assert set(want) == LOGIN_KEYS
    assert want["id"] == u["id"] and want["username"] == "Login_Case"
    assert want["password_hash"].startswith("$argon2id$")
    assert want["valid_after_ms"] == 0 and want["is_active"] is True and want["totp_enabled"] is False
    for login in ("login_case", "LOGIN_CASE", "lOgIn_CaSe"):
        assert store.ok("store.user_find_login", {"login": login}) == want


def test_user_find_login_by_email_lower_cased(store):
    u = store.new_user(email="find.me@example.test")
    for login in ("find.me@example.test", "Find.Me@Example.TEST"):
        assert store.ok("store.user_find_login", {"login": login})["id"] == u["id"]


def test_user_find_login_does_not_cross_username_and_email(store):
    u = store.new_user()
    local = u["email"].split("@")[0]
    assert store.err("store.user_find_login", {"login": local}) == "not_found"  # email's local part
    assert store.err("store.user_find_login", {"login": u["username"] + "@example.test"}) == "not_found"
    assert store.err("store.user_find_login", {"login": "nobody_" + secrets.token_hex(3)}) == "not_found"
    assert store.err("store.user_find_login", {"login": ""}) == "not_found"


def test_user_find_login_of_a_disabled_user_still_answers(store):
    u = store.new_user()
    store.ok("store.user_update", {"id": u["id"], "is_active": False})
    assert store.ok("store.user_find_login", {"login": u["username"]})["is_active"] is False


def test_user_auth_state(store):
    u = store.new_user(role="moderator")
    st = store.ok("store.user_auth_state", {"id": u["id"]})
    assert st == {"id": u["id"], "username": u["username"], "role": "moderator", "is_active": True,
                  "valid_after_ms": 0}
    assert store.err("store.user_auth_state", {"id": str(uuid.uuid4())}) == "not_found"


def revoked_state(store, uid, within=900, most=8):
    return store.ok("store.user_auth_state", {"id": uid, "revoked_within_s": within, "revoked_max": most})


def test_user_auth_state_lists_the_sessions_revoked_within_the_window(store):
    u = store.new_user()
    (_, fa), (_, fb), (hc, fc) = (store.new_token(u["id"]) for _ in range(3))
    st = revoked_state(store, u["id"])
    assert st["revoked_sids"] == [] and "revoked_cut_ms" not in st, st
    assert {k: st[k] for k in AUTH_STATE_KEYS} == store.ok("store.user_auth_state", {"id": u["id"]})
    store.ok("store.token_revoke", {"family_id": fa})
    store.ok("store.token_revoke", {"token_hash": hc})
    store.sql(f"UPDATE refresh_tokens SET revoked_at = now() - interval '5 seconds' WHERE family_id = '{fa}'")
    assert revoked_state(store, u["id"])["revoked_sids"] == [fc, fa]  # newest first
    # Older than the window: no token of it can be alive any more.
    assert revoked_state(store, u["id"], within=3)["revoked_sids"] == [fc]
    store.sql(f"UPDATE refresh_tokens SET revoked_at = now() - interval '1 hour' WHERE family_id = '{fc}'")
    assert revoked_state(store, u["id"])["revoked_sids"] == [fa]
    # Another user's revocations are not ours; the live family is not listed.
    other = store.new_user()
    _, fo = store.new_token(other["id"])
    store.ok("store.token_revoke", {"family_id": fo})
    assert fb not in revoked_state(store, u["id"])["revoked_sids"]
    assert revoked_state(store, other["id"])["revoked_sids"] == [fo]


def test_user_auth_state_beyond_the_bound_gives_the_newest_other_revocation(store):
    u = store.new_user()
    fams = [store.new_token(u["id"])[1] for _ in range(5)]
    for i, fam in enumerate(fams):  # fams[0] newest .. fams[4] oldest
        store.ok("store.token_revoke", {"family_id": fam})
        store.sql(f"UPDATE refresh_tokens SET revoked_at = now() - interval '{i + 1} seconds'"
                  f" WHERE family_id = '{fam}'")
    st = revoked_state(store, u["id"], most=3)
    assert st["revoked_sids"] == fams[:3], st
    want = int(store.scalar(f"SELECT floor(extract(epoch FROM max(revoked_at)) * 1000)::bigint"
                            f" FROM refresh_tokens WHERE family_id = '{fams[3]}'"))
    assert st["revoked_cut_ms"] == want, (st, want)
    st = revoked_state(store, u["id"], most=5)
    assert st["revoked_sids"] == fams and "revoked_cut_ms" not in st, st


def test_user_auth_state_revoked_fields_go_together_and_are_bounded(store):
    u = store.new_user()
    for body in ({"revoked_within_s": 900}, {"revoked_max": 8}, {"revoked_within_s": 0, "revoked_max": 8},
                 {"revoked_within_s": 900, "revoked_max": 0}, {"revoked_within_s": 900, "revoked_max": 65},
                 {"revoked_within_s": 2**31, "revoked_max": 8}):
        assert store.err("store.user_auth_state", {"id": u["id"], **body}) == "bad_request", body


# ------------------------------------------------------------ user_update


def test_user_update_changes_only_given_fields(store):
    u = store.new_user(full_name="Before")
    before = store.scalar(f"SELECT updated_at FROM users WHERE id = '{u['id']}'")
    v = store.ok("store.user_update", {"id": u["id"], "role": "viewer"})
    assert v == {**u, "role": "viewer"}
    assert store.scalar(f"SELECT updated_at > '{before}' FROM users WHERE id = '{u['id']}'") == "t"
    new_email = f"new_{secrets.token_hex(4)}@example.test"
    v = store.ok("store.user_update", {"id": u["id"], "email": new_email, "is_active": False})
    assert v == {**u, "role": "viewer", "email": new_email, "is_active": False}
    v = store.ok("store.user_update", {"id": u["id"], "full_name": "After"})
    assert v["full_name"] == "After" and v["email"] == new_email
    assert store.ok("store.user_update", {"id": u["id"]}) == v  # nothing given: nothing changes
    assert store.ok("store.user_get", {"id": u["id"]}) == v


def test_user_update_nil_full_name_clears_it(store):
    u = store.new_user(full_name="Clear Me")
    v = store.ok("store.user_update", {"id": u["id"], "full_name": None})
    assert v["full_name"] is None
    assert store.scalar(f"SELECT full_name IS NULL FROM users WHERE id = '{u['id']}'") == "t"


def test_user_update_email_taken_is_conflict(store):
    a, b = store.new_user(), store.new_user()
    assert store.err("store.user_update", {"id": a["id"], "email": b["email"]}) == "conflict"
    assert store.ok("store.user_get", {"id": a["id"]}) == a


def test_user_update_errors(store):
    u = store.new_user()
    assert store.err("store.user_update", {"id": str(uuid.uuid4()), "full_name": "x"}) == "not_found"
    for body in ({"role": "root"}, {"role": None}, {"email": None}, {"email": ""}, {"is_active": "no"}):
        assert store.err("store.user_update", {"id": u["id"], **body}) == "bad_request", body
    assert store.ok("store.user_get", {"id": u["id"]}) == u


# ---------------------------------------------- set_password, revoke_all


def test_user_set_password_without_revoking(store):
    u = store.new_user()
    h, fam = store.new_token(u["id"])
    assert store.ok("store.user_set_password", {"id": u["id"], "password_hash": "$argon2id$new"}) == {}
    login = store.ok("store.user_find_login", {"login": u["username"]})
    assert login["password_hash"] == "$argon2id$new" and login["valid_after_ms"] == 0
    assert store.live_tokens(fam) == 1


def test_user_set_password_revokes_other_sessions_and_moves_valid_after(store):
    u = store.new_user()
    _, keep = store.new_token(u["id"])
    _, other1 = store.new_token(u["id"])
    h2, other2 = store.new_token(u["id"])
    store.rotate(h2)  # other2 now has two tokens, one used
    at_ms = int(time.time() * 1000) + 123
    assert store.ok("store.user_set_password", {
        "id": u["id"], "password_hash": "$argon2id$changed", "revoke_sessions": True,
        "keep_family": keep, "at_ms": at_ms}) == {}
    assert store.live_tokens(keep) == 1
    assert store.live_tokens(other1) == 0 and store.live_tokens(other2) == 0
    st = store.ok("store.user_auth_state", {"id": u["id"]})
    assert st["valid_after_ms"] == at_ms
    login = store.ok("store.user_find_login", {"login": u["username"]})
    assert login["password_hash"] == "$argon2id$changed"
    # Revoked now; the rotation of a revoked token is invalid.
    assert store.rotate(h2)["outcome"] == "invalid"


def test_user_set_password_revoke_without_keep_or_at_uses_now(store):
    u = store.new_user()
    _, fam = store.new_token(u["id"])
    t0 = int(time.time() * 1000)
    store.ok("store.user_set_password", {"id": u["id"], "password_hash": "h2", "revoke_sessions": True})
    assert store.live_tokens(fam) == 0
    va = store.ok("store.user_auth_state", {"id": u["id"]})["valid_after_ms"]
    assert t0 - 5000 <= va <= int(time.time() * 1000) + 5000


def test_user_set_password_errors(store):
    u = store.new_user()
    op = "store.user_set_password"
    assert store.err(op, {"id": str(uuid.uuid4()), "password_hash": "h"}) == "not_found"
    assert store.err(op, {"id": u["id"], "password_hash": ""}) == "bad_request"
    body = {"id": u["id"], "password_hash": "h", "revoke_sessions": True, "at_ms": -1}
    assert store.err(op, body) == "bad_request"
    login = store.ok("store.user_find_login", {"login": u["username"]})
    assert login["password_hash"].startswith("$argon2id$")


def test_user_revoke_all_counts_and_keeps_a_family(store):
    u = store.new_user()
    _, keep = store.new_token(u["id"])
    _, f1 = store.new_token(u["id"])
    h2, f2 = store.new_token(u["id"])
    store.rotate(h2)  # two live tokens in f2 (the used one is not revoked yet)
    at_ms = 1_900_000_000_456
    rep = store.ok("store.user_revoke_all", {"id": u["id"], "at_ms": at_ms, "keep_family": keep})
    assert rep == {"revoked": 3}
    assert store.live_tokens(keep) == 1 and store.live_tokens(f1) == 0 and store.live_tokens(f2) == 0
    assert store.ok("store.user_auth_state", {"id": u["id"]})["valid_after_ms"] == at_ms
    # Again: nothing left to revoke but the kept family's; without keep it goes too.
    body = {"id": u["id"], "at_ms": at_ms, "keep_family": keep}
    assert store.ok("store.user_revoke_all", body) == {"revoked": 0}
    assert store.ok("store.user_revoke_all", {"id": u["id"], "at_ms": at_ms}) == {"revoked": 1}
    assert store.live_tokens(keep) == 0


def test_user_revoke_all_never_moves_valid_after_back(store):
    u = store.new_user()
    store.ok("store.user_revoke_all", {"id": u["id"], "at_ms": 2_000_000_000_000})
    store.ok("store.user_revoke_all", {"id": u["id"], "at_ms": 1_000})
    assert store.ok("store.user_auth_state", {"id": u["id"]})["valid_after_ms"] == 2_000_000_000_000


def test_user_revoke_all_errors(store):
    u = store.new_user()
    assert store.err("store.user_revoke_all", {"id": str(uuid.uuid4()), "at_ms": 0}) == "not_found"
    assert store.err("store.user_revoke_all", {"id": u["id"], "at_ms": -5}) == "bad_request"
    assert store.err("store.user_revoke_all", {"id": u["id"]}) == "bad_request"  # at_ms required


def test_user_revoke_all_does_not_touch_other_users(store):
    a, b = store.new_user(), store.new_user()
    _, fb = store.new_token(b["id"])
    assert store.ok("store.user_revoke_all", {"id": a["id"], "at_ms": 0}) == {"revoked": 0}
    assert store.live_tokens(fb) == 1


# ------------------------------------------------------------ user_delete


def put_file(store, owner, status="ready", size=10):
    """A files row and, for it, an object in the local store; returns its path."""
    key = f"files/{owner}/{uuid.uuid4()}"
    path = os.path.join(store.objects_dir, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"x" * size)
    store.sql(
        "INSERT INTO files (owner_id, name, size, storage_key, status)"
        f" VALUES ('{owner}', 'f.bin', {size}, '{key}', '{status}')"
    )
    return path


def test_user_delete_removes_rows_tokens_and_objects(store):
    u, other = store.new_user(), store.new_user()
    store.new_token(u["id"])
    store.new_token(u["id"])
    paths = [put_file(store, u["id"]), put_file(store, u["id"], status="pending")]
    gone = os.path.join(store.objects_dir, f"files/{u['id']}/{uuid.uuid4()}")  # row without object
    key = f"files/{u['id']}/{os.path.basename(gone)}"
    store.sql(f"INSERT INTO files (owner_id, name, storage_key) VALUES ('{u['id']}', 'g', '{key}')")
    keep = put_file(store, other["id"])
    _, other_fam = store.new_token(other["id"])

    assert store.ok("store.user_delete", {"id": u["id"]}) == {}
    assert store.err("store.user_get", {"id": u["id"]}) == "not_found"
    assert store.scalar(f"SELECT count(*) FROM refresh_tokens WHERE user_id = '{u['id']}'") == "0"
    assert store.scalar(f"SELECT count(*) FROM files WHERE owner_id = '{u['id']}'") == "0"
    assert not any(os.path.exists(p) for p in paths)
    assert os.path.exists(keep) and store.live_tokens(other_fam) == 1
    assert store.err("store.user_delete", {"id": u["id"]}) == "not_found"


def test_user_delete_without_files(store):
    u = store.new_user()
    assert store.ok("store.user_delete", {"id": u["id"]}) == {}
    assert store.err("store.user_delete", {"id": str(uuid.uuid4())}) == "not_found"


# ----------------------------------------------------------- token_create


def test_token_create_stores_the_row(store):
    u = store.new_user()
    h, fam = store.new_token(u["id"], expires_s=600, client_ip="203.0.113.9", user_agent="pytest/1")
    row = store.sql(
        "SELECT family_id, user_id, client_ip, user_agent, used_at IS NULL, revoked_at IS NULL,"
        " last_used_at IS NOT NULL, round(extract(epoch FROM expires_at - now()))"
        f" FROM refresh_tokens WHERE {by_hash(h)}"
    )
    assert len(row) == 1
    fam_db, uid, ip, ua, unused, live, touched, left = row[0]
    assert (fam_db, uid, ip, ua) == (fam, u["id"], "203.0.113.9", "pytest/1")
    assert (unused, live, touched) == ("t", "t", "t")
    assert 590 <= float(left) <= 600


def test_token_create_nil_client_fields_are_null(store):
    u = store.new_user()
    h, _ = store.new_token(u["id"], client_ip=None, user_agent=None)
    rows = store.sql(f"SELECT client_ip IS NULL, user_agent IS NULL FROM refresh_tokens WHERE {by_hash(h)}")
    assert rows == [["t", "t"]]


def test_token_create_errors(store):
    u = store.new_user()
    fam = str(uuid.uuid4())
    base = {"user_id": u["id"], "family_id": fam, "expires_s": 60}
    op = "store.token_create"
    assert store.err(op, {**base, "user_id": str(uuid.uuid4()), "token_hash": token_hash()}) == "not_found"
    for bad in (b"", b"\x01" * 16, b"\x01" * 31):
        assert store.err(op, {**base, "token_hash": bad}) == "bad_request", len(bad)
    assert store.err(op, {**base, "token_hash": b"\x01" * 33}) == "bad_request"  # the codec
    assert store.err(op, {**base, "token_hash": hexs(token_hash())[:32]}) == "bad_request"  # str, not bin
    for exp in (0, -1, 2**31):
        assert store.err(op, {**base, "token_hash": token_hash(), "expires_s": exp}) == "bad_request", exp
    h, _ = store.new_token(u["id"], family=fam)
    assert store.err(op, {**base, "token_hash": h}) == "conflict"  # same hash again
    v = store.new_user()
    assert store.err(op, {**base, "user_id": v["id"], "token_hash": token_hash()}) == "conflict"  # u's family
    assert store.scalar(f"SELECT count(*) FROM refresh_tokens WHERE family_id = '{fam}'") == "1"


# ----------------------------------------------------------- token_rotate


def token_row(store, h):
    rows = store.sql(
        "SELECT family_id, used_at IS NOT NULL, revoked_at IS NOT NULL, client_ip, user_agent,"
        " last_used_at IS NOT NULL, round(extract(epoch FROM expires_at - now()))"
        f" FROM refresh_tokens WHERE {by_hash(h)}"
    )
    return rows[0] if rows else None


def test_token_rotate_rotated_then_grace_then_reused(store):
    u = store.new_user()
    h1, fam = store.new_token(u["id"])
    h2, h3, h4 = token_hash(), token_hash(), token_hash()
    rep = store.rotate(h1, h2, grace_s=10, expires_s=900, client_ip="198.51.100.7", user_agent="ua-2")
    assert rep == {"outcome": "rotated", "user_id": u["id"], "family_id": fam}
    assert token_row(store, h1)[:3] == [fam, "t", "f"]
    new = token_row(store, h2)
    assert new[:6] == [fam, "f", "f", "198.51.100.7", "ua-2", "t"] and 890 <= float(new[6]) <= 900
    # Presented again within the grace period: a new token, the family lives.
    assert store.rotate(h1, h3, grace_s=10) == {"outcome": "grace", "user_id": u["id"], "family_id": fam}
    assert token_row(store, h3)[:3] == [fam, "f", "f"]
    assert store.live_tokens(fam) == 3
    # Later than the grace period: reuse, the whole family is revoked.
    store.sql(f"UPDATE refresh_tokens SET used_at = now() - interval '11 seconds' WHERE {by_hash(h1)}")
    assert store.rotate(h1, h4, grace_s=10) == {"outcome": "reused", "user_id": u["id"], "family_id": fam}
    assert token_row(store, h4) is None
    assert store.live_tokens(fam) == 0
    all_revoked = f"SELECT bool_and(revoked_at IS NOT NULL) FROM refresh_tokens WHERE family_id = '{fam}'"
    assert store.scalar(all_revoked) == "t"
    # Every token of the family is dead now, the newest too.
    for h in (h1, h2, h3):
        assert store.rotate(h)["outcome"] == "invalid"


def test_token_rotate_grace_zero_is_reuse_at_once(store):
    u = store.new_user()
    h1, fam = store.new_token(u["id"])
    assert store.rotate(h1, grace_s=0)["outcome"] == "rotated"
    assert store.rotate(h1, grace_s=0)["outcome"] == "reused"
    assert store.live_tokens(fam) == 0


def test_token_rotate_chain(store):
    u = store.new_user()
    h, fam = store.new_token(u["id"])
    for _ in range(5):
        nxt = token_hash()
        assert store.rotate(h, nxt)["outcome"] == "rotated"
        h = nxt
    assert store.scalar(f"SELECT count(*) FROM refresh_tokens WHERE family_id = '{fam}'") == "6"
    unused = f"SELECT count(*) FROM refresh_tokens WHERE family_id = '{fam}' AND used_at IS NULL"
    assert store.scalar(unused) == "1"


def test_token_rotate_invalid_cases(store):
    u = store.new_user()
    assert store.rotate(token_hash()) == {"outcome": "invalid"}  # unknown: no ids
    # Expired.
    h, fam = store.new_token(u["id"])
    store.sql(f"UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE {by_hash(h)}")
    assert store.rotate(h) == {"outcome": "invalid", "user_id": u["id"], "family_id": fam}
    # Revoked.
    h, fam = store.new_token(u["id"])
    store.ok("store.token_revoke", {"token_hash": h})
    assert store.rotate(h)["outcome"] == "invalid"
    # A disabled user.
    h, fam = store.new_token(u["id"])
    store.ok("store.user_update", {"id": u["id"], "is_active": False})
    assert store.rotate(h)["outcome"] == "invalid"
    assert token_row(store, h)[:3] == [fam, "f", "f"]  # untouched: usable once re-enabled
    store.ok("store.user_update", {"id": u["id"], "is_active": True})
    assert store.rotate(h)["outcome"] == "rotated"


def test_token_rotate_bad_fields(store):
    u = store.new_user()
    h, fam = store.new_token(u["id"])
    good = {"token_hash": h, "new_hash": token_hash(), "grace_s": 10, "expires_s": 60}
    for over in ({"token_hash": b"\x00" * 31}, {"new_hash": b""}, {"grace_s": -1}, {"expires_s": 0},
                 {"expires_s": 2**31}, {"grace_s": 2**31}):
        assert store.err("store.token_rotate", {**good, **over}) == "bad_request", over
    assert store.err("store.token_rotate", {**good, "token_hash": b"\x00" * 33}) == "bad_request"
    no_grace = {k: v for k, v in good.items() if k != "grace_s"}
    assert store.err("store.token_rotate", no_grace) == "bad_request"
    assert token_row(store, h)[:3] == [fam, "f", "f"]


def test_token_rotate_new_hash_taken_is_conflict_and_changes_nothing(store):
    u = store.new_user()
    h1, fam = store.new_token(u["id"])
    h_other, _ = store.new_token(u["id"])
    body = {"token_hash": h1, "new_hash": h_other, "grace_s": 10, "expires_s": 60}
    assert store.err("store.token_rotate", body) == "conflict"
    assert token_row(store, h1)[:3] == [fam, "f", "f"]  # the function rolled back as a whole
    assert store.rotate(h1)["outcome"] == "rotated"


def test_token_rotate_concurrent_same_token_rotates_once(store):
    u = store.new_user()
    for _ in range(5):
        h, fam = store.new_token(u["id"])
        news = [token_hash() for _ in range(WORKERS)]
        reps = run_parallel(WORKERS, lambda i: store.rotate(h, news[i], grace_s=30))
        outcomes = sorted(r["outcome"] for r in reps)
        assert outcomes == ["grace"] * (WORKERS - 1) + ["rotated"], outcomes
        assert all(r["family_id"] == fam and r["user_id"] == u["id"] for r in reps)
        count = store.scalar(f"SELECT count(*) FROM refresh_tokens WHERE family_id = '{fam}'")
        assert count == str(WORKERS + 1)
        assert store.live_tokens(fam) == WORKERS + 1


def test_token_rotate_concurrent_without_grace_never_rotates_twice(store):
    u = store.new_user()
    for _ in range(5):
        h, fam = store.new_token(u["id"])
        reps = run_parallel(WORKERS, lambda i: store.rotate(h, grace_s=0))
        outcomes = [r["outcome"] for r in reps]
        assert outcomes.count("rotated") == 1, outcomes
        # No grace at all: every other one is reuse, or (after the family
        # was revoked by a reuse) invalid.
        assert set(outcomes) <= {"rotated", "reused", "invalid"}, outcomes
        assert ("invalid" in outcomes) <= ("reused" in outcomes), outcomes
        if "reused" in outcomes:
            assert store.live_tokens(fam) == 0


def rotate_sql(h, grace_s, new=None):
    """A direct call of the rotation function, as storesvc makes it."""
    new = new or token_hash()
    return (
        f"SELECT o_outcome FROM store_token_rotate('\\x{h.hex()}'::bytea, '\\x{new.hex()}'::bytea,"
        f" {grace_s}, 3600, NULL, NULL)"
    )


def test_token_rotate_without_grace_a_transaction_older_than_the_rotation_is_reuse(store):
    """grace 0: a request whose transaction began before the winning rotation
    (and decided after it) is reuse, not grace: the window is measured from
    the rotation to the decision, not from the start of the transaction."""
    u = store.new_user()
    h, fam = store.new_token(u["id"])
    name = "it-old-txn-" + secrets.token_hex(3)
    late = store.sql_background(f"BEGIN; SELECT pg_sleep(1.5); {rotate_sql(h, 0)}; COMMIT;", name)
    try:
        store.wait_backend(name, "PgSleep")  # its transaction has begun
        assert store.rotate(h, grace_s=0)["outcome"] == "rotated"
    finally:
        rows = store.finish(late)
    assert rows == [["reused"]], rows
    assert store.live_tokens(fam) == 0


def test_token_rotate_grace_window_counts_from_the_rotation(store):
    """grace 2: the winner's transaction began 2.5 s before it rotated (it
    waited); a request decided right after the rotation is within the window
    and gets a new token in the family."""
    u = store.new_user()
    h, fam = store.new_token(u["id"])
    name = "it-slow-rot-" + secrets.token_hex(3)
    slow = store.sql_background(f"BEGIN; SELECT pg_sleep(2.5); {rotate_sql(h, 2)}; COMMIT;", name)
    assert store.finish(slow) == [["rotated"]]
    rep = store.rotate(h, grace_s=2)
    assert rep["outcome"] == "grace", rep
    assert store.live_tokens(fam) == 3


def test_token_reuse_racing_a_rotation_leaves_no_live_token(store):
    """An old (used) token presented while the current one rotates: whichever
    runs first, the family ends up fully revoked: the rotation's new token
    cannot slip past the reuse revocation."""
    u = store.new_user()
    for _ in range(20):  # without the lock, about one round in four leaks a token
        old, fam = store.new_token(u["id"])
        cur = token_hash()
        assert store.rotate(old, cur)["outcome"] == "rotated"
        store.sql(f"UPDATE refresh_tokens SET used_at = now() - interval '1 hour' WHERE {by_hash(old)}")
        reps = run_parallel(2, lambda i: store.rotate(old if i == 0 else cur, grace_s=10))
        assert reps[0]["outcome"] == "reused", reps
        assert reps[1]["outcome"] in ("rotated", "invalid"), reps
        assert store.live_tokens(fam) == 0, reps


def test_token_revoke_all_racing_rotations_leaves_no_live_token(store):
    u = store.new_user()
    for _ in range(20):
        h, fam = store.new_token(u["id"])
        revoke_all = {"id": u["id"], "at_ms": 0}

        def one(i):
            return store.rotate(h) if i == 0 else store.ok("store.user_revoke_all", revoke_all)

        reps = run_parallel(2, one)
        assert reps[0]["outcome"] in ("rotated", "invalid"), reps
        assert store.live_tokens(fam) == 0, reps


# ----------------------------------------------------------- token_revoke


def test_token_revoke_by_hash_revokes_the_family(store):
    u = store.new_user()
    h1, fam = store.new_token(u["id"])
    h2 = token_hash()
    store.rotate(h1, h2)
    _, other = store.new_token(u["id"])
    assert store.ok("store.token_revoke", {"token_hash": h1}) == {"revoked": 2, "user_id": u["id"]}
    assert store.live_tokens(fam) == 0 and store.live_tokens(other) == 1
    # Idempotent; the owner is named whenever the token is known.
    assert store.ok("store.token_revoke", {"token_hash": h2}) == {"revoked": 0, "user_id": u["id"]}
    assert store.ok("store.token_revoke", {"token_hash": token_hash()}) == {"revoked": 0}  # unknown


def test_token_revoke_by_family(store):
    u = store.new_user()
    h, fam = store.new_token(u["id"])
    store.rotate(h)
    assert store.ok("store.token_revoke", {"family_id": fam}) == {"revoked": 2, "user_id": u["id"]}
    assert store.ok("store.token_revoke", {"family_id": fam}) == {"revoked": 0, "user_id": u["id"]}
    assert store.ok("store.token_revoke", {"family_id": str(uuid.uuid4())}) == {"revoked": 0}
    body = {"family_id": str(uuid.uuid4()), "user_id": None}
    assert store.ok("store.token_revoke", body) == {"revoked": 0}


def test_token_revoke_scoped_to_a_user(store):
    owner, intruder = store.new_user(), store.new_user()
    h, fam = store.new_token(owner["id"])
    assert store.ok("store.token_revoke", {"family_id": fam, "user_id": intruder["id"]}) == {"revoked": 0}
    assert store.ok("store.token_revoke", {"token_hash": h, "user_id": intruder["id"]}) == {"revoked": 0}
    assert store.live_tokens(fam) == 1
    assert store.ok("store.token_revoke", {"family_id": fam, "user_id": owner["id"]}) == {
        "revoked": 1, "user_id": owner["id"]}
    assert store.live_tokens(fam) == 0


def test_token_revoke_needs_exactly_one_key(store):
    u = store.new_user()
    h, fam = store.new_token(u["id"])
    assert store.err("store.token_revoke", {}) == "bad_request"
    assert store.err("store.token_revoke", {"user_id": u["id"]}) == "bad_request"
    assert store.err("store.token_revoke", {"family_id": None}) == "bad_request"
    assert store.err("store.token_revoke", {"token_hash": h, "family_id": fam}) == "bad_request"
    assert store.err("store.token_revoke", {"token_hash": h[:31]}) == "bad_request"
    assert store.live_tokens(fam) == 1


# --------------------------------------------------------------- sessions


def test_sessions_one_entry_per_live_family(store):
    u = store.new_user()
    h1, fa = store.new_token(u["id"], client_ip="192.0.2.1", user_agent="first")
    h2 = token_hash()
    store.rotate(h1, h2, client_ip="192.0.2.2", user_agent="second")
    _, fb = store.new_token(u["id"], client_ip=None, user_agent=None)
    _, fc = store.new_token(u["id"])
    store.ok("store.token_revoke", {"family_id": fc})  # revoked: not a session
    hd, fd = store.new_token(u["id"])
    store.sql(f"UPDATE refresh_tokens SET expires_at = now() - interval '1 s' WHERE family_id = '{fd}'")
    # Make the order deterministic: fa used an hour ago, fb a minute ago.
    ago = "now() - interval"
    store.sql(f"UPDATE refresh_tokens SET created_at = {ago} '2 hours', last_used_at = NULL"
              f" WHERE {by_hash(h1)}")
    store.sql(f"UPDATE refresh_tokens SET created_at = {ago} '90 minutes', last_used_at = {ago} '1 hour'"
              f" WHERE {by_hash(h2)}")
    store.sql(f"UPDATE refresh_tokens SET created_at = {ago} '5 minutes', last_used_at = {ago} '1 minute'"
              f" WHERE family_id = '{fb}'")

    rep = store.ok("store.sessions", {"user_id": u["id"]})
    assert set(rep) == {"sessions"}
    s = rep["sessions"]
    assert [e["id"] for e in s] == [fb, fa], s
    for e in s:
        assert set(e) == SESSION_KEYS
        assert RFC3339_Z.match(e["created_at"]) and RFC3339_Z.match(e["last_used_at"])
    want = store.sql(
        f"SELECT {rfc3339_sql('min(created_at)')}, {rfc3339_sql('max(coalesce(last_used_at, created_at))')}"
        f" FROM refresh_tokens WHERE family_id = '{fa}'"
    )[0]
    assert [s[1]["created_at"], s[1]["last_used_at"]] == want
    assert (s[1]["client_ip"], s[1]["user_agent"]) == ("192.0.2.2", "second")  # the newest token's
    assert (s[0]["client_ip"], s[0]["user_agent"]) == (None, None)


def test_sessions_of_unknown_or_other_users(store):
    a, b = store.new_user(), store.new_user()
    store.new_token(a["id"])
    assert store.ok("store.sessions", {"user_id": b["id"]}) == {"sessions": []}
    assert store.ok("store.sessions", {"user_id": str(uuid.uuid4())}) == {"sessions": []}


def test_sessions_list_is_bounded(store):
    u = store.new_user()
    store.sql(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)"
        " SELECT sha256(gen_random_uuid()::text::bytea), gen_random_uuid(),"
        f" '{u['id']}', now() + interval '1 hour'"
        " FROM generate_series(1, 150)"
    )
    assert len(store.ok("store.sessions", {"user_id": u["id"]})["sessions"]) == 100


# ------------------------------------------------------------------ stats


def test_stats_counts_follow_the_data(store):
    s0 = store.ok("store.stats")
    assert set(s0) == {"users", "files", "bytes_stored", "active_sessions"}
    assert all(isinstance(v, int) for v in s0.values())
    assert s0["users"] == int(store.scalar("SELECT count(*) FROM users"))
    u = store.new_user()
    put_file(store, u["id"], size=1000)
    put_file(store, u["id"], size=5, status="pending")
    h, fam = store.new_token(u["id"])
    store.rotate(h)  # still one family
    s1 = store.ok("store.stats")
    assert s1 == {"users": s0["users"] + 1, "files": s0["files"] + 1,
                  "bytes_stored": s0["bytes_stored"] + 1000, "active_sessions": s0["active_sessions"] + 1}
    store.ok("store.token_revoke", {"family_id": fam})
    assert store.ok("store.stats")["active_sessions"] == s0["active_sessions"]


def test_stats_bytes_zero_without_ready_files(store):
    store.sql("DELETE FROM files")
    st = store.ok("store.stats")
    assert st["files"] == 0 and st["bytes_stored"] == 0


# ----------------------------------------------------- failure handling


def test_database_down_is_unavailable_and_recovers(store):
    u = store.new_user()
    try:
        store.admin_sql(f"ALTER DATABASE {store.db_name} ALLOW_CONNECTIONS false")
        store.admin_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{store.db_name}'"
        )
        for _ in range(WORKERS + 2):  # every worker's connection is gone
            assert store.err("store.user_get", {"id": u["id"]}) == "unavailable"
        assert store.err("store.user_create", user_body()) == "unavailable"
        rotate = {"token_hash": token_hash(), "new_hash": token_hash(), "grace_s": 1, "expires_s": 60}
        assert store.err("store.token_rotate", rotate) == "unavailable"
        health = store.ok("sys.health")
        assert health["checks"]["database"] == "down"
    finally:
        store.admin_sql(f"ALTER DATABASE {store.db_name} ALLOW_CONNECTIONS true")
    it.wait_for(
        lambda: all(store.call("store.user_get", {"id": u["id"]})["ok"] for _ in range(WORKERS * 2)),
        15,
        step=0.2,
        what="store.user_get works again",
    )
    errors = [r for r in store.log_records() if r.get("level") == "ERROR" and r.get("msg") == "database error"]
    assert not errors


def test_database_timeout_is_unavailable(store):
    u = store.new_user()
    locker = subprocess.Popen(
        ["psql", "-X", "-q", "-d", store.db_url, "-c",
         "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    try:
        locked = (
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = 'users' AND l.mode = 'AccessExclusiveLock' AND l.granted"
        )
        it.wait_for(lambda: store.scalar(locked) == "1", 10, what="the users table locked")
        t0 = time.monotonic()
        rep = store.call("store.user_get", {"id": u["id"]}, rid="ops-timeout-1", timeout=8)
        assert rep["ok"] is False and rep["err"]["code"] == "unavailable", rep
        assert time.monotonic() - t0 < 4  # DB_TIMEOUT_MS=2000 bounds it, not the lock
    finally:
        locker.wait(timeout=20)
    it.wait_for(lambda: store.call("store.user_get", {"id": u["id"]})["ok"], 10, step=0.2, what="recovery")
    assert any(r.get("rid") == "ops-timeout-1" and r.get("level") == "WARNING" for r in store.log_records())


def test_unexpected_database_error_is_internal_error_with_a_log_line(store):
    args = "(bytea, bytea, integer, integer, text, text)"
    store.sql(f"ALTER FUNCTION store_token_rotate{args} RENAME TO store_token_rotate_off")
    try:
        rid = "ops-internal-" + secrets.token_hex(4)
        body = {"token_hash": token_hash(), "new_hash": token_hash(), "grace_s": 1, "expires_s": 60}
        rep = store.call("store.token_rotate", body, rid=rid)
        assert rep["ok"] is False and rep["err"]["code"] == "internal_error", rep
    finally:
        store.sql(f"ALTER FUNCTION store_token_rotate_off{args} RENAME TO store_token_rotate")
    recs = [r for r in store.log_records() if r.get("rid") == rid]
    want = {"level": "ERROR", "msg": "database error", "op": "store.token_rotate", "sqlstate": "42883"}
    assert any(all(r.get(k) == v for k, v in want.items()) for r in recs), recs
    assert store.rotate(token_hash())["outcome"] == "invalid"  # back to normal


# ---------------------------------------------------------------- hygiene


def test_logs_never_carry_emails_hashes_or_tokens(store):
    tag = secrets.token_hex(6)
    email = f"secret.{tag}@example.test"
    pw_hash = f"$argon2id$v=19$m=65536,t=3,p=1$SECRET{tag}"
    u = store.new_user(email=email, password_hash=pw_hash)
    h, fam = store.new_token(u["id"])
    store.err("store.user_create", user_body(email=email, password_hash=pw_hash))
    store.ok("store.user_find_login", {"login": email})
    body = {"id": u["id"], "password_hash": pw_hash + "2", "revoke_sessions": True}
    store.ok("store.user_set_password", body)
    store.rotate(h)
    body = {"user_id": str(uuid.uuid4()), "token_hash": h, "family_id": fam, "expires_s": 60}
    store.err("store.token_create", body)
    fn = "store_revoke_user_tokens"
    store.sql(f"ALTER FUNCTION {fn}(uuid, uuid, uuid) RENAME TO {fn}_off")
    try:  # an internal error, which logs
        assert store.err("store.token_revoke", {"token_hash": h}) == "internal_error"
    finally:
        store.sql(f"ALTER FUNCTION {fn}_off(uuid, uuid, uuid) RENAME TO {fn}")
    text = store.log_text()
    assert "database error" in text
    for secret in (email, email.split("@")[0], pw_hash, f"SECRET{tag}", hexs(h), hexs(h).upper()):
        assert secret not in text, secret
