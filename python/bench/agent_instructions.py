"""The agent's cost in instructions, for callgrind (a figure this VM's noise does not move):

    valgrind --tool=callgrind PYTHON python/bench/agent_instructions.py SCALE PART PROGRAM.py

PYTHON is the interpreter itself (a pyenv shim is a shell script: valgrind would measure the shell).
Set PYTHONHASHSEED=0 and the malloc pin of overhead.py for both arms. PART: ``plain`` (no agent),
``all``, or one of overhead.py's PARTS (quoted: ``"no thread"``, ``"no heartbeat or alarms"``,
``"no windows"``, ``"no census"``). The agent's time constants (heartbeat period, alarm, overdue, window, snapshot
period) are multiplied by SCALE, valgrind's slowdown (≈ 80 here), so the run sees about as many beats
and snapshots per unit of work as one at full speed; they are printed on stderr. Subtract the agent's
start-up (the same run of a script that only imports asyncio) from the difference. docs/performance.md
("Session 10") has the figures.
"""

import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]

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
    import overhead  # its PARTS and how to switch one off

    try:
        overhead.part_switch(q)(part)
    except ValueError as e:
        sys.exit("agent_instructions.py: %s" % e)
    agent = q.install(fd=os.open(os.devnull, os.O_WRONLY), rate_hz=10.0 / scale)
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
if agent is not None:
    beats = sum(st.lag.beats.total for st in agent.loops if st.lag)
    print("beats %d snapshots %d stalls %d" % (beats, agent.sequence, sum(st.slow for st in agent.loops)), file=sys.stderr)
