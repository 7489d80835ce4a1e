"""qvtop's agent: measures a real CPython asyncio program from inside and streams it to qvtop.

Design
======
qvtop starts ``python3 -m qvtop_agent SCRIPT ARGS...`` with this package on ``PYTHONPATH`` and a
pipe's write end in ``QVTOP_AGENT_FD``. ``install()`` runs before the user's script, so every
event loop the program starts is seen, and nothing the program can observe changes: the agent
adds per running loop a heartbeat (asyncio on Linux: the loop's poll replaced by an
equivalent that queues it, ``Agent._beat_in_iterations``; else a timerfd its selector watches, or a
timer) and a watchdog alarm (a timerfd, Linux), a ``gc.callbacks`` entry and one daemon thread (``qvtop-agent``: the watchdog, and the snapshots
no heartbeat takes).

What is measured, and how (docs/python-agent.md has the stream format and every field):

- Loops are found when they start running: ``asyncio.events._set_running_loop`` is wrapped (it is
  what ``run_forever`` calls on entry and exit). Every loop gets a ``LoopState``.
- Heartbeat lag: a callback on a 1 ms grid (``t0 + k * 1 ms``) records how late it ran; every slot
  the loop skipped counts as late until the loop ran (slot lag, as the Swift loops do it). It runs
  in the first loop iteration after its slot, between two callbacks, as a timer due then would. For
  asyncio's loops on an EpollSelector it costs a busy loop no timer and no system call: the loop's
  poll, replaced by an equivalent, queues it when its slot is due, and a poll with nothing to do
  arms a one-shot timerfd at the next slot before it sleeps. Other selector loops on Linux: a
  periodic timerfd on the grid that the selector watches (``Agent._arm`` says why not a loop
  timer).
- Busy share and jobs run: for one measurement window per snapshot (at least 2 ms and 200
  iterations) the loop's ``_selector.select`` is shadowed per instance (once per loop iteration,
  never per callback). In a window, time outside ``select`` is busy; jobs per iteration are the
  ready queue after the poll, plus the I/O events it returned, plus the timers already due; between
  windows jobs advance at the windows' rate. Rejected: the hook on every iteration, which cost as
  much as the poll itself (~3 % of a callback-heavy program; docs/performance.md).
- Ready queue (``loop._ready``), timers (``loop._scheduled``, minus a timer heartbeat): read by the
  snapshot's taker; ``None`` (n/a) where a loop has no such attribute (uvloop).
- Tasks by state and by what they await: ``asyncio.all_tasks(loop)``; each waiting task's
  coroutine chain (``cr_await``) is walked to the innermost asyncio frame (sleep, socket, lock,
  queue, to_thread; anything else is a future).
- The default executor: its threads, each one busy (inside a work item: which function) or idle,
  its work queue, and how many jobs it has completed (a done-callback on each submission counts them).
- GC pauses: ``gc.callbacks`` times each collection; one on a loop's thread longer than 1 ms is a
  blocking region of that loop (an event).
- The culprit of a stall: the agent's thread sleeps until a loop's watchdog alarm fires (Linux: a
  one-shot timerfd that the loop's heartbeat pushes 9 ms ahead every 6 ms, so it fires only when
  the heartbeat is late; ``_Alarms``), else it wakes every 8 ms; when a loop's heartbeat is 2 ms
  overdue it reads the loop thread's stack (``sys._current_frames()``) and names the innermost frame
  that is not asyncio or the agent (function, file:line) and the current task. When the heartbeat
  runs again, the stall becomes a ``slowCallback`` event with that name. Rejected: a thread waking
  on a period (each wake-up waits for the GIL while the loop thread signals it at every release:
  ≈ 3 % of a callback-heavy program at 8 ms); ``faulthandler.dump_traceback_later`` (a C thread that
  needs no GIL, but a process-wide singleton the program or its test runner may use itself).

Rejected: wrapping every callback (``Handle._run``) to time it — exact, but it slows every callback
of the program; ``sys.setprofile`` — slower still; asyncio debug mode — it changes the program
(logging, slow-callback warnings, coroutine origin tracking).

Snapshots: one every 1/rate s, taken by the first heartbeat of an asyncio loop (one of the two kinds
above) after it is due (on that loop's thread, between two callbacks) while one beats on time, else by the agent's
thread (no loop running, every loop stalled, loops without that heartbeat): a healthy program's
GIL is never taken by the agent's thread (``Agent.run``). ``sample_lock`` makes one snapshot at a
time; "the snapshot's taker" below is whichever thread holds it.

Threads: the snapshot's taker reads loop state that the loop thread writes; under the GIL each read of
a Python object is atomic, and each figure is read once per sample (a sample may mix two iterations,
never a torn value). ``LoopState`` fields are written by the loop thread only, except
``culprit`` and ``culprit_time`` (agent's thread only, read by the loop thread's heartbeat).
"""

import asyncio
import asyncio.base_events
import asyncio.events
import bisect
import select
import selectors
import collections
import concurrent.futures
import concurrent.futures.thread
import gc
import heapq
import json
import os
import signal
import sys
import threading
import time
import weakref
from _thread import get_ident as _real_get_ident  # the OS thread's id, even after gevent patches _thread

_sleep = time.sleep  # the real one, even after gevent patches time (the agent's thread is an OS thread)

__all__ = ["install", "uninstall", "kind_started", "kind_done", "FORMAT_VERSION", "Histogram"]

#: The stream's format version (docs/python-agent.md). qvtop refuses a newer one.
FORMAT_VERSION = 1
AGENT_VERSION = "1.0"

HEARTBEAT_S = float(os.environ.get("QVTOP_HEARTBEAT_MS", "1")) / 1000.0
SLOW_MS = float(os.environ.get("QVTOP_SLOW_MS", "10"))
#: A heartbeat this late is a stall in progress: the watchdog names what the loop runs.
OVERDUE_S = 0.002
#: The periodic watchdog's period (where there is no timerfd, or ``QVTOP_WATCHDOG_MS`` asks for it):
#: OVERDUE_S + WATCHDOG_S = SLOW_MS, so every stall long enough to be a slow callback is seen while it
#: happens (each wake-up takes the GIL: fewer is cheaper).
WATCHDOG_S = float(os.environ.get("QVTOP_WATCHDOG_MS", str(max(1.0, SLOW_MS - OVERDUE_S * 1000)))) / 1000.0
#: The alarm watchdog (Linux): a loop's heartbeat pushes its alarm this far ahead...
ALARM_S = 0.009
#: ...once every this long (each push is a system call, ≈ 3 µs here): a beat that runs on time keeps
#: the alarm from ever firing; a stall that starts right after a push fires it ALARM_S later (≤ 9 ms:
#: every stall of SLOW_MS is still seen while it happens), one that starts just before the next push
#: ALARM_S - ALARM_PUSH_S later (≥ 3 ms: overdue, or re-armed for the moment it will be).
ALARM_PUSH_S = 0.006
GC_BLOCKING_MS = 1.0
#: Heartbeat lag histogram bucket upper bounds, ms (Telemetry's LagSummary.bucketBoundsMs).
LAG_BOUNDS_MS = (0.1, 0.5, 1, 2, 5, 10, 20, 50, 100, float("inf"))
#: The same bounds in ns (``Histogram.record`` compares integers; ``b * 1e6`` is exact for these).
_LAG_BOUNDS_NS = tuple(b * 1e6 for b in LAG_BOUNDS_MS)
BUSY_WINDOW_S = 1.0
#: Least length of the measurement window opened once per snapshot (busy share, jobs, ready peak)...
WINDOW_S = float(os.environ.get("QVTOP_WINDOW_MS", "2")) / 1000.0
#: ...and at least this many loop iterations: a busy loop (100 000 iterations/s) is measured ≈ 2 ms
#: of every snapshot period, a quiet one (its heartbeat's 1 000/s) nearly all the time, ≈ 2 000
#: hooked iterations per second at most either way (each costs about a microsecond), so rare jobs
#: are still counted. (10 ms windows hooked a busy loop 5 times as often: ≈ 1.5 % of the callback
#: program, docs/performance.md.)
WINDOW_POLLS = 200

_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
_LIB_DIR = os.path.dirname(_ASYNCIO_DIR)


class Histogram:
    """Nanosecond values in log-linear buckets (8 per power of two: within 12.5 %), plus a max."""

    SUB = 8

    def __init__(self):
        self.counts = {}
        self.total = 0
        self.max = 0
        self.coarse = [0] * len(LAG_BOUNDS_MS)

    @classmethod
    def index(cls, ns):
        if ns < cls.SUB:
            return ns
        e = ns.bit_length() - 1
        return (e - 2) * cls.SUB + ((ns >> (e - 3)) & (cls.SUB - 1))

    @classmethod
    def upper(cls, index):
        """The largest value that lands in bucket ``index``."""
        if index < cls.SUB:
            return index
        e = index // cls.SUB + 2
        sub = index % cls.SUB
        return ((cls.SUB + sub + 1) << (e - 3)) - 1

    def record(self, ns, count=1):
        ns = int(ns) if ns > 0 else 0
        if ns < 8:
            i = ns
        else:
            e = ns.bit_length() - 1  # Histogram.index, inlined: one call less per heartbeat
            i = (e - 2) * 8 + ((ns >> (e - 3)) & 7)
        counts = self.counts
        counts[i] = counts.get(i, 0) + count
        self.total += count
        if ns > self.max:
            self.max = ns
        # The first coarse bucket (≤ 0.1 ms) is an on-time beat's: no search for it.
        self.coarse[0 if ns <= _LAG_BOUNDS_NS[0] else bisect.bisect_left(_LAG_BOUNDS_NS, ns)] += count

    def percentile(self, p):
        """Value at quantile ``p`` (0…1), ns: the bucket's upper bound, capped at the max seen."""
        if self.total == 0:
            return 0
        rank = max(1, int(p * self.total + 0.999999))
        seen = 0
        for idx in sorted(self.counts):
            seen += self.counts[idx]
            if seen >= rank:
                return min(self.upper(idx), self.max)
        return self.max


class _Lag:
    """Heartbeat lateness on a grid of ``period`` seconds (loop clock), and slot lag."""

    def __init__(self, origin, period=HEARTBEAT_S):
        self.origin = origin
        self.period = period
        self.k = 1
        self.beats = Histogram()
        self.slots = Histogram()
        self.recent_ns = 0

    def due(self):
        return self.origin + self.k * self.period

    def tick(self, now):
        """The heartbeat of slot ``k`` ran at ``now``: returns its lateness (s) and advances ``k`` past
        every slot already passed (each skipped slot late by ``now - slot``)."""
        k = self.k
        late = now - (self.origin + k * self.period)
        if late < 0.0:
            late = 0.0
        ns = int(late * 1e9)
        self.beats.record(ns)
        if ns > self.recent_ns:
            self.recent_ns = ns
        last = int((now - self.origin) / self.period)
        if last <= k:
            # The common case, a beat within its own slot: that slot is late by the beat's lateness.
            self.slots.record(ns)
            self.k = k + 1
            return late
        j = k
        # A long stall skips many slots: record them in one pass, bounded by a minute of slots.
        stop = min(last, self.k + 60000)
        while j <= stop:
            self.slots.record(max(0.0, now - (self.origin + j * self.period)) * 1e9)
            j += 1
        self.k = max(last + 1, self.k + 1)
        return late

    def summary(self):
        recent = self.recent_ns
        self.recent_ns = 0
        return {
            "p50_ms": self.beats.percentile(0.5) / 1e6,
            "p99_ms": self.beats.percentile(0.99) / 1e6,
            "max_ms": self.beats.max / 1e6,
            "slot_p99_ms": self.slots.percentile(0.99) / 1e6,
            "recent_ms": recent / 1e6,
            "buckets": list(self.beats.coarse),
            "beats": self.beats.total,
        }


#: Library folders whose frames are the loop's own machinery (gevent's is added when it is seen).
_INTERNAL_DIRS = [_ASYNCIO_DIR]


def _is_internal(filename):
    return (
        filename.startswith(tuple(_INTERNAL_DIRS))
        or filename.startswith(_AGENT_DIR)
        or filename.endswith(("selectors.py", "threading.py", "runpy.py"))
    )


def _in_poll(code):
    """The loop thread's innermost frame is its selector's poll: EpollSelector's ``select``, or the
    agent's equivalent (``epoll_select``) or its window hook (``select``)."""
    if code.co_filename.startswith(_AGENT_DIR):
        return code.co_name in ("epoll_select", "select")
    return code.co_name == "select" and code.co_filename.endswith("selectors.py")


def culprit_of(frame):
    """What the thread whose innermost frame is ``frame`` is running: 'function (file:line)' of the
    innermost frame outside asyncio and the agent; when the loop's own machinery is innermost
    (the stack reaches ``_run_once`` first), that asyncio frame, marked ``[asyncio]``. None for no frame."""
    f = frame
    while f is not None:
        code = f.f_code
        if not _is_internal(code.co_filename):
            return "%s (%s:%d)" % (code.co_name, os.path.basename(code.co_filename), f.f_lineno)
        if code.co_name == "_run_once":
            inner = frame.f_code
            return "%s (%s:%d) [asyncio]" % (inner.co_name, os.path.basename(inner.co_filename), frame.f_lineno)
        f = f.f_back
    return None


def _await_kind(code):
    path = code.co_filename
    if not path.startswith(_ASYNCIO_DIR):
        return None
    name = os.path.basename(path)
    if name == "tasks.py" and code.co_name == "sleep":
        return "sleep"
    if name == "threads.py":
        return "to_thread"
    if name == "locks.py":
        return "lock"
    if name == "queues.py":
        return "queue"
    if name in ("streams.py", "selector_events.py", "base_events.py"):
        return "socket"
    return None


def await_kind(task):
    """What a waiting task awaits: the innermost asyncio coroutine of its chain names it."""
    kind = "future"
    coro = task.get_coro()
    depth = 0
    while coro is not None and depth < 100:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            k = _await_kind(frame.f_code)
            if k is not None:
                kind = k
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        depth += 1
    return kind


_NOT_CAUGHT = "(not caught: the agent's thread did not run during the stall)"

TASK_STATES = ("running", "ready", "sleep", "socket", "future", "lock", "queue", "to_thread")


def task_census(loop):
    """Tasks of ``loop`` by state; running = the loop's current task, ready = scheduled to step."""
    counts = dict.fromkeys(TASK_STATES, 0)
    try:
        tasks = asyncio.all_tasks(loop)
    except RuntimeError:
        tasks = set()
    current = asyncio.current_task(loop) if hasattr(asyncio, "current_task") else None
    for t in tasks:
        if t is current:
            counts["running"] += 1
        elif getattr(t, "_fut_waiter", None) is None:
            counts["ready"] += 1
        else:
            counts[await_kind(t)] += 1
    counts["total"] = sum(counts[s] for s in TASK_STATES)
    return counts, current


class _Alarms:
    """The watchdog's alarms (Linux): one one-shot ``timerfd`` per loop, pushed ahead by the loop's own
    heartbeat, and one epoll set the agent's thread sleeps in. A healthy loop never fires its alarm,
    so the agent's thread never wakes and never takes the GIL from the program (a periodic watchdog
    waking every 8 ms cost a callback-heavy program ≈ 3 %: each wake-up waits up to the interpreter's
    5 ms switch interval for the GIL, signalled on every GIL release of the loop thread meanwhile;
    docs/performance.md). ``timerfd_create`` and ``timerfd_settime`` come from libc through ctypes
    (``os.timerfd_*`` is Python 3.13's); ``PyDLL``: a call keeps the GIL (it never blocks), so a push
    gives no waiting thread a GIL hand-off. ``None`` from ``load`` where any part is missing: the
    periodic watchdog then.

    Who calls what: ``open``/``close`` the loop thread (loop start and stop) or the program's thread
    (gevent's hub); ``push`` the loop thread (its heartbeat, with the state's own ``itimerspec``);
    ``rearm`` and ``wait`` the agent's thread (its own ``itimerspec``). The kernel serialises
    ``timerfd_settime`` calls on one descriptor; the last one wins, and either thread's is correct
    (the watchdog re-checks the loop at every wake)."""

    @classmethod
    def load(cls):
        if not sys.platform.startswith("linux") or "QVTOP_WATCHDOG_MS" in os.environ:
            return None
        try:
            import ctypes

            libc = ctypes.PyDLL(None, use_errno=True)
            create, settime = libc.timerfd_create, libc.timerfd_settime
            create.argtypes = (ctypes.c_int, ctypes.c_int)
            create.restype = ctypes.c_int

            class Timespec(ctypes.Structure):
                _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

            class Itimerspec(ctypes.Structure):
                _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]

            alarms = cls(ctypes, create, settime, Itimerspec, select.epoll())
            probe = alarms.open()  # the whole path once: create, arm, disarm, close
            alarms.push(probe, 0.001)
            alarms.close(probe)
            return alarms
        except Exception:
            return None

    def __init__(self, ctypes, create, settime, spec_type, epoll):
        self.ctypes = ctypes
        self.create = create
        self.settime = settime
        self.spec_type = spec_type
        self.epoll = epoll  # created before the program runs (gevent's patch removes select.epoll)
        self.stop_r, self.stop_w = os.pipe()  # uninstall wakes the agent's thread through it
        epoll.register(self.stop_r, 1)  # EPOLLIN
        # A loop that stops wakes the agent's thread through this one (it may have been sleeping
        # without a timeout while that loop's heartbeat took the snapshots, ``Agent.run``).
        self.poke_r, self.poke_w = os.pipe()
        os.set_blocking(self.poke_r, False)
        os.set_blocking(self.poke_w, False)
        epoll.register(self.poke_r, 1)
        self.watch_spec = self.spec(spec_type())

    def spec(self, itimerspec):
        """(value field, pointer) of one ``itimerspec``: set the field, pass the pointer."""
        return itimerspec, itimerspec.it_value, self.ctypes.byref(itimerspec)

    def _timerfd(self):
        """A new disarmed timerfd on CLOCK_MONOTONIC (the loops' clock), close-on-exec, non-blocking."""
        fd = self.create(1, os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            raise OSError(self.ctypes.get_errno(), "timerfd_create")
        return fd

    def open(self):
        """A new disarmed alarm: (descriptor, the loop thread's itimerspec)."""
        fd = self._timerfd()
        # Edge-triggered: each expiry is one event, and the descriptor is never read (a read after
        # its loop closed it could take bytes from a program's descriptor that reused the number).
        self.epoll.register(fd, 1 | (1 << 31))  # EPOLLIN | EPOLLET
        return (fd, self.spec(self.spec_type()))

    def open_wake(self):
        """A disarmed one-shot timer on CLOCK_MONOTONIC for a loop's idle poll (``_beat_in_iterations``):
        (descriptor, ``arm_at``). Not in the watchdog's set: the loop's epoll object watches it."""
        fd = self._timerfd()
        spec, value, ref = self.spec(self.spec_type())
        settime = self.settime

        def arm_at(t):
            """Fires once at ``t`` (absolute time.monotonic seconds); a new arm replaces the last."""
            value.tv_sec, value.tv_nsec = divmod(int(t * 1e9), 1_000_000_000)
            settime(fd, 1, ref, None)  # TFD_TIMER_ABSTIME

        return fd, arm_at

    def open_beat(self, first, period):
        """A periodic timer for a loop's heartbeat: fires at ``first``, ``first + period``, ... (absolute
        CLOCK_MONOTONIC seconds, the clock of asyncio's ``loop.time()``). Not in the watchdog's set:
        the loop's own selector watches it. Returns the descriptor."""
        fd = self._timerfd()
        spec = self.spec_type()
        ns = int(period * 1e9)
        spec.it_interval.tv_sec, spec.it_interval.tv_nsec = divmod(ns, 1_000_000_000)
        first_ns = int(first * 1e9)
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(first_ns, 1_000_000_000)
        if self.settime(fd, 1, self.ctypes.byref(spec), None) != 0:  # TFD_TIMER_ABSTIME
            err = self.ctypes.get_errno()
            os.close(fd)
            raise OSError(err, "timerfd_settime")
        return fd

    def push(self, alarm, seconds, spec=None):
        """Arms ``alarm`` to fire once, ``seconds`` from now (0: disarm)."""
        _, value, ref = spec or alarm[1]
        ns = int(seconds * 1e9)
        value.tv_sec, value.tv_nsec = divmod(ns, 1_000_000_000)
        self.settime(alarm[0], 0, ref, None)

    def rearm(self, alarm, seconds):
        """The agent's thread's push (its own itimerspec)."""
        self.push(alarm, max(seconds, 1e-6), self.watch_spec)

    def close(self, alarm):
        try:
            self.epoll.unregister(alarm[0])
        except (OSError, ValueError):
            pass
        os.close(alarm[0])

    def wait(self, timeout):
        """The agent's thread: sleeps (GIL released) until an alarm fires, ``stop`` or ``poke`` is
        called or ``timeout`` s (None: no timeout) have passed. The descriptors of the alarms that
        fired; None once stopped."""
        fired = set(fd for fd, _ in self.epoll.poll(-1 if timeout is None else timeout))
        if self.poke_r in fired:
            fired.discard(self.poke_r)
            try:
                os.read(self.poke_r, 64)
            except OSError:
                pass
        return None if self.stop_r in fired else fired

    def stop(self):
        os.write(self.stop_w, b"x")

    def poke(self):
        """Any thread: the agent's thread wakes up and looks again (a full pipe is already a poke)."""
        try:
            os.write(self.poke_w, b"x")
        except OSError:
            pass

    def shut(self):
        for fd in (self.stop_r, self.stop_w, self.poke_r, self.poke_w):
            os.close(fd)
        self.epoll.close()


class LoopState:
    """One loop the program runs. Written by its loop thread; read by the agent's thread and the snapshot's taker."""

    def __init__(self, loop, loop_id):
        self.loop_ref = weakref.ref(loop)
        self.id = loop_id
        self.impl = "%s.%s" % (type(loop).__module__, type(loop).__qualname__)
        self.thread = _real_get_ident()
        self.thread_name = threading.current_thread().name
        self.running = False
        self.lag = None
        self.handle = None
        self.hooked = False  # the window hook is built (the loop has asyncio's selector and queues)
        self.select_hook = None  # the shadowing ``select`` (opened as an instance attribute per window)
        self.selector = None
        # the open measurement window (loop thread, inside the hook; opened by the snapshot's taker)
        self.window_open = False  # set by the snapshot's taker, cleared by the loop thread when closed
        self.window_end = 0  # ns: the first poll after this closes the window
        self.win_start = 0  # ns: the window's first poll (0 = not reached yet)
        self.last_exit = 0  # ns: the last poll's return
        self.win_busy = 0  # ns outside the poll between the window's first poll and its last
        self.win_jobs = 0
        self.win_polls = 0  # polls measured in the window
        self.win_beats = 0  # heartbeat count at the window's first poll (the beats are not jobs)
        self.ready_peak = 0
        # closed windows (loop thread appends, the snapshot's taker pops): (end ns, busy ns, span ns, jobs)
        self.windows = collections.deque(maxlen=64)
        self.run_start_ns = 0
        self.slow = 0
        self.alarm = None  # the watchdog's alarm of this loop (_Alarms.open), opened and closed by the loop thread
        self.alarm_push_at = 0.0  # loop clock: the heartbeat pushes the alarm ahead at its first beat from then on
        self.beat_fd = None  # the heartbeat's periodic timerfd, watched by the loop's selector (loop thread)
        # the heartbeat queued by the loop's poll (``_beat_in_iterations``; loop thread): its handle, whether
        # it is in the ready queue now, and the poll that replaced the selector's (windows wrap it)
        self.beat_handle = None
        self.beat_queued = False
        self.beat_wake_fd = None  # its idle poll's one-shot wake-up timer (a timerfd), or None
        self.wake_arms = 0  # times an idle poll armed that timer (at most once per slot)
        self.base_select = None
        # this loop's heartbeat takes the due snapshots (its clock is time.monotonic; read by the agent's thread)
        self.beat_takes_snapshots = False
        # the agent's thread (the watchdog)
        self.culprit = None
        # the snapshot's taker (Agent.take_sample; a loop thread or the agent's thread)
        self.jobs = 0  # jobs estimated from the windows (see Agent.sample)
        self.jobs_at = 0  # ns: when ``jobs`` was last advanced
        self.recent_windows = collections.deque()  # windows of the last BUSY_WINDOW_S
        self.max_ready = 0
        # the last task seen holding the loop since the previous snapshot: by a snapshot or by the
        # agent's thread naming a stall (written by either under the GIL); each snapshot reports it and
        # starts the next interval with the task it saw current (still running), else None
        self.last_task = None
        self.gevent = None  # the hub, when this state watches gevent's hub
        self.switches = None  # greenlet switches (gevent: the loop thread's greenlet trace counts them)
        self.monitor_reports = 0  # gevent's monitor thread's blocking reports (monitor thread writes)
        self.monitor_last = None  # the last named report: {"t", "name", "at_least_ms"} (monitor thread writes)


class _HubLoop:
    """Stands in for a loop when the program runs gevent: its hub's clock and closed state."""

    def __init__(self, hub):
        self.hub_ref = weakref.ref(hub)

    def time(self):
        return time.monotonic()

    def is_closed(self):
        hub = self.hub_ref()
        return hub is None or hub.loop is None


def _watch_gevent(agent):
    """Subscribes to gevent's patch events (zope.event, gevent's own dependency) when it is installed,
    without importing gevent: on GeventDidPatchAllEvent (in the program's thread, during
    ``monkey.patch_all()``) the agent starts watching that thread's hub."""
    try:
        import importlib.util

        if importlib.util.find_spec("gevent") is None or importlib.util.find_spec("zope.event") is None:
            return
        import zope.event
    except Exception:
        return

    def on_event(event):
        name = type(event).__name__
        if name not in ("GeventDidPatchAllEvent", "EventLoopBlocked"):
            return
        try:
            if name == "GeventDidPatchAllEvent":
                agent.gevent_patched()
            else:
                agent.gevent_blocked(event)
        except Exception as e:
            agent.emit({"type": "agent_error", "t": agent.now_s(), "error": "%s: %s" % (type(e).__name__, e)})

    zope.event.subscribers.append(on_event)
    agent._gevent_subscriber = on_event



class Agent:
    """The installed agent: hooks, the agent's thread and the stream writer."""

    def __init__(self, fd=None, rate_hz=10.0, clock=time.monotonic_ns, parent_pid=None):
        self.fd = fd
        self.parent_pid = parent_pid
        self.rate_hz = rate_hz
        self.clock = clock
        self.start_ns = clock()
        self.loops = []
        self.next_loop_id = 0
        self.lock = threading.Lock()  # guards self.loops, self.events, self.completed
        self.events = []
        self.dropped_lines = 0
        self.dropped_events = 0
        self.sequence = 0
        self.gc_start = {}
        self.gc_ns = 0
        self.gc_count = 0
        self.gc_thread_active = {}
        self.kinds = collections.OrderedDict()
        self.completed = weakref.WeakKeyDictionary()  # executor → jobs finished (guarded by self.lock)
        self.pool_busy_since = {}
        self.stop_flag = threading.Event()
        self.thread = None
        self._orig_set_running = None
        self._orig_submit = None
        self._buffer = b""
        self.emit_lock = threading.Lock()  # the agent's thread and a loop thread (errors) both emit
        self.period = 1.0 / rate_hz
        #: time.monotonic s: when the next snapshot is due. Written by whichever thread takes it
        #: (``take_sample``, under ``sample_lock``); read by the heartbeats and the agent's thread.
        self.sample_at = time.monotonic() + self.period
        self.sample_lock = threading.Lock()  # one snapshot at a time (never waited for: acquire(False))
        self.alarms = _Alarms.load()  # None: the periodic watchdog

    # -- time ----------------------------------------------------------------------------
    def now_s(self):
        return (self.clock() - self.start_ns) / 1e9

    # -- stream ----------------------------------------------------------------------------
    def emit(self, obj):
        """Writes one line. Never blocks the program: the descriptor is non-blocking, and while the
        pipe is full new lines are dropped (counted) and the unwritten rest of a line waits."""
        if self.fd is None:
            return
        line = (json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n").encode()
        with self.emit_lock:
            if len(self._buffer) > 1 << 20:
                self.dropped_lines += 1
                return
            pending = self._buffer
            data = pending + line
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                self.dropped_lines += 1
                return
            except OSError:
                self.fd = None  # qvtop went away; the program goes on unobserved
                return
            self._buffer = data[n:]

    def add_event(self, kind, loop_id, duration_ms, name):
        with self.lock:
            if len(self.events) >= 1000:
                self.dropped_events += 1
                return
            self.events.append(
                {"t": self.now_s(), "kind": kind, "loop": loop_id, "duration_ms": duration_ms, "name": name}
            )

    # -- loops -------------------------------------------------------------------------------
    def _state_for(self, loop):
        for st in self.loops:
            if st.loop_ref() is loop:
                return st
        with self.lock:
            # Ids are never reused (a program may create and drop many loops), and states of loops
            # that are gone are dropped, so a long run with many asyncio.run calls keeps a few.
            self.loops = [old for old in self.loops if old.loop_ref() is not None]
            st = LoopState(loop, self.next_loop_id)
            self.next_loop_id += 1
            self.loops.append(st)
        return st

    def loop_started(self, loop):
        st = self._state_for(loop)
        st.thread = _real_get_ident()
        st.thread_name = threading.current_thread().name
        st.running = True
        st.run_start_ns = self.clock()
        if st.lag is None:
            st.lag = _Lag(loop.time())
        else:
            st.lag.origin = loop.time()
            st.lag.k = 1
        if not st.hooked and all(hasattr(loop, a) for a in ("_selector", "_ready", "_scheduled", "_clock_resolution")):
            self._hook_iteration(loop, st)
        self._open_alarm(st)
        self._arm(loop, st)

    def loop_stopped(self, loop):
        for st in self.loops:
            if st.loop_ref() is loop and st.running:
                st.running = False
                if st.handle is not None:
                    st.handle.cancel()
                    st.handle = None
                self._close_beat(loop, st)
                self._close_alarm(st)
                if self.alarms is not None:
                    self.alarms.poke()  # its heartbeat took the snapshots: the agent's thread takes over
                if st.hooked:
                    st.selector.__dict__.pop("select", None)
                    st.window_open = False
                    st.hooked = False
                    st.selector = st.select_hook = None

    def _arm(self, loop, st):
        # Three heartbeats, cheapest first (docs/performance.md measured each):
        # - asyncio's own loops on an EpollSelector (Linux): the beat is queued by the loop's own poll
        #   (``_beat_in_iterations``): no timer and no system call while the loop is busy.
        # - other asyncio selector loops on Linux: a periodic timerfd on the 1 ms grid that the loop's
        #   selector watches (``add_reader``), not a loop timer. A pending timer, even a far one, makes
        #   every iteration compute a timeout (+6 % on the echo program); the timerfd is re-armed by the
        #   kernel when the beat reads it (a periodic timerfd that is not read expires once only; the
        #   expirations count is not used: the grid gives the skipped slots).
        # - the rest (no timerfd, another clock): the beat's TimerHandle pushed back onto the loop's
        #   timer heap as call_at would (``_when``, ``_scheduled``, heappush), instead of a new handle
        #   per beat (a handle, a context copy and a call_at per millisecond are most of its cost).
        monotonic_clock = type(loop).time is asyncio.base_events.BaseEventLoop.time  # time.monotonic
        if st.hooked and monotonic_clock and self._beat_in_iterations(loop, st):
            return
        sched = loop._scheduled if st.hooked else None
        beat_fd = None
        if self.alarms is not None and st.hooked and monotonic_clock:
            try:
                beat_fd = self.alarms.open_beat(st.lag.due(), st.lag.period)
            except OSError:
                beat_fd = None
        read = os.read
        agent = self

        def beat():
            if beat_fd is not None:
                try:
                    read(beat_fd, 8)
                except OSError:
                    pass  # not readable (already read this period)
            now = loop.time()
            # loop.time() is time.monotonic() where the timerfd beats (``monotonic_clock``).
            agent._beat(st, now, beat_fd is not None)
            if beat_fd is None and st.running and not loop.is_closed():
                h = st.handle
                if sched is not None and h is not None and not h._cancelled and not h._scheduled:
                    h._when = st.lag.due()
                    h._scheduled = True
                    heapq.heappush(sched, h)
                else:
                    st.handle = loop.call_at(st.lag.due(), beat)

        if beat_fd is not None:
            st.beat_fd = beat_fd
            st.beat_takes_snapshots = True
            loop.add_reader(beat_fd, beat)
        else:
            st.handle = loop.call_at(st.lag.due(), beat)

    def _beat(self, st, now, takes_snapshots):
        """Loop thread, every heartbeat (every kind, gevent's hub's too): the slot's lateness, a stall that
        ended becomes a slow callback named by the watchdog, the watchdog's alarm pushed ahead, and the
        due snapshot taken here when this heartbeat ``takes_snapshots`` (``now`` is time.monotonic)."""
        late = st.lag.tick(now)
        if late * 1000 >= SLOW_MS:
            st.slow += 1
            self.add_event("slowCallback", st.id, late * 1000, st.culprit or _NOT_CAUGHT)
        st.culprit = None
        if now >= st.alarm_push_at and st.alarm is not None:
            self.alarms.push(st.alarm, ALARM_S)
            st.alarm_push_at = now + ALARM_PUSH_S
        if takes_snapshots and now >= self.sample_at:
            self.take_sample(now)

    def _beat_in_iterations(self, loop, st):
        """The heartbeat of an asyncio loop on an EpollSelector, with no kernel timer while it is busy
        (returns False, changing nothing, for any other selector). One instance attribute,
        ``selector.select``, in place of EpollSelector's own (the same steps, its attributes read once
        here instead of per call; the epoll object's ``poll`` rounds a timeout up to whole
        milliseconds itself), that the loop calls once per iteration anyway:

        - after the poll, once the slot is due, it appends the beat's handle to the ready queue: the
          beat runs in that iteration, between two callbacks, as a timer due then would; once per
          slot (``beat_queued``). Only the loop's thread polls.
        - a poll that may sleep polls without waiting first: a loop with work (events ready) goes on
          at once, with one ``epoll_wait`` as before. Only a loop with nothing to do arms its wake-up
          (a one-shot timerfd at the next slot, once per slot, in the loop's epoll set edge-triggered
          and never read: not one of the selector's keys, so its event is no job) and then sleeps as
          asked. An idle loop beats on time (ns timer), a busy one sees no timer.
          Without a timerfd (no descriptor to spare): the poll's timeout is cut to the next slot
          (rounded up to the millisecond by epoll, as asyncio's own timers are).

        Rejected: a periodic timerfd (the other loops' beat): ~1,000 wake-ups, events and ``read``
        calls a second on a busy loop; a loop timer (see ``_arm``); an instance attribute
        ``loop.time`` (asked once per iteration too): an attribute the loop did not have at its
        creation takes the loop object off CPython's fast attribute path, and every
        ``self._ready``/``self._selector`` of the loop's own code goes the slow way (+17 % of the
        callback program's instructions under callgrind, docs/performance.md)."""
        selector = loop._selector
        if type(selector) is not selectors.EpollSelector or "select" in selector.__dict__:
            return False
        epoll = selector._selector
        poll = epoll.poll
        fd_to_key = selector._fd_to_key
        ready = loop._ready
        mono = time.monotonic
        lag = st.lag
        agent = self
        EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT
        READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
        wake_fd = arm_at = None
        if self.alarms is not None:
            try:
                wake_fd, arm_at = self.alarms.open_wake()
                epoll.register(wake_fd, EPOLLIN | select.EPOLLET)
            except OSError:
                if wake_fd is not None:
                    os.close(wake_fd)
                wake_fd = arm_at = None
        due = lag.due()  # the next slot (loop thread: the beat moves it)
        armed = 0.0  # the slot the wake-up timer is armed for

        def beat():
            nonlocal due
            st.beat_queued = False
            agent._beat(st, mono(), True)
            due = lag.due()

        handle = asyncio.Handle(beat, (), loop, None)

        def epoll_select(timeout=None):
            nonlocal armed
            if timeout is None or timeout > 0:
                if arm_at is None:
                    wait = due - mono()
                    if timeout is None or wait < timeout:
                        timeout = wait if wait > 0.0 else 0.0  # (a negative timeout would block)
                    fd_event_list = None
                else:
                    try:
                        fd_event_list = poll(0, len(fd_to_key) + 1)
                    except InterruptedError:
                        fd_event_list = ()
                    if not fd_event_list:
                        if armed != due:
                            armed = due
                            arm_at(due)
                            st.wake_arms += 1
                        fd_event_list = None
                    timeout = -1 if timeout is None else timeout
            else:
                timeout, fd_event_list = 0, None
            if fd_event_list is None:
                try:
                    fd_event_list = poll(timeout, len(fd_to_key) + 1)
                except InterruptedError:
                    fd_event_list = ()
            ready_keys = []
            for fd, event in fd_event_list:
                events = 0
                if event & ~EPOLLIN:
                    events |= WRITE
                if event & ~EPOLLOUT:
                    events |= READ
                key = fd_to_key.get(fd)
                if key:
                    ready_keys.append((key, events & key.events))
            if mono() >= due and not st.beat_queued and st.running:
                st.beat_queued = True
                ready.append(handle)
            return ready_keys

        st.beat_handle = handle
        st.beat_queued = False
        st.beat_wake_fd = wake_fd
        st.beat_takes_snapshots = True
        st.base_select = epoll_select
        selector.select = epoll_select
        return True

    def _close_beat(self, loop, st):
        """Loop thread, at the loop's stop: the heartbeat leaves the loop as it found it (its timerfd
        out of the loop's selector, or the poll of ``_beat_in_iterations`` removed and a queued beat
        cancelled)."""
        st.beat_takes_snapshots = False
        handle, st.beat_handle = st.beat_handle, None
        if handle is not None:
            handle.cancel()
            st.beat_queued = False
            if st.selector is not None:
                st.selector.__dict__.pop("select", None)
            st.base_select = None
            wake, st.beat_wake_fd = st.beat_wake_fd, None
            if wake is not None:
                os.close(wake)  # (closing it takes it out of the loop's epoll set)
        fd, st.beat_fd = st.beat_fd, None
        if fd is not None:
            try:
                loop.remove_reader(fd)
            except Exception:
                pass  # the loop's selector is already closed
            os.close(fd)

    def _open_alarm(self, st):
        """The loop's watchdog alarm, armed (loop thread, at its start). Without a descriptor to spare
        (the program used them all) the loop runs without one: its heartbeat still beats, but its
        stalls are not named (the agent says so once, as an agent_error)."""
        if self.alarms is not None and st.alarm is None:
            try:
                st.alarm = self.alarms.open()
            except OSError as e:
                self.emit({"type": "agent_error", "t": self.now_s(), "error": "watchdog alarm: %s" % e})
                return
            self.alarms.push(st.alarm, ALARM_S)
            st.alarm_push_at = 0.0

    def _close_alarm(self, st):
        alarm, st.alarm = st.alarm, None
        if alarm is not None:
            self.alarms.close(alarm)

    def _hook_iteration(self, loop, st):
        """Builds the window hook: a shadowing ``loop._selector.select`` that the snapshot's taker opens
        for one window per snapshot (``open_window``) and that closes itself at its first poll after
        ``WINDOW_S`` and ``WINDOW_POLLS`` polls. Inside a window, time outside the poll is busy, and right after each poll the
        ready queue plus the I/O events it returned plus the timers already due are that iteration's
        jobs (a descriptor ready both ways counts once). Between windows the loop runs untouched: a
        hook on every iteration costs about as much as the poll itself (docs/performance.md)."""
        selector = loop._selector
        orig_select = selector.select
        clock = self.clock
        ready = loop._ready
        sched = loop._scheduled
        resolution = loop._clock_resolution
        lag = st.lag

        def select(timeout=None):
            inner = st.base_select or orig_select
            t0 = clock()
            if st.win_start == 0:
                st.win_start = t0
                st.win_beats = lag.beats.total
            else:
                st.win_busy += t0 - st.last_exit
                if t0 >= st.window_end and st.win_polls >= WINDOW_POLLS:
                    # Close: this poll is not measured (the window ends where it starts).
                    if st.base_select is not None:
                        selector.select = st.base_select
                    else:
                        selector.__dict__.pop("select", None)
                    # A timerfd's or a loop timer's beats were counted as the poll's events or due
                    # timers; a beat the loop's own poll queued is subtracted from its ready queue below.
                    beats = lag.beats.total - st.win_beats if st.beat_handle is None else 0
                    st.windows.append((t0, st.win_busy, t0 - st.win_start, max(0, st.win_jobs - beats)))
                    st.window_open = False
                    return inner(timeout)
            events = inner(timeout)
            t1 = st.last_exit = clock()
            n = len(ready) + len(events) - st.beat_queued
            # Timers already due (the loop moves them to the ready queue next): walk the heap's due part.
            end = t1 / 1e9 + resolution  # clock is time.monotonic_ns, the loop's time() in ns
            if sched and sched[0]._when < end:
                stack = [0]
                while stack:
                    i = stack.pop()
                    if i < len(sched) and sched[i]._when < end:
                        if not sched[i]._cancelled:
                            n += 1
                        stack.append(2 * i + 1)
                        stack.append(2 * i + 2)
            st.win_jobs += n
            st.win_polls += 1
            if n > st.ready_peak:
                st.ready_peak = n
            return events

        st.selector = selector
        st.select_hook = select
        st.hooked = True

    def open_window(self, st):
        """The snapshot's taker: opens one measurement window on ``st``'s loop unless one is open. The
        window's fields are reset before the hook is installed, and the loop thread clears
        ``window_open`` only after it removed the hook, so the two never overlap (each step is
        atomic under the GIL)."""
        if not st.hooked or st.window_open or not st.running:
            return
        st.win_start = 0
        st.win_busy = 0
        st.win_jobs = 0
        st.win_polls = 0
        st.window_end = self.clock() + int(WINDOW_S * 1e9)
        st.window_open = True
        st.selector.select = st.select_hook

    # -- gevent -----------------------------------------------------------------------------
    def gevent_patched(self):
        """The program's thread just monkeypatched with gevent: watch its hub as a loop. The heartbeat
        is a repeating libev timer on the hub (1 ms grid); ready = the hub's pending callbacks."""
        import gevent

        _INTERNAL_DIRS.append(os.path.dirname(os.path.abspath(gevent.__file__)))
        hub = gevent.get_hub()
        stand_in = _HubLoop(hub)
        self._gevent_hub = (hub, stand_in)  # keeps the stand-in alive as long as the agent
        st = self._state_for(stand_in)
        st.impl = "gevent hub (%s.%s)" % (type(hub.loop).__module__, type(hub.loop).__qualname__)
        st.gevent = hub
        st.running = True
        st.run_start_ns = self.clock()
        st.lag = _Lag(time.monotonic())
        timer = hub.loop.timer(HEARTBEAT_S, HEARTBEAT_S)

        def beat():
            self._beat(st, time.monotonic(), False)  # the agent's thread takes this hub's snapshots

        self._open_alarm(st)
        timer.start(beat)
        st.handle = timer
        # Greenlet switches: greenlet's own trace hook (one Python call per switch, no per-callback
        # wrapping); a trace the program had set still runs.
        import greenlet

        previous = greenlet.settrace(None)

        def trace(event, args):
            if event in ("switch", "throw"):
                st.switches += 1
            if previous is not None:
                previous(event, args)

        st.switches = 0
        greenlet.settrace(trace)
        self._greenlet_trace = (greenlet, previous)

    def gevent_blocked(self, event):
        """gevent's own monitor thread (the program enabled it: ``GEVENT_MONITOR_THREAD_ENABLE``)
        reports the hub blocked (``gevent.events.EventLoopBlocked``, on the monitor thread, during the
        stall): its report names the culprit, in gevent's words, and is counted."""
        for st in self.loops:
            if st.gevent is None:
                continue
            st.monitor_reports += 1
            if st.lag is None or time.monotonic() - st.lag.due() < OVERDUE_S:
                continue  # the stall is over: its name would land on the next one
            where = None
            g = getattr(event, "greenlet", None)
            frame = getattr(g, "gr_frame", None) if g is not None else None
            if frame is None and g is not None:
                frame = sys._current_frames().get(st.thread)
            where = culprit_of(frame) if frame is not None else None
            name = where or getattr(g, "name", None) or "the hub"
            blocked_ms = getattr(event, "blocking_time", 0) * 1000
            st.culprit = "%s (gevent monitor: blocked %.0f+ ms)" % (name, blocked_ms)
            # One assignment of a new dict: the agent's thread reads it whole or not at all.
            st.monitor_last = {"t": self.now_s(), "name": name, "at_least_ms": blocked_ms}

    # -- executor ------------------------------------------------------------------------------
    def pool_snapshot(self, loop):
        """The default executor of ``loop`` (the snapshot's taker). The threads' stacks are read only when
        the executor has threads: ``sys._current_frames()`` builds a frame object per thread."""
        ex = getattr(loop, "_default_executor", None)
        if ex is None or not isinstance(ex, concurrent.futures.ThreadPoolExecutor):
            return None
        threads = list(getattr(ex, "_threads", ()))
        frames = sys._current_frames() if threads else {}
        states = []
        busy = 0
        now = self.clock()
        for i, th in enumerate(threads):
            kind = None
            f = frames.get(th.ident)
            inner = None
            while f is not None:
                if f.f_code.co_name == "run" and f.f_code.co_filename == concurrent.futures.thread.__file__:
                    kind = inner.f_code.co_name if inner is not None else "job"
                    break
                inner = f
                f = f.f_back
            key = th.ident
            if kind is None:
                self.pool_busy_since.pop(key, None)
                states.append({"id": i, "kind": None, "running_ms": 0.0})
            else:
                busy += 1
                since = self.pool_busy_since.setdefault(key, (kind, now))
                if since[0] != kind:
                    since = self.pool_busy_since[key] = (kind, now)
                states.append({"id": i, "kind": kind, "running_ms": (now - since[1]) / 1e6})
        queue = ex._work_queue.qsize() if hasattr(ex, "_work_queue") else 0
        with self.lock:
            completed = self.completed.get(ex)
        return {
            "threads": len(threads),
            "max_threads": getattr(ex, "_max_workers", None),
            "busy": busy,
            "queue": queue,
            "completed": completed,
            "thread_states": states,
        }

    # -- task kinds (the shipped presets report their own) ---------------------------------------
    def kind(self, name):
        k = self.kinds.get(name)
        if k is None:
            k = self.kinds[name] = {"started": 0, "completed": 0, "hist": Histogram(), "last_completed": 0}
        return k

    # -- sampling ------------------------------------------------------------------------------
    def watchdog(self, fired=()):
        """At each wake of the agent's thread (alarms ``fired``, or every WATCHDOG_S): a loop whose
        heartbeat is overdue is stalled; name what it runs now. A loop whose alarm fired early (its
        heartbeat late, not yet OVERDUE_S) has it re-armed for the moment it will be, and its next
        beat pushes it ahead again (``alarm_push_at``, written here: a float assignment, atomic under
        the GIL; the loop thread at worst pushes once more than needed)."""
        frames = None
        for st in list(self.loops):
            loop = st.loop_ref()
            if loop is None or not st.running or st.lag is None:
                continue
            overdue = loop.time() - st.lag.due()
            if overdue < OVERDUE_S:
                alarm = st.alarm
                if alarm is not None and alarm[0] in fired:
                    self.alarms.rearm(alarm, OVERDUE_S - overdue)
                    st.alarm_push_at = 0.0
                continue
            if st.culprit is None:
                gen = self.gc_thread_active.get(st.thread)
                if gen is not None:
                    st.culprit = "gc (generation %d)" % gen
                    continue
                if frames is None:
                    frames = sys._current_frames()
                frame = frames.get(st.thread)
                if frame is not None and _in_poll(frame.f_code):
                    st.culprit = "(in the loop's poll: woken late, or waiting for the GIL)"
                    continue
                where = culprit_of(frame) if frame is not None else None
                task = asyncio.current_task(loop) if st.gevent is None else None
                name = where or "(in the loop's own machinery or the agent)"
                if task is not None:
                    name += " in task " + task.get_name()
                    st.last_task = task.get_name()
                st.culprit = name

    def _window_figures(self, st, now):
        """Busy share and ready peak of ``st``'s loop from its measurement windows of the last
        ``BUSY_WINDOW_S``, and its jobs advanced at the windows' rate (the snapshot's taker). (None, None)
        for a loop without the hook (uvloop) or before its first window closed; while a window is
        held open by a stall, that window so far (its busy share rises with the stall)."""
        if not st.hooked and not st.jobs_at:
            return None, None
        while st.windows:
            st.recent_windows.append(st.windows.popleft())
        while st.recent_windows and now - st.recent_windows[0][0] > BUSY_WINDOW_S * 1e9 * 1.05:
            st.recent_windows.popleft()
        busy_ns = sum(w[1] for w in st.recent_windows)
        span_ns = sum(w[2] for w in st.recent_windows)
        jobs = sum(w[3] for w in st.recent_windows)
        if st.window_open and st.win_start and st.last_exit >= st.win_start:
            # The open window so far: a stall in progress is busy from the last poll's return on.
            busy_ns += st.win_busy + max(0, now - st.last_exit)
            span_ns += now - st.win_start
        busy = min(1.0, max(0.0, busy_ns / span_ns)) if span_ns > 0 else None
        if st.running and st.jobs_at and span_ns > 0:
            st.jobs += jobs / span_ns * (now - st.jobs_at)
        st.jobs_at = now
        peak = st.ready_peak if st.hooked else None
        st.ready_peak = 0
        return busy, peak

    def sample(self):
        """One snapshot line's object."""
        now = self.clock()
        loops = []
        pool = None
        states = list(self.loops)
        # Running loops; when none runs (between two asyncio.run calls, at exit), the last one.
        shown = [st for st in states if st.running] or states[-1:]
        for st in shown:
            loop = st.loop_ref()
            if loop is None:
                continue
            ready = len(loop._ready) if hasattr(loop, "_ready") else None
            if st.gevent is not None:
                ready = getattr(st.gevent.loop, "pendingcnt", None)
            timers = None
            if hasattr(loop, "_scheduled"):
                timers = len(loop._scheduled) - (1 if st.handle is not None else 0)
                timers = max(0, timers)
            if st.gevent is not None:
                census, current = None, None  # greenlets are not counted (yet)
            elif st.running:
                census, current = task_census(loop)
            else:
                census, current = dict.fromkeys(TASK_STATES + ("total",), 0), None
            busy, peak = self._window_figures(st, now)
            if ready is not None:
                peak = max(peak or 0, ready) if peak is not None else None
                st.max_ready = max(st.max_ready, ready, peak or 0)
            cur = current.get_name() if current is not None else None
            if cur is not None:
                st.last_task = cur
            loops.append(
                {
                    "id": st.id,
                    "impl": st.impl,
                    "thread": st.thread_name,
                    "running": st.running,
                    "ready": ready,
                    "ready_peak": peak,
                    "ready_max": st.max_ready if ready is not None else None,
                    "timers": timers,
                    "tasks": census,
                    "jobs": int(st.jobs) if st.hooked or st.jobs_at else None,
                    "slow": st.slow,
                    "busy": busy,
                    "current": cur,
                    "last_task": st.last_task,
                    "lag": st.lag.summary() if st.lag is not None else None,
                    "switches": st.switches,
                    "monitor_reports": st.monitor_reports if st.gevent is not None else None,
                    # gevent: is gevent's own monitor thread running (the program enabled it), and its last
                    # named blocking report; null for other loops.
                    "monitor_thread": (
                        getattr(st.gevent, "periodic_monitoring_thread", None) is not None
                        if st.gevent is not None
                        else None
                    ),
                    "monitor_last": st.monitor_last,
                }
            )
            st.last_task = cur  # the next interval starts with the task running now (or none)
            if pool is None:
                pool = self.pool_snapshot(loop)
            self.open_window(st)
        with self.lock:
            events, self.events = self.events, []
            dropped_events = self.dropped_events
        kinds = []
        dt = 1.0 / self.rate_hz
        for name, k in self.kinds.items():
            done = k["completed"]
            kinds.append(
                {
                    "kind": name,
                    "started": k["started"],
                    "completed": done,
                    "in_flight": max(0, k["started"] - done),
                    "p50_ms": k["hist"].percentile(0.5) / 1e6,
                    "p99_ms": k["hist"].percentile(0.99) / 1e6,
                    "throughput": (done - k["last_completed"]) / dt,
                }
            )
            k["last_completed"] = done
        self.sequence += 1
        return {
            "type": "snapshot",
            "t": (now - self.start_ns) / 1e9,
            "seq": self.sequence,
            "loops": loops,
            "pool": pool,
            "gc": {"collections": self.gc_count, "pause_ms": self.gc_ns / 1e6},
            "kinds": kinds,
            "events": events,
            "dropped_events": dropped_events,
            "dropped_lines": self.dropped_lines,
        }

    def take_sample(self, now):
        """Either thread: the snapshot line, if it is due at ``now`` (time.monotonic s) and no other
        thread is taking it. Also notices qvtop gone (killed without a chance to end us): then the
        program's group is ended, as qvtop would have, rather than left an orphan (only when the
        program leads its group)."""
        if not self.sample_lock.acquire(False):
            return
        try:
            if now < self.sample_at or self.stop_flag.is_set():
                return
            self.sample_at = max(self.sample_at + self.period, now)  # late: no burst of samples
            # Never raises: on a loop thread an exception would reach the program's loop.
            self._guarded(self._check_parent)
            self._guarded(lambda: self.emit(self.sample()))
        finally:
            self.sample_lock.release()

    def _check_parent(self):
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            self.parent_pid = None
            if os.getpgrp() == os.getpid():
                os.killpg(os.getpgrp(), signal.SIGTERM)

    def final_sample(self):
        """The program's last snapshot (at exit, on the thread that exits), not due or not: after one
        being taken by another thread (waited for up to 1 s), never at the same time."""
        got = self.sample_lock.acquire(timeout=1.0)
        try:
            self._guarded(lambda: self.emit(self.sample()))
        finally:
            if got:
                self.sample_lock.release()

    def _heartbeat_grace(self):
        """Agent's thread: how long a loop's heartbeat may still take the due snapshot — seconds until
        the last of the running loops' heartbeats that take snapshots (with an alarm that fires if it stops) is
        SLOW_MS overdue; 0 when none can (no such loop runs, or all are stalled that long). A loop
        thread the machine deschedules for a few ms takes the snapshot itself when it runs again."""
        grace = 0.0
        for st in self.loops:
            if st.running and st.beat_takes_snapshots and st.alarm is not None and st.lag is not None:
                loop = st.loop_ref()
                if loop is not None:
                    left = SLOW_MS / 1000.0 - (loop.time() - st.lag.due())
                    if left > grace:
                        grace = left
        return grace

    def run(self):
        """The agent's thread: the watchdog, woken when an alarm fires (or, without alarms, every
        WATCHDOG_S), and the snapshots that no heartbeat takes. While an asyncio loop's
        heartbeat (not a loop timer: ``_arm``) beats on time, the first beat after a snapshot is due takes it on the loop thread
        (``take_sample``) and this thread sleeps until an alarm fires or a loop stops: it takes no
        GIL at all from a healthy program (each wake-up of a thread waits for the GIL, which the
        loop thread hands over at its next release: ≈ 2 GIL hand-offs per snapshot, and the thread's
        own scheduling, docs/performance.md). Snapshots while no loop runs, while every loop's
        heartbeat is stalled (the alarm woke this thread: it then takes them on time, during the
        stall), or for loops whose heartbeat does not take them (uvloop, gevent) are this thread's. A stall
        is SLOW_MS here (``_heartbeat_grace``): a loop thread the machine deschedules for a few ms
        takes the due snapshot itself when it runs again, a few ms late.
        One thread, not a sampler and a watchdog: each thread of the program's process costs it even
        while blocked (≈ 1 % of the callback program's CPU, docs/performance.md). A stall whose
        alarm fires while a sample is being taken is looked at when the sample is done (a sample
        takes ≈ 0.2 ms; the GIL wait that a stall holding it imposes is the same for any thread)."""
        alarms = self.alarms
        self.sample_at = time.monotonic() + self.period
        while not self.stop_flag.is_set():
            now = time.monotonic()
            wait = self.sample_at - now
            grace = self._heartbeat_grace() if alarms is not None else 0.0
            if wait <= 0 and grace <= 0:
                self.take_sample(now)
                continue
            if alarms is not None:
                if grace > SLOW_MS / 1000.0 - OVERDUE_S:
                    timeout = None  # a heartbeat beats on time; its alarm wakes this thread if it stops
                elif grace > 0:
                    timeout = max(wait, grace)  # a heartbeat is late: it may still come back in time
                else:
                    timeout = wait
                fired = alarms.wait(timeout)
                if fired is None:
                    return
            else:
                # time.sleep, not Event.wait: one GIL release and re-acquire per wake-up (Event.wait
                # runs a Condition's Python code and takes its locks on every wake-up).
                _sleep(min(wait, WATCHDOG_S))
                fired = ()
            if fired or alarms is None:
                self._guarded(self.watchdog, fired)

    def _guarded(self, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # the agent must never take the program down
            self.emit({"type": "agent_error", "t": self.now_s(), "error": "%s: %s" % (type(e).__name__, e)})

    # -- gc ------------------------------------------------------------------------------------------
    def gc_callback(self, phase, info):
        ident = _real_get_ident()
        if phase == "start":
            self.gc_start[ident] = self.clock()
            self.gc_thread_active[ident] = info.get("generation", -1)
            return
        start = self.gc_start.pop(ident, None)
        self.gc_thread_active.pop(ident, None)
        if start is None:
            return
        ns = self.clock() - start
        self.gc_ns += ns
        self.gc_count += 1
        if ns / 1e6 >= GC_BLOCKING_MS:
            for st in self.loops:
                if st.thread == ident and st.running:
                    self.add_event(
                        "blockingEnd", st.id, ns / 1e6, "gc (generation %d)" % info.get("generation", -1)
                    )

    # -- install -------------------------------------------------------------------------------------
    def install(self):
        orig = asyncio.events._set_running_loop
        self._orig_set_running = orig
        agent = self

        def _set_running_loop(loop):
            previous = asyncio.events._get_running_loop()
            orig(loop)
            try:
                if loop is not None:
                    agent.loop_started(loop)
                elif previous is not None:
                    agent.loop_stopped(previous)
            except Exception as e:
                agent.emit({"type": "agent_error", "t": agent.now_s(), "error": "%s: %s" % (type(e).__name__, e)})

        _set_running_loop.__wrapped__ = orig
        asyncio.events._set_running_loop = _set_running_loop
        # asyncio re-exports it; uvloop and others import it from there at their own import.
        asyncio._set_running_loop = _set_running_loop

        orig_submit = concurrent.futures.ThreadPoolExecutor.submit
        self._orig_submit = orig_submit

        def submit(executor, *args, **kwargs):
            future = orig_submit(executor, *args, **kwargs)

            def completed(_):
                with agent.lock:
                    agent.completed[executor] = agent.completed.get(executor, 0) + 1

            with agent.lock:
                agent.completed.setdefault(executor, 0)
            future.add_done_callback(completed)
            return future

        submit.__wrapped__ = orig_submit
        submit.__doc__ = orig_submit.__doc__
        concurrent.futures.ThreadPoolExecutor.submit = submit
        gc.callbacks.append(self.gc_callback)
        _watch_gevent(self)
        self.thread = threading.Thread(target=self.run, name="qvtop-agent", daemon=True)
        self.thread.start()

    def uninstall(self):
        self.stop_flag.set()
        if self.alarms is not None:
            self.alarms.stop()
        th = self.thread
        if th is not None and th is not threading.current_thread():
            th.join(1.0)
        if self.alarms is not None:
            for st in self.loops:
                self._close_alarm(st)
            self.alarms.shut()
        if self._orig_set_running is not None:
            asyncio.events._set_running_loop = self._orig_set_running
            asyncio._set_running_loop = self._orig_set_running
        if self._orig_submit is not None:
            concurrent.futures.ThreadPoolExecutor.submit = self._orig_submit
        if self.gc_callback in gc.callbacks:
            gc.callbacks.remove(self.gc_callback)
        trace = getattr(self, "_greenlet_trace", None)
        if trace is not None:
            trace[0].settrace(trace[1])
        sub = getattr(self, "_gevent_subscriber", None)
        if sub is not None:
            import zope.event

            if sub in zope.event.subscribers:
                zope.event.subscribers.remove(sub)


_agent = None


def install(fd=None, rate_hz=10.0, parent_pid=None):
    """Installs the agent once (idempotent) and returns it. ``fd``: the stream's file descriptor;
    ``parent_pid``: qvtop's pid (the program's group is ended when that parent goes away)."""
    global _agent
    if _agent is None:
        _agent = Agent(fd=fd, rate_hz=rate_hz, parent_pid=parent_pid)
        _agent.install()
    return _agent


def uninstall():
    global _agent
    if _agent is not None:
        _agent.uninstall()
        _agent = None


def kind_started(name):
    """A unit of work of kind ``name`` started (the shipped presets report their task kinds)."""
    if _agent is not None:
        _agent.kind(name)["started"] += 1


def kind_done(name, seconds):
    """A unit of work of kind ``name`` finished after ``seconds``."""
    if _agent is not None:
        k = _agent.kind(name)
        k["completed"] += 1
        k["hist"].record(seconds * 1e9)
