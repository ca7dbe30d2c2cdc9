"""S3 helpers for the integration tests: s3rver (an S3 stand-in on
loopback, run by tests/integration/s3rver_run.js) and a tiny SigV4 client
(botocore's signer + requests) to look into a bucket the way any S3 client
would: object listings, HEAD, ListMultipartUploads.

s3rver comes from the npm registry (deploy/deps.sh s3 installs it into
.state/s3rver; RESTC_S3RVER_DIR overrides where to find it).
"""

import os
import re
import socket
import time
from urllib.parse import quote

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import restc_it as it

S3RVER_DIR = os.environ.get("RESTC_S3RVER_DIR", os.path.join(it.ROOT, ".state", "s3rver"))
S3RVER_RUN = os.path.join(os.path.dirname(__file__), "s3rver_run.js")
S3RVER_KEY = "S3RVER"  # the only access key s3rver knows
S3RVER_SECRET = "S3RVER"
REGION = "us-east-1"


def s3rver_installed():
    return os.path.isdir(os.path.join(S3RVER_DIR, "node_modules", "s3rver"))


class S3rver:
    """One s3rver process on a fixed port and data directory, so a test can
    kill it and start it again where it was."""

    def __init__(self, pm, data_dir, bucket="restc-files", name="s3rver"):
        self.pm = pm
        self.data_dir = data_dir
        self.bucket = bucket
        self.port = it.free_port()
        self.name = name
        self.proc = None
        os.makedirs(data_dir, exist_ok=True)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        argv = ["node", S3RVER_RUN, S3RVER_DIR, self.data_dir, self.bucket, str(self.port)]
        self.proc = self.pm.spawn(self.name, argv, it.base_env())
        it.wait_for(lambda: self._listening() or not self.proc.alive(), timeout, what="s3rver listening")
        assert self.proc.alive(), self.proc.tail()
        return self

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def kill(self):
        if self.proc:
            self.proc.kill()

    def stop(self):
        if self.proc and self.proc.alive():
            self.proc.terminate(timeout=5)

    def storesvc_env(self):
        return {
            "OBJECT_STORE_URL": f"s3://{self.bucket}",
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": S3RVER_KEY,
            "S3_SECRET_ACCESS_KEY": S3RVER_SECRET,
            "S3_TIMEOUT_MS": "3000",
        }

    def client(self):
        return S3Client(self.endpoint, self.bucket, S3RVER_KEY, S3RVER_SECRET, REGION)


class S3Client:
    """Signed requests to one bucket (path style)."""

    def __init__(self, endpoint, bucket, key, secret, region):
        self.endpoint = endpoint
        self.bucket = bucket
        self.creds = Credentials(key, secret)
        self.region = region

    def request(self, method, key=None, query=None, data=b"", timeout=10):
        path = f"/{self.bucket}" + (f"/{key}" if key else "")
        q = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted((query or {}).items()))
        url = self.endpoint + path + (f"?{q}" if q else "")
        req = AWSRequest(method=method, url=url, data=data)
        S3SigV4Auth(self.creds, "s3", self.region).add_auth(req)
        return requests.request(method, url, headers=dict(req.headers), data=data, timeout=timeout)

    def keys(self, prefix="f/"):
        r = self.request("GET", query={"list-type": "2", "prefix": prefix})
        assert r.status_code == 200, r.text
        return re.findall(r"<Key>([^<]*)</Key>", r.text)

    def exists(self, key):
        r = self.request("HEAD", key)
        assert r.status_code in (200, 404), r.status_code
        return r.status_code == 200

    def uploads(self, prefix="f/"):
        """Open multipart uploads: [(key, upload id)]."""
        r = self.request("GET", query={"uploads": "", "prefix": prefix})
        assert r.status_code == 200, r.text
        return re.findall(r"<Upload><Key>([^<]*)</Key><UploadId>([^<]*)</UploadId>", r.text)

    def put(self, key, data):
        r = self.request("PUT", key, data=data)
        assert r.status_code == 200, r.text
