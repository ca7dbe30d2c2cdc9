"""Prometheus metrics of authsvc and storesvc on their own METRICS_PORT: the
exposition passes promtool, counters move by exactly the traffic a test
drives (registrations, failed logins, file uploads), random op names over
ZeroMQ add no series, METRICS_PORT=off opens no listener, and every RPC
request logs one line carrying the gateway's request id.
"""

import re
import secrets
import shutil
import socket
import subprocess

import msgpack
import pytest
import zmq

import authutil as au
import restc_it as it

PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module")
def sdb(pg):
    return au.fresh_database(pg, "svcmetrics")


@pytest.fixture(scope="module")
def st(sdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, sdb, jwt_secret, "svcmetrics")


samples = it.metrics_samples  # {(name, labels-string): value}


def value(text, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`; 0 if none."""
    total = 0.0
    for (n, lab), v in samples(text).items():
        if n != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', lab))
        if all(got.get(k) == v for k, v in labels.items()):
            total += v
    return total


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


COMMON = ("restc_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes",
          "process_open_fds", "process_start_time_seconds", "restc_rpc_requests_total",
          "restc_rpc_request_duration_seconds", "restc_rpc_requests_in_flight",
          "restc_rpc_dropped_frames_total", "restc_rpc_slow_refused_total",
          "restc_rpc_slow_queue_wait_seconds", "restc_rpc_slow_queue_depth")
FAMILIES = {
    "authsvc": COMMON + ("restc_auth_logins_total", "restc_auth_login_limiter_blocks_total",
                         "restc_auth_token_verifications_total", "restc_auth_rate_limited_total",
                         "restc_auth_login_blocked_sources", "restc_auth_user_cache_hits_total",
                         "restc_auth_user_cache_misses_total", "restc_auth_token_cache_hits_total",
                         "restc_auth_token_cache_misses_total", "restc_auth_apikey_cache_hits_total",
                         "restc_auth_apikey_cache_misses_total", "restc_auth_mail_queue_depth",
                         "restc_auth_mail_queue_dropped_total"),
    "storesvc": COMMON + ("restc_store_db_query_duration_seconds", "restc_store_db_connections_in_use",
                          "restc_store_db_connections", "restc_store_object_request_duration_seconds",
                          "restc_store_object_request_errors_total"),
}


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus) is not installed")
@pytest.mark.parametrize("svc", ["authsvc", "storesvc"])
def test_exposition_passes_promtool(st, svc):
    au.new_user(st)  # traffic on both, so labelled families have series
    text = st.metrics(svc)
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    assert not p.stdout.strip() and not p.stderr.strip(), p.stdout.decode() + p.stderr.decode()
    for family in FAMILIES[svc]:
        assert f"# TYPE {family} " in text, family
        assert f"# HELP {family} " in text, family
    assert value(text, "restc_build_info", service=svc) == 1


def test_registrations_and_failed_logins_count_exactly(st):
    n_reg, m_bad = 3, 4
    a0, s0 = st.metrics("authsvc"), st.metrics("storesvc")
    users = []
    for _ in range(n_reg):
        name, pw = au.fresh_name(), au.strong_password()
        r = au.register(st, name, pw)
        assert r.status_code == 201, r.text
        users.append((name, pw))
    for i in range(m_bad):
        r = au.token(st, users[i % n_reg][0], "wrong-" + secrets.token_hex(8))
        assert r.status_code == 401, r.text
    a1, s1 = st.metrics("authsvc"), st.metrics("storesvc")
    assert delta(a0, a1, "restc_rpc_requests_total", op="auth.register", outcome="ok") == n_reg
    assert delta(a0, a1, "restc_rpc_request_duration_seconds_count", op="auth.register") == n_reg
    assert delta(a0, a1, "restc_auth_logins_total", outcome="invalid_credentials") == m_bad
    assert delta(a0, a1, "restc_auth_logins_total", outcome="ok") == 0
    assert delta(a0, a1, "restc_rpc_requests_total", op="auth.token", outcome="invalid_credentials") == m_bad
    assert delta(s0, s1, "restc_rpc_requests_total", op="store.user_create", outcome="ok") == n_reg
    # Each store request ran at least one query; none failed.
    assert delta(s0, s1, "restc_store_db_query_duration_seconds_count", status="ok") >= n_reg + m_bad
    assert delta(s0, s1, "restc_store_db_query_duration_seconds_count", status="error") == 0
    assert value(s1, "restc_store_db_connections") == 4  # STORESVC_WORKERS + STORESVC_FILE_WORKERS (2 + 2)
    assert value(s1, "restc_store_db_connections_in_use") == 0
    # One good login: counted as ok; the verification of its token by result.
    r = au.token(st, users[0][0], users[0][1])
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    a2 = st.metrics("authsvc")
    assert delta(a1, a2, "restc_auth_logins_total", outcome="ok") == 1
    assert au.get(st, "/users/me", token=access).status_code == 200
    a3 = st.metrics("authsvc")
    assert delta(a2, a3, "restc_auth_token_verifications_total", op="auth.authorize", result="ok") == 1
    assert (delta(a2, a3, "restc_auth_token_cache_hits_total")
            + delta(a2, a3, "restc_auth_token_cache_misses_total")) == 1


def test_file_uploads_count_exactly(st):
    k = 3
    u = au.new_user(st)
    s0 = st.metrics("storesvc")
    for i in range(k):
        r = au.call(st, "POST", "/files", token=u.access, data=b"x" * (100 + i),
                    headers={"Content-Type": "application/octet-stream"}, params={"name": f"m{i}.bin"})
        assert r.status_code == 201, r.text
    s1 = st.metrics("storesvc")
    assert delta(s0, s1, "restc_rpc_requests_total", op="store.file_complete", outcome="ok") == k
    assert delta(s0, s1, "restc_rpc_requests_total", op="store.file_begin", outcome="ok") == k
    for op in ("multipart_create", "multipart_complete"):
        assert delta(s0, s1, "restc_store_object_request_duration_seconds_count", backend="file", op=op) == k, op
    assert delta(s0, s1, "restc_store_object_request_errors_total") == 0


def raw_request(ep, frame):
    s = it.ZCTX.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 5000)
    try:
        s.connect(ep)
        s.send(frame)
        return msgpack.unpackb(s.recv(), raw=False)
    finally:
        s.close(0)


@pytest.mark.parametrize("svc", ["authsvc", "storesvc"])
def test_random_op_names_add_no_series(st, svc):
    ep = st.auth_ep if svc == "authsvc" else st.store_ep
    # One unknown op first, so its series exists before the baseline.
    assert raw_request(ep, msgpack.packb({"v": 1, "op": "no.such", "rid": "x", "body": {}}))["ok"] is False
    before_text = st.metrics(svc)
    before = samples(before_text)
    n = 10000
    s = it.ZCTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.connect(ep)
    try:
        for i in range(n):
            op = "x." + secrets.token_hex(6)
            s.send_multipart([b"", msgpack.packb({"v": 1, "op": op, "rid": f"r{i}", "body": {}})])
            if i % 100 == 99:  # keep at most 100 in flight
                for _ in range(100):
                    s.recv_multipart()
    finally:
        s.close(0)
    after_text = st.metrics(svc)
    after = samples(after_text)
    new = set(after) - set(before)
    assert not new, f"{len(new)} new series, e.g. {sorted(new)[:5]}"
    assert delta(before_text, after_text, "restc_rpc_requests_total", op="unknown", outcome="bad_request") == n
    assert delta(before_text, after_text, "restc_rpc_dropped_frames_total", reason="undecodable") == n


def listening_ports(pid):
    """TCP ports `pid` listens on (from /proc/net/tcp{,6} and its fds)."""
    inodes = set()
    import os
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def test_metrics_port_off_means_no_listener_and_zero_is_ephemeral(pm, sdb, jwt_secret, tmp_path):
    s = it.Stack(pm, sdb, str(tmp_path / "objects"), jwt_secret, name="metoff")
    s.start_storesvc(METRICS_PORT="off")
    s.start_authsvc(METRICS_PORT="0", **au.auth_env())
    for svc, proc in (("storesvc", s.storesvc),):
        assert it.ping_ok(s.store_ep, svc)
        ports = listening_ports(proc.pid)
        assert ports == {s.store_port}, ports  # the ZeroMQ port alone
        assert not [r for r in proc.log_records() if r.get("msg") == "metrics listening"]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", s.metrics_port[svc]), timeout=1).close()
    port = it.metrics_port_of(s.authsvc)
    assert port not in (0, 9465, s.auth_port)
    assert port in listening_ports(s.authsvc.pid)
    assert "restc_rpc_requests_total" in it.scrape(port)


def test_each_request_logs_one_line_with_the_gateway_rid(st):
    u = au.new_user(st)
    r = au.call(st, "POST", "/files", token=u.access, data=b"rid-test",
                headers={"Content-Type": "application/octet-stream"}, params={"name": "rid.bin"})
    assert r.status_code == 201, r.text
    rid = r.headers["X-Request-ID"]
    assert rid

    def lines(proc):
        return [x for x in proc.log_records() if x.get("rid") == rid]

    gw = it.wait_for(lambda: lines(st.gateway), 5, what="the gateway's access line")
    assert any(x.get("msg") == "request" for x in gw), gw
    auth = it.wait_for(lambda: [x for x in lines(st.authsvc) if x.get("msg") == "rpc"], 5, what="authsvc")
    store = it.wait_for(lambda: [x for x in lines(st.storesvc) if x.get("msg") == "rpc"], 5, what="storesvc")
    assert [x["op"] for x in auth] == ["auth.authorize"], auth
    ops = [x["op"] for x in store]
    assert "store.file_begin" in ops and "store.file_complete" in ops, ops
    assert len(ops) == len(set(ops)) or ops.count("store.file_part") == len(ops) - len(set(ops)) + 1, ops
    for x in auth + store:
        assert x["outcome"] == "ok", x
        assert isinstance(x["duration_ms"], (int, float)) and x["duration_ms"] >= 0, x
        # Nothing of the request body, nor the credential, is on the line.
        assert set(x) <= {"ts", "level", "svc", "msg", "rid", "op", "outcome", "duration_ms", "lane",
                          "queued_ms", "refused"}, x
        assert u.access not in str(x)


def test_login_limiter_blocks_are_counted(pm, sdb, jwt_secret, tmp_path):
    s = au.start_stack(pm, sdb, jwt_secret, tmp_path, "metlim",
                       authsvc={"LOGIN_MAX_FAILURES": "2", "LOGIN_COOLDOWN_SECONDS": "600"})
    u = au.new_user(s, login=False)
    before = s.metrics("authsvc")
    assert value(before, "restc_auth_login_blocked_sources") == 0
    codes = [au.token(s, u.username, "wrong-" + secrets.token_hex(6)).status_code for _ in range(2)]
    assert codes == [401, 401], codes
    blocked = 3
    for _ in range(blocked):
        assert au.token(s, u.username, u.password).status_code == 429
    after = s.metrics("authsvc")
    assert delta(before, after, "restc_auth_logins_total", outcome="invalid_credentials") == 2
    assert delta(before, after, "restc_auth_logins_total", outcome="login_rate_limited") == blocked
    assert delta(before, after, "restc_auth_login_limiter_blocks_total") == blocked
    assert value(after, "restc_auth_login_blocked_sources") == 1


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_object_store_requests_count_exactly_on_both_backends(pm, sdb, jwt_secret, tmp_path, kind):
    import filestores

    store = filestores.make_store(kind, pm, str(tmp_path / "store")).start()
    s = it.Stack(pm, sdb, str(tmp_path / "unused"), jwt_secret, name=f"metobj-{kind}")
    s.env_over["storesvc"].update(SWEEP_INTERVAL_SECONDS="0", **store.env())
    s.env_over["authsvc"].update(au.auth_env())
    s.start_all()
    s.wait_healthy()
    backend = {"local": "file", "s3": "s3"}[kind]
    u = au.new_user(s)
    before = s.metrics("storesvc")
    k, ids = 3, []
    for i in range(k):
        r = au.call(s, "POST", "/files", token=u.access, data=secrets.token_bytes(64 + i),
                    headers={"Content-Type": "application/octet-stream"}, params={"name": f"o{i}.bin"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert au.get(s, f"/files/{ids[0]}/content", token=u.access).status_code == 200
    assert au.delete(s, f"/files/{ids[1]}", token=u.access).status_code == 204
    after = s.metrics("storesvc")

    def d(op):
        return delta(before, after, "restc_store_object_request_duration_seconds_count", backend=backend, op=op)

    assert d("multipart_create") == k
    assert d("multipart_complete") == k
    assert d("get") == 1
    assert d("delete") == 1
    assert delta(before, after, "restc_store_object_request_errors_total") == 0
    s.stop()
    store.stop()
