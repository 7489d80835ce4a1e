"""CPython asyncio: one event loop, blocking calls on the loop

The twin of preset asyncio.

Socket round trips, a little CPU work and a 50 ms blocking call, all on the loop's thread. Watch the
loop lag: every `disk` call stops the loop for the whole call, the lag jumps to about 50 ms and the
slow-callback list names `disk_read` in task `disk` as the culprit.
"""

import _workload

if __name__ == "__main__":
    _workload.run(offload=False)
