"""The site's latency and failures before and during each upgrade, from bench/live-migrations.sh's
log: `requests KIND SERVER CASE FILE` (h2load's per-request log: start in microseconds,
status, microseconds taken), `pgbench SERVER CASE FILE` (pgbench's per-transaction log: the
Flask side's writers), `unfinished KIND SERVER CASE N` (requests that never finished, counted
as failed), `upgrade SERVER CASE T0 T1 STATUS`. Prints one line per case and server:

  live CASE SERVER reads_before_p99 reads_during_p99 reads_failed writes_before_p99
       writes_during_p99 writes_failed upgrade_seconds upgrade_status reads_during_max
       writes_during_max

Before: requests that ended before the upgrade began; during: those that were running at
any moment of it. Failed: answers of 400 and above during it, and every request that never
finished.
"""
import math
import sys
from collections import defaultdict

requests = defaultdict(list)  # (server, case, kind) -> [(start_s, end_s, latency_ms, status)]
unfinished = defaultdict(int)
upgrades = {}
for line in open(sys.argv[1], encoding="utf-8"):
    parts = line.split()
    if not parts:
        continue
    if parts[0] == "requests":
        _, kind, server, case, path = parts
        for entry in open(path, encoding="utf-8"):
            f = entry.split()
            if len(f) < 3:
                continue
            start, status, micros = int(f[0]) / 1e6, int(f[1]), int(f[2])
            requests[(server, case, kind)].append((start, start + micros / 1e6, micros / 1000, status))
    elif parts[0] == "pgbench":
        _, server, case, path = parts
        for entry in open(path, encoding="utf-8"):
            f = entry.split()
            if len(f) < 6:
                continue  # the last line of a run stopped partway
            end = int(f[4]) + int(f[5]) / 1e6
            latency = int(f[2]) / 1000
            requests[(server, case, "writes")].append((end - latency / 1000, end, latency, 200))
    elif parts[0] == "unfinished":
        _, kind, server, case, count = parts
        unfinished[(server, case, kind)] += int(count)
    elif parts[0] == "upgrade":
        _, server, case, t0, t1, status = parts
        upgrades[(server, case)] = (float(t0), float(t1), status)


def p99(values):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(len(values) * 0.99) - 1)]


def window(server, case, kind, t0, t1):
    rows = requests.get((server, case, kind), [])
    before = [r[2] for r in rows if r[1] < t0]
    during = [r for r in rows if r[0] < t1 and r[1] > t0]
    failed = sum(1 for r in during if r[3] >= 400) + unfinished[(server, case, kind)]
    longest = max((r[2] for r in during), default=float("nan"))
    return p99(before), p99([r[2] for r in during]), failed, longest


for (server, case), (t0, t1, status) in upgrades.items():
    reads = window(server, case, "reads", t0, t1)
    writes = window(server, case, "writes", t0, t1)
    print(f"live {case} {server} {reads[0]:.2f} {reads[1]:.2f} {reads[2]} "
          f"{writes[0]:.2f} {writes[1]:.2f} {writes[2]} {t1 - t0:.2f} {status} "
          f"{reads[3]:.2f} {writes[3]:.2f}")
