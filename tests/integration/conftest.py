"""Fixtures for the integration tests.

  pg          (session)  a private PostgreSQL from deploy/pg.sh on a free port,
                         state in a temp dir; destroyed at the end
  db_url      (session)  its DATABASE_URL, after `storesvc migrate`
  pm          (function) process manager: SIGKILLs whatever a test left running
  new_stack   (function) factory: a Stack (not started) on fresh free ports
  stack       (function) a Stack with all three services up and healthy
  module_stack (module)  one healthy Stack shared by the tests of a module

Run: /usr/bin/python3 -m pytest -q tests/integration   (RESTC_BUILD_DIR, default
build/, names the CMake build directory). Service logs are kept under pytest's
temp dir and the tail of each is attached to a failing test's report.
"""

import atexit
import os
import signal

import pytest

import restc_it as it

def _kill_everything():
    for m in list(it.MANAGERS):
        m.cleanup()


atexit.register(_kill_everything)


# ---------------------------------------------------------- per-test bound

TEST_TIMEOUT = int(os.environ.get("RESTC_IT_TEST_TIMEOUT", "180"))


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout(f"test exceeded RESTC_IT_TEST_TIMEOUT={TEST_TIMEOUT}s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for m in it.MANAGERS:
            for p in m.procs:
                rep.sections.append((f"log {os.path.basename(p.log_path)}", p.tail(40)))


# --------------------------------------------------------------- fixtures


@pytest.fixture(scope="session", autouse=True)
def built():
    missing = [it.binary(n) for n in ("storesvc", "authsvc", "gateway") if not os.access(it.binary(n), os.X_OK)]
    if missing:
        pytest.fail(
            f"service binaries not built: {missing} (RESTC_BUILD_DIR={it.BUILD}); "
            "build with: cmake -S . -B build && cmake --build build",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def pg(tmp_path_factory):
    if not os.access(it.PG_SH, os.X_OK):
        pytest.fail(f"{it.PG_SH} missing", pytrace=False)
    state = tmp_path_factory.mktemp("pgstate")
    db = it.Postgres(state, it.free_port())
    try:
        db.start()
    except Exception as e:
        db.destroy()
        pytest.fail(str(e), pytrace=False)
    yield db
    db.destroy()


@pytest.fixture(scope="session")
def db_url(pg, tmp_path_factory):
    import subprocess

    env = it.base_env()
    env["DATABASE_URL"] = pg.url
    env["LOG_LEVEL"] = "INFO"
    r = subprocess.run(
        [it.binary("storesvc"), "migrate"],
        env=env,
        cwd=it.ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if r.returncode != 0:
        pytest.fail(f"storesvc migrate exited {r.returncode}:\n{r.stdout}{r.stderr}", pytrace=False)
    return pg.url


@pytest.fixture(scope="session")
def jwt_secret():
    return it.new_secret()


@pytest.fixture
def pm(tmp_path):
    m = it.ProcManager(str(tmp_path / "logs"))
    yield m
    m.cleanup()


@pytest.fixture
def new_stack(pm, db_url, jwt_secret, tmp_path):
    n = [0]

    def make(name="stack"):
        n[0] += 1
        return it.Stack(pm, db_url, str(tmp_path / f"objects{n[0]}"), jwt_secret, name=f"{name}{n[0]}")

    return make


@pytest.fixture
def stack(new_stack):
    s = new_stack().start_all()
    s.wait_healthy()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def module_stack(db_url, jwt_secret, tmp_path_factory):
    yield from it.managed_stack(str(tmp_path_factory.mktemp("modstack")), db_url, jwt_secret, "mod")
