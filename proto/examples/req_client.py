#!/usr/bin/env python3
"""A REQ client of authsvc (proto/PROTOCOL.md): asks auth.authorize whether an
access token may read its own account, as an internal service would.

    python3 req_client.py [ENDPOINT] ACCESS_TOKEN

ENDPOINT defaults to tcp://127.0.0.1:7001 (AUTHSVC_BIND). Prints the reply
as one JSON line; exits 0 when the call succeeded, 1 when authsvc refused
it, 2 when no reply came within the deadline. Needs pyzmq and msgpack.
"""

import json
import sys

import msgpack
import zmq

DEADLINE_MS = 2000


def call(endpoint, op, body, rid):
    """One request, one reply within DEADLINE_MS, on a REQ socket of its own:
    a REQ socket that missed a reply is stuck, so it is never reused. No
    reply in time is an error ("unavailable"); the request is not resent."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, DEADLINE_MS)
    sock.setsockopt(zmq.SNDTIMEO, DEADLINE_MS)
    sock.connect(endpoint)
    try:
        # use_bin_type=True (the default since msgpack 1.0): str goes as str,
        # bytes as bin. Strings must be str: a bin is refused (bad_request).
        sock.send(msgpack.packb({"v": 1, "op": op, "rid": rid, "body": body}, use_bin_type=True))
        return msgpack.unpackb(sock.recv(), raw=False)
    except zmq.Again:
        return None
    finally:
        sock.close()


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 64
    endpoint = argv[1] if len(argv) == 3 else "tcp://127.0.0.1:7001"
    token = argv[-1]
    body = {
        "credential": token,  # the token itself, without "Bearer "
        "permission": "self:read",
        "client_ip": "internal:req-example",  # no client behind this call
        "count_rate": False,  # not a client's request: do not spend its rate limit
    }
    reply = call(endpoint, "auth.authorize", body, "req-example-1")
    if reply is None:
        print(json.dumps({"error": "unavailable", "why": "no reply within the deadline"}))
        return 2
    print(json.dumps(reply, sort_keys=True))
    return 0 if reply["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
