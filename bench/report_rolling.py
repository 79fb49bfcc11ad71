"""docs/benchmarks-rolling.md from a bench/rolling-deploy.sh results file."""
import math
import sys

results, markdown = sys.argv[1], sys.argv[2]
header, rows, posts = {}, [], {}
for line in open(results, encoding="utf-8"):
    f = line.split()
    if line.startswith("live "):
        rows.append({
            "case": f[1],
            "reads": (float(f[3]), float(f[4]), int(f[5]), float(f[11])),
            "writes": (float(f[6]), float(f[7]), int(f[8]), float(f[12])),
            "seconds": float(f[9]), "status": f[10],
        })
    elif line.startswith("posts "):
        posts[f[2]] = (int(f[3]), int(f[4]))
    elif ":" in line:
        key, value = line.split(":", 1)
        header[key.strip()] = value.strip()


def ms(value):
    return "–" if math.isnan(value) else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def within(before, during):
    return math.isnan(during) or during <= max(4 * before, 50.0)


changes = {"rename": "post.body renamed to text", "widen": "post.rank integer to bigint",
           "drop": "post.rank dropped"}
modes = {"side-by-side": "side by side (expand, contract)", "in-one-go": "in one go (`--site-stopped`)"}
out = [
    "## A rolling deploy (PostgreSQL, nginx)",
    "",
    f"`bench/rolling-deploy.sh`, {header.get('date', '')}: {header.get('settings', '')}. Two "
    "instances of the serving release behind nginx, traffic through it the whole time; the "
    "next release's `db upgrade`; two instances of the next release put in nginx's upstream in "
    "place of the old ones (a reload), the old ones stopped with SIGTERM; `db contract`. "
    "Latencies in ms, p99 before and during (from the upgrade to the end of the contract), the "
    "longest during in brackets; failed: answers of 400 and above and requests never answered; "
    "posts: acknowledged (303) and stored (a post whose answer was still in flight when the load "
    "stopped is stored but not counted as acknowledged). Target: no failed request, no "
    "acknowledged post lost, p99 within "
    "4× of before (or 50 ms).",
    "",
    "| change | run | reads p99 before → during (longest) | reads failed | writes p99 before → during (longest) | writes failed | posts acknowledged / stored | target |",
    "|---|---|---|---|---|---|---|---|",
]
for r in rows:
    change, _, mode = r["case"].partition("-")
    reads, writes = r["reads"], r["writes"]
    acknowledged, stored = posts.get(r["case"], (0, 0))
    ok = (reads[2] == 0 and writes[2] == 0 and stored >= acknowledged and r["status"] == "ok"
          and within(reads[0], reads[1]) and within(writes[0], writes[1]))
    out.append(
        f"| {changes.get(change, change)} | {modes.get(mode, mode)} | {ms(reads[0])} → {ms(reads[1])} ({ms(reads[3])}) "
        f"| {reads[2]} | {ms(writes[0])} → {ms(writes[1])} ({ms(writes[3])}) | {writes[2]} "
        f"| {acknowledged} / {stored} | {'met' if ok else 'not met'} |"
    )
out.append("")
open(markdown, "w", encoding="utf-8").write("\n".join(out) + "\n")
