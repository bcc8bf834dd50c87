#!/usr/bin/env python3
"""The ceiling of T writer threads on S SQLite shards (issue 9 item 5).

A discrete-event model of libshard's Put on SQLite, with the parameters
measured in bench/WRITERS.md:
  outside  CPU per put before BEGIN IMMEDIATE (encode, route, pool), µs
  inside   CPU per put while the shard's write lock is held
           (BEGIN IMMEDIATE .. COMMIT: SQL, B-trees, WAL frames, syscalls)
  extra    CPU added per put when another connection wrote the shard file
           since this connection's last transaction (SQLite drops its
           page cache: the pages are read again)
Each put picks one of S shards uniformly (random ids). A thread that finds
the shard locked waits until the release plus a wake-up latency (0 = an
ideal hand-off; libshard's busy handler polls: yields, then 50 µs sleeps).
Every thread has a core of its own (threads <= cores); `share` < 1 models
other processes taking part of each core (CPU phases stretched by 1/share).
The model ignores cache-line and kernel contention between the cores.

  python3 bench/writers_model.py            # the table in WRITERS.md
"""
import heapq
import random


def simulate(threads, shards, outside, inside, extra, wake_us, share=1.0, puts=200000, seed=1):
    """Returns (puts/s, µs blocked per put per thread)."""
    rng = random.Random(seed)
    stretch = 1.0 / share
    free_at = [0.0] * shards          # when each shard's write lock is released
    last_writer = [-1] * shards       # which thread wrote each shard last
    events = [(0.0, t) for t in range(threads)]  # (time the thread starts a put, thread)
    heapq.heapify(events)
    done, end, blocked = 0, 0.0, 0.0
    while done < puts:
        now, t = heapq.heappop(events)
        s = rng.randrange(shards)
        ready = now + outside * stretch          # reaches BEGIN IMMEDIATE
        start = ready if free_at[s] <= ready else free_at[s] + wake_us
        blocked += start - ready
        cost = inside + (extra if last_writer[s] not in (-1, t) else 0.0)
        finish = start + cost * stretch
        free_at[s] = finish
        last_writer[s] = t
        done += 1
        end = max(end, finish)
        heapq.heappush(events, (finish, t))
    return puts / end * 1e6, blocked / puts


def main():
    # Measured (WRITERS.md): 26.7 µs CPU per put single-threaded, ~90 % of
    # the instructions and nearly all system time inside the transaction;
    # ~1.7 µs more per put when another connection wrote the file since
    # (2 threads: 28.4 µs).
    outside, inside, extra = 2.7, 24.0, 1.7 * 4 / 3  # 3 in 4 puts follow the other thread on 4 shards
    print("| threads | shards | free cores | wake-up after release µs | puts/s | × 1 thread "
          "| blocked µs per put per thread |")
    print("|---|---|---|---|---|---|---|")
    for threads, shards, share in [(2, 4, 1.0), (2, 16, 1.0), (4, 4, 1.0), (4, 16, 1.0)]:
        base, _ = simulate(1, shards, outside, inside, 0.0, 0.0, share)
        for wake in (0.0, 10.0, 25.0):
            r, b = simulate(threads, shards, outside, inside, extra, wake, share)
            print(f"| {threads} | {shards} | {threads} | {wake:.0f} | {r:,.0f} | {r / base:.2f} | {b:.1f} |")


if __name__ == "__main__":
    main()
