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
the shard locked waits: either an ideal hand-off (woken at the release), or
libshard's busy handler (connection.cc PollWhileBusy): 8 sched_yield polls,
then sleeps of 50 µs, each overshooting by the kernel's timer slack.
Threads never exceed cores here: `share` < 1 models other processes taking
part of each core (every CPU phase is stretched by 1/share).

  python3 bench/writers_model.py            # the table in WRITERS.md
"""
import heapq
import random


def simulate(threads, shards, outside, inside, extra, busy_handler, share=1.0,
             puts=200000, yield_us=1.0, sleep_us=50.0, slack_us=55.0, seed=1):
    rng = random.Random(seed)
    stretch = 1.0 / share
    free_at = [0.0] * shards          # when each shard's write lock is released
    last_writer = [-1] * shards       # which thread wrote each shard last
    events = [(0.0, t) for t in range(threads)]  # (time the thread starts a put, thread)
    heapq.heapify(events)
    done = 0
    end = 0.0
    while done < puts:
        now, t = heapq.heappop(events)
        s = rng.randrange(shards)
        ready = now + outside * stretch          # reaches BEGIN IMMEDIATE
        if free_at[s] <= ready:
            start = ready
        elif not busy_handler:
            start = free_at[s]                    # woken at the release
        else:
            # SQLite calls the handler after each failed attempt, attempt 0, 1, …
            tick, attempt = ready, 0
            while free_at[s] > tick:
                if attempt < 8:
                    tick += yield_us * stretch
                else:
                    tick += sleep_us + slack_us
                attempt += 1
            start = tick
        cost = inside + (extra if last_writer[s] not in (-1, t) else 0.0)
        finish = start + cost * stretch
        free_at[s] = finish
        last_writer[s] = t
        done += 1
        end = max(end, finish)
        heapq.heappush(events, (finish, t))
    return puts / end * 1e6  # puts/s


def main():
    # Measured (WRITERS.md): ~25.6 µs CPU per put single-threaded, 90 % of the
    # instructions inside the transaction, and nearly all system time too.
    outside, inside, extra = 2.6, 23.0, 3.0
    one = simulate(1, 4, outside, inside, 0.0, True)
    print(f"1 thread: {one:,.0f} puts/s (= 1e6 / {outside + inside:.1f} µs)")
    print("| threads | shards | cores free | hand-off | puts/s | × 1 thread |")
    print("|---|---|---|---|---|---|")
    for threads, shards, share in [(2, 4, 1.0), (2, 16, 1.0), (4, 4, 1.0), (4, 16, 1.0),
                                   (2, 4, 0.5)]:
        for busy in (False, True):
            r = simulate(threads, shards, outside, inside, extra, busy, share)
            base = simulate(1, shards, outside, inside, 0.0, True, share)
            print(f"| {threads} | {shards} | {threads} × {share:.0%} | "
                  f"{'busy handler (poll)' if busy else 'ideal (woken at release)'} | "
                  f"{r:,.0f} | {r / base:.2f} |")


if __name__ == "__main__":
    main()
