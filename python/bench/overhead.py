"""The agent's overhead: two asyncio programs with and without qvtop's agent, interleaved rounds.

    python3 python/bench/overhead.py [--rounds 15]
    python3 python/bench/overhead.py --parts [--rounds 11]   # what each part of the agent costs

Programs (each times its own work, CPU time of the whole process by default or wall time with --wall,
so interpreter start-up is not counted):
- callbacks: 300 000 callbacks through call_soon chains plus 20 000 task steps (asyncio.sleep(0)),
  the loop's hottest path, where a per-callback cost would show;
- echo: 5 000 round trips over one loopback TCP connection (asyncio streams).

With the agent: `python3 -m qvtop_agent PROG` with everything it does (the 1 ms heartbeat, the
per-iteration hook in its measurement windows, the watchdog's alarms, a snapshot with the task census at 10 Hz)
writing its stream to /dev/null. Rounds alternate the order (plain, agent / agent, plain), after one
warm-up pair that is not counted. Prints per program the medians, the ratio of medians (the figure),
the ratio's 90 % confidence interval (the rounds resampled as pairs: how far this sitting can
resolve the figure — on this VM a run's CPU time moves by ±20 % from one run to the next, so a 3 %
budget needs many rounds and a quiet machine to be shown, not just met), the median of the rounds'
own ratios (each round's two runs are neighbours in time, so a load that drifts over the bench cancels
out of it), the spread and the load average, and a final "budget: N within, N over" line against the
3 % budget (on the ratio of medians).

Two things keep the comparison about the agent:
- glibc's malloc is pinned for both arms (GLIBC_TUNABLES: mmap threshold 1 MiB, trim threshold
  4 MiB; --no-pin-malloc leaves it alone). Unpinned, the echo program's 256 KiB receive buffer is
  mmapped and unmapped per read or served from the heap, depending on whether some earlier free
  raised glibc's dynamic threshold; the agent's own start-up can flip that (seen: the same program
  at 0.28 s or 0.13 s of CPU), which is a difference of heap luck, not of what the agent does.
- "in-process": each program also runs --rounds times in one process, alternately with the agent
  installed (install, run, uninstall) and without, and the median of those pairs' ratios is given
  (`inproc_paired`): no process start-up, one heap, neighbouring runs; steadier than separate
  processes on a loaded machine. It has the agent's every running part, but not its effect on start-up.
  With it, how quiet the runs were for the agent: the median count of stalls it saw per run
  (`inproc_stalls`: a loop thread the machine descheduled for 10 ms is one) and the share of
  snapshots its thread took (`inproc_thread_snapshots`: none while a loop's heartbeat beats on time;
  each one is a wake-up that takes the GIL from the program). On a quiet machine both are ≈ 0; a
  figure taken with many stalls measures the agent watching a descheduled program.
- "--parts": in one process, plain beside the agent whole and with one part switched off at a time
  (its thread, the heartbeat with the alarms, the windows, the census), each arm's paired median
  ratio to plain: what each part costs is the whole's ratio minus that arm's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
#: "cpu": the process's CPU time over the work (every thread: the agent's too), steadier than wall time
#: on a loaded machine, where wall time measures how much CPU the program got; "wall": elapsed time.
MEASURE = "cpu"
PYTHON_DIR = os.path.dirname(HERE)

PROGRAMS = {
    "callbacks": """
        import asyncio, time
        N = 300_000
        async def stepper(n):
            for _ in range(n):
                await asyncio.sleep(0)
        async def main():
            loop = asyncio.get_running_loop()
            done = loop.create_future()
            left = [N]
            def cb():
                left[0] -= 1
                if left[0] == 0:
                    done.set_result(None)
                else:
                    loop.call_soon(cb)
            t0 = time.perf_counter(); c0 = time.process_time()
            for _ in range(10):
                loop.call_soon(cb)
            await asyncio.gather(done, *(stepper(2000) for _ in range(10)))
            print(time.perf_counter() - t0, time.process_time() - c0)
        asyncio.run(main())
    """,
    "echo": """
        import asyncio, time
        M = 5_000
        async def serve(r, w):
            while True:
                line = await r.readline()
                if not line:
                    break
                w.write(line)
                await w.drain()
            w.close()
        async def main():
            server = await asyncio.start_server(serve, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            r, w = await asyncio.open_connection("127.0.0.1", port)
            t0 = time.perf_counter(); c0 = time.process_time()
            for _ in range(M):
                w.write(b"ping\\n")
                await w.drain()
                await r.readline()
            print(time.perf_counter() - t0, time.process_time() - c0)
            w.close()
            server.close()
        asyncio.run(main())
    """,
}


#: glibc malloc, fixed for both arms (see the module's docstring).
PIN_MALLOC = "glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=4194304"


def base_env(pin):
    env = dict(os.environ)
    if pin:
        env["GLIBC_TUNABLES"] = PIN_MALLOC
    return env


def run(script, agent, pin=True):
    env = base_env(pin)
    if agent:
        fd = os.open(os.devnull, os.O_WRONLY)
        env.update(PYTHONPATH=PYTHON_DIR, QVTOP_ORIGINAL_PYTHONPATH="", QVTOP_AGENT_FD=str(fd))
        argv = [sys.executable, "-m", "qvtop_agent", script]
        out = subprocess.run(argv, env=env, pass_fds=(fd,), capture_output=True, text=True, check=True)
        os.close(fd)
    else:
        out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=True)
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(cpu) if MEASURE == "cpu" else float(wall)


def inprocess_driver(name, rounds):
    """In this process: ``name`` alternately with the agent installed and without, ``rounds`` pairs
    after one warm-up pair; prints the JSON list of [plain, agent] CPU times."""
    import contextlib
    import io
    import threading

    sys.path.insert(0, PYTHON_DIR)
    import qvtop_agent

    code = compile(textwrap.dedent(PROGRAMS[name]), name, "exec")
    fd = os.open(os.devnull, os.O_WRONLY)

    def once(with_agent):
        out = []
        if with_agent:
            agent = qvtop_agent.install(fd=fd)
            take, by_thread = agent.take_sample, []

            def counting(now):
                before = agent.sequence
                take(now)
                if agent.sequence != before and threading.current_thread() is agent.thread:
                    by_thread.append(now)

            agent.take_sample = counting
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # the echo server's cancelled task at exit
                exec(code, {"__name__": "__main__", "print": lambda *a: out.append(a)})
            if with_agent:
                # How quiet the run was for the agent: stalls it saw (a loop thread the machine
                # descheduled for 10 ms is one), and the snapshots its thread had to take (none while
                # a loop's heartbeat beats on time).
                stats.append([sum(st.slow for st in agent.loops), len(by_thread), agent.sequence])
        finally:
            if with_agent:
                qvtop_agent.uninstall()
        return float(out[-1][1] if MEASURE == "cpu" else out[-1][0])

    pairs, stats = [], []
    once(False), once(True)
    del stats[:]
    for r in range(rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        got = {w: once(w) for w in order}
        pairs.append([got[False], got[True]])
    print(json.dumps({"pairs": pairs, "stats": stats}))


#: ``--parts``: the agent with one part switched off (by patching it, for this process only).
PARTS = ("all", "no thread", "no heartbeat or alarms", "no windows", "no census")


def part_switch(qvtop_agent):
    """A function that switches ``qvtop_agent`` to one of PARTS (by patching it, for this process only;
    "all" puts everything back). Also agent_instructions.py's."""
    agent_type = qvtop_agent.Agent
    census = qvtop_agent.task_census
    kept = {n: getattr(agent_type, n) for n in ("run", "_arm", "_open_alarm", "open_window")}

    def switch(part):
        for n, f in kept.items():
            setattr(agent_type, n, f)
        qvtop_agent.task_census = census
        if part == "no thread":
            agent_type.run = lambda self: None  # started and gone at once: no watchdog, no snapshots
        elif part == "no heartbeat or alarms":
            agent_type._arm = lambda self, loop, st: None
            agent_type._open_alarm = lambda self, st: None
        elif part == "no windows":
            agent_type.open_window = lambda self, st: None
        elif part == "no census":
            zero = dict.fromkeys(qvtop_agent.TASK_STATES + ("total",), 0)
            qvtop_agent.task_census = lambda loop: (dict(zero), None)
        elif part != "all":
            raise ValueError("unknown part %r (%s)" % (part, ", ".join(PARTS)))

    return switch


def parts_driver(name, rounds):
    """In this process: ``name`` plain and under the agent with each of PARTS, ``rounds`` rounds of
    every arm (order reversed every round) after a warm-up of each; prints each arm's paired median
    ratio to plain and how many stalls its runs saw."""
    import contextlib
    import io

    sys.path.insert(0, PYTHON_DIR)
    import qvtop_agent

    code = compile(textwrap.dedent(PROGRAMS[name]), name, "exec")
    fd = os.open(os.devnull, os.O_WRONLY)
    switch = part_switch(qvtop_agent)

    def once(part):
        out, stalls = [], 0
        if part is not None:
            switch(part)
            agent = qvtop_agent.install(fd=fd)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                exec(code, {"__name__": "__main__", "print": lambda *a: out.append(a)})
            if part is not None:
                stalls = sum(st.slow for st in agent.loops)
        finally:
            if part is not None:
                qvtop_agent.uninstall()
                switch("all")
        return float(out[-1][1] if MEASURE == "cpu" else out[-1][0]), stalls

    arms = (None,) + PARTS
    for a in arms:
        once(a)
    got = {a: [] for a in arms}
    for r in range(rounds):
        for a in arms if r % 2 == 0 else arms[::-1]:
            got[a].append(once(a))
    for part in PARTS:
        ratio = statistics.median(t / p[0] for (t, _), p in zip(got[part], got[None]))
        stalls = statistics.median(n for _, n in got[part])
        print("%-10s %-24s in-process paired %+.1f %%  (%g stalls a run, load %.1f)"
              % (name, part, (ratio - 1) * 100, stalls, os.getloadavg()[0]))


def ratio_interval(plain, agent, level=0.90, resamples=2000, seed=1):
    """The ratio of medians' ``level`` confidence interval: the rounds resampled with replacement as
    pairs (each round's two runs are neighbours in time), ``resamples`` times, seeded (the same runs
    give the same interval). How far the figure itself can be trusted on this machine, in this sitting."""
    import random

    rng = random.Random(seed)
    n = len(plain)
    got = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        got.append(statistics.median(agent[i] for i in idx) / statistics.median(plain[i] for i in idx))
    got.sort()
    lo = got[int((1 - level) / 2 * resamples)]
    hi = got[min(resamples - 1, int((1 + level) / 2 * resamples))]
    return lo, hi


def inprocess(name, rounds, pin):
    env = base_env(pin)
    argv = [sys.executable, os.path.abspath(__file__), "--inprocess-driver", name, "--rounds", str(rounds)]
    if MEASURE == "wall":
        argv.append("--wall")
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    stats = got["stats"]
    return (
        statistics.median(a / p for p, a in got["pairs"]),
        statistics.median(s[0] for s in stats),
        sum(s[1] for s in stats) / max(1, sum(s[2] for s in stats)),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument("--budget", type=float, default=0.03)
    ap.add_argument("--wall", action="store_true", help="compare wall time instead of CPU time")
    ap.add_argument("--json", action="store_true", help="one JSON object per program instead of the table")
    ap.add_argument("--no-pin-malloc", action="store_true", help="leave glibc's malloc thresholds dynamic")
    ap.add_argument("--inprocess-driver", metavar="PROGRAM", help=argparse.SUPPRESS)
    ap.add_argument("--parts-driver", metavar="PROGRAM", help=argparse.SUPPRESS)
    ap.add_argument("--parts", action="store_true",
                    help="in-process only: the agent with each part switched off, beside plain")
    args = ap.parse_args()
    global MEASURE
    MEASURE = "wall" if args.wall else "cpu"
    if args.inprocess_driver:
        inprocess_driver(args.inprocess_driver, args.rounds)
        return 0
    if args.parts:
        for name in PROGRAMS:
            argv = [sys.executable, os.path.abspath(__file__), "--parts-driver", name, "--rounds", str(args.rounds)]
            subprocess.run(argv + (["--wall"] if args.wall else []), env=base_env(not args.no_pin_malloc), check=True)
        return 0
    if args.parts_driver:
        parts_driver(args.parts_driver, args.rounds)
        return 0
    pin = not args.no_pin_malloc
    passed = failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, code in PROGRAMS.items():
            script = os.path.join(d, name + ".py")
            with open(script, "w") as f:
                f.write(textwrap.dedent(code))
            load0 = os.getloadavg()[0]
            run(script, False, pin), run(script, True, pin)  # warm-up pair: page cache, .pyc files
            plain, agent = [], []
            for r in range(args.rounds):
                order = (False, True) if r % 2 == 0 else (True, False)
                for with_agent in order:
                    (agent if with_agent else plain).append(run(script, with_agent, pin))
            mp, ma = statistics.median(plain), statistics.median(agent)
            ratio = ma / mp
            paired = statistics.median(a / p for a, p in zip(agent, plain))
            lo, hi = ratio_interval(plain, agent)
            inproc, stalls, thread_share = inprocess(name, args.rounds, pin)
            load = [round(load0, 2), round(os.getloadavg()[0], 2)]
            ok = ratio <= 1 + args.budget
            passed += ok
            failed += not ok
            if args.json:
                print(json.dumps({"program": name, "rounds": args.rounds, "plain_s": mp, "agent_s": ma,
                                  "ratio": ratio, "ratio_ci90": [lo, hi], "paired_ratio": paired, "load": load, "measure": MEASURE, "plain_range": [min(plain), max(plain)],
                                  "agent_range": [min(agent), max(agent)], "budget": args.budget,
                                  "inproc_paired": inproc, "inproc_stalls": stalls,
                                  "inproc_thread_snapshots": thread_share, "malloc_pinned": pin}))
                continue
            print(
                "%-10s plain %.3f s (%.3f-%.3f)  agent %.3f s (%.3f-%.3f)  ratio %.3f (90%% CI %.3f-%.3f; paired %.3f, in-process %.3f)  %s"
                % (name, mp, min(plain), max(plain), ma, min(agent), max(agent), ratio, lo, hi, paired, inproc,
                   "within" if ok else "over", )
                + " the %d %% budget (load %.1f-%.1f)" % (round(args.budget * 100), load[0], load[1])
                + "; in-process %g stalls a run, %.0f %% of snapshots by the agent's thread" % (stalls, thread_share * 100)
            )
    if not args.json:
        print("budget: %d within, %d over" % (passed, failed))
    return 0 if failed == 0 or args.json else 1


if __name__ == "__main__":
    sys.exit(main())
