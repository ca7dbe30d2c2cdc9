"""proto/PROTOCOL.md against the running services: every op of the catalogue
is called over ZeroMQ and its reply compared, key by key and type by type,
with what the catalogue documents (the document's tables are generated from
the same rows, `proto_doc --json` prints them); every error answered on the
way must be one the op's row lists. The two sample clients of the document
run against authsvc, and the test vectors are what Python's msgpack packs.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import subprocess
import time
import uuid

import msgpack
import pytest

import authutil as au
import restc_it as it

EXAMPLES = os.path.join(it.ROOT, "proto", "examples")
PY = "/usr/bin/python3"


@pytest.fixture(scope="module")
def catalogue():
    r = subprocess.run([os.path.join(it.BUILD, "tools", "proto_doc"), "--json"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def pdb(pg):
    return au.fresh_database(pg, "protocol")


@pytest.fixture(scope="module")
def st(pdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, pdb, jwt_secret, "protocol")


# ------------------------------------------------------------ the checker


def check_value(v, spec, shapes, where):
    if v is None:
        assert spec["nil"], f"{where}: nil, which the catalogue does not allow"
        return
    t = spec["type"]
    if t == "str":
        assert isinstance(v, str), f"{where}: {type(v).__name__}, documented str"
        if "values" in spec:
            assert v in spec["values"], f"{where}: {v!r} is none of {spec['values']}"
    elif t == "int":
        assert isinstance(v, int) and not isinstance(v, bool), f"{where}: {v!r} is no int"
    elif t == "bool":
        assert isinstance(v, bool), f"{where}: {v!r} is no bool"
    elif t == "bin":
        assert isinstance(v, bytes), f"{where}: {type(v).__name__}, documented bin"
    elif t == "map" and "shape" in spec:
        check_map(v, shapes[spec["shape"]], shapes, where)
    elif t == "map":
        assert isinstance(v, dict) and v, f"{where}: {v!r}"
        for k, x in v.items():
            assert isinstance(k, str) and x in spec["values"], f"{where}.{k}: {x!r}"
    elif t == "list":
        assert isinstance(v, list), f"{where}: {v!r} is no array"
        for i, x in enumerate(v):
            if "shape" in spec:
                check_map(x, shapes[spec["shape"]], shapes, f"{where}[{i}]")
            else:
                assert isinstance(x, str), f"{where}[{i}]: {x!r}"
    else:
        raise AssertionError(f"{where}: the catalogue has a type {t}")


def check_map(value, keys, shapes, where):
    assert isinstance(value, dict), f"{where}: {value!r} is no map"
    spec = {k["key"]: k for k in keys}
    extra = set(value) - set(spec)
    assert not extra, f"{where}: keys the catalogue does not document: {sorted(extra)}"
    missing = {k for k, s in spec.items() if not s["optional"]} - set(value)
    assert not missing, f"{where}: documented keys missing: {sorted(missing)}"
    for k, v in value.items():
        check_value(v, spec[k], shapes, f"{where}.{k}")


class Tour:
    """Calls ops over ZeroMQ, checking every reply against the catalogue."""

    def __init__(self, st, cat):
        self.st, self.cat = st, cat
        self.ok_ops, self.errors = set(), []
        self.n = 0

    def call(self, op, body, service="auth", rid=None):
        assert op in self.cat["ops"], f"{op} is no op of the catalogue"
        self.n += 1
        rid = rid or f"tour-{self.n}"
        ep = self.st.auth_ep if service == "auth" else self.st.store_ep
        rep = it.rpc(ep, op, body, rid=rid, timeout=10)
        assert rep is not None and rep.get("v") == 1, f"{op}: {rep}"
        row = self.cat["ops"][op]
        if rep["ok"]:
            check_map(rep["body"], row["reply"], self.cat["shapes"], op)
            self.ok_ops.add(op)
        else:
            code = rep["err"]["code"]
            assert code in row["errors"] + self.cat["common_errors"], \
                f"{op} answered {code}, which its row does not list: {rep['err']}"
            self.errors.append((op, code))
        return rep

    def ok(self, op, body, **kw):
        rep = self.call(op, body, **kw)
        assert rep["ok"], f"{op} {body}: {rep}"
        return rep["body"]

    def err(self, op, body, code, **kw):
        rep = self.call(op, body, **kw)
        assert not rep["ok"] and rep["err"]["code"] == code, f"{op}: want {code}, got {rep}"
        return rep["err"]

    def store(self, op, body):
        return self.ok(op, body, service="store")


def totp(secret_b32, at=None):
    """RFC 6238 (SHA-1, 6 digits, 30 s) for the current step."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at if at is not None else time.time()) // 30),
                   hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


IP = "192.0.2.200"


def auth_tour(t, st):
    owner_id, owner_access = au.owner_id(st), au.owner_access(st)
    t.ok("sys.ping", {})
    t.ok("sys.health", {})
    name, pw = au.fresh_name("tour"), au.strong_password()
    email = f"{name}@example.com"
    t.err("auth.register", {"username": "x", "email": email, "password": pw, "client_ip": IP},
          "validation_error")
    user = t.ok("auth.register", {"username": name, "email": email, "password": pw, "client_ip": IP})["user"]
    uid = user["id"]
    t.err("auth.token", {"username": name, "password": pw + "x", "client_ip": IP}, "invalid_credentials")
    pair = t.ok("auth.token", {"username": name, "password": pw, "client_ip": IP, "user_agent": "tour/1"})
    assert "device_cookie" in pair and "rate" in pair, pair
    pair = t.ok("auth.refresh", {"refresh_token": pair["refresh_token"], "client_ip": IP})
    t.err("auth.refresh", {"refresh_token": "x" * 43, "client_ip": IP}, "invalid_refresh_token")
    access, sid = pair["access_token"], pair["session_id"]
    body = t.ok("auth.authorize", {"credential": access, "client_ip": IP, "permission": "self:read"})
    assert body["user_id"] == uid and "rate" in body
    assert t.ok("auth.authorize", {"client_ip": IP})["anonymous"] is True
    assert "rate" not in t.ok("auth.authorize", {"credential": access, "client_ip": IP, "count_rate": False})
    err = t.err("auth.authorize", {"credential": access, "client_ip": IP, "permission": "users:fly"},
                "bad_request")
    assert "unknown permission" in err["msg"], err
    t.err("auth.authorize", {"credential": access, "client_ip": IP, "permission": "users:read"}, "forbidden")
    t.err("auth.authorize", {"credential": "Bearer " + access, "client_ip": IP}, "unauthorized")
    t.ok("auth.verify", {"token": access})
    sessions = t.ok("auth.sessions", {"actor_id": uid, "actor_sid": sid})["sessions"]
    assert [s["current"] for s in sessions if s["id"] == sid] == [True], sessions
    t.ok("auth.update_self", {"actor_id": uid, "full_name": "Tour Guide"})
    t.ok("auth.update_self", {"actor_id": uid, "full_name": None})
    setup = t.ok("auth.totp_setup", {"actor_id": uid})
    t.err("auth.totp_enable", {"actor_id": uid, "code": "000000" if totp(setup["secret"]) != "000000" else "111111"},
          "totp_invalid")
    codes = t.ok("auth.totp_enable", {"actor_id": uid, "code": totp(setup["secret"])})["backup_codes"]
    t.err("auth.totp_setup", {"actor_id": uid}, "conflict")
    t.err("auth.token", {"username": name, "password": pw, "client_ip": IP}, "totp_required")
    t.ok("auth.token", {"username": name, "password": pw, "client_ip": IP, "backup_code": codes[0]})
    t.err("auth.totp_disable", {"actor_id": uid, "password": pw + "x", "code": codes[1]}, "invalid_password")
    t.ok("auth.totp_disable", {"actor_id": uid, "password": pw, "code": codes[1]})
    new_pw = au.strong_password()
    t.err("auth.change_password", {"actor_id": uid, "actor_sid": sid, "current_password": pw + "x",
                                   "new_password": new_pw}, "invalid_password")
    t.ok("auth.change_password", {"actor_id": uid, "actor_sid": sid, "current_password": pw,
                                  "new_password": new_pw})
    key = t.ok("auth.apikey_create", {"actor_id": uid, "actor_role": "user", "name": "tour key",
                                      "expires_in_days": 30, "permissions": ["self:read"]})
    t.ok("auth.apikey_create", {"actor_id": uid, "actor_role": "user", "name": "tour key 2"})
    t.err("auth.apikey_create", {"actor_id": uid, "actor_role": "user", "name": "x", "expires_in_days": 0},
          "validation_error")
    keys = t.ok("auth.apikey_list", {"actor_id": uid})["api_keys"]
    assert {k["id"] for k in keys} >= {key["id"]}, keys
    assert t.ok("auth.authorize", {"api_key": key["key"], "client_ip": IP})["api_key_id"] == key["id"]
    t.ok("auth.apikey_delete", {"actor_id": uid, "id": key["id"]})
    t.err("auth.apikey_delete", {"actor_id": uid, "id": key["id"]}, "not_found")
    t.ok("auth.stats", {})
    t.ok("auth.user_update", {"actor_id": owner_id, "actor_role": "admin", "id": uid, "role": "viewer"})
    t.err("auth.user_update", {"actor_id": uid, "actor_role": "viewer", "id": owner_id, "is_active": False},
          "forbidden")
    t.ok("auth.user_update", {"actor_id": owner_id, "actor_role": "admin", "id": uid, "is_active": True})
    t.err("auth.user_delete", {"actor_id": owner_id, "actor_role": "admin", "id": owner_id},
          "cannot_delete_self")
    # Password reset: the token from the dev-mode mail.
    t.ok("auth.reset_request", {"email": email, "client_ip": IP}, rid="tour-reset-1")
    token = au.reset_token_of(au.dev_mail(st, "tour-reset-1")["text"])
    t.err("auth.reset_confirm", {"token": "x" * 43, "new_password": au.strong_password(), "client_ip": IP},
          "invalid_reset_token")
    pw = au.strong_password()
    t.ok("auth.reset_confirm", {"token": token, "new_password": pw, "client_ip": IP})
    # Sessions: one revoked by id, one logged out, then all.
    s1 = t.ok("auth.token", {"username": name, "password": pw, "client_ip": IP})
    s2 = t.ok("auth.token", {"username": name, "password": pw, "client_ip": IP})
    t.ok("auth.session_revoke", {"actor_id": uid, "session_id": s1["session_id"]})
    t.err("auth.session_revoke", {"actor_id": uid, "session_id": s1["session_id"]}, "not_found")
    t.err("auth.authorize", {"credential": s1["access_token"], "client_ip": IP}, "unauthorized")
    assert set(t.ok("auth.logout", {"refresh_token": s2["refresh_token"], "client_ip": IP})) <= {"rate"}
    t.ok("auth.logout", {"credential": s2["access_token"], "client_ip": IP})  # already gone: idempotent
    t.ok("auth.logout_all", {"actor_id": uid})
    t.ok("auth.user_delete", {"actor_id": owner_id, "actor_role": "admin", "id": uid})
    t.err("auth.user_delete", {"actor_id": owner_id, "actor_role": "admin", "id": uid}, "not_found")
    assert owner_access


def digest():
    return secrets.token_bytes(32)


def store_tour(t):
    t.ok("sys.ping", {}, service="store")
    t.ok("sys.health", {}, service="store")
    name = au.fresh_name("st")
    user = t.store("store.user_create", {"username": name, "email": f"{name}@example.com",
                                         "password_hash": "$argon2id$x", "role": "user"})
    uid = user["id"]
    t.err("store.user_create", {"username": name, "email": f"{name}@example.com", "password_hash": "h",
                                "role": "user"}, "conflict", service="store")
    t.store("store.user_get", {"id": uid})
    t.err("store.user_get", {"id": str(uuid.uuid4())}, "not_found", service="store")
    t.store("store.user_list", {"page": 1, "per_page": 5})
    t.store("store.user_find_login", {"login": name})
    t.store("store.user_auth_state", {"id": uid})
    t.store("store.user_update", {"id": uid, "full_name": "Store Tour"})
    t.store("store.user_set_password", {"id": uid, "password_hash": "$argon2id$y", "revoke_sessions": True,
                                        "at_ms": int(time.time() * 1000)})
    # TOTP state (storesvc keeps sealed secrets it cannot open: any bytes do).
    t.store("store.totp_get", {"user_id": uid})
    sealed, hashes = secrets.token_bytes(77), [digest(), digest()]
    t.store("store.totp_setup", {"user_id": uid, "secret": sealed})
    assert t.store("store.totp_enable", {"user_id": uid, "secret": secrets.token_bytes(77), "step": 5,
                                         "backup_hashes": b"".join(hashes)})["outcome"] == "stale"
    assert t.store("store.totp_enable", {"user_id": uid, "secret": sealed, "step": 5,
                                         "backup_hashes": b"".join(hashes)})["outcome"] == "enabled"
    t.store("store.totp_get", {"user_id": uid})
    assert t.store("store.totp_use_step", {"user_id": uid, "step": 6})["accepted"] is True
    assert t.store("store.totp_use_backup", {"user_id": uid, "code_hash": hashes[0]})["accepted"] is True
    t.store("store.totp_disable", {"user_id": uid})
    # Refresh tokens and sessions.
    h1, h2, fam = digest(), digest(), str(uuid.uuid4())
    t.store("store.token_create", {"user_id": uid, "token_hash": h1, "family_id": fam, "expires_s": 600,
                                   "client_ip": "2001:db8::9", "user_agent": "tour"})
    assert t.store("store.token_rotate", {"token_hash": h1, "new_hash": h2, "grace_s": 0,
                                          "expires_s": 600})["outcome"] == "rotated"
    assert t.store("store.token_rotate", {"token_hash": digest(), "new_hash": digest(), "grace_s": 0,
                                          "expires_s": 600})["outcome"] == "invalid"
    t.store("store.sessions", {"user_id": uid})
    t.store("store.user_auth_state", {"id": uid, "revoked_within_s": 3600, "revoked_max": 8})
    t.store("store.token_revoke", {"family_id": fam, "user_id": uid})
    t.err("store.token_revoke", {}, "bad_request", service="store")
    t.store("store.user_auth_state", {"id": uid, "revoked_within_s": 3600, "revoked_max": 8})
    t.store("store.user_revoke_all", {"id": uid, "at_ms": int(time.time() * 1000)})
    t.store("store.stats", {})
    # Reset tokens.
    rh = digest()
    t.store("store.reset_create", {"user_id": uid, "token_hash": rh, "expires_s": 600})
    t.store("store.reset_check", {"token_hash": rh})
    t.store("store.reset_consume", {"token_hash": rh, "password_hash": "$argon2id$z",
                                    "at_ms": int(time.time() * 1000)})
    t.err("store.reset_check", {"token_hash": rh}, "not_found", service="store")
    # API keys.
    key_id = secrets.token_hex(8)
    k = t.store("store.apikey_create", {"user_id": uid, "key_id": key_id, "secret_hash": digest(),
                                        "name": "tour", "expires_s": 3600, "permissions": "self:read",
                                        "max_per_user": 5})
    t.store("store.apikey_create", {"user_id": uid, "key_id": secrets.token_hex(8), "secret_hash": digest(),
                                    "name": "tour 2", "max_per_user": 5})
    t.store("store.apikey_list", {"user_id": uid})
    t.store("store.apikey_lookup", {"key_id": key_id})
    t.store("store.apikey_touch", {"id": k["id"], "interval_s": 0})
    t.store("store.apikey_delete", {"user_id": uid, "id": k["id"]})
    # Files: one uploaded, read, listed and deleted; one aborted.
    data = b"protocol tour " * 10
    f = t.store("store.file_begin", {"actor_id": uid, "name": "tour.txt", "content_type": "text/plain"})
    t.err("store.file_begin", {"actor_id": uid, "name": "a/b", "content_type": "text/plain"},
          "validation_error", service="store")
    t.store("store.file_part", {"id": f["id"], "actor_id": uid, "part_no": 1, "data": data})
    t.store("store.file_complete", {"id": f["id"], "actor_id": uid, "size": len(data),
                                    "sha256": hashlib.sha256(data).hexdigest()})
    t.store("store.file_get", {"id": f["id"], "actor_id": uid, "actor_role": "user"})
    t.store("store.file_list", {"actor_id": uid, "actor_role": "user", "page": 1, "per_page": 10})
    got = t.store("store.file_read", {"id": f["id"], "actor_id": uid, "actor_role": "user", "offset": 0,
                                      "length": 1000})
    assert got["data"] == data, got
    t.store("store.file_delete", {"id": f["id"], "actor_id": uid, "actor_role": "user"})
    t.err("store.file_get", {"id": f["id"], "actor_id": uid, "actor_role": "user"}, "not_found", service="store")
    g = t.store("store.file_begin", {"actor_id": uid, "name": "gone.bin", "content_type": "application/octet-stream"})
    t.store("store.file_abort", {"id": g["id"], "actor_id": uid})
    t.store("store.user_delete", {"id": uid})


def test_every_op_answers_what_the_catalogue_documents(st, catalogue):
    """Each op succeeds at least once; its reply holds every documented key
    that is not optional, no key that is not documented, each of its
    documented type (values of a documented set); every error met on the
    way is one its row lists (or bad_request, internal_error, unavailable)."""
    t = Tour(st, catalogue)
    auth_tour(t, st)
    store_tour(t)
    missed = set(catalogue["ops"]) - t.ok_ops
    assert not missed, f"ops never answered successfully by the tour: {sorted(missed)}"
    assert len(t.errors) >= 20, t.errors
    # Nothing on the way was a failure of ours: no ERROR line for a tour request.
    for proc in (st.authsvc, st.storesvc):
        errors = [r for r in proc.log_records()
                  if r.get("level") == "ERROR" and str(r.get("rid", "")).startswith("tour-")]
        assert not errors, errors


def test_the_checker_refuses_what_the_catalogue_does_not_say(catalogue):
    """The comparison itself: an undocumented key, a missing one, a wrong
    type and a value outside its set are each refused."""
    shapes, logout = catalogue["shapes"], catalogue["ops"]["auth.logout"]["reply"]
    check_map({"rate": {"limit": 1, "remaining": 0, "reset": 3}}, logout, shapes, "auth.logout")
    check_map({}, logout, shapes, "auth.logout")  # rate is optional
    rotate = catalogue["ops"]["store.token_rotate"]["reply"]
    bad = [({"rate": {"limit": 1, "remaining": 0}}, logout),
           ({"rate": {"limit": 1, "remaining": 0, "reset": 3}, "extra": 1}, logout),
           ({"rate": {"limit": "1", "remaining": 0, "reset": 3}}, logout),
           ({"outcome": "renewed"}, rotate),
           ({"outcome": b"rotated"}, rotate)]
    for value, keys in bad:
        with pytest.raises(AssertionError):
            check_map(value, keys, shapes, "x")


# ------------------------------------------------- samples and vectors


@pytest.fixture(scope="module")
def member(st):
    return au.new_user(st)


def run_example(name, *args):
    return subprocess.run([PY, os.path.join(EXAMPLES, name), *args], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def test_req_sample_authorizes_a_token(st, member):
    r = run_example("req_client.py", st.auth_ep, member.access)
    assert r.returncode == 0, (r.stdout, r.stderr)
    rep = json.loads(r.stdout)
    assert rep["ok"] is True and rep["body"]["user_id"] == member.id, rep
    assert "rate" not in rep["body"], "the sample does not count"
    r = run_example("req_client.py", st.auth_ep, "Bearer " + member.access)
    assert r.returncode == 1 and json.loads(r.stdout)["err"]["code"] == "unauthorized", r.stdout


def test_dealer_sample_keeps_three_calls_in_flight(st, member):
    r = run_example("dealer_client.py", st.auth_ep, member.access)
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["op"] for x in lines] == ["sys.ping", "auth.verify", "auth.authorize"], lines
    assert all(x["reply"]["ok"] for x in lines), lines
    assert lines[1]["reply"]["body"]["user_id"] == member.id
    assert lines[2]["reply"]["body"]["user_id"] == member.id


def test_samples_report_a_service_that_does_not_answer(member):
    port = it.free_port()
    for name in ("req_client.py", "dealer_client.py"):
        r = run_example(name, f"tcp://127.0.0.1:{port}", member.access)
        assert r.returncode == 2 and "unavailable" in r.stdout, (name, r.stdout, r.stderr)


def test_vectors_are_what_python_msgpack_packs(catalogue):
    req = {"v": 1, "op": "auth.authorize", "rid": "doc-1", "body": {"client_ip": "192.0.2.7"}}
    rep = {"v": 1, "ok": True, "body": {"anonymous": True, "rate": {"limit": 600, "remaining": 599, "reset": 1}}}
    assert msgpack.packb(req) == bytes.fromhex(catalogue["vectors"]["request"])
    assert msgpack.unpackb(bytes.fromhex(catalogue["vectors"]["request"])) == req
    assert msgpack.packb(rep) == bytes.fromhex(catalogue["vectors"]["reply"])
    assert msgpack.unpackb(bytes.fromhex(catalogue["vectors"]["reply"])) == rep


def test_vector_request_is_answered_as_documented(st, catalogue):
    """The documented request, sent as those bytes, gets a reply of the
    documented shape (the rate values depend on the moment)."""
    frames = it.zmq_roundtrip(st.auth_ep, [bytes.fromhex(catalogue["vectors"]["request"])], timeout=5)
    rep = msgpack.unpackb(frames[0], raw=False)
    want = msgpack.unpackb(bytes.fromhex(catalogue["vectors"]["reply"]))
    assert rep.keys() == want.keys() and rep["ok"] is True, rep
    assert rep["body"].keys() == want["body"].keys() and rep["body"]["anonymous"] is True, rep
    assert rep["body"]["rate"].keys() == want["body"]["rate"].keys(), rep
