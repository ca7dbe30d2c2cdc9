"""Files over HTTP, end to end through the gateway, authsvc and storesvc,
each test against both object stores (a local directory and s3rver).

Uploads: raw bodies and multipart forms, 1 byte to exactly
MAX_UPLOAD_BYTES, byte-identical downloads with the right SHA-256; over the
limit (declared, announced without a body, or chunked) 413 with nothing
left behind; a client gone halfway leaves nothing; 415 for types outside
UPLOAD_ALLOWED_TYPES and for markup under another type; empty 422.
Downloads: ETag/304, Range 206/416, attachments with nosniff. Access:
another user's file is 404 everywhere, moderators and admins see all.
"Nothing left behind" is checked in the database (pending rows) and in the
object store itself (objects, open multipart uploads).
"""

import concurrent.futures
import hashlib
import os
import secrets
import socket
import time

import pytest
import requests

import authutil as au
import filestores
import restc_it as it

MiB = 1024 * 1024
MAX_UPLOAD = 11 * MiB + 7  # three parts of the gateway's 5 MiB
ALLOWED = "image/png,image/jpeg,application/pdf,text/plain,application/octet-stream,text/html,image/svg+xml"


class FileStack:
    def __init__(self, stack, db_url, store):
        self.s = stack
        self.db_url = db_url
        self.store = store

    def url(self, path):
        return self.s.url("/api/v1" + path)

    def pending_rows(self):
        return int(filestores.sql(self.db_url, "SELECT count(*) FROM files WHERE status <> 'ready'")[0][0])

    def ready_rows(self):
        return int(filestores.sql(self.db_url, "SELECT count(*) FROM files WHERE status = 'ready'")[0][0])

    def snapshot(self):
        return (set(self.store.object_keys()), set(self.store.uploads()), self.pending_rows())

    def assert_nothing_left(self, before, timeout=15):
        """No new object, no open upload, no pending row (abort may finish a
        moment after the answer, so wait a little)."""
        objs, ups, _ = before

        def clean():
            o, u, p = self.snapshot()
            return (o - objs, u - ups, p) == (set(), set(), 0) or None

        it.wait_for(clean, timeout, step=0.2, what="nothing left behind")


@pytest.fixture(scope="module")
def fdb(pg):
    url = filestores.fresh_database(pg, "files_http")
    yield url
    filestores.drop_database(pg, url)


@pytest.fixture(scope="module", params=["local", "s3"])
def fs(request, fdb, jwt_secret, tmp_path_factory):
    root = str(tmp_path_factory.mktemp(f"fhttp-{request.param}"))
    pm = it.ProcManager(os.path.join(root, "logs"))
    store = filestores.make_store(request.param, pm, os.path.join(root, "store"))
    stack = it.Stack(pm, fdb, os.path.join(root, "unused"), jwt_secret, name=f"fhttp-{request.param}")
    stack.env_over["storesvc"].update(store.env(), STORESVC_WORKERS="4", SWEEP_INTERVAL_SECONDS="0")
    stack.env_over["authsvc"].update(au.auth_env())
    stack.env_over["gateway"].update(
        MAX_UPLOAD_BYTES=str(MAX_UPLOAD), UPLOAD_ALLOWED_TYPES=ALLOWED, RPC_TIMEOUT_MS="15000",
        GATEWAY_REQUEST_TIMEOUT_SECONDS="60")
    try:
        store.start()
        stack.start_all()
        stack.wait_healthy()
        yield FileStack(stack, fdb, store)
        stack.stop()
        store.stop()
    finally:
        pm.cleanup()


@pytest.fixture
def user(fs):
    return au.new_user(fs.s)


def auth(u):
    return {"Authorization": f"Bearer {u.access}"}


def upload_raw(fs, u, data, name="data.bin", ctype="application/octet-stream", **kw):
    h = {"Content-Type": ctype, **auth(u)}
    return requests.post(fs.url("/files"), params={"name": name}, data=data, headers=h, timeout=120, **kw)


def upload_form(fs, u, data, filename="form.bin", ctype="application/octet-stream", name=None):
    files = {"file": (filename, data, ctype)}
    params = {"name": name} if name else None
    return requests.post(fs.url("/files"), params=params, files=files, headers=auth(u), timeout=120)


def download(fs, u, fid, headers=None):
    return requests.get(fs.url(f"/files/{fid}/content"), headers={**auth(u), **(headers or {})}, timeout=120)


def check_file(f, data, name, ctype):
    assert set(f) == {"id", "name", "content_type", "size", "sha256", "owner_id", "created_at"}, f
    assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest(), f
    assert f["name"] == name and f["content_type"] == ctype, f


# ------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", [1, 5 * MiB + 1, MAX_UPLOAD], ids=["1B", "5MiB+1", "max"])
def test_raw_upload_and_download_are_byte_identical(fs, user, size):
    data = secrets.token_bytes(size)
    r = upload_raw(fs, user, data, name="raw.bin")
    assert r.status_code == 201, r.text
    f = r.json()
    check_file(f, data, "raw.bin", "application/octet-stream")
    d = download(fs, user, f["id"])
    assert d.status_code == 200, d.text[:300]
    assert d.content == data
    assert d.headers["Content-Length"] == str(size)
    assert d.headers["ETag"] == f'"{f["sha256"]}"'
    assert d.headers["Content-Disposition"].startswith("attachment"), d.headers
    assert d.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(fs.url(f"/files/{f['id']}"), headers=auth(user), timeout=10).json() == f


@pytest.mark.parametrize("size", [1, 6 * MiB], ids=["1B", "6MiB"])
def test_multipart_upload_round_trip(fs, user, size):
    data = secrets.token_bytes(size)
    r = upload_form(fs, user, data, filename="photo.png", ctype="image/png")
    assert r.status_code == 201, r.text
    f = r.json()
    check_file(f, data, "photo.png", "image/png")
    assert download(fs, user, f["id"]).content == data


def test_file_holding_an_s3_error_document_downloads_as_it_is(fs, user):
    """The bytes of a file are never read as the object store's answer: an
    S3 error document inside a file (a 200 answer's body) is just data."""
    doc = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>'
    data = secrets.token_bytes(1000) + doc + secrets.token_bytes(3 * MiB)
    r = upload_raw(fs, user, data, name="errdoc.bin")
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    d = download(fs, user, fid)
    assert d.status_code == 200, d.text[:300]
    assert d.content == data
    d = download(fs, user, fid, {"Range": f"bytes=1000-{1000 + len(doc) - 1}"})
    assert d.status_code == 206 and d.content == doc, (d.status_code, d.content[:100])


def test_concurrent_uploads_of_several_parts_are_whole(fs, user):
    """Six uploads of three parts at once: parts of one upload travel
    together while the gateway-wide budget of extra parts lasts, and every
    file comes back byte for byte."""
    blobs = [secrets.token_bytes(MAX_UPLOAD - i) for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(len(blobs)) as ex:
        answers = list(ex.map(lambda b: upload_raw(fs, user, b, name="many.bin"), blobs))
    for data, r in zip(blobs, answers):
        assert r.status_code == 201, r.text
        f = r.json()
        assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
        assert download(fs, user, f["id"]).content == data


def test_chunked_upload_round_trip(fs, user):
    data = secrets.token_bytes(7 * MiB + 3)

    def gen():
        for i in range(0, len(data), 100_000):
            yield data[i:i + 100_000]

    r = upload_raw(fs, user, gen(), name="chunked.bin")
    assert r.status_code == 201, r.text
    assert download(fs, user, r.json()["id"]).content == data


# ---------------------------------------------------------------- limits


def test_one_byte_over_the_limit_is_413_and_nothing_stored(fs, user):
    before = fs.snapshot()
    r = upload_raw(fs, user, secrets.token_bytes(MAX_UPLOAD + 1))
    au.assert_problem(r, 413, "payload_too_large")
    fs.assert_nothing_left(before)


def raw_exchange(fs, head, body=b"", wait=10.0):
    s = socket.create_connection(("127.0.0.1", fs.s.http_port), timeout=wait)
    try:
        s.sendall(head + body)
        return it.read_response(s, timeout=wait)
    finally:
        s.close()


def test_huge_content_length_is_413_without_sending_the_body(fs, user):
    head = (f"POST /api/v1/files?name=big.bin HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {user.access}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {50 * 1024 ** 3}\r\n\r\n").encode()
    t0 = time.monotonic()
    resp = raw_exchange(fs, head)
    assert resp is not None and resp.status == 413, resp
    assert time.monotonic() - t0 < 5
    # With Expect: 100-continue no "100 Continue" comes first.
    resp = raw_exchange(fs, head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
    assert resp is not None and resp.status == 413, resp


def test_chunked_body_over_the_limit_is_413_midstream_and_nothing_left(fs, user):
    before = fs.snapshot()
    chunk = secrets.token_bytes(MiB)

    def gen():
        for _ in range(MAX_UPLOAD // MiB + 3):
            yield chunk

    try:
        r = upload_raw(fs, user, gen(), name="over.bin")
        au.assert_problem(r, 413, "payload_too_large")
    except requests.ConnectionError:
        pass  # the gateway answered and closed while the client was still sending
    fs.assert_nothing_left(before)


def test_client_gone_halfway_leaves_nothing(fs, user):
    before = fs.snapshot()
    total = 10 * MiB
    head = (f"POST /api/v1/files?name=half.bin HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {user.access}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {total}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", fs.s.http_port), timeout=30)
    s.sendall(head + secrets.token_bytes(6 * MiB))  # a part has gone to storesvc by now
    time.sleep(1.0)
    s.close()
    fs.assert_nothing_left(before, timeout=30)


# ----------------------------------------------------------------- types


@pytest.mark.parametrize("ctype", ["application/x-msdownload", "video/mp4", "text/html2"])
def test_type_outside_the_list_is_415(fs, user, ctype):
    before = fs.snapshot()
    r = upload_raw(fs, user, b"MZ\x90\x00 some bytes", ctype=ctype)
    au.assert_problem(r, 415, "unsupported_media_type")
    fs.assert_nothing_left(before)


@pytest.mark.parametrize("body", [b"<html><script>alert(1)</script></html>", b"  <svg onload=alert(1)>",
                                  b"<?xml version='1.0'?><x/>", b"\xef\xbb\xbf<!DOCTYPE html><p>"])
def test_markup_disguised_as_an_image_is_415(fs, user, body):
    before = fs.snapshot()
    au.assert_problem(upload_raw(fs, user, body, ctype="image/png"), 415, "unsupported_media_type")
    au.assert_problem(upload_form(fs, user, body, ctype="image/png"), 415, "unsupported_media_type")
    fs.assert_nothing_left(before)


def test_empty_file_is_422(fs, user):
    au.assert_problem(upload_raw(fs, user, b""), 422, "validation_error")
    au.assert_problem(upload_form(fs, user, b""), 422, "validation_error")


def test_raw_upload_needs_a_name_and_a_form_one_file_part(fs, user):
    r = requests.post(fs.url("/files"), data=b"x", headers={"Content-Type": "text/plain", **auth(user)}, timeout=10)
    p = au.assert_problem(r, 422, "validation_error")
    assert p["errors"][0]["field"] == "name", p
    two = {"file": ("a.txt", b"a", "text/plain"), "other": ("b.txt", b"b", "text/plain")}
    r = requests.post(fs.url("/files"), files=two, headers=auth(user), timeout=10)
    au.assert_problem(r, 422, "validation_error")
    r = requests.post(fs.url("/files"), data={"field": "no file"}, headers=auth(user), timeout=10)
    assert r.status_code in (415, 422), r.text  # urlencoded form: not an accepted type


def test_html_and_svg_are_served_as_attachments_with_nosniff(fs, user):
    for ctype, body in (("text/html", b"<html><script>alert(1)</script></html>"),
                        ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>")):
        r = upload_raw(fs, user, body, name="page", ctype=ctype)
        assert r.status_code == 201, r.text
        d = download(fs, user, r.json()["id"])
        assert d.status_code == 200 and d.content == body
        assert d.headers["Content-Disposition"].startswith("attachment;"), d.headers
        assert d.headers["X-Content-Type-Options"] == "nosniff"
        assert d.headers["Content-Type"] == "application/octet-stream", d.headers
        assert "default-src 'none'" in d.headers["Content-Security-Policy"]


# ----------------------------------------------------------------- names


@pytest.mark.parametrize("raw,check", [
    ("../../x", lambda n: n == "x"),
    ("a\x00b.txt", lambda n: n == "ab.txt"),
    ("evil\r\nSet-Cookie: a=b.txt", lambda n: "\r" not in n and "\n" not in n),
    ("n" * 4096 + ".txt", lambda n: len(n.encode()) <= 255 and n.endswith(".txt")),
    ("invoice\u202egnp.exe", lambda n: "\u202e" not in n),
    ("caf\u00e9 menu.pdf", lambda n: n == "caf\u00e9 menu.pdf"),
])
def test_names_are_sanitised(fs, user, raw, check):
    r = upload_raw(fs, user, b"hello", name=raw, ctype="text/plain")
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    assert check(name), repr(name)
    assert "/" not in name and "\\" not in name
    d = download(fs, user, r.json()["id"])
    cd = d.headers["Content-Disposition"]
    assert "\r" not in cd and "\n" not in cd
    if not name.isascii():
        assert "filename*=UTF-8''" in cd, cd


# ------------------------------------------------------- ETag and ranges


def test_etag_and_304(fs, user):
    r = upload_raw(fs, user, b"cache me", ctype="text/plain")
    f = r.json()
    d = download(fs, user, f["id"], {"If-None-Match": f'"{f["sha256"]}"'})
    assert d.status_code == 304 and d.content == b"", d
    assert d.headers["ETag"] == f'"{f["sha256"]}"'
    d = download(fs, user, f["id"], {"If-None-Match": '"other", W/"' + f["sha256"] + '"'})
    assert d.status_code == 304
    assert download(fs, user, f["id"], {"If-None-Match": '"nope"'}).status_code == 200


def test_ranges(fs, user):
    data = secrets.token_bytes(3 * MiB + 17)
    f = upload_raw(fs, user, data).json()
    size = len(data)
    for rng, lo, hi in (("bytes=0-9", 0, 9), ("bytes=100-", 100, size - 1), ("bytes=-5", size - 5, size - 1),
                        (f"bytes={size - 3}-{size + 100}", size - 3, size - 1), ("bytes=-999999999", 0, size - 1)):
        d = download(fs, user, f["id"], {"Range": rng})
        assert d.status_code == 206, (rng, d.status_code)
        assert d.content == data[lo:hi + 1], rng
        assert d.headers["Content-Range"] == f"bytes {lo}-{hi}/{size}", (rng, d.headers)
    for rng in (f"bytes={size}-", "bytes=-0"):
        d = download(fs, user, f["id"], {"Range": rng})
        au.assert_problem(d, 416, "range_not_satisfiable")
        assert d.headers["Content-Range"] == f"bytes */{size}"
    d = download(fs, user, f["id"], {"Range": "bytes=0-1,5-6"})
    assert d.status_code == 200 and d.content == data  # several ranges: the whole file
    h = requests.head(fs.url(f"/files/{f['id']}/content"), headers=auth(user), timeout=10)
    assert h.status_code == 200 and h.headers["Content-Length"] == str(size) and h.content == b""


# ---------------------------------------------------------------- access


def test_another_users_file_is_404_everywhere(fs, user):
    f = upload_raw(fs, user, b"mine", ctype="text/plain").json()
    other = au.new_user(fs.s)
    for method, path in (("GET", f"/files/{f['id']}"), ("GET", f"/files/{f['id']}/content"),
                         ("DELETE", f"/files/{f['id']}")):
        r = requests.request(method, fs.url(path), headers=auth(other), timeout=10)
        au.assert_problem(r, 404, "not_found")
    listed = requests.get(fs.url("/files"), headers=auth(other), timeout=10).json()
    assert all(x["id"] != f["id"] for x in listed["files"])
    assert download(fs, user, f["id"]).status_code == 200  # still there


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_moderators_and_admins_see_and_delete_all(fs, user, role):
    f = upload_raw(fs, user, b"for staff", ctype="text/plain").json()
    staff = au.new_user(fs.s, role=role)
    assert requests.get(fs.url(f"/files/{f['id']}"), headers=auth(staff), timeout=10).status_code == 200
    assert download(fs, staff, f["id"]).content == b"for staff"
    listed = requests.get(fs.url("/files?per_page=100"), headers=auth(staff), timeout=10).json()
    assert listed["total"] >= 1 and set(listed) == {"files", "total", "page", "per_page", "pages"}
    r = requests.delete(fs.url(f"/files/{f['id']}"), headers=auth(staff), timeout=10)
    assert r.status_code == 204, r.text
    au.assert_problem(download(fs, user, f["id"]), 404, "not_found")


def test_viewer_cannot_upload(fs):
    v = au.new_user(fs.s, role="viewer")
    au.assert_problem(upload_raw(fs, v, b"x", ctype="text/plain"), 403, "forbidden")


def test_delete_removes_object_and_row(fs, user):
    f = upload_raw(fs, user, b"delete me", ctype="text/plain").json()
    objs_before = set(fs.store.object_keys())
    r = requests.delete(fs.url(f"/files/{f['id']}"), headers=auth(user), timeout=10)
    assert r.status_code == 204
    assert len(objs_before - set(fs.store.object_keys())) == 1
    au.assert_problem(requests.get(fs.url(f"/files/{f['id']}"), headers=auth(user), timeout=10), 404, "not_found")


def test_user_delete_removes_their_objects(fs):
    u = au.new_user(fs.s)
    objs0 = set(fs.store.object_keys())
    ids = [upload_raw(fs, u, secrets.token_bytes(1000), ctype="text/plain").json()["id"] for _ in range(3)]
    assert len(set(fs.store.object_keys()) - objs0) == 3
    owner = au.owner_access(fs.s)
    r = requests.delete(fs.s.url(f"/api/v1/users/{u.info['id']}"), headers={"Authorization": f"Bearer {owner}"},
                        timeout=10)
    assert r.status_code == 204, r.text
    it.wait_for(lambda: not (set(fs.store.object_keys()) - objs0), 15, what="objects of the deleted user gone")
    for fid in ids:
        assert int(filestores.sql(fs.db_url, f"SELECT count(*) FROM files WHERE id = '{fid}'")[0][0]) == 0


def test_list_is_paginated(fs):
    u = au.new_user(fs.s)
    for i in range(5):
        upload_raw(fs, u, b"p%d" % i, name=f"p{i}.txt", ctype="text/plain")
    page = requests.get(fs.url("/files?page=2&per_page=2"), headers=auth(u), timeout=10).json()
    assert page["total"] == 5 and page["pages"] == 3 and page["page"] == 2 and len(page["files"]) == 2
    au.assert_problem(requests.get(fs.url("/files?page=0"), headers=auth(u), timeout=10), 400, "bad_request")


def test_object_store_down_mid_upload_is_503_then_nothing_left(fs, user):
    if fs.store.kind != "s3":
        pytest.skip("a local directory cannot go away like a server")
    before = fs.snapshot()
    data = secrets.token_bytes(8 * MiB)

    def gen():
        yield data[:5 * MiB]
        time.sleep(0.5)
        fs.store.server.kill()
        yield data[5 * MiB:]

    try:
        r = upload_raw(fs, user, gen(), name="s3down.bin")
        au.assert_problem(r, 503, "unavailable")
    finally:
        fs.store.server.start()
    # The abort during the outage may have failed: the sweeper cleans up
    # (this module runs it only by hand: restart storesvc with a fast sweep).
    fs.s.storesvc.terminate()
    fs.s.start_storesvc(SWEEP_INTERVAL_SECONDS="1", UPLOAD_PENDING_MAX_SECONDS="1")
    fs.assert_nothing_left(before, timeout=60)
    fs.s.storesvc.terminate()
    fs.s.start_storesvc()
    fs.s.wait_healthy()
