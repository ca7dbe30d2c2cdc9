"""storesvc's file ops over ZeroMQ (proto/PROTOCOL.md, "storesvc: files"),
each test against both object stores: a local directory (file://) and S3
(s3rver on loopback, started here; see s3util.py).

Uploads go as the gateway sends them: store.file_begin, store.file_part
1..n, store.file_complete (or store.file_abort); reads in chunks of at most
8 MiB with store.file_read. Rows are looked at with psql, the object store
directly (files under the directory; signed S3 requests), so "nothing left
behind" is checked where things would be left. The module has a database of
its own.
"""

import hashlib
import os
import secrets
import subprocess
import threading
import time
import uuid

import pytest

import filestores
import restc_it as it

MiB = 1024 * 1024
PART = 5 * MiB  # at least part_size_min on both stores
READ_MAX = 8 * MiB  # PROTO_FILE_READ_MAX
FILE_KEYS = {"id", "name", "content_type", "size", "sha256", "owner_id", "created_at"}
RPC_TIMEOUT = 30.0


# ------------------------------------------------------------ fixtures


class Files:
    """The module's storesvc, its database and its object store."""

    def __init__(self, stack, db_url, store):
        self.stack = stack
        self.ep = stack.store_ep
        self.db_url = db_url
        self.store = store
        self._n = 0

    def call(self, op, body=None, timeout=RPC_TIMEOUT, ep=None):
        self._n += 1
        rep = it.rpc(ep or self.ep, op, body or {}, rid=f"files-{self._n}", timeout=timeout)
        assert rep is not None, f"{op}: no reply"
        return rep

    def ok(self, op, body=None, **kw):
        rep = self.call(op, body, **kw)
        assert rep["ok"] is True, f"{op}: {rep}"
        return rep["body"]

    def err(self, op, body=None, **kw):
        rep = self.call(op, body, **kw)
        assert rep["ok"] is False, f"{op} should fail: {rep}"
        return rep["err"]["code"]

    def sql(self, query):
        r = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", self.db_url, "-c", query],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        )
        assert r.returncode == 0, r.stderr
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def scalar(self, query):
        rows = self.sql(query)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return rows[0][0]

    def new_user(self, role="user"):
        tag = secrets.token_hex(5)
        return self.ok("store.user_create", {"username": f"f_{tag}", "email": f"f_{tag}@example.test",
                                             "password_hash": "$argon2id$x", "role": role})

    # ---- uploads as the gateway makes them

    def begin(self, actor, name="data.bin", content_type="application/octet-stream", **kw):
        return self.ok("store.file_begin", {"actor_id": actor, "name": name, "content_type": content_type}, **kw)

    def part(self, fid, actor, no, data, **kw):
        return self.ok("store.file_part", {"id": fid, "actor_id": actor, "part_no": no, "data": data}, **kw)

    def complete(self, fid, actor, data):
        return self.ok("store.file_complete", {"id": fid, "actor_id": actor, "size": len(data),
                                               "sha256": hashlib.sha256(data).hexdigest()})

    def upload(self, actor, data, name="data.bin", content_type="application/octet-stream"):
        b = self.begin(actor, name, content_type)
        assert b["part_size_min"] <= PART
        for i in range(0, len(data), PART):
            assert self.part(b["id"], actor, i // PART + 1, data[i:i + PART]) == {
                "part_no": i // PART + 1, "size": len(data[i:i + PART])}
        f = self.complete(b["id"], actor, data)
        assert f["id"] == b["id"]
        return f

    def read_all(self, fid, actor, role="user", chunk=READ_MAX):
        out, off = b"", 0
        while True:
            r = self.ok("store.file_read", {"id": fid, "actor_id": actor, "actor_role": role,
                                            "offset": off, "length": chunk})
            if not r["data"]:
                return out, r
            out += r["data"]
            off += len(r["data"])

    def key_of(self, fid):
        return self.scalar(f"SELECT storage_key FROM files WHERE id = '{fid}'")

    def rows(self, fid):
        return int(self.scalar(f"SELECT count(*) FROM files WHERE id = '{fid}'"))

    def part_rows(self, fid):
        return int(self.scalar(f"SELECT count(*) FROM file_parts WHERE file_id = '{fid}'"))


@pytest.fixture(scope="module")
def files_db(pg, db_url):
    url = filestores.fresh_database(pg, "store_files")
    yield url
    filestores.drop_database(pg, url)


@pytest.fixture(scope="module", params=["local", "s3"])
def files(request, files_db, tmp_path_factory):
    root = str(tmp_path_factory.mktemp(f"files-{request.param}"))
    pm = it.ProcManager(os.path.join(root, "logs"))
    store = filestores.make_store(request.param, pm, os.path.join(root, "store"))
    stack = it.Stack(pm, files_db, os.path.join(root, "unused"), it.new_secret(), name=f"files-{request.param}")
    try:
        store.start()
        stack.start_storesvc(STORESVC_WORKERS="4", SWEEP_INTERVAL_SECONDS="0", **store.env())
        yield Files(stack, files_db, store)
        stack.stop()
        store.stop()
    finally:
        pm.cleanup()


def payload(n):
    return secrets.token_bytes(n)


# ------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", [1, 5 * MiB + 1, 12 * MiB + 12345], ids=["1B", "5MiB+1", "12MiB"])
def test_upload_read_delete_round_trip(files, size):
    u = files.new_user()
    data = payload(size)
    f = files.upload(u["id"], data, name="report final.pdf", content_type="application/pdf")
    assert set(f) == FILE_KEYS, f
    assert (f["name"], f["content_type"], f["size"], f["owner_id"]) == ("report final.pdf", "application/pdf", size, u["id"])
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    key = files.key_of(f["id"])
    assert key.startswith("f/") and "report" not in key and files.store.object_exists(key)
    assert files.part_rows(f["id"]) == 0  # parts are forgotten once complete
    assert files.ok("store.file_get", {"id": f["id"], "actor_id": u["id"], "actor_role": "user"}) == f
    got, last = files.read_all(f["id"], u["id"])
    assert got == data  # byte-identical
    assert last["size"] == size and last["sha256"] == f["sha256"]
    assert files.ok("store.file_delete", {"id": f["id"], "actor_id": u["id"], "actor_role": "user"}) == {}
    assert files.rows(f["id"]) == 0 and not files.store.object_exists(key)
    for op in ("store.file_get", "store.file_delete"):
        assert files.err(op, {"id": f["id"], "actor_id": u["id"], "actor_role": "user"}) == "not_found"
    assert files.err("store.file_read", {"id": f["id"], "actor_id": u["id"], "actor_role": "user",
                                         "offset": 0, "length": 10}) == "not_found"


def test_read_ranges_and_bounds(files):
    u = files.new_user()
    data = payload(1000)
    f = files.upload(u["id"], data)
    base = {"id": f["id"], "actor_id": u["id"], "actor_role": "user"}
    r = files.ok("store.file_read", dict(base, offset=990, length=100))
    assert r["data"] == data[990:] and r["size"] == 1000
    assert files.ok("store.file_read", dict(base, offset=100, length=7))["data"] == data[100:107]
    for off in (1000, 5000):  # at or after the end: empty
        assert files.ok("store.file_read", dict(base, offset=off, length=10))["data"] == b""
    for off, length in ((-1, 10), (0, 0), (0, READ_MAX + 1)):
        assert files.err("store.file_read", dict(base, offset=off, length=length)) == "bad_request"


def test_part_sent_again_replaces_it_and_complete_again_returns_the_file(files):
    u = files.new_user()
    b = files.begin(u["id"])
    files.part(b["id"], u["id"], 1, b"old content!")
    files.part(b["id"], u["id"], 1, b"new")
    f = files.complete(b["id"], u["id"], b"new")
    assert f["size"] == 3
    assert files.complete(b["id"], u["id"], b"new") == f  # already ready: the same File
    assert files.read_all(f["id"], u["id"])[0] == b"new"


def test_empty_file_is_handled(files):
    u = files.new_user()
    b = files.begin(u["id"])
    upload_id = files.scalar(f"SELECT upload_id FROM files WHERE id = '{b['id']}'")
    f = files.complete(b["id"], u["id"], b"")
    assert f["size"] == 0 and f["sha256"] == hashlib.sha256(b"").hexdigest()
    data, last = files.read_all(f["id"], u["id"])
    assert data == b"" and last["size"] == 0
    assert files.store.object_exists(files.key_of(f["id"]))
    assert upload_id not in files.store.uploads()  # nothing left open for it


def test_stats_count_ready_files_and_bytes(files):
    s0 = files.ok("store.stats")
    u = files.new_user()
    files.upload(u["id"], payload(1234))
    files.begin(u["id"])  # pending: not counted
    s1 = files.ok("store.stats")
    assert s1["files"] == s0["files"] + 1 and s1["bytes_stored"] == s0["bytes_stored"] + 1234
    assert s1["files"] == int(files.scalar("SELECT count(*) FROM files WHERE status = 'ready'"))


# ------------------------------------------------------ abort, failures


def test_abort_leaves_no_row_object_or_upload(files):
    u = files.new_user()
    before = files.store.uploads()
    b = files.begin(u["id"])
    files.part(b["id"], u["id"], 1, payload(PART))
    files.part(b["id"], u["id"], 2, payload(10))
    key = files.key_of(b["id"])
    assert len(files.store.uploads()) == len(before) + 1
    assert files.ok("store.file_abort", {"id": b["id"], "actor_id": u["id"]}) == {}
    assert files.rows(b["id"]) == 0 and files.part_rows(b["id"]) == 0
    assert not files.store.object_exists(key)
    assert files.store.uploads() == before
    assert files.ok("store.file_abort", {"id": b["id"], "actor_id": u["id"]}) == {}  # idempotent
    assert files.err("store.file_part", {"id": b["id"], "actor_id": u["id"], "part_no": 3, "data": b"x"}) == "not_found"


def test_complete_with_wrong_size_is_bad_request_and_aborts(files):
    u = files.new_user()
    before = files.store.uploads()
    b = files.begin(u["id"])
    files.part(b["id"], u["id"], 1, b"12345")
    body = {"id": b["id"], "actor_id": u["id"], "size": 6, "sha256": "0" * 64}
    assert files.err("store.file_complete", body) == "bad_request"
    assert files.rows(b["id"]) == 0 and files.store.uploads() == before


def test_complete_with_a_gap_is_bad_request(files):
    u = files.new_user()
    b = files.begin(u["id"])
    files.part(b["id"], u["id"], 2, b"abc")
    body = {"id": b["id"], "actor_id": u["id"], "size": 3, "sha256": "0" * 64}
    assert files.err("store.file_complete", body) == "bad_request"
    assert files.rows(b["id"]) == 0


def test_bad_fields(files):
    u = files.new_user()
    b = files.begin(u["id"])
    base = {"id": b["id"], "actor_id": u["id"]}
    for no in (0, 10001, -1):
        assert files.err("store.file_part", dict(base, part_no=no, data=b"x")) == "bad_request"
    assert files.err("store.file_part", dict(base, part_no=1, data=b"")) == "bad_request"
    assert files.err("store.file_complete", dict(base, size=1, sha256="xyz")) == "bad_request"
    assert files.err("store.file_complete", dict(base, size=-1, sha256="0" * 64)) == "bad_request"
    big = {"id": b["id"], "actor_id": u["id"], "part_no": 1, "data": b"x" * (8 * MiB + 1)}
    assert files.call("store.file_part", big)["ok"] is False  # above the catalogue's bound
    for bad_id in ("nope", "", "'; DROP TABLE files; --"):
        assert files.err("store.file_get", {"id": bad_id, "actor_id": u["id"], "actor_role": "user"}) == "not_found"
    assert files.err("store.file_begin", {"actor_id": str(uuid.uuid4()), "name": "a", "content_type": "a/b"}) == "not_found"


@pytest.mark.parametrize("name", ["a/b", "..", "back\\slash", "nl\nx", "evil\u202etxt.exe", "x\u2066y", "", "a" * 256])
def test_begin_refuses_bad_names(files, name):
    u = files.new_user()
    rep = files.call("store.file_begin", {"actor_id": u["id"], "name": name, "content_type": "text/plain"})
    assert rep["ok"] is False
    if len(name.encode()) <= 255:  # longer ones stop at the codec's bound
        assert rep["err"]["code"] == "validation_error" and rep["err"].get("field") == "name", rep


@pytest.mark.parametrize("ctype", ["text", "text/", "te xt/plain", "text/plain\r\nx: y", ""])
def test_begin_refuses_bad_content_types(files, ctype):
    u = files.new_user()
    rep = files.call("store.file_begin", {"actor_id": u["id"], "name": "ok.txt", "content_type": ctype})
    assert rep["ok"] is False and rep["err"]["code"] == "validation_error", rep
    assert rep["err"]["field"] == "content_type"


# ----------------------------------------------------------- who sees what


def test_other_users_get_not_found_everywhere(files):
    owner, other = files.new_user(), files.new_user()
    f = files.upload(owner["id"], b"secret bytes")
    pending = files.begin(owner["id"])
    files.part(pending["id"], owner["id"], 1, b"part")
    for role in ("user", "viewer"):
        scoped = {"id": f["id"], "actor_id": other["id"], "actor_role": role}
        assert files.err("store.file_get", scoped) == "not_found"
        assert files.err("store.file_read", dict(scoped, offset=0, length=5)) == "not_found"
        assert files.err("store.file_delete", scoped) == "not_found"
    assert files.err("store.file_part", {"id": pending["id"], "actor_id": other["id"], "part_no": 2, "data": b"x"}) == "not_found"
    assert files.err("store.file_complete", {"id": pending["id"], "actor_id": other["id"], "size": 4,
                                             "sha256": "0" * 64}) == "not_found"
    assert files.ok("store.file_abort", {"id": pending["id"], "actor_id": other["id"]}) == {}
    assert files.rows(pending["id"]) == 1  # someone else's abort did nothing
    listed = files.ok("store.file_list", {"actor_id": other["id"], "actor_role": "user", "page": 1, "per_page": 100})
    assert f["id"] not in [x["id"] for x in listed["files"]]
    assert files.ok("store.file_get", {"id": f["id"], "actor_id": owner["id"], "actor_role": "user"}) == f
    files.ok("store.file_abort", {"id": pending["id"], "actor_id": owner["id"]})


def test_pending_files_are_invisible_even_to_their_owner(files):
    u = files.new_user()
    b = files.begin(u["id"])
    assert files.err("store.file_get", {"id": b["id"], "actor_id": u["id"], "actor_role": "admin"}) == "not_found"
    files.ok("store.file_abort", {"id": b["id"], "actor_id": u["id"]})


@pytest.mark.parametrize("role", ["admin", "moderator"])
def test_admin_and_moderator_see_and_delete_every_file(files, role):
    owner, staff = files.new_user(), files.new_user(role=role)
    f = files.upload(owner["id"], b"owned by someone else")
    scoped = {"id": f["id"], "actor_id": staff["id"], "actor_role": role}
    assert files.ok("store.file_get", scoped) == f
    assert files.ok("store.file_read", dict(scoped, offset=0, length=100))["data"] == b"owned by someone else"
    listed = files.ok("store.file_list", {"actor_id": staff["id"], "actor_role": role, "page": 1, "per_page": 100})
    assert f["id"] in [x["id"] for x in listed["files"]]
    key = files.key_of(f["id"])
    assert files.ok("store.file_delete", scoped) == {}
    assert files.rows(f["id"]) == 0 and not files.store.object_exists(key)


def test_list_pages_newest_first(files):
    u = files.new_user()
    ids = [files.upload(u["id"], f"file {i}".encode(), name=f"n{i}.txt")["id"] for i in range(5)]
    pages = []
    for page in (1, 2, 3, 4):
        r = files.ok("store.file_list", {"actor_id": u["id"], "actor_role": "user", "page": page, "per_page": 2})
        assert (r["total"], r["page"], r["per_page"], r["pages"]) == (5, page, 2, 3)
        assert all(set(x) == FILE_KEYS and x["owner_id"] == u["id"] for x in r["files"])
        pages.append([x["id"] for x in r["files"]])
    assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:5], []]
    for page, per in ((0, 10), (1, 0), (1, 101)):
        assert files.err("store.file_list", {"actor_id": u["id"], "actor_role": "user", "page": page, "per_page": per}) == "bad_request"
    empty = files.ok("store.file_list", {"actor_id": files.new_user()["id"], "actor_role": "user", "page": 1, "per_page": 10})
    assert (empty["files"], empty["total"], empty["pages"]) == ([], 0, 0)


def test_user_delete_removes_files_objects_and_uploads(files):
    u, other = files.new_user(), files.new_user()
    f = files.upload(u["id"], b"mine")
    keep = files.upload(other["id"], b"theirs")
    pending = files.begin(u["id"])
    files.part(pending["id"], u["id"], 1, b"half")
    upload_id = files.scalar(f"SELECT upload_id FROM files WHERE id = '{pending['id']}'")
    assert upload_id in files.store.uploads()
    keys = [files.key_of(f["id"]), files.key_of(pending["id"])]
    assert files.ok("store.user_delete", {"id": u["id"]}) == {}
    assert int(files.scalar(f"SELECT count(*) FROM files WHERE owner_id = '{u['id']}'")) == 0
    assert not any(files.store.object_exists(k) for k in keys)
    assert upload_id not in files.store.uploads()
    assert files.store.object_exists(files.key_of(keep["id"]))


# ------------------------------------------------------------ concurrency


def test_concurrent_read_and_delete_never_internal_error(files):
    u = files.new_user()
    data = payload(2 * MiB)
    f = files.upload(u["id"], data)
    scoped = {"id": f["id"], "actor_id": u["id"], "actor_role": "user"}
    codes, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            rep = files.call("store.file_read", dict(scoped, offset=0, length=READ_MAX))
            codes.append("ok" if rep["ok"] else rep["err"]["code"])
            if rep["ok"]:
                assert rep["body"]["data"] == data
            if not rep["ok"]:
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert files.ok("store.file_delete", scoped) == {}
    for t in threads:
        t.join(timeout=30)
    stop.set()
    assert codes and set(codes) <= {"ok", "not_found"}, set(codes)
    assert "not_found" in codes


# ------------------------------------------------------ crash and sweeper


def sweeper_env(files, **over):
    env = dict(files.store.env(), STORESVC_WORKERS="2", SWEEP_INTERVAL_SECONDS="1", UPLOAD_PENDING_MAX_SECONDS="2")
    env.update(over)
    return env


def test_storesvc_killed_mid_upload_then_the_sweeper_cleans_up(files, pm, tmp_path):
    """A storesvc SIGKILLed with an upload half done leaves a pending row,
    its parts and the store's upload; a storesvc started again sweeps them
    (and an object no row names) once they are older than the bound."""
    crash = it.Stack(pm, files.db_url, str(tmp_path / "unused"), it.new_secret(), name="crash")
    crash.start_storesvc(SWEEP_INTERVAL_SECONDS="0", **files.store.env())
    u = files.new_user()
    b = files.begin(u["id"], ep=crash.store_ep)
    files.part(b["id"], u["id"], 1, payload(PART), ep=crash.store_ep)
    key = files.key_of(b["id"])
    crash.storesvc.kill()
    assert files.rows(b["id"]) == 1 and files.part_rows(b["id"]) == 1
    upload_id = files.scalar(f"SELECT upload_id FROM files WHERE id = '{b['id']}'")
    assert upload_id in files.store.uploads()
    orphan = "f/" + str(uuid.uuid4())
    files.store.put_object(orphan, b"no row names me")
    files.store.age_object(orphan, 60)
    temp = files.store.leave_temp()

    again = it.Stack(pm, files.db_url, str(tmp_path / "unused2"), it.new_secret(), name="again")
    again.start_storesvc(**sweeper_env(files))
    it.wait_for(lambda: files.rows(b["id"]) == 0, 20, step=0.2, what="the pending row swept")
    assert files.part_rows(b["id"]) == 0
    it.wait_for(lambda: upload_id not in files.store.uploads(), 10, step=0.2, what="the upload aborted")
    it.wait_for(lambda: not files.store.object_exists(orphan), 10, step=0.2, what="the orphan object removed")
    assert not files.store.object_exists(key)
    if temp:
        it.wait_for(lambda: not os.path.exists(temp), 10, step=0.2, what="the stale temporary file removed")
    sweeps = [r for r in again.storesvc.log_records() if r.get("msg") == "sweep done" and r.get("level") == "INFO"]
    assert sweeps and sum(r["pending_rows"] for r in sweeps) >= 1 and sum(r["objects"] for r in sweeps) >= 1
    # a fresh upload is younger than the bound: never touched
    fresh = files.begin(u["id"], ep=again.store_ep)
    time.sleep(1.2)
    assert files.rows(fresh["id"]) == 1
    files.ok("store.file_abort", {"id": fresh["id"], "actor_id": u["id"]}, ep=again.store_ep)
    again.stop()


def test_object_store_down_mid_upload_is_unavailable_then_swept(files, pm, tmp_path):
    """S3 killed mid-upload: unavailable (fast, no crash, health says so);
    once it is back, the sweeper leaves nothing behind. On the local store,
    the directory is not a server that can go away: the test is about S3."""
    if files.store.kind != "s3":
        pytest.skip("an object store that goes away: S3 only")
    svc = it.Stack(pm, files.db_url, str(tmp_path / "unused"), it.new_secret(), name="s3down")
    svc.start_storesvc(**sweeper_env(files, UPLOAD_PENDING_MAX_SECONDS="3", S3_TIMEOUT_MS="2000"))
    u = files.new_user()
    b = files.begin(u["id"], ep=svc.store_ep)
    files.part(b["id"], u["id"], 1, payload(PART), ep=svc.store_ep)
    upload_id = files.scalar(f"SELECT upload_id FROM files WHERE id = '{b['id']}'")
    key = files.key_of(b["id"])
    files.store.server.kill()
    t0 = time.monotonic()
    body = {"id": b["id"], "actor_id": u["id"], "part_no": 2, "data": b"tail"}
    assert files.err("store.file_part", body, ep=svc.store_ep) == "unavailable"
    # the recorded parts add up (part 2 never got through): the store is asked, and is down
    assert files.err("store.file_complete", {"id": b["id"], "actor_id": u["id"], "size": PART,
                                             "sha256": "0" * 64}, ep=svc.store_ep) == "unavailable"
    assert files.err("store.file_begin", {"actor_id": u["id"], "name": "x", "content_type": "a/b"},
                     ep=svc.store_ep) == "unavailable"
    assert time.monotonic() - t0 < 10
    assert files.ok("sys.health", ep=svc.store_ep)["checks"]["objectstore"] == "down"
    assert files.rows(b["id"]) == 1  # nothing lost, nothing half-deleted
    files.store.server.start()
    assert files.ok("sys.health", ep=svc.store_ep)["checks"]["objectstore"] == "ok"
    it.wait_for(lambda: files.rows(b["id"]) == 0, 30, step=0.3, what="the pending row swept")
    it.wait_for(lambda: upload_id not in files.store.uploads(), 10, step=0.3, what="the upload aborted")
    assert not files.store.object_exists(key)
    assert svc.storesvc.alive()
    svc.stop()


def test_health_reports_the_object_store(files):
    assert files.ok("sys.health")["checks"]["objectstore"] == "ok"


# ------------------------------------------------------------------ SigV4


class Recorder:
    """A stand-in S3 endpoint that records every request (method, path,
    query, headers, body) and answers plausibly, keeping objects and parts
    in memory. It checks no signature itself: the test does, with botocore."""

    def __init__(self):
        import http.server

        self.requests = []
        self.objects, self.parts = {}, {}
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path, _, query = self.path.partition("?")
                rec.requests.append({"method": self.command, "path": path, "query": query,
                                     "headers": dict(self.headers.items()), "body": body})
                self._answer(*rec.answer(self.command, path, query, body, self.headers))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, method, path, query, body, headers):
        from urllib.parse import parse_qs

        q = parse_qs(query, keep_blank_values=True)
        parts = path.strip("/").split("/", 1)
        key = parts[1] if len(parts) > 1 else None
        xml = {"Content-Type": "application/xml"}
        if key is None:
            if "uploads" in q:
                return 200, b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>", xml
            if method == "GET":
                return 200, b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>", xml
            return 200, b""
        if method == "POST" and "uploads" in q:
            return 200, b"<InitiateMultipartUploadResult><UploadId>rec-upload-1</UploadId></InitiateMultipartUploadResult>", xml
        if method == "PUT" and "partNumber" in q:
            self.parts[(key, int(q["partNumber"][0]))] = body
            return 200, b"", {"ETag": '"etag-%s"' % q["partNumber"][0]}
        if method == "POST" and "uploadId" in q:
            n = len([k for k in self.parts if k[0] == key])
            self.objects[key] = b"".join(self.parts[(key, i)] for i in range(1, n + 1))
            return 200, b"<CompleteMultipartUploadResult><Key>%s</Key></CompleteMultipartUploadResult>" % key.encode(), xml
        if method == "GET" and key in self.objects:
            data = self.objects[key]
            a, b = headers["Range"].split("=")[1].split("-")
            chunk = data[int(a):int(b) + 1]
            return 206, chunk, {"Content-Range": f"bytes {a}-{int(a) + len(chunk) - 1}/{len(data)}"}
        if method == "DELETE":
            self.objects.pop(key, None)
            return 204, b""
        return 404, b"<Error><Code>NoSuchKey</Code></Error>", xml

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def verify_sigv4(rec, key_id, secret, region):
    """Recomputes the request's signature with botocore from what was
    recorded and the test's credentials; returns the signed header names."""
    import re as _re

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    h = {k.lower(): v for k, v in rec["headers"].items()}
    m = _re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                      r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", h["authorization"])
    assert m, h["authorization"]
    assert m.group(1) == key_id and m.group(3) == region and h["x-amz-date"].startswith(m.group(2))
    signed = m.group(4).split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256"} <= set(signed), signed
    # every header the request carries is signed, but for the transport's own
    unsigned = set(h) - set(signed) - {"authorization", "content-length", "accept", "expect"}
    assert not unsigned, f"{rec['method']} {rec['path']}: unsigned headers {unsigned}"
    assert h["x-amz-content-sha256"] == hashlib.sha256(rec["body"]).hexdigest()
    url = f"http://{h['host']}{rec['path']}" + (f"?{rec['query']}" if rec["query"] else "")
    req = AWSRequest(method=rec["method"], url=url, data=rec["body"], headers={k: h[k] for k in signed})
    req.context["timestamp"] = h["x-amz-date"]
    signer = S3SigV4Auth(Credentials(key_id, secret), "s3", region)
    canonical = signer.canonical_request(req)
    want = signer.signature(signer.string_to_sign(req, canonical), req)
    assert want == m.group(5), f"{rec['method']} {rec['path']}?{rec['query']}: signature mismatch\n{canonical}"
    return signed


def test_every_s3_request_is_signed_correctly(files_db, pm, tmp_path):
    """storesvc against a recording endpoint: begin, two parts, complete,
    ranged reads, delete, health, a sweep. Every request's Authorization
    header is recomputed with botocore's SigV4 signer and must match; the
    payload hash is the body's real SHA-256; the secret is never logged."""
    rec = Recorder()
    key_id, secret, region = "AKIDRECORDER", "rec/secret+Key=42", "eu-central-1"
    try:
        svc = it.Stack(pm, files_db, str(tmp_path / "unused"), it.new_secret(), name="sigv4")
        svc.start_storesvc(OBJECT_STORE_URL="s3://rec-bucket", S3_ENDPOINT_URL=f"http://127.0.0.1:{rec.port}",
                           S3_REGION=region, S3_ACCESS_KEY_ID=key_id, S3_SECRET_ACCESS_KEY=secret,
                           SWEEP_INTERVAL_SECONDS="1", UPLOAD_PENDING_MAX_SECONDS="3600")
        f = Files(svc, files_db, None)
        u = f.new_user()
        data = payload(PART + 100)
        b = f.begin(u["id"], name="signed.bin")
        f.part(b["id"], u["id"], 1, data[:PART])
        f.part(b["id"], u["id"], 2, data[PART:])
        done = f.complete(b["id"], u["id"], data)
        assert f.read_all(done["id"], u["id"], chunk=3 * MiB)[0] == data
        assert f.ok("sys.health")["checks"]["objectstore"] == "ok"
        it.wait_for(lambda: any("list-type=2" in r["query"] for r in rec.requests), 10, what="a sweep listing")
        it.wait_for(lambda: any(r["query"].endswith("uploads=") and r["method"] == "GET" for r in rec.requests),
                    10, what="a sweep of uploads")
        f.ok("store.file_delete", {"id": done["id"], "actor_id": u["id"], "actor_role": "user"})
        svc.stop()
        kinds = set()
        for r in list(rec.requests):
            verify_sigv4(r, key_id, secret, region)
            kinds.add((r["method"], r["query"].split("=")[0] if r["query"] else ""))
        assert {("POST", "uploads"), ("PUT", "partNumber"), ("POST", "uploadId"), ("GET", ""),
                ("DELETE", ""), ("HEAD", "")} <= kinds, kinds
        assert secret not in svc.storesvc.log_text(whole=True)
    finally:
        rec.close()


# ---------------------------------------------------------- /admin/stats


def test_admin_stats_count_uploaded_files_end_to_end(pg, pm, jwt_secret, tmp_path):
    """What the gateway's /admin/stats shows (through auth.stats and
    store.stats) follows uploads made over storesvc's file ops. A database
    of its own: the owner bootstrap needs one without an admin."""
    import authutil as au

    db = au.fresh_database(pg, "files_stats")
    s = au.start_stack(pm, db, jwt_secret, tmp_path, "stats", storesvc={"SWEEP_INTERVAL_SECONDS": "0"})
    admin = au.new_user(s, role="admin")
    before = au.get(s, "/admin/stats", token=admin.access).json()
    f = Files(s, db, None)
    owner = f.new_user()
    done = f.upload(owner["id"], payload(777))
    f.begin(owner["id"])  # pending: not counted
    after = au.get(s, "/admin/stats", token=admin.access).json()
    assert after["files"] == before["files"] + 1, (before, after)
    assert after["bytes_stored"] == before["bytes_stored"] + 777, (before, after)
    f.ok("store.file_delete", {"id": done["id"], "actor_id": admin.id, "actor_role": "admin"})
    last = au.get(s, "/admin/stats", token=admin.access).json()
    assert (last["files"], last["bytes_stored"]) == (before["files"], before["bytes_stored"])
    s.stop()
