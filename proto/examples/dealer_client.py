#!/usr/bin/env python3
"""A DEALER client of authsvc (proto/PROTOCOL.md, "Transport"): several calls
in flight on one socket, each tagged, the replies matched to their calls by
tag, all within one deadline.

    python3 dealer_client.py [ENDPOINT] ACCESS_TOKEN

ENDPOINT defaults to tcp://127.0.0.1:7001 (AUTHSVC_BIND). Sends sys.ping,
auth.verify and auth.authorize at once and prints one JSON line per call,
in the order the calls were made; exits 0 when all succeeded, 1 when one
was refused, 2 when one had no reply within the deadline. Needs pyzmq and
msgpack.
"""

import json
import os
import sys
import time

import msgpack
import zmq

DEADLINE_S = 2.0


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 64
    endpoint = argv[1] if len(argv) == 3 else "tcp://127.0.0.1:7001"
    token = argv[-1]
    calls = [
        ("sys.ping", {}),
        ("auth.verify", {"token": token}),
        ("auth.authorize", {"credential": token, "permission": "self:read",
                            "client_ip": "internal:dealer-example", "count_rate": False}),
    ]
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    pending = {}  # tag -> index of the call
    try:
        for i, (op, body) in enumerate(calls):
            tag = os.urandom(8)  # any non-empty frames of our own, echoed back before the empty one
            pending[tag] = i
            request = msgpack.packb({"v": 1, "op": op, "rid": f"dealer-example-{i}", "body": body},
                                    use_bin_type=True)
            sock.send_multipart([tag, b"", request])
        replies = [None] * len(calls)
        deadline = time.monotonic() + DEADLINE_S
        while pending:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0 or not sock.poll(left_ms, zmq.POLLIN):
                break  # the rest had no reply in time: unavailable, and not resent
            frames = sock.recv_multipart()
            if len(frames) != 3 or frames[1] != b"" or frames[0] not in pending:
                continue  # a late reply to a call given up on, or garbage: dropped
            replies[pending.pop(frames[0])] = msgpack.unpackb(frames[2], raw=False)
    finally:
        sock.close()
    status = 0
    for (op, _), reply in zip(calls, replies):
        if reply is None:
            print(json.dumps({"op": op, "error": "unavailable"}))
            status = 2
        else:
            print(json.dumps({"op": op, "reply": reply}, sort_keys=True))
            status = status or (0 if reply["ok"] else 1)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
