"""docs/benchmarks-live.md from a bench/live-migrations.sh results file."""
import math
import sys

results, markdown = sys.argv[1], sys.argv[2]
header, rows = {}, []
for line in open(results, encoding="utf-8"):
    if line.startswith("live "):
        f = line.split()
        rows.append({
            "case": f[1], "server": f[2],
            "reads": (float(f[3]), float(f[4]), int(f[5])),
            "writes": (float(f[6]), float(f[7]), int(f[8])),
            "seconds": float(f[9]), "status": f[10],
            "longest": (float(f[11]), float(f[12])),
        })
    elif ":" in line:
        key, value = line.split(":", 1)
        header[key.strip()] = value.strip()


def within(before, during):
    if math.isnan(during):
        return True
    return during <= max(4 * before, 50.0)


def ms(value):
    return "–" if math.isnan(value) else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


titles = {
    "index": "index on post(body)",
    "add-column-while-held": "add a column while a session holds `post`",
    "unique": "unique constraint",
    "foreign-key": "foreign key",
    "check": "CHECK constraint",
    "not-null": "NOT NULL",
}
out = [
    "## Migrations while the site serves (PostgreSQL)",
    "",
    f"`bench/live-migrations.sh`, {header.get('date', '')}: {header.get('settings', '')}. "
    "Each revision is applied while the site serves, then undone. Ours: `microblog db upgrade` "
    "against `microblog run`, with logged-in clients posting; Flask: `flask db upgrade` of the "
    "same change as Alembic writes it, against the kit's Flask app (gunicorn, two workers), "
    "with pgbench clients inserting posts. Latencies in ms: p99 before (of the "
    "requests that ended before the upgrade began), during (requests running at any moment of "
    "it), and the longest during it. Failed: answers of 400 and above, and requests never "
    "answered (given up after 30 s). Target: no failed request, p99 during within 4× before "
    "(or 50 ms), the upgrade finishing.",
    "",
    "| change | server | reads p99 before → during (longest) | reads failed | writes p99 before → during (longest) | writes failed | upgrade | target |",
    "|---|---|---|---|---|---|---|---|",
]
for r in rows:
    reads, writes = r["reads"], r["writes"]
    ok = (reads[2] == 0 and writes[2] == 0 and within(reads[0], reads[1])
          and within(writes[0], writes[1]) and r["status"] == "ok")
    upgrade = f"{r['seconds']:.1f} s" + ("" if r["status"] == "ok" else f" ({r['status']})")
    out.append(
        f"| {titles.get(r['case'], r['case'])} | {r['server']} | {ms(reads[0])} → {ms(reads[1])} ({ms(r['longest'][0])}) | {reads[2]} "
        f"| {ms(writes[0])} → {ms(writes[1])} ({ms(r['longest'][1])}) | {writes[2]} | {upgrade} | {'met' if ok else 'not met'} |"
    )
out.append("")
open(markdown, "w", encoding="utf-8").write("\n".join(out) + "\n")
