"""The object stores of the file tests, seen from outside storesvc: a
local directory (file://) and S3 (s3rver on loopback, see s3util.py), each
able to list what it holds (objects, open multipart uploads) so a test can
check that nothing was left behind; plus a fresh database per module and
psql helpers to look at the rows.
"""

import os
import secrets
import subprocess
import time

import pytest

import s3util


class LocalStore:
    kind = "local"

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def start(self):
        return self

    def stop(self):
        pass

    def env(self):
        return {"OBJECT_STORE_URL": "file://" + self.root}

    def object_exists(self, key):
        return os.path.isfile(os.path.join(self.root, key))

    def object_keys(self):
        d = os.path.join(self.root, "f")
        return sorted("f/" + n for n in os.listdir(d) if not n.startswith(".")) if os.path.isdir(d) else []

    def uploads(self):
        d = os.path.join(self.root, ".uploads")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def put_object(self, key, data):
        path = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def age_object(self, key, seconds):
        path = os.path.join(self.root, key)
        t = time.time() - seconds
        os.utime(path, (t, t))

    def leave_temp(self):
        """A temporary file as a crash in the middle of a complete leaves it."""
        path = os.path.join(self.root, "f", ".tmp-crashed")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"half an object")
        t = time.time() - 60
        os.utime(path, (t, t))
        return path


class S3Store:
    kind = "s3"

    def __init__(self, pm, root):
        self.server = s3util.S3rver(pm, root)
        self.root = root

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.server.stop()

    def env(self):
        return self.server.storesvc_env()

    def object_exists(self, key):
        return self.server.client().exists(key)

    def object_keys(self):
        return sorted(self.server.client().keys())

    def uploads(self):
        """Open uploads, as ListMultipartUploads says and as s3rver keeps them on disk."""
        listed = sorted(u for _, u in self.server.client().uploads())
        d = os.path.join(self.root, self.server.bucket, "._S3rver_uploads")
        on_disk = sorted(os.listdir(d)) if os.path.isdir(d) else []
        assert listed == on_disk, (listed, on_disk)
        return listed

    def put_object(self, key, data):
        self.server.client().put(key, data)

    def age_object(self, key, seconds):
        pass  # S3 has no way to backdate; callers use a larger wait instead

    def leave_temp(self):
        return None  # S3 keeps no temporary files of ours




def fresh_database(pg, prefix):
    """A new empty database on the module's cluster; dropped by drop_database."""
    name = prefix + "_" + secrets.token_hex(4)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.url, "-c", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return pg.url.rsplit("/", 1)[0] + "/" + name


def drop_database(pg, url):
    name = url.rsplit("/", 1)[1]
    subprocess.run(["psql", "-X", "-q", "-d", pg.url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def sql(db_url, query):
    r = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", db_url, "-c", query],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    return [line.split("|") for line in r.stdout.splitlines() if line]


def make_store(kind, pm, root):
    if kind == "s3":
        if not s3util.s3rver_installed():
            pytest.fail(f"s3rver not installed in {s3util.S3RVER_DIR}: run deploy/deps.sh s3", pytrace=False)
        return S3Store(pm, root)
    return LocalStore(root)
