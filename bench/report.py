"""bench/report.py RESULTS MARKDOWN SVG: docs/benchmarks.md and its chart, from one file
bench/run.sh wrote. Every figure comes from that file; medians over the rounds."""
import re
import statistics
import sys
from collections import defaultdict

results_path, markdown_path, svg_path = sys.argv[1:4]
lines = open(results_path, encoding="utf-8").read().splitlines()

header = {}
runs = defaultdict(list)  # (db, visitor, server, route) -> [fields]
cli = {}
inserts = {}
compares = []
profiles = []  # (title, [(share, part)], other)
elapsed = None
for line in lines:
    if m := re.match(r"(date|machine|versions|settings|commit): (.*)", line):
        header[m.group(1)] = m.group(2)
    elif m := re.match(r"(\w+)\.([\w-]+)\.(ours|floor)\.r\d+ route=(\S+) (.*)", line):
        fields = dict(kv.split("=", 1) for kv in m.group(5).split())
        runs[(m.group(1), m.group(2), m.group(3), m.group(4))].append(fields)
    elif m := re.match(r"cli (\w+) median_ms=([\d.]+)", line):
        cli[m.group(1)] = float(m.group(2))
    elif m := re.match(r"insert ours (.*?): .*posts at (\d+)/s", line):
        inserts[("ours", m.group(1))] = float(m.group(2))
    elif m := re.match(r"insert_floor (.*?): .*= (\d+) posts/s", line):
        inserts[("floor", m.group(1))] = float(m.group(2))
    elif m := re.match(r"insert_floor_same_database (.*?): .*= (\d+) posts/s", line):
        inserts[("floor on the same database", m.group(1))] = float(m.group(2))
    elif line.startswith("compare "):
        compares.append(line[len("compare "):])
    elif m := re.match(r"## profile (\S+) (\S+) \((\w+)\)", line):
        profiles.append((f"{m.group(3)}, {m.group(1)}, {m.group(2)}", [], ""))
    elif (m := re.match(r"part\s+([\d.]+)% (.*)", line)) and profiles:
        profiles[-1][1].append((float(m.group(1)), m.group(2)))
    elif line.startswith("other, largest: ") and profiles:
        title, parts, _ = profiles[-1]
        profiles[-1] = (title, parts, line[len("other, largest: "):])
    elif m := re.match(r"elapsed: (\d+) s", line):
        elapsed = int(m.group(1))

ROUTES = ["/index", "/user/user0500"]
VISITORS = ["anonymous", "logged-in"]


def median(db, visitor, server, route, field):
    values = [float(f[field]) for f in runs.get((db, visitor, server, route), []) if field in f]
    return statistics.median(values) if values else None


def spread(db, visitor, server, route):
    values = [float(f["rps"]) for f in runs.get((db, visitor, server, route), [])]
    return f"{min(values):,.0f}–{max(values):,.0f}" if len(values) > 1 else ""


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def ratio(a, b):
    return a / b if a is not None and b else None


targets = []  # (what, value, goal, higher_is_better, unit)


def target(what, value, goal, higher=True, unit="×"):
    targets.append((what, value, goal, higher, unit))


for db, label in [("sqlite", "SQLite"), ("postgres", "PostgreSQL")]:
    for visitor in VISITORS:
        for route in ROUTES:
            ours = median(db, visitor, "ours", route, "rps")
            floor = median(db, visitor, "floor", route, "rps")
            goal = 1.0 if (db == "sqlite" and visitor == "anonymous") else 0.8
            target(f"{label}, {visitor} {route}: req/s against the floor", ratio(ours, floor), goal)
for db, label in [("sqlite", "SQLite"), ("postgres", "PostgreSQL")]:
    worst = max(
        (median(db, v, "ours", r, "p99_ms") or 0 for v in VISITORS for r in ROUTES), default=None
    )
    target(f"{label}: p99 at 32 connections, slowest page", worst, 5.0, higher=False, unit=" ms")
for visitor in VISITORS:
    for route in ROUTES:
        target(
            f"PostgreSQL's CPU per request against the floor's, {visitor} {route}",
            ratio(median("postgres", visitor, "ours", route, "db_us_per_req"),
                  median("postgres", visitor, "floor", route, "db_us_per_req")),
            1.2, higher=False,
        )
peak_rss = max((float(f["peak_rss_mb"]) for key, fs in runs.items() if key[2] == "ours" for f in fs),
               default=None)
target("peak RSS under load (any run)", peak_rss, 25.0, higher=False, unit=" MB")
target("`db upgrade` of a new SQLite database against `flask db upgrade`",
       ratio(cli.get("flask_db_upgrade_new_database"), cli.get("ours_db_upgrade_new_database")), 40.0)
for how in ("one transaction", "1,000-row transactions"):
    target(f"inserts through the unit of work, {how}, against raw rusqlite on the same database",
           ratio(inserts.get(("ours", how)), inserts.get(("floor on the same database", how))), 0.5)
target("inserts through the unit of work, one transaction, against raw rusqlite on the kit's Flask database",
       ratio(inserts.get(("ours", "one transaction")), inserts.get(("floor", "one transaction"))), 0.5)


def met(value, goal, higher):
    if value is None:
        return "not measured"
    return "**met**" if (value >= goal if higher else value <= goal) else "not met"


out = []
w = out.append
w("# Benchmarks")
w("")
w(f"Generated by `bench/run.sh` ({results_path.split('/')[-1]}, in `bench/results/`); "
  "every figure below is read from that file by `bench/report.py`. Do not edit by hand: run it again.")
w("")
for key in ["date", "machine", "versions", "settings", "commit"]:
    if key in header:
        w(f"- {key}: {header[key]}")
if elapsed is not None:
    w(f"- the run took {elapsed // 60} min {elapsed % 60} s after the builds")
w("")
w("The floor is the benchmark kit's (`../shared/peers`): axum with hand-written HTML, rusqlite "
  "(SQLite) or tokio-postgres (PostgreSQL), no sessions, no log, no templates. Its database has "
  "the index on `post (user_id, timestamp)` this server's migrations make (the kit's what-if "
  "index), so both run the same plans. "
  "Logged-in visitors send a session cookie (the floor gets one of the same length and ignores it); "
  "their pages are never kept. `wrk -t1 -c32`, rounds interleaved, medians over the rounds.")
w("")
w("## Targets")
w("")
w("| target | goal | measured | |")
w("|---|---|---|---|")
for what, value, goal, higher, unit in targets:
    sign = "≥" if higher else "≤"
    digits = 2 if unit == "×" else 1
    w(f"| {what} | {sign} {goal:g}{unit} | {fmt(value, digits, unit)} | {met(value, goal, higher)} |")
w("")
w("![ratios against the floor](benchmarks.svg)")
w("")
for db, label in [("sqlite", "SQLite"), ("postgres", "PostgreSQL")]:
    w(f"## Pages on {label}")
    w("")
    db_columns = db == "postgres"
    head = "| visitor | page | ours req/s | floor req/s | ours / floor | ours p99 ms | floor p99 ms | ours CPU µs/req | floor CPU µs/req |"
    rule = "|---|---|---|---|---|---|---|---|---|"
    if db_columns:
        head += " PostgreSQL CPU µs/req, ours | floor |"
        rule += "---|---|"
    w(head)
    w(rule)
    for visitor in VISITORS:
        for route in ROUTES:
            m = lambda server, field: median(db, visitor, server, route, field)  # noqa: E731
            row = (f"| {visitor} | {route} | {fmt(m('ours', 'rps'))} ({spread(db, visitor, 'ours', route)}) "
                   f"| {fmt(m('floor', 'rps'))} ({spread(db, visitor, 'floor', route)}) "
                   f"| {fmt(ratio(m('ours', 'rps'), m('floor', 'rps')), 2, '×')} "
                   f"| {fmt(m('ours', 'p99_ms'), 2)} | {fmt(m('floor', 'p99_ms'), 2)} "
                   f"| {fmt(m('ours', 'srv_us_per_req'))} | {fmt(m('floor', 'srv_us_per_req'))} |")
            if db_columns:
                row += f" {fmt(m('ours', 'db_us_per_req'))} | {fmt(m('floor', 'db_us_per_req'))} |"
            w(row)
    w("")
w("## This server on the three databases")
w("")
w("| visitor | page | SQLite req/s | PostgreSQL req/s | MariaDB req/s | MariaDB p99 ms | MariaDB CPU µs/req |")
w("|---|---|---|---|---|---|---|")
for visitor in VISITORS:
    for route in ROUTES:
        m = lambda db, field: median(db, visitor, "ours", route, field)  # noqa: E731
        w(f"| {visitor} | {route} | {fmt(m('sqlite', 'rps'))} | {fmt(m('postgres', 'rps'))} "
          f"| {fmt(m('mariadb', 'rps'))} | {fmt(m('mariadb', 'p99_ms'), 2)} | {fmt(m('mariadb', 'srv_us_per_req'))} |")
w("")
w("## Memory")
w("")
w("Peak RSS is sampled every 100 ms during the measured load; the high-water mark (VmHWM) also "
  "counts the moment of the benchmark's one login, whose Argon2id hash takes 19 MiB for itself.")
w("")
w("| database | ours peak RSS MB | ours high-water mark MB | floor peak RSS MB |")
w("|---|---|---|---|")
for db in ["sqlite", "postgres", "mariadb"]:
    peak = lambda server, field="peak_rss_mb": max((float(f[field]) for key, fs in runs.items()  # noqa: E731
                                                    if key[0] == db and key[2] == server for f in fs), default=None)
    w(f"| {db} | {fmt(peak('ours'), 1)} | {fmt(peak('ours', 'hwm_sum_mb'), 1)} | {fmt(peak('floor'), 1)} |")
w("")
w("## Command line (hyperfine medians)")
w("")
w("| command | ms |")
w("|---|---|")
for name, value in cli.items():
    w(f"| {name.replace('_', ' ')} | {value:,.1f} |")
w("")
w("## Inserts: 100,000 posts into SQLite")
w("")
w("| writer | transactions | posts/s |")
w("|---|---|---|")
for (who, how), value in sorted(inserts.items()):
    label = {
        "ours": "this server's unit of work (`db seed`)",
        "floor": "raw rusqlite, one prepared INSERT (kit's insert_floor), the kit's Flask database",
        "floor on the same database": "raw rusqlite, the same, on a database made by `db upgrade`",
    }[who]
    w(f"| {label} | {how} | {value:,.0f} |")
w("")
w("## Autogenerate: 200 tables compared with the live database")
w("")
for line in compares:
    w(f"- {line}")
w("")
w("## Where the time goes")
w("")
w("`perf record` of this server (release build) under the same load, samples sorted by the "
  "function they fell in (`bench/breakdown.py`; with fat LTO, code counts for the function it "
  "was inlined into). The kernel's part is the sockets and the scheduling every server pays.")
w("")
if profiles:
    parts = []
    for _, shares, _ in profiles:
        for _, part in shares:
            if part not in parts:
                parts.append(part)
    w("| part | " + " | ".join(title for title, _, _ in profiles) + " |")
    w("|---|" + "---|" * len(profiles))
    for part in parts:
        cells = []
        for _, shares, _ in profiles:
            share = dict((p, s) for s, p in shares).get(part)
            cells.append(f"{share:.1f}%" if share is not None else "")
        w(f"| {part} | " + " | ".join(cells) + " |")
    w("")
    for title, _, other in profiles:
        if other:
            w(f"- {title}, largest of \"other\": {other}")
    w("")
for part in ("-live.md", "-rolling.md"):
    try:
        w(open(markdown_path.replace(".md", part), encoding="utf-8").read().strip())
        w("")
    except FileNotFoundError:
        pass
notes_path = markdown_path.replace(".md", "-notes.md")
try:
    notes = open(notes_path, encoding="utf-8").read().strip()
    w(notes)
    w("")
except FileNotFoundError:
    pass
open(markdown_path, "w", encoding="utf-8").write("\n".join(out))

# The chart: one bar per ratio target near 1 (db upgrade's 40× would flatten the rest).
bars = [(what, value, goal, higher) for what, value, goal, higher, unit in targets
        if unit == "×" and value is not None and goal <= 2]
width, row, left = 900, 26, 430
height = 40 + row * len(bars) + 30
scale_max = max([2.0] + [min(value, 3.0) for _, value, _, _ in bars] + [goal for _, _, goal, _ in bars])
x = lambda v: left + (width - left - 20) * min(v, scale_max) / scale_max  # noqa: E731
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
       f'<text x="10" y="20" font-size="14">Ratios against the goal (bar: measured; mark: goal). {header.get("date", "")}</text>']
for i, (what, value, goal, higher) in enumerate(bars):
    y = 40 + i * row
    ok = value >= goal if higher else value <= goal
    colour = "#3a7d44" if ok else "#c0392b"
    label = what.replace("&", "&amp;").replace("<", "&lt;").replace("`", "")
    svg.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{label[:64]}</text>')
    svg.append(f'<rect x="{left}" y="{y + 3}" width="{x(value) - left:.1f}" height="16" fill="{colour}"/>')
    svg.append(f'<line x1="{x(goal):.1f}" x2="{x(goal):.1f}" y1="{y}" y2="{y + 22}" stroke="black" stroke-width="2"/>')
    svg.append(f'<text x="{x(value) + 4:.1f}" y="{y + 15}">{value:.2f}×</text>')
svg.append("</svg>")
open(svg_path, "w", encoding="utf-8").write("\n".join(svg) + "\n")
