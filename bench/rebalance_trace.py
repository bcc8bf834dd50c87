#!/usr/bin/env python3
"""Where a writer's time went during a rebalance (shard-bench workload
`rebalance`, run with SHARD_BENCH_TRACE=DIR).

    python3 bench/rebalance_trace.py DIR/rebalance-sqlite-*.csv

Each put that finished during the rebalance and took longer than 1 ms is
put into one class by what the mover was doing on the put's shard while it
ran (first match wins):

  own bucket   the put's bucket was moving (between its switch and done)
  A            a switch or cleanup ran on the put's shard as the source
  B            rows were being copied into the put's shard (a target)
  C            the copy was reading the put's shard (a source)
  D            no move step on the put's shard

It prints the time spent in slow puts per class, and the mean time per
move step (wall) from the progress events.
"""
import collections
import csv
import sys

STEPS = ("copy", "switch", "cleanup", "done")


def load(path):
    puts, moves = [], collections.defaultdict(dict)
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["kind"] == "put":
                # `from` of a put row: its record's shard before the rebalance
                puts.append((int(r["start_us"]), int(r["end_us"]), int(r["bucket"]), r["from"]))
            else:
                m = moves[int(r["bucket"])]
                m[r["step"]] = int(r["start_us"])
                m["from"], m["to"] = r["from"], r["to"]
    return puts, moves


def main(paths):
    spent, count = collections.Counter(), collections.Counter()
    total_rb = total_slow = n_puts = n_slow = 0
    step_ms, n_moves = collections.Counter(), 0
    for path in paths:
        puts, moves = load(path)
        rb_end = max(m.get("done", 0) for m in moves.values())
        total_rb += rb_end
        full = [m for m in moves.values() if all(k in m for k in STEPS)]
        for m in full:
            n_moves += 1
            step_ms["copy (copy..switch)"] += (m["switch"] - m["copy"]) / 1000
            step_ms["switch (switch..cleanup)"] += (m["cleanup"] - m["switch"]) / 1000
            step_ms["cleanup (cleanup..done)"] += (m["done"] - m["cleanup"]) / 1000
        for start, end, bucket, shard in puts:
            if not 0 <= end <= rb_end:
                continue
            n_puts += 1
            ms = (end - start) / 1000
            if ms <= 1:
                continue
            n_slow += 1
            total_slow += ms
            m = moves.get(bucket)
            if m and "done" in m and start >= m["done"]:
                shard = m["to"]
            own = m and "switch" in m and end > m["switch"] and start < m.get("done", 1 << 62)
            cls = "own bucket moving" if own else None
            for o in full if cls is None else []:
                if o["from"] == shard and o["switch"] < end and o["done"] > start:
                    cls = "A switch/cleanup on its shard (source)"
                    break
            for o in full if cls is None else []:
                if o["to"] == shard and o["copy"] < end and o["cleanup"] > start:
                    cls = "B copy into its shard (target)"
                    break
            for o in full if cls is None else []:
                if o["from"] == shard and o["copy"] < end and o["switch"] > start:
                    cls = "C copy reading its shard (source)"
                    break
            cls = cls or "D no move step on its shard"
            spent[cls] += ms
            count[cls] += 1
    print("rebalances: %.1f s in all; puts during them: %d; > 1 ms: %d (%.1f %%), "
          "taking %.1f s" % (total_rb / 1e6, n_puts, n_slow, 100 * n_slow / max(1, n_puts),
                             total_slow / 1000))
    for cls in sorted(spent):
        print("  %-42s %6d puts %7.2f s %5.1f %%" %
              (cls, count[cls], spent[cls] / 1000, 100 * spent[cls] / max(1e-9, total_slow)))
    print("moves: %d; mean wall per move:" % n_moves)
    for step, ms in step_ms.items():
        print("  %-26s %7.2f ms" % (step, ms / max(1, n_moves)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
