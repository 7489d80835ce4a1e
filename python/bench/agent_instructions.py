"""The agent's cost in instructions, for callgrind (a figure this VM's noise does not move):

    valgrind --tool=callgrind PYTHON python/bench/agent_instructions.py SCALE PART PROGRAM.py

PYTHON is the interpreter itself (a pyenv shim is a shell script: valgrind would measure the shell).
Set PYTHONHASHSEED=0 and the malloc pin of overhead.py for both arms. PART: ``plain`` (no agent),
``all``, or ``all`` with one part off: ``nothread``, ``nobeat`` (heartbeat and alarms), ``nowindows``,
``nocensus``, ``nogc``. The agent's time constants (heartbeat period, alarm, overdue, window, snapshot
period) are multiplied by SCALE, valgrind's slowdown (≈ 80 here), so the run sees about as many beats
and snapshots per unit of work as one at full speed; they are printed on stderr. Subtract the agent's
start-up (the same run of a script that only imports asyncio) from the difference. docs/performance.md
("Session 10") has the figures.
"""

import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

scale, part, script = float(sys.argv[1]), sys.argv[2], sys.argv[3]
agent = None
if part != "plain":
    os.environ["QVTOP_HEARTBEAT_MS"] = str(scale)
    import qvtop_agent as q

    q.SLOW_MS *= scale
    q.OVERDUE_S *= scale
    q.ALARM_S *= scale
    q.ALARM_PUSH_S *= scale
    q.WINDOW_S *= scale
    A = q.Agent
    if part == "nothread":
        A.run = lambda self: None
    elif part == "nobeat":
        A._arm = lambda self, loop, st: None
        A._open_alarm = lambda self, st: None
    elif part == "nowindows":
        A.open_window = lambda self, st: None
    elif part == "nocensus":
        zero = dict.fromkeys(q.TASK_STATES + ("total",), 0)
        q.task_census = lambda loop: (dict(zero), None)
    elif part == "nogc":
        install = A.install

        def without_gc(self):
            import gc

            install(self)
            gc.callbacks.remove(self.gc_callback)

        A.install = without_gc
    elif part != "all":
        sys.exit("agent_instructions.py: unknown part %r (plain, all, nothread, nobeat, nowindows, nocensus, nogc)" % part)
    agent = q.install(fd=os.open(os.devnull, os.O_WRONLY), rate_hz=10.0 / scale)
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
if agent is not None:
    beats = sum(st.lag.beats.total for st in agent.loops if st.lag)
    print("beats %d snapshots %d stalls %d" % (beats, agent.sequence, sum(st.slow for st in agent.loops)), file=sys.stderr)
