#!/usr/bin/env python3
"""Prints the README's Performance table from a shard-bench results.json.

    bench/readme_table.py /tmp/bench-final4/results.json

One row per workload and backend, in the order of the run: what B is, both
throughputs, the A/B ratio (median, min–max over rounds), CPU µs per unit
for both sides, and each target with its verdict on the worst round.
"""
import json
import sys

BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mariadb": "MariaDB"}


def short(x):
    """3 significant digits with k/M, as the README has always shown."""
    if x is None:
        return "–"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            v = x / scale
            return f"{v:.3g}{suffix}" if v < 1000 else f"{v:.0f}{suffix}"
    return f"{x:.3g}"


def cpu(side):
    if not side or side.get("median") is None:
        return None
    return f"{side['median']:.3g}"


def main(path):
    data = json.load(open(path))
    targets = {}
    for t in data.get("targets", []):
        targets.setdefault((t["workload"], t["backend"]), []).append(t)
    print("| workload | backend | B is | libshard (A) | B | A/B median (min–max) "
          "| CPU µs/unit A / B | target, judged on the worst round |")
    print("|---|---|---|---|---|---|---|---|")
    for r in data["results"]:
        if "ratio" not in r or r.get("skipped"):
            continue
        ratio = r["ratio"]
        a, b = r.get("a_throughput", {}), r.get("b_throughput", {})
        ca, cb = cpu(r.get("a_cpu_us_per_unit")), cpu(r.get("b_cpu_us_per_unit"))
        cpu_cell = f"{ca} / {cb}" if ca and cb else "–"
        verdicts = []
        for t in targets.get((r["id"], r["backend"]), []):
            if not t.get("evaluated", True):
                continue
            verdicts.append(f"{t['target']}: **{'met' if t['met'] else 'not met'}**")
        print(f"| {r['id']} | {BACKENDS.get(r['backend'], r['backend'])} | {r['compares']} "
              f"| {short(a.get('median'))} {r['unit']} | {short(b.get('median'))} "
              f"| {ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f}) "
              f"| {cpu_cell} | {'; '.join(verdicts) or '–'} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench-out/results.json")
