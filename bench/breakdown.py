"""Sorts `perf report --no-children --sort dso,sym` lines (standard input) into the parts of
a request, by the function each sample fell in, and prints one line per part with its share
of the server's CPU. With fat LTO much is inlined: a sample counts for the function the code
was compiled into."""
import re
import sys

# First match wins; the patterns are tried on "dso symbol".
PARTS = [
    ("kernel: sockets, syscalls, scheduling", r"\[k\]"),
    ("SQLite (the engine itself)", r"\bsqlite3|[Vv]dbe|[Bb]tree|[Pp]ager|pcache|\bwal[A-Z]|"
     r"\bmoveTo|\bbalance|\bsqlite|\bpcache|\bmemjrnl|\bunix[A-Z]|\bposix|\bautoVacuum|\bexpr[A-Z]|\bwhere[A-Z]|\bselect[A-Z]"),
    ("PostgreSQL client (libpq)", r"libpq|\bPQ|\bpq[A-Z]"),
    ("MySQL client", r"libmysqlclient|libmariadb|\bmysql_"),
    ("templates (minijinja)", r"minijinja"),
    ("session cookie (signature, JSON)", r"\bcookie::|hmac|sha2::|[Ss]ha256|serde_json|aes|base64"),
    ("Diesel (query building, row decoding)", r"diesel|dbmigrate::"),
    ("HTTP (hyper, axum, tower, http)", r"hyper|\baxum|\btower|\bhttp::|httparse|matchit|form_urlencoded|percent_encoding|bytes::"),
    ("request log (tracing)", r"tracing"),
    ("async runtime (tokio)", r"tokio|mio::"),
    ("memory (malloc, free, copies; mimalloc)", r"\bmalloc|\bfree\b|_int_malloc|_int_free|\brealloc|\bcfree|__memmove|__memcpy|__memset|memcpy|memmove|alloc::|\bcalloc|tcache|malloc_consolidate|\s_?mi_"),
    ("microblog (handlers, views)", r"microblog::"),
    ("Rust standard library (formatting, strings)", r"\bcore::|\bstd::|\balloc"),
]


def main():
    shares = {name: 0.0 for name, _ in PARTS}
    shares["other"] = 0.0
    others = {}
    for line in sys.stdin:
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        percent, dso, symbol = float(m.group(1)), m.group(2), m.group(3)
        text = f"{dso} {symbol}"
        for name, pattern in PARTS:
            if re.search(pattern, text):
                shares[name] += percent
                break
        else:
            shares["other"] += percent
            others[symbol] = others.get(symbol, 0.0) + percent
    total = sum(shares.values()) or 1.0
    for name, share in sorted(shares.items(), key=lambda kv: -kv[1]):
        if share > 0:
            print(f"part {100 * share / total:5.1f}% {name}")
    top = sorted(others.items(), key=lambda kv: -kv[1])[:5]
    if top:
        print("other, largest: " + "; ".join(f"{s.strip()[:60]} {p:.1f}%" for s, p in top))


main()
