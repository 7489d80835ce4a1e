"""CPython asyncio + to_thread: blocking work in the executor

The twin of preset to-thread.

The same workload with `hash` and `disk` in `asyncio.to_thread`: the loop stays free, the lag stays
low, and the executor's threads show who is busy with what.
"""

import _workload

if __name__ == "__main__":
    _workload.run(offload=True)
