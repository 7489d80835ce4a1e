"""gevent: greenlets on one hub, a blocking call stalls it

Monkeypatched sockets; a 50 ms unpatched blocking call stalls the hub.

Needs gevent (`pip install gevent`). qvtop's agent watches the hub (docs/python-agent.md, gevent):
its heartbeat lag, its pending callbacks, greenlet switches, and the greenlet code that blocks it, also as
reported by gevent's own monitor thread (enabled below).
"""

import sys

try:
    import gevent
    import gevent.monkey
except ImportError:
    sys.stderr.write("py-gevent needs gevent: pip install gevent (into the python3 qvtop runs, or pass --python-bin)\n")
    sys.exit(3)

# gevent's own monitor thread: it reports the hub blocked once a greenlet has held it 20 ms (the 50 ms
# disk call does), which qvtop counts and names; its printed report would flood the output panel.
gevent.config.monitor_thread = True
gevent.config.max_blocking_time = 0.02
gevent.config.print_blocking_reports = False

gevent.monkey.patch_all()

import random  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import _workload  # noqa: E402

blocking_sleep = gevent.monkey.get_original("time", "sleep")


def serve_one(conn):
    with conn:
        f = conn.makefile("rb")
        for line in f:
            gevent.sleep(float(line) / 1000.0)
            conn.sendall(b"ok\n")


def server(listener):
    while True:
        conn, _ = listener.accept()
        gevent.spawn(serve_one, conn)


def web(port, rng):
    start = time.perf_counter()
    _workload._started("web")
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"%.3f\n" % rng.uniform(1, 5))
        s.makefile("rb").readline()
    _workload._done("web", start)


def hash_job(rounds):
    start = time.perf_counter()
    _workload._started("hash")
    _workload.crunch(rounds)
    _workload._done("hash", start)


def disk():
    start = time.perf_counter()
    _workload._started("disk")
    blocking_sleep(0.050)
    _workload._done("disk", start)


def generate(rate, fn):
    period = 1.0 / rate
    next_t = time.monotonic()
    while True:
        next_t += period
        gevent.sleep(max(0.0, next_t - time.monotonic()))
        gevent.spawn(fn)


if __name__ == "__main__":
    rng = random.Random(1)
    rounds = _workload.calibrate_hash()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    gevent.spawn(server, listener)
    gevent.spawn(generate, 200, lambda: web(port, rng))
    gevent.spawn(generate, 50, lambda: hash_job(rounds))
    gevent.spawn(generate, 2, disk)
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else None
    gevent.sleep(seconds if seconds is not None else 10**9)
