"""What one `qvtop bench sample` sample executes and misses, under callgrind's cache simulation (counts this VM's
noise does not move):

    python3 python/bench/sample_cachesim.py QVTOP [COUNT]

QVTOP is a release build of qvtop. valgrind stops on its full debug information, so the script runs a copy with
the debug sections stripped (`objcopy --strip-debug`). The run collects only inside
`FiberSampler.sample(scheduler, into:)` (the call the benchmark times) and dumps after each call, so each dump
is one sample. Per case (`vt-256`, 16, 64, 256 carriers, 256 idle), it prints the medians over the timed samples
(the warm-up samples are left out) of:

- instructions (Ir);
- L1 data read and write misses (D1mr, D1mw), which count the distinct data lines a sample touches: the
  simulation runs the carriers' threads one at a time, so they evict the sampler's lines between samples;
- L1 instruction misses (I1mr).

It takes about 15 minutes with COUNT 20 (the default). docs/performance.md ("Session 14") has the figures.
"""

import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

SAMPLE = "$s9Workloads12FiberSamplerV6sample_4intoy7Runtime9SchedulerC_9Telemetry8SnapshotVztF"
EVENTS = ("Ir", "D1mr", "D1mw", "I1mr")


def summary(path):
    """The `summary:` line of one dump, by event name."""
    events = []
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:"):
                values = [int(v) for v in line.split()[1:]]
                values += [0] * (len(events) - len(values))
                return dict(zip(events, values))
    sys.exit("sample_cachesim.py: %s has no summary line" % path)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    binary, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 20
    for tool in ("valgrind", "objcopy"):
        if shutil.which(tool) is None:
            sys.exit("sample_cachesim.py: %s is not installed" % tool)
    work = tempfile.mkdtemp(prefix="qvtop-cachesim-")
    stripped = os.path.join(work, "qvtop")
    subprocess.run(["objcopy", "--strip-debug", binary, stripped], check=True)
    out = os.path.join(work, "cg.out")
    subprocess.run(
        ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--callgrind-out-file=" + out,
         "--dump-after=" + SAMPLE, "--toggle-collect=" + SAMPLE,
         stripped, "bench", "--json", "sample", "--count", str(count)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dumps = sorted(glob.glob(out + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    # The cases in the benchmark's order, each with its warm-up samples first (SamplerBenchmarks.swift).
    cases = [("vt-256", 2, min(count, 100))] + [(c, 5, count) for c in ("16", "64", "256", "256-idle")]
    at = 0
    for name, warm, timed in cases:
        rows = [summary(p) for p in dumps[at + warm: at + warm + timed]]
        at += warm + timed
        if not rows:
            break
        figures = "  ".join("%s %d" % (e, statistics.median(r.get(e, 0) for r in rows)) for e in EVENTS)
        misses = statistics.median(r.get("D1mr", 0) + r.get("D1mw", 0) for r in rows)
        print("%-9s samples %d  %s  D1 misses %d" % (name, len(rows), figures, misses))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
