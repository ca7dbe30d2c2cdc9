"""Hostile input on the ZeroMQ port of authsvc and storesvc: every malformed
frame gets a bad_request error reply (or, where the transport itself refuses
it, no reply at all), and the service keeps answering sys.ping afterwards.

proto_server.h: "a frame that does not decode gets a bad_request reply, an op
without a handler bad_request too". So a single frame within the 1 MiB frame
limit must be answered; only oversized (ZMQ_MAXMSGSIZE drops the
connection) and multi-frame messages may go unanswered.
"""

import os
import random
import time

import msgpack
import pytest
import zmq

import restc_it as it

REPLY_WAIT = 2.0  # seconds to wait for an answer to one garbage frame
P = msgpack.packb


def env(**kw):
    m = {"v": 1, "op": "sys.ping", "rid": "it-garbage", "body": {}}
    m.update(kw)
    return P(m)


def env_without(key):
    m = {"v": 1, "op": "sys.ping", "rid": "it-garbage", "body": {}}
    del m[key]
    return P(m)


def env_raw_body(body_bytes):
    """A 4-entry envelope whose "body" value is the given raw msgpack bytes."""
    return (
        b"\x84" + P("v") + P(1) + P("op") + P("sys.ping") + P("rid") + P("it-raw") + P("body") + body_bytes
    )


KIB = 1024
MIB = 1024 * KIB
HUGE_MAP = b"\xdf\xff\xff\xff\xff"  # map32 declaring 2^32-1 entries
HUGE_ARRAY = b"\xdd\xff\xff\xff\xff"

# (id, frames, must_reply). must_reply False: an error reply or nothing.
CASES = [
    ("not-msgpack-text", [b"hello, this is not msgpack"], True),
    ("not-msgpack-reserved-byte", [b"\xc1"], True),
    ("empty-frame", [b""], True),
    ("truncated-map", [env()[:7]], True),
    ("trailing-bytes", [env() + b"\x00"], True),
    ("array", [P([1, 2, 3])], True),
    ("array-of-envelope", [P([{"v": 1, "op": "sys.ping", "rid": "x", "body": {}}])], True),
    ("int", [P(42)], True),
    ("string", [P("sys.ping")], True),
    ("nil", [P(None)], True),
    ("bin", [P(b"\x00\x01\x02")], True),
    ("float", [P(1.5)], True),
    ("unknown-op", [env(op="sys.nope")], True),
    ("empty-op", [env(op="")], True),
    ("op-with-nul", [env(op="sys.ping\x00x")], True),
    ("op-as-int", [env(op=5)], True),
    ("op-as-bin", [env(op=b"sys.ping")], True),
    ("v-as-string", [env(v="1")], True),
    ("v-2", [env(v=2)], True),
    ("v-negative", [env(v=-1)], True),
    ("missing-op", [env_without("op")], True),
    ("missing-v", [env_without("v")], True),
    ("body-as-array", [env(body=[1, 2])], True),
    ("body-as-string", [env(body="x")], True),
    ("body-unknown-field", [env(body={"x": 1})], True),
    ("rid-bad-chars", [env(rid="bad rid/<script>")], True),
    ("rid-too-long", [env(rid="a" * 65)], True),
    ("rid-as-int", [env(rid=7)], True),
    ("map-int-keys", [P({1: 1, 2: "sys.ping"})], True),
    ("string-100k-in-rid", [env(rid="a" * (100 * KIB))], True),
    ("string-100k-in-body", [env(body={"x": "a" * (100 * KIB)})], True),
    ("string-100k-as-op", [env(op="b" * (100 * KIB))], True),
    ("deep-arrays-1000", [env_raw_body(b"\x91" * 1000 + b"\xc0")], True),
    ("deep-maps-1000", [env_raw_body((b"\x81" + P("k")) * 1000 + b"\xc0")], True),
    ("deep-top-level-1000", [b"\x91" * 1000 + b"\xc0"], True),
    ("map32-2^32-1-alone", [HUGE_MAP], True),
    ("map32-2^32-1-as-body", [env_raw_body(HUGE_MAP)], True),
    ("array32-2^32-1-as-body", [env_raw_body(HUGE_ARRAY)], True),
    ("envelope-map32-2^32-1", [HUGE_MAP + env()[1:]], True),
    ("str32-4GiB-declared", [env_raw_body(b"\xdb\xff\xff\xff\xff")], True),
    ("bin32-4GiB-declared", [env_raw_body(b"\xc6\xff\xff\xff\xff")], True),
    ("ext32-4GiB-declared", [env_raw_body(b"\xc9\xff\xff\xff\xff\x01")], True),
    ("many-items-100k", [env_raw_body(b"\xdd\x00\x01\x86\xa0" + b"\xc0" * 100000)], True),
    ("huge-2MiB-string", [env(rid="a" * (2 * MIB))], False),
    ("multi-frame", [env(), env()], False),
    ("multi-frame-garbage", [b"\xc1", b"\xff" * 10, b""], False),
]


@pytest.fixture(scope="module")
def backends(module_stack):
    return {"authsvc": module_stack.auth_ep, "storesvc": module_stack.store_ep}, module_stack


def assert_bad_request_reply(rep_frames, case, sent):
    assert len(rep_frames) == 1, f"{case}: reply has {len(rep_frames)} frames"
    rep = msgpack.unpackb(rep_frames[0], raw=False)
    assert isinstance(rep, dict), f"{case}: reply is not a map: {rep!r}"
    assert rep.get("v") == 1, rep
    assert rep.get("ok") is False, f"{case}: expected an error reply, got {rep!r}"
    err = rep.get("err")
    assert isinstance(err, dict) and err.get("code") == "bad_request", f"{case}: {rep!r}"
    msg = err.get("msg", "")
    assert isinstance(msg, str) and len(msg) <= 256, f"{case}: error msg too long ({len(msg)})"
    # Never echo the input back.
    for f in sent:
        if len(f) >= 32:
            assert f[-32:].decode("latin-1") not in msg, f"{case}: msg echoes input"
    assert "sys.nope" not in msg and "<script>" not in msg, f"{case}: msg echoes input: {msg!r}"


def still_answers(ep, svc, proc):
    assert proc.alive(), f"{svc} died (exit {proc.returncode()}); log:\n{proc.tail()}"
    it.wait_for(lambda: it.ping_ok(ep, svc, timeout=1.0), 10, what=f"{svc} sys.ping")


@pytest.mark.parametrize("svc", ["authsvc", "storesvc"])
@pytest.mark.parametrize("case,frames,must_reply", CASES, ids=[c[0] for c in CASES])
def test_garbage_frame_gets_bad_request_or_nothing(backends, svc, case, frames, must_reply):
    eps, stack = backends
    rep = it.zmq_roundtrip(eps[svc], frames, timeout=REPLY_WAIT)
    if rep is None:
        assert not must_reply, f"{svc}: no reply to {case} within {REPLY_WAIT}s"
    else:
        assert_bad_request_reply(rep, case, frames)
    still_answers(eps[svc], svc, getattr(stack, svc))


@pytest.mark.parametrize("svc", ["authsvc", "storesvc"])
def test_still_answers_ping_after_all_garbage(backends, svc):
    eps, stack = backends
    for case, frames, _ in CASES:
        it.zmq_roundtrip(eps[svc], frames, timeout=0.5)
    still_answers(eps[svc], svc, getattr(stack, svc))
    rep = it.rpc(eps[svc], "sys.ping", rid="after-garbage-1")
    assert rep["v"] == 1 and rep["ok"] is True and rep["body"]["svc"] == svc, rep


@pytest.mark.parametrize("svc", ["authsvc", "storesvc"])
def test_burst_of_1000_random_frames_leaves_service_answering(backends, svc):
    eps, stack = backends
    rnd = random.Random(int.from_bytes(os.urandom(4), "big"))
    s = it.ZCTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDTIMEO, 5000)
    s.setsockopt(zmq.SNDHWM, 2000)
    s.setsockopt(zmq.RCVHWM, 2000)
    sent_with_delim = 0
    try:
        s.connect(eps[svc])
        for i in range(1000):
            payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
            if i % 2 == 0:
                s.send_multipart([b"", payload])  # a well-formed envelope, garbage inside
                sent_with_delim += 1
            else:
                s.send(payload)  # not even a REQ envelope
        # Whatever comes back must be a well-formed error reply.
        got = 0
        deadline = time.monotonic() + 10
        while got < sent_with_delim and time.monotonic() < deadline:
            if not s.poll(500):
                break
            frames = s.recv_multipart()
            assert frames[0] == b"", frames[:1]
            rep = msgpack.unpackb(frames[1], raw=False)
            assert rep.get("ok") is False and rep["err"]["code"] == "bad_request", rep
            got += 1
    finally:
        s.close(0)
    still_answers(eps[svc], svc, getattr(stack, svc))
    assert it.rpc(eps[svc], "sys.ping", rid="after-burst")["ok"] is True
