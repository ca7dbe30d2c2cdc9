"""Configuration is validated at start: a missing or malformed variable makes
the service exit non-zero within seconds, with a log line naming the variable
and never the value of a secret."""

import json
import subprocess

import pytest

import restc_it as it

EXIT_WITHIN = 10.0
DB_PASSWORD = "Pw-Sup3rSecretDbPass-8812"
FAKE_DB_URL = f"postgresql://restc:{DB_PASSWORD}@127.0.0.1:1/restc"
SECRET_31 = "thirty-one-byte-secret-XYZ12345"
assert len(SECRET_31) == 31


@pytest.fixture
def cfg_stack(pm, tmp_path):
    return it.Stack(pm, FAKE_DB_URL, str(tmp_path / "objects"), it.new_secret(), name="cfg")


def run_service(svc, env):
    """Runs the service; returns (exit code, output). Fails if it is still
    running after EXIT_WITHIN seconds."""
    try:
        r = subprocess.run(
            [it.binary(svc)],
            env=env,
            cwd=it.ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=EXIT_WITHIN,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{svc} still running {EXIT_WITHIN}s after a bad configuration; output:\n{e.output!r}")
    return r.returncode, r.stdout.decode("utf-8", "replace")


def env_for(stack, svc, unset=(), **over):
    env = getattr(stack, f"{svc}_env")(**over)
    for k in unset:
        env.pop(k, None)
    return env


def assert_names_variable(svc, rc, out, var, secrets=()):
    assert rc > 0, f"{svc}: exit code {rc} (want a non-zero exit, not a crash); output:\n{out}"
    recs = it.log_records(out)
    naming = [r for r in recs if var in json.dumps(r)]
    assert naming, f"{svc}: no JSON log line names {var}; output:\n{out}"
    assert any(r.get("level", "").lower() in ("error", "fatal", "critical") for r in naming), naming
    for r in naming:
        for k in ("ts", "level", "svc", "msg"):
            assert k in r, f"log line without {k}: {r}"
        assert r["svc"] == svc, r
    for line in out.splitlines():
        if line.strip():
            assert line.lstrip().startswith("{"), f"{svc}: non-JSON output line: {line!r}"
    for s in secrets:
        assert s not in out, f"{svc}: secret value appears in the output:\n{out}"


def test_storesvc_without_database_url_exits_naming_it(cfg_stack):
    rc, out = run_service("storesvc", env_for(cfg_stack, "storesvc", unset=["DATABASE_URL"]))
    assert_names_variable("storesvc", rc, out, "DATABASE_URL")


def test_storesvc_with_empty_database_url_exits_naming_it(cfg_stack):
    rc, out = run_service("storesvc", env_for(cfg_stack, "storesvc", DATABASE_URL=""))
    assert_names_variable("storesvc", rc, out, "DATABASE_URL")


def test_authsvc_without_jwt_secret_exits_naming_it(cfg_stack):
    rc, out = run_service("authsvc", env_for(cfg_stack, "authsvc", unset=["JWT_SECRET_KEY"]))
    assert_names_variable("authsvc", rc, out, "JWT_SECRET_KEY")


def test_authsvc_with_31_byte_jwt_secret_exits_without_echoing_it(cfg_stack):
    rc, out = run_service("authsvc", env_for(cfg_stack, "authsvc", JWT_SECRET_KEY=SECRET_31))
    assert_names_variable("authsvc", rc, out, "JWT_SECRET_KEY", secrets=[SECRET_31, SECRET_31[:12]])


BAD_VALUES = [
    ("gateway", "GATEWAY_BIND", "garbage"),
    ("gateway", "GATEWAY_BIND", "127.0.0.1:70000"),
    ("gateway", "GATEWAY_THREADS", "abc"),
    ("gateway", "GATEWAY_MAX_CONNECTIONS_PER_IP", "-1"),
    ("gateway", "HSTS_ENABLED", "maybe"),
    ("gateway", "RPC_TIMEOUT_MS", "12x"),
    ("gateway", "LOG_LEVEL", "LOUD"),
    ("gateway", "AUTHSVC_ENDPOINTS", "http://127.0.0.1:7001"),
    ("authsvc", "AUTHSVC_WORKERS", "abc"),
    ("authsvc", "AUTHSVC_BIND", "garbage"),
    ("authsvc", "HEALTH_TIMEOUT_MS", "-5"),
    ("storesvc", "STORESVC_WORKERS", "abc"),
    ("storesvc", "STORESVC_WORKERS", "0"),
    ("storesvc", "DB_TIMEOUT_MS", "soon"),
    ("storesvc", "STORESVC_BIND", "garbage"),
    ("storesvc", "S3_TIMEOUT_MS", "fast"),
    ("storesvc", "SWEEP_INTERVAL_SECONDS", "-1"),
    ("storesvc", "UPLOAD_PENDING_MAX_SECONDS", "0"),
    ("storesvc", "OBJECT_STORE_URL", "ftp://x"),
]


@pytest.mark.parametrize("svc,var,value", BAD_VALUES, ids=[f"{s}-{v}={x}" for s, v, x in BAD_VALUES])
def test_malformed_variable_exits_naming_it_without_leaking_secrets(cfg_stack, svc, var, value):
    env = env_for(cfg_stack, svc, **{var: value})
    secrets = []
    if svc == "authsvc":
        secrets.append(env["JWT_SECRET_KEY"])
    if svc == "storesvc":
        secrets.append(DB_PASSWORD)
    rc, out = run_service(svc, env)
    assert_names_variable(svc, rc, out, var, secrets=secrets)


S3_SECRET = "s3-Secret-Value-0042-do-not-log"
S3_BAD = [
    ({"S3_ACCESS_KEY_ID": "AKID"}, "S3_SECRET_ACCESS_KEY"),
    ({"S3_SECRET_ACCESS_KEY": S3_SECRET}, "S3_ACCESS_KEY_ID"),
    ({"S3_ACCESS_KEY_ID": "AKID", "S3_SECRET_ACCESS_KEY": S3_SECRET, "S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL"),
    ({"S3_ACCESS_KEY_ID": "AKID", "S3_SECRET_ACCESS_KEY": S3_SECRET, "S3_REGION": "Not A Region"}, "S3_REGION"),
]


@pytest.mark.parametrize("over,var", S3_BAD, ids=[v for _, v in S3_BAD])
def test_storesvc_s3_settings_checked_at_start(cfg_stack, over, var):
    env = env_for(cfg_stack, "storesvc", OBJECT_STORE_URL="s3://restc-files", **over)
    rc, out = run_service("storesvc", env)
    assert_names_variable("storesvc", rc, out, var, secrets=[S3_SECRET, DB_PASSWORD])


def test_valid_configuration_does_not_log_secrets(new_stack):
    s = new_stack()
    s.start_all()
    s.wait_healthy()
    it.http_get(s.url("/api/v1/health"))
    rcs = s.stop()
    assert rcs == {"gateway": 0, "authsvc": 0, "storesvc": 0}
    assert s.jwt_secret not in s.authsvc.log_text()
    for p in s.procs():
        assert s.jwt_secret not in p.log_text(), p.name
