"""``python3 -m qvtop_agent SCRIPT [ARGS...]``: install the agent, then run SCRIPT as ``__main__``.

qvtop starts this with the package's folder on ``PYTHONPATH`` and the stream's descriptor in
``QVTOP_AGENT_FD``. Before the script runs, the environment, ``sys.argv`` and ``sys.path`` are put
back to what ``python3 SCRIPT ARGS`` would give (``PYTHONPATH`` as qvtop found it, no ``QVTOP_``
variables, ``sys.path[0]`` the script's folder), and the descriptor is made close-on-exec so the
program's own children never inherit it. An exception that escapes the script is printed by
``sys.excepthook`` without the agent's frames and exits 1, as Python does.
"""

import atexit
import os
import platform
import runpy
import sys

import qvtop_agent

MIN_PYTHON = (3, 9)


def _trim(tb):
    """The traceback from the script's first frame on (drop runpy's and the agent's)."""
    agent_dir = os.path.dirname(os.path.abspath(qvtop_agent.__file__))
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not (name.startswith(agent_dir) or name.endswith("runpy.py") or name.startswith("<frozen runpy")):
            break
        tb = tb.tb_next
    return tb


def main(argv):
    if len(argv) < 1:
        sys.stderr.write("usage: python3 -m qvtop_agent SCRIPT [ARGS...]\n")
        return 2
    script = argv[0]
    fd = None
    raw = os.environ.pop("QVTOP_AGENT_FD", None)
    if raw is not None:
        fd = int(raw)
        os.set_blocking(fd, False)
        os.set_inheritable(fd, False)
    original_path = os.environ.pop("QVTOP_ORIGINAL_PYTHONPATH", None)
    agent_parent = os.path.dirname(os.path.dirname(os.path.abspath(qvtop_agent.__file__)))
    if original_path is not None:
        if original_path:
            os.environ["PYTHONPATH"] = original_path
        else:
            os.environ.pop("PYTHONPATH", None)
        if agent_parent not in original_path.split(os.pathsep):
            sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != agent_parent]
    rate = float(os.environ.pop("QVTOP_AGENT_RATE", "10") or "10")
    parent = os.environ.pop("QVTOP_PARENT_PID", None)
    agent = qvtop_agent.install(fd=fd, rate_hz=rate, parent_pid=int(parent) if parent else None)
    agent.emit(
        {
            "type": "hello",
            "format": qvtop_agent.FORMAT_VERSION,
            "agent": qvtop_agent.AGENT_VERSION,
            "python": platform.python_version(),
            "implementation": sys.implementation.name,
            "pid": os.getpid(),
            "script": script,
            "argv": argv[1:],
            "t": agent.now_s(),
        }
    )

    def at_exit():
        agent.final_sample()
        agent.emit({"type": "exit", "t": agent.now_s(), "status": "exited"})

    atexit.register(at_exit)
    sys.argv = list(argv)
    # Where python3 SCRIPT puts the script's folder: first on sys.path (with -m it is the cwd).
    script_dir = os.path.dirname(os.path.abspath(script))
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = script_dir
    else:
        sys.path.insert(0, script_dir)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        raise
    except BaseException as e:  # the script's own exception: report it, print it as Python would
        agent.emit({"type": "exception", "t": agent.now_s(), "error": "%s: %s" % (type(e).__name__, e)})
        tb = _trim(e.__traceback__)
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        return 1
    return 0


if __name__ == "__main__":
    if sys.version_info < MIN_PYTHON:
        sys.stderr.write(
            "qvtop: python %s is too old; qvtop's agent needs 3.9 or later\n" % platform.python_version()
        )
        sys.exit(3)
    sys.exit(main(sys.argv[1:]))
