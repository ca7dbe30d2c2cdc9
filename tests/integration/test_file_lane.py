"""File transfers on their own workers in storesvc (STORESVC_FILE_WORKERS,
the slow lane of proto_server): while every file worker waits on an object
store that stopped answering (s3rver stopped with SIGSTOP: it still accepts
connections, it answers nothing), account reads (GET /api/v1/users/me, a
storesvc query) are still answered at once, and once the store answers
again the uploads that waited finish."""

import concurrent.futures
import os
import secrets
import signal
import time

import pytest
import requests

import authutil as au
import filestores
import restc_it as it

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def db(pg):
    url = filestores.fresh_database(pg, "filelane")
    yield url
    filestores.drop_database(pg, url)


def test_account_reads_do_not_wait_behind_file_transfers(tmp_path_factory, db, jwt_secret):
    root = str(tmp_path_factory.mktemp("filelane"))
    pm = it.ProcManager(os.path.join(root, "logs"))
    store = filestores.make_store("s3", pm, os.path.join(root, "store"))
    stack = it.Stack(pm, db, os.path.join(root, "unused"), jwt_secret, name="filelane")
    stack.env_over["storesvc"].update(store.env(), STORESVC_WORKERS="2", STORESVC_FILE_WORKERS="2",
                                      S3_TIMEOUT_MS="30000", SWEEP_INTERVAL_SECONDS="0")
    stack.env_over["authsvc"].update(au.auth_env())
    stack.env_over["gateway"].update(MAX_UPLOAD_BYTES=str(64 * MiB), UPLOAD_ALLOWED_TYPES="application/octet-stream",
                                     GATEWAY_REQUEST_TIMEOUT_SECONDS="60", GATEWAY_FILE_TIMEOUT_MS="45000")
    stopped = False
    try:
        store.start()
        stack.start_all()
        stack.wait_healthy()
        u = au.new_user(stack)
        h = {"Authorization": f"Bearer {u.access}"}
        data = secrets.token_bytes(6 * MiB)

        def upload(i):
            return requests.post(stack.url("/api/v1/files"), params={"name": f"lane{i}.bin"}, data=data,
                                 headers={**h, "Content-Type": "application/octet-stream"}, timeout=90)

        store.server.proc.signal(signal.SIGSTOP)
        stopped = True
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            uploads = [ex.submit(upload, i) for i in range(4)]
            time.sleep(1.5)  # the uploads have reached storesvc, which waits on the store
            assert not any(f.done() for f in uploads), [f.result().status_code for f in uploads if f.done()]
            for _ in range(5):
                t0 = time.monotonic()
                r = requests.get(stack.url("/api/v1/users/me"), headers=h, timeout=30)
                took = time.monotonic() - t0
                assert r.status_code == 200, r.text
                assert took < 2.0, f"/users/me took {took:.1f} s behind the file transfers"
            store.server.proc.signal(signal.SIGCONT)
            stopped = False
            answers = [f.result() for f in uploads]
        assert [a.status_code for a in answers] == [201] * 4, [a.text[:200] for a in answers]
        stack.stop()
        store.stop()
    finally:
        if stopped:
            store.server.proc.signal(signal.SIGCONT)
        pm.cleanup()
