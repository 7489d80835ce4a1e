"""uvloop: the py-asyncio workload on libuv's loop

uvloop has no ready queue or timer heap that Python can read: those figures are n/a. Needs uvloop
(`pip install uvloop`).
"""

import sys

try:
    import uvloop
except ImportError:
    sys.stderr.write("py-uvloop needs uvloop: pip install uvloop (into the python3 qvtop runs, or pass --python-bin)\n")
    sys.exit(3)

import _workload

if __name__ == "__main__":
    uvloop.install()
    _workload.run(offload=False)
