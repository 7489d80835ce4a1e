"""The Python twin of presets/01-asyncio.toml's workload, shared by the py-* presets.

web:  200 requests/s, each a loopback socket round trip whose server answers after 1-5 ms.
hash: 50/s, about 0.5 ms of CPU (sha256 over a buffer, calibrated at start).
disk: 2/s, a 50 ms blocking call (time.sleep standing in for a synchronous database driver).

With ``offload=True`` (py-to-thread) hash and disk run in ``asyncio.to_thread``. Each unit of work
reports its latency to qvtop's agent when it is loaded (``qvtop_agent.kind_done``); run alone, the
workload works the same and reports nothing. Runs until killed, or for ``sys.argv[1]`` seconds.
"""

import asyncio
import hashlib
import random
import sys
import time

try:
    import qvtop_agent
except ImportError:  # run without qvtop
    qvtop_agent = None


def _started(kind):
    if qvtop_agent is not None:
        qvtop_agent.kind_started(kind)


def _done(kind, start):
    if qvtop_agent is not None:
        qvtop_agent.kind_done(kind, time.perf_counter() - start)


def calibrate_hash(target_s=0.0005):
    """Rounds of sha256 over 4 KiB that take about ``target_s``."""
    buf = b"q" * 4096
    rounds = 10
    while True:
        t0 = time.perf_counter()
        for _ in range(rounds):
            hashlib.sha256(buf).digest()
        dt = time.perf_counter() - t0
        if dt > 0.005:
            return max(1, int(rounds * target_s / dt))
        rounds *= 2


def crunch(rounds, buf=b"q" * 4096):
    for _ in range(rounds):
        hashlib.sha256(buf).digest()


def disk_read():
    time.sleep(0.050)


async def serve(reader, writer):
    """The loopback server: answers each request line after the delay it asks for (ms)."""
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            await asyncio.sleep(float(line) / 1000.0)
            writer.write(b"ok\n")
            await writer.drain()
    except (asyncio.CancelledError, ConnectionError):
        pass  # the run is ending (asyncio.run cancels every task), or the client went away
    finally:
        writer.close()


async def web(port, rng):
    start = time.perf_counter()
    _started("web")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"%.3f\n" % rng.uniform(1, 5))
        await writer.drain()
        await reader.readline()
    finally:
        writer.close()
    _done("web", start)


async def hash_job(rounds, offload):
    start = time.perf_counter()
    _started("hash")
    if offload:
        await asyncio.to_thread(crunch, rounds)
    else:
        crunch(rounds)
    _done("hash", start)


async def disk(offload):
    start = time.perf_counter()
    _started("disk")
    if offload:
        await asyncio.to_thread(disk_read)
    else:
        disk_read()
    _done("disk", start)


async def generate(name, rate, make):
    """Starts ``make()`` as a task named ``name`` ``rate`` times a second (fixed interval)."""
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    next_t = loop.time()
    tasks = set()
    while True:
        next_t += period
        delay = next_t - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            next_t = loop.time()  # late: do not catch up in a burst
        t = asyncio.create_task(make(), name=name)
        tasks.add(t)
        t.add_done_callback(tasks.discard)


async def main(offload, seconds, rounds):
    rng = random.Random(1)
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gens = [
        asyncio.create_task(generate("web", 200, lambda: web(port, rng)), name="web-generator"),
        asyncio.create_task(generate("hash", 50, lambda: hash_job(rounds, offload)), name="hash-generator"),
        asyncio.create_task(generate("disk", 2, lambda: disk(offload)), name="disk-generator"),
    ]
    try:
        if seconds is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(seconds)
    finally:
        for g in gens:
            g.cancel()
        server.close()


def run(offload):
    """Calibrates the hash before the loop starts (so calibrating is no stall), then runs the workload."""
    rounds = calibrate_hash()
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else None
    asyncio.run(main(offload, seconds, rounds))
