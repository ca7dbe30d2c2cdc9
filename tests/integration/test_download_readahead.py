"""Download read-ahead under its gateway-wide budget
(GATEWAY_DOWNLOAD_READAHEAD_MIB): with one chunk of budget for the whole
gateway, eight concurrent downloads of a file of several chunks (and of
ranges inside it) are still byte-identical, the budget in use
(restc_download_readahead_bytes) never passes one chunk and is back to 0
once they are done, also after clients that went away halfway (while they
stall, what they hold read ahead is within the budget); with no budget at
all (0) a download reads one chunk at a time and is still whole. Reads grow
from GW_DOWNLOAD_FIRST_CHUNK_BYTES to a full chunk, so what a stalled
download holds ahead depends on where its client stopped reading.
"""

import concurrent.futures
import hashlib
import os
import socket
import threading
import time

import pytest
import requests

import authutil as au
import filestores
import restc_it as it

MiB = 1024 * 1024
CHUNK = 8 * MiB  # GW_DOWNLOAD_CHUNK_BYTES
SIZE = 3 * CHUNK + 12345  # four chunks, the last one short
GAUGE = ("restc_download_readahead_bytes", "")


def make_stack(tmp_path_factory, db, secret, budget_mib):
    root = str(tmp_path_factory.mktemp(f"readahead{budget_mib}"))
    pm = it.ProcManager(os.path.join(root, "logs"))
    stack = it.Stack(pm, db, os.path.join(root, "objects"), secret, name=f"ra{budget_mib}")
    stack.env_over["authsvc"].update(au.auth_env())
    stack.env_over["gateway"].update(
        MAX_UPLOAD_BYTES=str(64 * MiB), GATEWAY_DOWNLOAD_READAHEAD_MIB=str(budget_mib),
        UPLOAD_ALLOWED_TYPES="application/octet-stream")
    return pm, stack


@pytest.fixture(scope="module")
def db(pg):
    url = filestores.fresh_database(pg, "readahead")
    yield url
    filestores.drop_database(pg, url)


@pytest.fixture(scope="module", params=[8, 0], ids=["budget-one-chunk", "no-budget"])
def ra(request, tmp_path_factory, db, jwt_secret):
    pm, stack = make_stack(tmp_path_factory, db, jwt_secret, request.param)
    try:
        stack.start_all()
        stack.wait_healthy()
        u = au.new_user(stack)
        data = os.urandom(SIZE)
        r = requests.post(stack.url("/api/v1/files"), params={"name": "big.bin"}, data=data, timeout=120,
                          headers={"Authorization": f"Bearer {u.access}",
                                   "Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        yield stack, u, data, r.json()["id"], request.param
        stack.stop()
    finally:
        pm.cleanup()


def gauge(stack):
    return it.metrics_samples(stack.metrics("gateway"))[GAUGE]


def get(stack, u, fid, rng=None):
    h = {"Authorization": f"Bearer {u.access}"}
    if rng:
        h["Range"] = rng
    return requests.get(stack.url(f"/api/v1/files/{fid}/content"), headers=h, timeout=120)


def watch_gauge(stack, stop, seen):
    while not stop.is_set():
        seen.append(gauge(stack))
        time.sleep(0.005)


def test_concurrent_downloads_stay_whole_and_within_the_budget(ra):
    stack, u, data, fid, budget = ra
    assert gauge(stack) == 0
    jobs = [None, None, None, None, "bytes=100-", f"bytes={CHUNK - 1}-{2 * CHUNK + 1}", "bytes=-9000000",
            f"bytes=0-{SIZE - 1}"]
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=watch_gauge, args=(stack, stop, seen))
    watcher.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
            answers = list(ex.map(lambda rng: (rng, get(stack, u, fid, rng)), jobs))
    finally:
        stop.set()
        watcher.join()
    for rng, r in answers:
        if rng is None:
            assert r.status_code == 200 and r.content == data
            continue
        assert r.status_code == 206, (rng, r.status_code)
        first, last = (int(x) for x in r.headers["Content-Range"].split()[1].split("/")[0].split("-"))
        assert r.content == data[first:last + 1], rng
    assert hashlib.sha256(answers[0][1].content).hexdigest() == answers[0][1].headers["ETag"].strip('"')
    assert seen and max(seen) <= budget * MiB, max(seen)
    it.wait_for(lambda: gauge(stack) == 0, 10, what="read-ahead budget given back")


def test_clients_gone_halfway_give_the_budget_back(ra):
    stack, u, data, fid, budget = ra
    host, port = "127.0.0.1", stack.http_port
    socks = []
    for _ in range(4):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(f"GET /api/v1/files/{fid}/content HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {u.access}\r\n\r\n".encode())
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        socks.append(s)  # and read no more: the gateway waits on a full socket
    # The stalled downloads hold what they read ahead of their clients: some
    # of the budget when there is one, never more than it; nothing without.
    if budget:
        it.wait_for(lambda: gauge(stack) > 0, 10, what="bytes read ahead")
    time.sleep(0.3)
    held = gauge(stack)
    assert (0 < held <= budget * MiB) if budget else held == 0, held
    for s in socks:
        s.close()
    it.wait_for(lambda: gauge(stack) == 0, 20, what="read-ahead budget given back")
    assert get(stack, u, fid).content == data  # and downloads still work
