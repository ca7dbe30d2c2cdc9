"""Helpers for the integration tests: paths, free ports, a process manager for
the three services, a private PostgreSQL (deploy/pg.sh), ZeroMQ/msgpack and
raw-HTTP clients, and polling with deadlines.

Everything here is bounded in time: every wait takes a deadline, every socket
a timeout. Nothing sleeps longer than a polling step.
"""

import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import time
import weakref

import msgpack
import requests
import zmq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("RESTC_BUILD_DIR", "build"))
PG_SH = os.path.join(ROOT, "deploy", "pg.sh")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Short timeouts so failure paths are quick (the brief: HEALTH 500 ms, RPC 2 s).
HEALTH_TIMEOUT_MS = 500
RPC_TIMEOUT_MS = 2000
START_TIMEOUT = float(os.environ.get("RESTC_IT_START_TIMEOUT", "30"))
STOP_TIMEOUT = 15.0

ZCTX = zmq.Context.instance()


def binary(name):
    return os.path.join(BUILD, name, name)


# ------------------------------------------------------------------ waiting


def wait_for(pred, timeout, step=0.05, what="condition"):
    """Polls pred() until it returns a truthy value (returned) or `timeout`
    seconds pass (AssertionError naming `what` and the last value)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
        except Exception as e:  # a poll that raises counts as "not yet"
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(step)


# -------------------------------------------------------------------- ports

_used_ports = set()


def free_port():
    """A TCP port free on 127.0.0.1, below the ephemeral range (so outgoing
    connections cannot take it between now and the service's bind), never
    handed out twice in this session."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _used_ports:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port found")


# -------------------------------------------------------------- processes


def base_env():
    """A minimal environment, so nothing from the caller's shell (a stray
    DATABASE_URL, JWT_SECRET_KEY, ...) leaks into a service under test."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    for k in ("HOME", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def log_records(text):
    """Parses JSON log lines; lines that are not JSON objects are skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


class Proc:
    """One service process: started in its own session (signals from the
    terminal do not reach it), stdout+stderr appended to `log_path`."""

    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.popen = None
        self._log_offset = 0

    @property
    def pid(self):
        return self.popen.pid

    def start(self):
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.log_path, "ab") as f:
            self._log_offset = f.tell()
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def returncode(self):
        return None if self.popen is None else self.popen.poll()

    def signal(self, sig):
        if self.alive():
            os.kill(self.popen.pid, sig)

    def wait(self, timeout):
        """Exit code, or None if still running after `timeout` seconds."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit code, or None if it did not
        exit in time (it is then killed)."""
        if self.popen is None:
            return None
        if self.popen.poll() is not None:
            return self.popen.returncode
        os.kill(self.popen.pid, signal.SIGCONT)  # in case a test stopped it
        os.kill(self.popen.pid, signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.popen is not None and self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGCONT)
                os.kill(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=10)

    def log_text(self, whole=False):
        """What this process wrote (this run only unless `whole`)."""
        try:
            with open(self.log_path, "rb") as f:
                if not whole:
                    f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_records(self):
        return log_records(self.log_text())

    def tail(self, n=30):
        return "\n".join(self.log_text(whole=True).splitlines()[-n:])


MANAGERS = []  # live ProcManagers: conftest attaches their logs to failures


class ProcManager:
    """Owns every process a fixture started; `cleanup` SIGKILLs leftovers
    (and, with final=True, forgets the manager)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.procs = []
        MANAGERS.append(self)

    def spawn(self, name, argv, env, log_name=None):
        p = Proc(name, argv, env, os.path.join(self.log_dir, (log_name or name) + ".log"))
        self.procs.append(p)
        return p.start()

    def cleanup(self, final=True):
        for p in self.procs:
            p.kill()
        if final and self in MANAGERS:
            MANAGERS.remove(self)


def managed_stack(log_root, db_url, jwt_secret, name, env_over=None):
    """Generator for module-scoped fixtures: a started, healthy Stack whose
    processes are stopped (SIGTERM) and then killed if need be."""
    m = ProcManager(os.path.join(log_root, "logs"))
    s = Stack(m, db_url, os.path.join(log_root, "objects"), jwt_secret, name=name)
    for svc, over in (env_over or {}).items():
        s.env_over[svc].update(over)
    try:
        s.start_all()
        s.wait_healthy()
        yield s
        s.stop()
    finally:
        m.cleanup()


# ------------------------------------------------------------- PostgreSQL


class Postgres:
    """A private cluster run by deploy/pg.sh (start/stop/restart/destroy)."""

    def __init__(self, state_dir, port):
        self.state_dir = str(state_dir)
        self.port = port
        self.url = None

    def _pg(self, *args, timeout=180):
        return subprocess.run(
            [PG_SH, *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self):
        r = self._pg("start", self.state_dir, str(self.port))
        if r.returncode != 0:
            raise RuntimeError(f"deploy/pg.sh start failed ({r.returncode}):\n{r.stderr}")
        self.url = r.stdout.strip().splitlines()[-1]
        return self.url

    def restart(self):
        r = self._pg("restart", self.state_dir, str(self.port))
        if r.returncode != 0:
            raise RuntimeError(f"deploy/pg.sh restart failed ({r.returncode}):\n{r.stderr}")
        return r

    def destroy(self):
        self.cont_all()
        return self._pg("destroy", self.state_dir)

    def datadir(self):
        return os.path.realpath(os.path.join(self.state_dir, "pg"))

    def postmaster_pid(self):
        with open(os.path.join(self.datadir(), "postmaster.pid")) as f:
            return int(f.readline().strip())

    def pids(self):
        """The postmaster and all its descendants."""
        root = self.postmaster_pid()
        children = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        out, todo = [], [root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def stop_all(self):
        """SIGSTOPs the whole cluster: the postmaster first (so it cannot fork
        new backends), then every descendant. Returns the pids stopped."""
        root = self.postmaster_pid()
        os.kill(root, signal.SIGSTOP)
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        self._stopped = pids
        return pids

    def cont_all(self):
        for pid in getattr(self, "_stopped", []) or []:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self._stopped = []


# ------------------------------------------------------------ ZeroMQ RPC


def zmq_roundtrip(endpoint, frames, timeout=2.0):
    """Sends `frames` (list of bytes) on a fresh REQ socket; returns the reply
    frames, or None when nothing came within `timeout` (or the send could not
    go out). The socket is closed either way (LINGER 0), so a missed reply
    never poisons a later call."""
    s = ZCTX.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
    s.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
    try:
        s.connect(endpoint)
        s.send_multipart(frames)
        return s.recv_multipart()
    except zmq.Again:
        return None
    finally:
        s.close(0)


def rpc(endpoint, op, body=None, rid="it-0001", timeout=2.0):
    """One request; the decoded reply map, or None on timeout."""
    frame = msgpack.packb({"v": 1, "op": op, "rid": rid, "body": body if body is not None else {}})
    rep = zmq_roundtrip(endpoint, [frame], timeout)
    if rep is None:
        return None
    assert len(rep) == 1, f"reply has {len(rep)} frames"
    return msgpack.unpackb(rep[0], raw=False)


def metrics_port_of(proc, timeout=10):
    """The port `proc`'s /metrics listener bound, from the "metrics listening"
    line every service logs at start (the way to find an ephemeral
    METRICS_PORT=0); AssertionError when no such line came in time."""
    def bound():
        for r in proc.log_records():
            if r.get("msg") == "metrics listening" and isinstance(r.get("port"), int):
                return r["port"]
        return None

    return wait_for(bound, timeout, what=f"{proc.name} logging its metrics port")


def scrape(port, timeout=10):
    """The text exposition served on 127.0.0.1:`port`/metrics."""
    r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=timeout)
    assert r.status_code == 200, (port, r.status_code, r.text[:200])
    return r.text


def ping_ok(endpoint, svc, timeout=0.5):
    rep = rpc(endpoint, "sys.ping", timeout=timeout)
    return bool(rep and rep.get("ok") is True and rep.get("body", {}).get("svc") == svc)


# ----------------------------------------------------------------- HTTP


def http_get(url, timeout=10, **kw):
    return requests.get(url, timeout=timeout, allow_redirects=False, **kw)


class RawResponse:
    def __init__(self, status, reason, headers, body, closed):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), names as sent
        self.body = body
        self.closed = closed  # the server closed the connection after it

    def header(self, name):
        vals = self.header_all(name)
        return vals[0] if vals else None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"RawResponse({self.status} {self.reason!r}, {self.headers!r}, {self.body[:200]!r})"


# Bytes read past the end of a response (pipelined answers), per socket, so
# the next read_response on the same socket starts with them.
_unread = weakref.WeakKeyDictionary()


def read_response(sock, timeout=10.0):
    """Reads one HTTP/1.1 response from `sock` (Content-Length or until close).
    Returns a RawResponse, or None if the connection closed (or reset) before
    any byte arrived. Bytes after the response are kept for the next call."""
    deadline = time.monotonic() + timeout
    buf = _unread.pop(sock, b"")
    closed = False

    def recv_more():
        nonlocal buf, closed
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete HTTP response in time; got %r" % buf[:300])
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        except socket.timeout:
            raise TimeoutError("no complete HTTP response in time; got %r" % buf[:300])
        if not chunk:
            closed = True
        buf += chunk
        return bool(chunk)

    while b"\r\n\r\n" not in buf:
        if not recv_more():
            if not buf:
                return None
            raise AssertionError(f"connection closed inside the response head: {buf[:300]!r}")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    clen = None
    for k, v in headers:
        if k.lower() == "content-length":
            clen = int(v)
    chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)
    buf = rest
    if status in (204, 304) or (100 <= status < 200):
        body = b""
        if buf:
            _unread[sock] = buf
    elif clen is not None:
        while len(buf) < clen and recv_more():
            pass
        body = buf[:clen]
        if len(buf) > clen:
            _unread[sock] = buf[clen:]
    elif chunked:
        while not buf.endswith(b"0\r\n\r\n") and recv_more():
            pass
        body = _dechunk(buf)
    else:
        while recv_more():
            pass
        body = buf
    return RawResponse(status, reason, headers, body, closed)


def _dechunk(data):
    out = b""
    while data:
        line, _, data = data.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            break
        out += data[:n]
        data = data[n + 2 :]
    return out


def raw_connect(port, timeout=5.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def raw_request(port, data, timeout=10.0):
    """Sends raw bytes on a new connection, returns the first response (or None)."""
    with raw_connect(port) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        return read_response(s, timeout)


def connection_closed(sock, timeout):
    """True if the peer closes `sock` (EOF or reset) within `timeout`,
    discarding anything it sends first; False if still open."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True


# ---------------------------------------------------------------- stack


def new_secret():
    return "it-" + secrets.token_urlsafe(36)  # 51 bytes


class Stack:
    """storesvc + authsvc + gateway on free ports, against one database.

    Each start_* takes extra environment variables (strings) that override the
    defaults below; stop_* send SIGTERM and return the exit code."""

    def __init__(self, pm, db_url, objects_dir, jwt_secret, name="stack"):
        self.pm = pm
        self.db_url = db_url
        self.objects_dir = objects_dir
        self.jwt_secret = jwt_secret
        self.name = name
        self.store_port = free_port()
        self.auth_port = free_port()
        self.http_port = free_port()
        # Each service's /metrics, on a port of its own (never the defaults,
        # which two stacks on one host would share).
        self.metrics_port = {svc: free_port() for svc in ("storesvc", "authsvc", "gateway")}
        self.storesvc = self.authsvc = self.gateway = None
        self.env_over = {"storesvc": {}, "authsvc": {}, "gateway": {}}
        os.makedirs(objects_dir, exist_ok=True)

    def metrics(self, svc):
        """The text exposition of `svc`'s /metrics."""
        r = requests.get(f"http://127.0.0.1:{self.metrics_port[svc]}/metrics", timeout=10)
        assert r.status_code == 200, (svc, r.status_code, r.text[:200])
        return r.text

    @property
    def store_ep(self):
        return f"tcp://127.0.0.1:{self.store_port}"

    @property
    def auth_ep(self):
        return f"tcp://127.0.0.1:{self.auth_port}"

    @property
    def base(self):
        return f"http://127.0.0.1:{self.http_port}"

    def url(self, path):
        return self.base + path

    # ---- environments

    def storesvc_env(self, **over):
        env = base_env()
        env.update(
            STORESVC_BIND=self.store_ep,
            STORESVC_WORKERS="2",
            STORESVC_FILE_WORKERS="2",
            DATABASE_URL=self.db_url,
            OBJECT_STORE_URL="file://" + self.objects_dir,
            DB_TIMEOUT_MS="2000",
            LOG_LEVEL="INFO",
            SHUTDOWN_GRACE_SECONDS="5",
            METRICS_PORT=f"127.0.0.1:{self.metrics_port['storesvc']}",
        )
        env.update(self.env_over["storesvc"])
        env.update(over)
        return env

    def authsvc_env(self, **over):
        env = base_env()
        env.update(
            AUTHSVC_BIND=self.auth_ep,
            AUTHSVC_WORKERS="2",
            STORESVC_ENDPOINTS=self.store_ep,
            JWT_SECRET_KEY=self.jwt_secret,
            RPC_TIMEOUT_MS=str(RPC_TIMEOUT_MS),
            HEALTH_TIMEOUT_MS=str(HEALTH_TIMEOUT_MS),
            LOG_LEVEL="INFO",
            SHUTDOWN_GRACE_SECONDS="5",
            METRICS_PORT=f"127.0.0.1:{self.metrics_port['authsvc']}",
        )
        env.update(self.env_over["authsvc"])
        env.update(over)
        return env

    def gateway_env(self, **over):
        env = base_env()
        env.update(
            GATEWAY_BIND=f"127.0.0.1:{self.http_port}",
            AUTHSVC_ENDPOINTS=self.auth_ep,
            STORESVC_ENDPOINTS=self.store_ep,
            GATEWAY_THREADS="4",
            RPC_TIMEOUT_MS=str(RPC_TIMEOUT_MS),
            HEALTH_TIMEOUT_MS=str(HEALTH_TIMEOUT_MS),
            LOG_LEVEL="INFO",
            SHUTDOWN_GRACE_SECONDS="5",
            METRICS_PORT=f"127.0.0.1:{self.metrics_port['gateway']}",
        )
        env.update(self.env_over["gateway"])
        env.update(over)
        return env

    # ---- start / stop

    def _start(self, name, env, ready):
        p = self.pm.spawn(name, [binary(name)], env, log_name=f"{self.name}-{name}")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if not p.alive():
                raise AssertionError(
                    f"{name} exited with {p.returncode()} during start; log:\n{p.tail()}"
                )
            if ready():
                return p
            if time.monotonic() > deadline:
                p.kill()
                raise AssertionError(f"{name} not ready after {START_TIMEOUT}s; log:\n{p.tail()}")
            time.sleep(0.05)

    def start_storesvc(self, **over):
        self.storesvc = self._start(
            "storesvc", self.storesvc_env(**over), lambda: ping_ok(self.store_ep, "storesvc")
        )
        return self.storesvc

    def start_authsvc(self, **over):
        self.authsvc = self._start(
            "authsvc", self.authsvc_env(**over), lambda: ping_ok(self.auth_ep, "authsvc")
        )
        return self.authsvc

    def _healthz_ok(self):
        try:
            return http_get(self.url("/healthz"), timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def start_gateway(self, **over):
        self.gateway = self._start("gateway", self.gateway_env(**over), self._healthz_ok)
        return self.gateway

    def start_all(self):
        self.start_storesvc()
        self.start_authsvc()
        self.start_gateway()
        return self

    def wait_healthy(self, timeout=15):
        """Polls /readyz until 200 (the backends' sockets connect
        asynchronously, so the first probe right after start may be early).
        /readyz checks what /api/v1/health checks without spending the API
        rate limit of 127.0.0.1, which the tests measure."""
        return wait_for(
            lambda: http_get(self.url("/readyz"), timeout=5).status_code == 200,
            timeout,
            step=0.1,
            what=f"{self.base}/readyz == 200",
        )

    def stop(self):
        """SIGTERM in reverse start order; returns {name: exit code}."""
        rcs = {}
        for name in ("gateway", "authsvc", "storesvc"):
            p = getattr(self, name)
            if p is not None and p.alive():
                rcs[name] = p.terminate()
        return rcs

    def procs(self):
        return [p for p in (self.storesvc, self.authsvc, self.gateway) if p is not None]

# One sample line of the Prometheus text format: name, {labels}, value.
METRICS_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$')


def metrics_samples(text):
    """{(name, labels-string): value} of an exposition; every non-comment line must be a sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRICS_SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out
