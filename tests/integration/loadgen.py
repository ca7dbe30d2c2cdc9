"""Login flood for test_load.py, run as its own process (so its threads do not
share the test's interpreter lock with the latency probe).

    python3 loadgen.py PORT USERNAME PASSWORD CLIENTS SECONDS

CLIENTS threads, each on its own keep-alive connection and its own source
address (X-Forwarded-For 100.64.x.y; the stack trusts 127.0.0.1 as a proxy),
POST /api/v1/auth/token with the correct password as fast as answers come.
A client whose login is refused at once (429/503) waits 20 ms before the
next one, so that this process, which runs on the same two cores as the
services, does not spin a core of its own on refusals; accepted logins keep
the hash pool saturated. Prints "ready" once every client has sent its
first request; stops after SECONDS or when a line arrives on stdin, then
prints one JSON line: status -> count, plus
"errors" (transport errors).
"""

import http.client
import json
import sys
import threading
import time


def main():
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    clients, seconds = int(sys.argv[4]), float(sys.argv[5])
    body = json.dumps({"username": user, "password": password}).encode()
    counts = {}
    lock = threading.Lock()
    started = threading.Barrier(clients + 1)
    stop_at = [None]

    def client(i):
        xff = f"100.64.{i // 250}.{i % 250 + 1}"
        conn = None
        first = True
        while True:
            if not first and time.monotonic() >= stop_at[0]:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/api/v1/auth/token", body,
                             {"Content-Type": "application/json", "X-Forwarded-For": xff})
                if first:
                    first = False
                    started.wait()
                resp = conn.getresponse()
                resp.read()
                key = str(resp.status)
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception:
                key = "errors"
                if conn is not None:
                    conn.close()
                conn = None
                if first:
                    first = False
                    started.wait()
                time.sleep(0.02)
            with lock:
                counts[key] = counts.get(key, 0) + 1
            if key in ("429", "503"):
                time.sleep(0.02)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    stop_at[0] = time.monotonic() + 3600
    for t in threads:
        t.start()
    started.wait()
    stop_at[0] = time.monotonic() + seconds
    print("ready", flush=True)

    def stop_on_stdin():  # any line (or EOF) on stdin ends the flood early
        sys.stdin.readline()
        stop_at[0] = time.monotonic()

    threading.Thread(target=stop_on_stdin, daemon=True).start()
    for t in threads:
        t.join(seconds + 120)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
