"""Unit tests of qvtop's Python agent (stdlib unittest; `python3 -m unittest discover python/tests`)."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
sys.path.insert(0, PYTHON_DIR)

import qvtop_agent  # noqa: E402
from qvtop_agent import Histogram, _Lag, await_kind, culprit_of  # noqa: E402


class HistogramTests(unittest.TestCase):
    def test_every_value_lands_in_a_bucket_whose_upper_bound_is_within_an_eighth(self):
        for v in [0, 1, 7, 8, 9, 100, 1000, 123456, 10**9, 5 * 10**10]:
            upper = Histogram.upper(Histogram.index(v))
            self.assertGreaterEqual(upper, v)
            self.assertLessEqual(upper, v * 1.125 + 1, v)
            if v > 8:  # the bucket below ends below v
                self.assertLess(Histogram.upper(Histogram.index(v) - 1), v)

    def test_percentiles_and_max(self):
        h = Histogram()
        for v in range(1, 101):
            h.record(v * 1_000_000)  # 1…100 ms
        self.assertAlmostEqual(h.percentile(0.5) / 1e6, 50, delta=50 * 0.125)
        self.assertAlmostEqual(h.percentile(0.99) / 1e6, 99, delta=99 * 0.125)
        self.assertEqual(h.max, 100_000_000)
        self.assertEqual(sum(h.coarse), 100)
        # 1 ms in "≤ 1", 2 in "≤ 2", 3-5 in "≤ 5", …, 51-100 in "≤ 100".
        self.assertEqual(h.coarse, [0, 0, 1, 1, 3, 5, 10, 30, 50, 0])

    def test_empty_histogram_is_zero_not_an_error(self):
        self.assertEqual(Histogram().percentile(0.99), 0)


class LagTests(unittest.TestCase):
    def test_on_time_ticks_have_no_lag(self):
        lag = _Lag(origin=0.0, period=0.001)
        for k in range(1, 101):
            self.assertEqual(lag.tick(k * 0.001), 0.0)
        s = lag.summary()
        self.assertEqual(s["max_ms"], 0)
        self.assertEqual(s["slot_p99_ms"], 0)
        self.assertEqual(s["beats"], 100)

    def test_a_stall_is_one_late_beat_and_many_late_slots(self):
        lag = _Lag(origin=0.0, period=0.001)
        lag.tick(0.001)
        late = lag.tick(0.052)  # slot 2 (due 2 ms) ran at 52 ms: 50 slots skipped
        self.assertAlmostEqual(late, 0.050, places=6)
        self.assertEqual(lag.k, 53)  # the next slot after 52 ms
        self.assertEqual(lag.beats.total, 2)
        self.assertEqual(lag.slots.total, 1 + 51)  # slot 1 on time, slots 2…52 late by 50…0 ms
        s = lag.summary()
        self.assertAlmostEqual(s["max_ms"], 50, delta=0.01)
        self.assertGreater(s["slot_p99_ms"], 40)
        self.assertAlmostEqual(s["recent_ms"], 50, delta=0.01)
        self.assertEqual(lag.summary()["recent_ms"], 0)  # recent is per interval


    def test_the_on_time_fast_path_records_what_the_general_path_would(self):
        # Ticks within their own slot take tick()'s short path; late ones the slot walk. Both must
        # give the histograms the definition gives: each beat's lateness, and each slot's lateness
        # (now - slot) for every slot up to now. Seeded: on-time, slightly late and stalled beats.
        import random

        rng = random.Random(7)
        lag = _Lag(origin=0.0, period=0.001)
        beats, slots = Histogram(), Histogram()
        k, now = 1, 0.0
        for _ in range(2000):
            due = k * 0.001
            now = max(now, due) + rng.choice([0.0, 0.00002, 0.0004, 0.0013, 0.012])
            beats.record(max(0.0, now - due) * 1e9)
            last = int(now / 0.001)
            for j in range(k, max(last, k) + 1):
                slots.record(max(0.0, now - j * 0.001) * 1e9)
            lag.tick(now)
            k = max(last + 1, k + 1)
            self.assertEqual(lag.k, k)
        for mine, ref in ((lag.beats, beats), (lag.slots, slots)):
            self.assertEqual(mine.counts, ref.counts)
            self.assertEqual(mine.coarse, ref.coarse)
            self.assertEqual((mine.total, mine.max), (ref.total, ref.max))
        self.assertGreater(lag.beats.coarse[0], 0)  # the seed did take the short path…
        self.assertGreater(lag.slots.total, lag.beats.total)  # …and the slot walk

    def test_coarse_buckets_split_at_the_millisecond_bounds(self):
        for ms, bucket in ((0.1, 0), (0.1 + 1e-6, 1), (0.5, 1), (1, 2), (2.000001, 4), (100, 8), (100.001, 9)):
            h = Histogram()
            h.record(ms * 1e6)
            self.assertEqual(h.coarse.index(1), bucket, ms)


class AwaitKindTests(unittest.TestCase):
    def test_waiting_tasks_are_classified_by_what_they_await(self):
        async def main():
            lock = asyncio.Lock()
            await lock.acquire()
            queue = asyncio.Queue()
            a, b = socket.socketpair()
            a.setblocking(False)
            loop = asyncio.get_running_loop()
            release = threading.Event()
            fut = loop.create_future()

            async def sleeper():
                await asyncio.sleep(10)

            async def locker():
                async with lock:
                    pass

            async def getter():
                await queue.get()

            async def reader():
                await loop.sock_recv(a, 10)

            async def threaded():
                await asyncio.to_thread(release.wait, 5)

            async def futurer():
                await fut

            tasks = {
                "sleep": asyncio.create_task(sleeper()),
                "lock": asyncio.create_task(locker()),
                "queue": asyncio.create_task(getter()),
                "socket": asyncio.create_task(reader()),
                "to_thread": asyncio.create_task(threaded()),
                "future": asyncio.create_task(futurer()),
            }
            await asyncio.sleep(0.05)
            got = {name: await_kind(t) for name, t in tasks.items()}
            counts, current = qvtop_agent.task_census(loop)
            release.set()
            for t in tasks.values():
                t.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            a.close()
            b.close()
            return got, counts, current

        got, counts, current = asyncio.run(main())
        self.assertEqual(got, {k: k for k in got})
        for k in got:
            self.assertEqual(counts[k], 1, counts)
        self.assertEqual(counts["running"], 1)  # main itself, the current task
        self.assertEqual(counts["total"], 7)
        self.assertIsNotNone(current)


class CulpritTests(unittest.TestCase):
    def test_a_loop_thread_in_its_poll_is_seen_there_whichever_poll_it_is(self):
        # The agent's own poll (the heartbeat's) and its window hook stand where EpollSelector's select
        # stood: a loop thread found in one is "in the loop's poll", not running a culprit.
        import selectors

        self.assertTrue(qvtop_agent._in_poll(selectors.EpollSelector.select.__code__))
        loop = asyncio.new_event_loop()
        agent = qvtop_agent.Agent(fd=None)
        st = agent._state_for(loop)
        st.lag = _Lag(loop.time())
        agent._hook_iteration(loop, st)
        try:
            if agent._beat_in_iterations(loop, st):
                self.assertTrue(qvtop_agent._in_poll(loop._selector.select.__code__))
            self.assertTrue(qvtop_agent._in_poll(st.select_hook.__code__))
            self.assertFalse(qvtop_agent._in_poll(self.test_names_the_innermost_frame_outside_asyncio.__code__))
        finally:
            agent._close_beat(loop, st)
            loop.close()
            if agent.alarms is not None:
                agent.alarms.shut()

    def test_names_the_innermost_frame_outside_asyncio(self):
        def blocking_call():
            return culprit_of(sys._getframe())

        name = blocking_call()
        self.assertTrue(name.startswith("blocking_call (test_agent.py:"), name)


def _read_lines(fd, until, timeout=10.0):
    """Lines of the stream on ``fd`` until ``until(lines)`` holds or ``timeout`` passes."""
    lines, buf = [], b""
    os.set_blocking(fd, False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(lines):
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if not chunk:
            break
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines += [json.loads(x) for x in done if x]
    return lines


class AgentInProcessTests(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        os.set_blocking(self.w, False)
        self.agent = qvtop_agent.install(fd=self.w, rate_hz=20)

    def tearDown(self):
        qvtop_agent.uninstall()
        os.close(self.r)
        os.close(self.w)

    def test_a_blocking_call_is_a_slow_callback_named_while_it_happens(self):
        def disk_read():
            time.sleep(0.06)

        async def main():
            async def disk():
                await asyncio.sleep(0.05)
                disk_read()

            await asyncio.create_task(disk(), name="disk")
            await asyncio.sleep(0.2)

        asyncio.run(main())
        lines = _read_lines(self.r, lambda ls: any(e for l in ls for e in l.get("events", [])))
        events = [e for l in lines for e in l.get("events", [])]
        slow = [e for e in events if e["kind"] == "slowCallback"]
        self.assertTrue(slow, lines[-1:])
        self.assertGreater(slow[0]["duration_ms"], 50)
        self.assertLess(slow[0]["duration_ms"], 200)
        self.assertIn("disk_read (test_agent.py:", slow[0]["name"])
        self.assertIn("in task disk", slow[0]["name"])

    def test_a_stall_the_agents_thread_missed_says_so_naming_that_thread(self):
        # The agent has one thread (qvtop-agent); when it did not look during a stall, the event says
        # that this thread missed it (it once named a "watchdog thread" the agent no longer has).
        self.agent.watchdog = lambda *fired: None

        async def main():
            await asyncio.sleep(0.01)
            time.sleep(0.03)
            await asyncio.sleep(0.01)

        asyncio.run(main())
        lines = _read_lines(self.r, lambda ls: False, timeout=0.2)  # the snapshots taken so far
        events = [e for l in lines for e in l.get("events", [])] + list(self.agent.events)
        slow = [e for e in events if e["kind"] == "slowCallback"]
        self.assertTrue(slow, events)
        self.assertEqual(slow[0]["name"], "(not caught: the agent's thread did not run during the stall)")

    def test_a_healthy_loop_does_not_wake_the_watchdog(self):
        # The watchdog wakes when a heartbeat is overdue, not on a period: a loop whose heartbeat runs
        # on time costs it no wake-up (each wake takes the GIL from the loop). A periodic 8 ms watchdog
        # wakes ~60 times in 0.5 s; a few wakes are allowed for moments this loaded machine
        # deschedules the loop's thread.
        if self.agent.alarms is None:
            self.skipTest("no timerfd here: the watchdog is periodic")
        wakes = []
        check = self.agent.watchdog

        def counting(*fired):
            wakes.append(time.monotonic())
            check(*fired)

        self.agent.watchdog = counting

        async def main():
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                await asyncio.sleep(0.0005)

        asyncio.run(main())
        self.assertLess(len(wakes), 15, wakes)

    def _count_samples_by_thread(self):
        takers = []
        take = self.agent.take_sample

        def counting(now):
            before = self.agent.sequence
            take(now)
            if self.agent.sequence != before:
                takers.append((threading.get_ident(), time.monotonic()))

        self.agent.take_sample = counting
        return takers

    def test_a_healthy_loops_heartbeat_takes_the_snapshots_and_the_agents_thread_sleeps(self):
        # Each wake-up of the agent's thread takes the GIL from the program; while a loop's heartbeat
        # beats on time, the beat due after a snapshot's time takes it on the loop thread.
        if self.agent.alarms is None:
            self.skipTest("no timerfd here: the agent's thread samples")
        takers = self._count_samples_by_thread()

        async def main():
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            return threading.get_ident()

        loop_thread = asyncio.run(main())
        on_loop = [t for t, _ in takers if t == loop_thread]
        # 20 Hz for 0.5 s: ≈ 10 snapshots. A loop thread that this loaded machine deschedules for
        # 2 ms past a snapshot's time is a stalled loop for the agent: its thread takes that one.
        self.assertGreaterEqual(len(on_loop), 3, takers)
        self.assertGreaterEqual(len(on_loop), len(takers) / 3, takers)

    def test_a_loop_late_by_less_than_a_stall_is_left_to_take_the_due_snapshot_itself(self):
        # A loop thread busy or descheduled for a few ms is late, not stalled: the agent's thread
        # leaves it the due snapshot (it takes it when it runs again) until it is SLOW_MS overdue,
        # rather than take the GIL for it. _heartbeat_grace is that rule.
        class ClockLoop:
            now = 100.0

            def time(self):
                return self.now

        loop = ClockLoop()
        st = self.agent._state_for(loop)
        st.running, st.beat_takes_snapshots, st.alarm = True, True, (-1, None)  # stand-in: never used as a descriptor
        st.lag = _Lag(loop.now - 0.0005)  # the next slot is due 0.5 ms from now
        try:
            due = st.lag.due()
            loop.now = due + 0.001  # on time: more than 8 ms left, the alarm will say if it stops
            self.assertGreater(self.agent._heartbeat_grace(), 0.008)
            loop.now = due + 0.006  # late: 4 ms left
            self.assertAlmostEqual(self.agent._heartbeat_grace(), 0.004, places=6)
            loop.now = due + 0.012  # a stall: the agent's thread takes the snapshots
            self.assertEqual(self.agent._heartbeat_grace(), 0.0)
        finally:
            st.running, st.beat_takes_snapshots, st.alarm = False, False, None

    def test_snapshots_go_on_during_a_stall_and_after_the_loop_stops(self):
        # The agent's thread takes the snapshots no heartbeat takes: while the loop is stalled (its
        # alarm woke the thread) and when no loop runs.
        takers = self._count_samples_by_thread()
        span = {}

        async def main():
            await asyncio.sleep(0.05)
            span["stall"] = time.monotonic()
            time.sleep(0.3)  # 6 snapshot periods at 20 Hz
            span["end"] = time.monotonic()

        asyncio.run(main())
        stopped = time.monotonic()
        time.sleep(0.3)
        during = [t for _, t in takers if span["stall"] < t < span["end"]]
        after = [t for _, t in takers if t > stopped]
        self.assertGreaterEqual(len(during), 3, takers)
        self.assertGreaterEqual(len(after), 3, takers)

    def test_the_exit_snapshot_waits_for_one_another_thread_is_taking(self):
        # Two threads may take snapshots now (a loop's heartbeat, the agent's thread); the one at exit
        # must not run inside another (both would pop the same windows and events).
        held = threading.Event()
        self.agent.sample_at = time.monotonic() + 3600  # no snapshot of the agent's thread meanwhile

        def taking():
            with self.agent.sample_lock:
                held.set()
                time.sleep(0.1)

        other = threading.Thread(target=taking)
        other.start()
        held.wait(2)
        before = self.agent.sequence
        t0 = time.monotonic()
        self.agent.final_sample()
        waited = time.monotonic() - t0
        other.join()
        self.assertGreaterEqual(waited, 0.05)
        self.assertEqual(self.agent.sequence, before + 1)

    def test_the_heartbeat_is_not_a_loop_timer_and_still_beats_on_the_grid(self):
        # A pending loop timer makes every iteration compute a timeout (+6 % on an echo program), and a
        # periodic kernel timer costs a busy loop a wake-up, an event and a read per slot: the
        # heartbeat is neither. An idle loop still beats once per 1 ms slot (its poll arms a one-shot
        # wake-up for the next one).
        seen = {}

        async def main():
            loop = asyncio.get_running_loop()
            st = [s for s in self.agent.loops if s.loop_ref() is loop][0]
            await asyncio.sleep(0)
            seen["scheduled"] = len(loop._scheduled)
            seen["timerfds"] = _timerfds() - _timerfds_before
            idle = loop.create_future()
            threading.Timer(0.05, loop.call_soon_threadsafe, (idle.set_result, None)).start()
            beats, arms = st.lag.beats.total, st.wake_arms
            await idle
            seen["idle_beats"], seen["idle_arms"] = st.lag.beats.total - beats, st.wake_arms - arms
            beats, arms = st.lag.beats.total, st.wake_arms
            deadline = time.monotonic() + 0.05
            while time.monotonic() < deadline:  # busy: callbacks back to back, never a sleeping poll
                await asyncio.sleep(0)
            seen["busy_beats"], seen["busy_arms"] = st.lag.beats.total - beats, st.wake_arms - arms
            seen["attrs"] = ("time" in loop.__dict__, "select" in loop._selector.__dict__)
            return loop, st

        _timerfds_before = _timerfds()
        loop, st = asyncio.run(main())
        self.assertEqual(seen["scheduled"], 0)  # no heartbeat on the timer heap
        if _timerfds_before is not None:
            # The watchdog's alarm and the idle poll's one-shot wake-up: no periodic timerfd beats
            # (Linux; /proc/self/fd names them).
            self.assertEqual(seen["timerfds"], 2, seen)
        self.assertEqual(seen["busy_arms"], 0, seen)  # a busy loop arms no timer
        self.assertGreater(seen["idle_arms"], 10, seen)  # an idle one, once per slot it sleeps in
        self.assertLessEqual(seen["idle_arms"], 60, seen)
        # The loop's poll queues it; the loop object itself gets no attribute (one it did not have at
        # its creation takes it off CPython's fast attribute path: +17 % instructions).
        self.assertEqual(seen["attrs"], (False, True))
        # ~50 slots in the idle 50 ms (fewer on a loaded machine, where the loop thread waits to run)
        self.assertGreater(seen["idle_beats"], 10, seen)
        self.assertLessEqual(seen["idle_beats"], 60)
        self.assertGreater(seen["busy_beats"], 10, seen)  # and ~50 in the busy 50 ms, between callbacks
        self.assertLessEqual(seen["busy_beats"], 60)
        self.assertIsNone(st.beat_handle)  # removed at the loop's stop

    def test_the_heartbeat_is_queued_once_per_slot_however_often_the_loop_polls(self):
        # A loop held past three slots polls several times before the beat runs: the beat is queued
        # once, runs once, and counts the skipped slots late.
        seen = {}

        async def main():
            loop = asyncio.get_running_loop()
            st = [s for s in self.agent.loops if s.loop_ref() is loop][0]
            await asyncio.sleep(0)
            beats, slots = st.lag.beats.total, st.lag.slots.total
            time.sleep(0.003)  # three slots due, the loop held
            for _ in range(5):
                loop._selector.select(0)
            seen["queued"] = loop._ready.count(st.beat_handle)
            await asyncio.sleep(0)
            seen["ran"] = st.lag.beats.total - beats
            seen["slots"] = st.lag.slots.total - slots

        asyncio.run(main())
        self.assertEqual(seen["queued"], 1)
        self.assertEqual(seen["ran"], 1)
        self.assertGreaterEqual(seen["slots"], 3)

    def test_the_agent_adds_one_thread_to_the_program(self):
        # Each thread costs the program even while it is blocked: the sampler and the watchdog share one.
        ours = [t.name for t in threading.enumerate() if t.name.startswith("qvtop-")]
        self.assertEqual(ours, ["qvtop-agent"])

    def test_a_loop_started_without_a_descriptor_to_spare_still_beats(self):
        # No descriptor for the alarm or the heartbeat's timerfd (the program used them all): the loop
        # still gets its heartbeat (a loop timer) and the agent says what it lacks.
        if self.agent.alarms is None:
            self.skipTest("no timerfd here")
        alarms = self.agent.alarms

        def no_fd(*_):
            raise OSError(24, "Too many open files")

        alarms.open, alarms.open_beat = no_fd, no_fd
        try:

            async def main():
                loop = asyncio.get_running_loop()
                st = [s for s in self.agent.loops if s.loop_ref() is loop][0]
                await asyncio.sleep(0.05)
                return st.lag.beats.total

            beats = asyncio.run(main())
        finally:
            del alarms.open, alarms.open_beat
        self.assertGreater(beats, 10)
        lines = _read_lines(self.r, lambda ls: any(l.get("type") == "agent_error" for l in ls), timeout=1)
        self.assertTrue(any("watchdog alarm" in l.get("error", "") for l in lines), lines[-1:])

    def test_a_cpu_bound_callback_is_named_while_it_happens(self):
        # The loop thread holds the GIL throughout: the watchdog gets it after the interpreter's
        # switch interval (5 ms) and still names the function while it runs.
        def checksum():
            end = time.monotonic() + 0.04
            n = 0
            while time.monotonic() < end:
                n += 1
            return n

        async def main():
            await asyncio.sleep(0.05)
            checksum()
            await asyncio.sleep(0.1)

        asyncio.run(main())
        lines = _read_lines(self.r, lambda ls: any(e for l in ls for e in l.get("events", [])))
        slow = [e for l in lines for e in l.get("events", []) if e["kind"] == "slowCallback"]
        self.assertTrue(any("checksum (test_agent.py:" in e["name"] for e in slow), slow)

    def test_a_stall_on_one_loop_is_named_while_another_loop_beats(self):
        # Each loop has its own alarm: a healthy loop re-arming its own never hides the other's stall.
        def load_model():
            time.sleep(0.06)

        async def healthy():
            deadline = time.monotonic() + 0.4
            while time.monotonic() < deadline:
                await asyncio.sleep(0.001)

        async def stalls():
            await asyncio.sleep(0.1)
            load_model()
            await asyncio.sleep(0.1)

        other = threading.Thread(target=lambda: asyncio.run(healthy()))
        other.start()
        asyncio.run(stalls())
        other.join()
        lines = _read_lines(self.r, lambda ls: any(e for l in ls for e in l.get("events", [])))
        slow = [e for l in lines for e in l.get("events", []) if e["kind"] == "slowCallback"]
        self.assertTrue(any(e["name"].startswith("load_model (test_agent.py:") for e in slow), slow)

    def test_snapshots_carry_the_loop_the_executor_and_the_tasks(self):
        release = threading.Event()

        def crunch():
            release.wait(2)

        seen = []

        async def main():
            job = asyncio.create_task(asyncio.to_thread(crunch), name="offload")
            loop = asyncio.get_running_loop()
            for _ in range(30):
                await asyncio.sleep(0.02)
                snap = self.agent.sample()
                seen.append(snap)
                if snap["pool"] and snap["pool"]["busy"] == 1:
                    break
            release.set()
            await job
            loop.call_later(5, lambda: None)  # one program timer
            seen.append(self.agent.sample())

        asyncio.run(main())
        busy = [s for s in seen if s["pool"] and s["pool"]["busy"] == 1]
        self.assertTrue(busy, seen[-1])
        pool = busy[0]["pool"]
        self.assertEqual(pool["thread_states"][0]["kind"], "crunch")
        loop = busy[0]["loops"][0]
        self.assertEqual(loop["tasks"]["to_thread"], 1)
        self.assertEqual(loop["tasks"]["running"], 1)
        self.assertIsInstance(loop["ready"], int)
        self.assertGreater(loop["lag"]["beats"], 0)
        last = seen[-1]["loops"][0]
        self.assertIsNotNone(last["busy"])  # once a measurement window has closed
        self.assertGreaterEqual(last["timers"], 1)  # the program's timer, the heartbeat not counted
        self.assertGreaterEqual(seen[-1]["pool"]["completed"], 1)

    def test_the_last_task_is_the_intervals_and_not_a_stale_one(self):
        # ``last_task`` is per interval (docs/figures.md, the loop's "ran NAME"): a task the agent saw
        # holding the loop since the previous snapshot. A task that ran once and is long gone must not
        # be shown as having run in every interval after (it was never reset).
        self.agent.sample_at = time.monotonic() + 3600  # only this test's snapshots: no heartbeat's between

        async def main():
            loop = asyncio.get_running_loop()

            async def first():
                return self.agent.sample()

            async def from_a_callback():  # a snapshot taken where no task is current
                fut = loop.create_future()
                loop.call_soon(lambda: fut.set_result(self.agent.sample()))
                return await fut

            during = await asyncio.create_task(first(), name="first")
            await asyncio.sleep(0.02)
            next_one = await from_a_callback()
            await asyncio.sleep(0.02)
            return during, next_one, await from_a_callback()

        during, next_one, after = asyncio.run(main())
        self.assertEqual(during["loops"][0]["current"], "first")
        self.assertEqual(during["loops"][0]["last_task"], "first")
        # "first" was still running when that snapshot was taken: it ran in the next interval too.
        self.assertIsNone(next_one["loops"][0]["current"])
        self.assertEqual(next_one["loops"][0]["last_task"], "first")
        # In the one after, the agent saw no task hold the loop.
        self.assertIsNone(after["loops"][0]["current"])
        self.assertIsNone(after["loops"][0]["last_task"])

    def test_a_stall_the_watchdog_named_is_the_intervals_last_task(self):
        # A stall shorter than the snapshot period, between two snapshots: the snapshot after it sees
        # no task current, but the agent's thread named the task that held the loop.
        self.agent.sample_at = time.monotonic() + 3600  # only this test's snapshots: no heartbeat's between

        async def main():
            loop = asyncio.get_running_loop()

            async def hog():
                time.sleep(0.04)

            self.agent.sample()
            await asyncio.create_task(hog(), name="hog")
            fut = loop.create_future()
            loop.call_soon(lambda: fut.set_result(self.agent.sample()))
            return await fut

        after = asyncio.run(main())
        self.assertIsNone(after["loops"][0]["current"])
        self.assertEqual(after["loops"][0]["last_task"], "hog")

    def test_a_loop_without_a_ready_queue_reports_none_not_zero(self):
        class BareLoop:
            """A loop that exposes none of asyncio's private attributes (as uvloop does not)."""

            def time(self):
                return time.monotonic()

            def is_closed(self):
                return False

        bare = BareLoop()
        st = self.agent._state_for(bare)
        st.running = True
        st.run_start_ns = self.agent.clock()
        st.lag = _Lag(bare.time())
        snap = self.agent.sample()
        entry = [l for l in snap["loops"] if l["id"] == st.id][0]
        self.assertIsNone(entry["ready"])
        self.assertIsNone(entry["timers"])
        self.assertIsNone(entry["ready_peak"])
        self.assertIsNone(entry["busy"])
        self.assertIsNone(entry["jobs"])
        st.running = False

    def test_busy_and_jobs_of_a_quiet_loop_come_from_its_windows(self):
        # A loop busy ~3 ms of every ~4 ms (a blocking sleep, then a 1 ms asyncio.sleep).
        hooked_polls = []

        async def main():
            loop = asyncio.get_running_loop()
            st = [s for s in self.agent.loops if s.loop_ref() is loop][0]
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                hooked_polls.append("select" in loop._selector.__dict__)
                time.sleep(0.003)
                await asyncio.sleep(0.001)
            return st

        st = asyncio.run(main())
        lines = _read_lines(self.r, lambda ls: False, timeout=0.2)
        snaps = [l for l in lines if l["type"] == "snapshot" and l["loops"]]
        busy = [l["loops"][0]["busy"] for l in snaps if l["loops"][0]["busy"] is not None]
        self.assertTrue(busy, snaps[-1:])
        self.assertGreater(busy[-1], 0.5)
        self.assertLessEqual(busy[-1], 1.0)
        # Jobs: about one task step per iteration at ~250 iterations/s (a quiet loop's windows cover most of it).
        self.assertGreater(snaps[-1]["loops"][0]["jobs"], 50)
        self.assertTrue(any(hooked_polls))
        self.assertNotIn("select", st.selector.__dict__ if st.selector else {})

    def test_a_busy_loop_runs_unhooked_between_short_windows(self):
        # Thousands of iterations per second: a window closes after 2 ms and 200 polls, one opens per
        # 50 ms snapshot, so most iterations run without the hook.
        hooked = []

        async def main():
            loop = asyncio.get_running_loop()
            st = [s for s in self.agent.loops if s.loop_ref() is loop][0]
            deadline = time.monotonic() + 0.8
            while time.monotonic() < deadline:
                # (the heartbeat's own poll stays: ``_beat_in_iterations``; the window's hook wraps it)
                hooked.append(loop._selector.__dict__.get("select") is st.select_hook)
                await asyncio.sleep(0)

        asyncio.run(main())
        self.assertTrue(any(hooked))
        self.assertLess(sum(hooked) / len(hooked), 0.5)

    def test_a_busy_loops_window_ends_after_its_200_polls_not_10_ms(self):
        # A window closes at its first poll after WINDOW_POLLS polls and WINDOW_S (2 ms): a loop
        # iterating every ~20 µs is hooked for a few ms per snapshot, not 10 ms (each hooked iteration
        # costs it about a microsecond: 10 ms windows were ≈ 1.5 % of a callback-heavy program).
        spans = []

        async def main():
            loop = asyncio.get_running_loop()
            st = [s for s in self.agent.loops if s.loop_ref() is loop][0]
            deadline = time.monotonic() + 0.6
            while time.monotonic() < deadline:
                await asyncio.sleep(0)
            spans.extend((w[2] / 1e6, w[3]) for w in list(st.windows) + list(st.recent_windows))

        asyncio.run(main())
        self.assertTrue(spans)
        self.assertLess(sorted(ms for ms, _ in spans)[len(spans) // 2], 6.0, spans)  # the median window

    def test_many_loops_keep_few_states_and_ids_are_never_reused(self):
        for _ in range(50):
            asyncio.run(asyncio.sleep(0))
        import gc as _gc

        _gc.collect()
        asyncio.run(asyncio.sleep(0))
        self.assertLessEqual(len(self.agent.loops), 3)
        self.assertEqual(self.agent.loops[-1].id, 50)

    def test_a_full_pipe_drops_lines_and_never_blocks(self):
        start = time.monotonic()
        for _ in range(2000):
            self.agent.emit({"type": "padding", "x": "y" * 500})
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertGreater(self.agent.dropped_lines, 0)

    def test_the_agent_leaves_the_loop_as_it_found_it(self):
        loop = asyncio.new_event_loop()
        selector = loop._selector
        loop_attrs = set(loop.__dict__)

        async def main():
            st = [s for s in self.agent.loops if s.loop_ref() is loop][0]
            self.agent.open_window(st)
            return set(selector.__dict__)

        during = loop.run_until_complete(main())
        self.assertIn("select", during)  # shadowed while a measurement window is open
        self.assertNotIn("select", selector.__dict__)
        self.assertEqual(set(loop.__dict__), loop_attrs)
        loop.close()


def _timerfds():
    """This process's timerfd descriptors now (Linux /proc/self/fd), or None where unknown."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    n = 0
    for name in names:
        try:
            if os.readlink("/proc/self/fd/" + name) == "anon_inode:[timerfd]":
                n += 1
        except OSError:
            pass
    return n


def _run_agent(code, *args, env_extra=None):
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "prog.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(code))
        r, w = os.pipe()
        env = {k: v for k, v in os.environ.items() if not k.startswith("QVTOP_")}
        env.pop("PYTHONPATH", None)
        env["PYTHONPATH"] = PYTHON_DIR
        env["QVTOP_ORIGINAL_PYTHONPATH"] = ""
        env["QVTOP_AGENT_FD"] = str(w)
        env.update(env_extra or {})
        proc = subprocess.run(
            [sys.executable, "-m", "qvtop_agent", script, *args],
            env=env, pass_fds=(w,), capture_output=True, text=True, timeout=30, cwd=d,
        )
        os.close(w)
        lines = _read_lines(r, lambda ls: bool(ls) and ls[-1].get("type") in ("exit",), timeout=5)
        os.close(r)
        return proc, lines, d


class MainTests(unittest.TestCase):
    def test_the_program_sees_what_plain_python_gives_it(self):
        proc, lines, d = _run_agent(
            """
            import os, sys, json
            print(json.dumps({"name": __name__, "argv": sys.argv[1:], "path0": sys.path[0],
                              "env": sorted(k for k in os.environ if k.startswith("QVTOP")),
                              "pythonpath": os.environ.get("PYTHONPATH")}))
            """,
            "a", "--b",
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        seen = json.loads(proc.stdout)
        self.assertEqual(seen["name"], "__main__")
        self.assertEqual(seen["argv"], ["a", "--b"])
        self.assertEqual(os.path.realpath(seen["path0"]), os.path.realpath(d))
        self.assertEqual(seen["env"], [])
        self.assertIsNone(seen["pythonpath"])
        self.assertEqual(lines[0]["type"], "hello")
        self.assertEqual(lines[0]["format"], qvtop_agent.FORMAT_VERSION)
        self.assertEqual(lines[-1]["type"], "exit")

    def test_an_exception_prints_the_scripts_traceback_and_exits_1(self):
        proc, lines, _ = _run_agent(
            """
            def start():
                raise ValueError("bad config")
            start()
            """
        )
        self.assertEqual(proc.returncode, 1)
        self.assertIn("ValueError: bad config", proc.stderr)
        self.assertIn('prog.py", line 3, in start', proc.stderr)
        self.assertNotIn("qvtop_agent", proc.stderr)
        self.assertNotIn("runpy", proc.stderr)
        self.assertIn({"type": "exception", "error": "ValueError: bad config"},
                      [{"type": l["type"], "error": l.get("error")} for l in lines if l["type"] == "exception"])

    def test_sys_exit_status_passes_through(self):
        proc, _, _ = _run_agent("import sys; sys.exit(5)")
        self.assertEqual(proc.returncode, 5)


try:
    import gevent  # noqa: F401

    HAVE_GEVENT = True
except ImportError:
    HAVE_GEVENT = False


@unittest.skipUnless(HAVE_GEVENT, "gevent is not installed in this Python")
class GeventTests(unittest.TestCase):
    def test_the_hub_is_watched_and_a_blocking_greenlet_is_named(self):
        proc, lines, _ = _run_agent(
            """
            import gevent.monkey
            gevent.monkey.patch_all()
            import gevent
            blocking_sleep = gevent.monkey.get_original("time", "sleep")
            def read_config():
                blocking_sleep(0.06)
            def worker():
                for _ in range(4):
                    gevent.sleep(0.1)
                    read_config()
            gevent.spawn(worker).join()
            """
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        snaps = [l for l in lines if l["type"] == "snapshot"]
        self.assertTrue(any(l["impl"].startswith("gevent hub") for s in snaps for l in s["loops"]), snaps[-1:])
        slow = [e for s in snaps for e in s["events"] if e["kind"] == "slowCallback"]
        self.assertTrue(any(e["name"].startswith("read_config (prog.py:") for e in slow), slow)
        loop = snaps[-1]["loops"][0]
        self.assertIsNone(loop["tasks"])  # greenlets are not counted: n/a, not 0
        self.assertIsInstance(loop["ready"], int)  # the hub's pending callbacks
        self.assertGreaterEqual(loop["switches"], 8)  # worker <-> hub, around each of 4 sleeps
        self.assertEqual(loop["monitor_reports"], 0)  # the program did not enable gevent's monitor
        self.assertIs(loop["monitor_thread"], False)  # ... and the stream says so (reports: n/a, not 0)
        self.assertIsNone(loop["monitor_last"])

    def test_gevent_monitor_threads_blocking_report_names_the_stall(self):
        proc, lines, _ = _run_agent(
            """
            import gevent.monkey
            gevent.monkey.patch_all()
            import gevent
            blocking_sleep = gevent.monkey.get_original("time", "sleep")
            def load_index():
                blocking_sleep(0.4)
            def worker():
                for _ in range(2):
                    gevent.sleep(0.1)
                    load_index()
            gevent.spawn(worker).join()
            """,
            env_extra={"GEVENT_MONITOR_THREAD_ENABLE": "1", "GEVENT_MAX_BLOCKING_TIME": "0.05"},
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        snaps = [l for l in lines if l["type"] == "snapshot" and l["loops"]]
        self.assertGreaterEqual(snaps[-1]["loops"][0]["monitor_reports"], 1, snaps[-1:])
        slow = [e for s in snaps for e in s["events"] if e["kind"] == "slowCallback"]
        named = [e["name"] for e in slow if "gevent monitor" in e["name"]]
        self.assertTrue(any(n.startswith("load_index (prog.py:") for n in named), slow)
        last = snaps[-1]["loops"][0]
        self.assertIs(last["monitor_thread"], True)
        self.assertTrue(last["monitor_last"]["name"].startswith("load_index (prog.py:"), last["monitor_last"])
        self.assertAlmostEqual(last["monitor_last"]["at_least_ms"], 50, delta=1)  # gevent's threshold


try:
    import uvloop  # noqa: F401

    HAVE_UVLOOP = True
except ImportError:
    HAVE_UVLOOP = False


@unittest.skipUnless(HAVE_UVLOOP, "uvloop is not installed in this Python")
class UvloopTests(unittest.TestCase):
    def test_uvloop_is_seen_its_missing_figures_are_none_and_a_stall_is_named(self):
        proc, lines, _ = _run_agent(
            """
            import asyncio, time, uvloop
            def read_config():
                time.sleep(0.06)
            async def main():
                for _ in range(4):
                    await asyncio.sleep(0.1)
                    read_config()
            uvloop.install()
            asyncio.run(main())
            """
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        snaps = [l for l in lines if l["type"] == "snapshot" and l["loops"]]
        loop = snaps[0]["loops"][0]
        self.assertTrue(loop["impl"].startswith("uvloop"), loop["impl"])
        for key in ("ready", "timers", "jobs", "busy", "ready_peak"):
            self.assertIsNone(loop[key], key)
        slow = [e for s in snaps for e in s["events"] if e["kind"] == "slowCallback"]
        self.assertTrue(any(e["name"].startswith("read_config (prog.py:") for e in slow), slow)


if __name__ == "__main__":
    unittest.main()
