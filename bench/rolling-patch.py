"""The releases of bench/rolling-deploy.sh, as patches of a copy of this repository.

  python3 bench/rolling-patch.py DIR r1|rename|widen|drop

r1: today's release with a column the pages do not use, `post.rank` (integer), and its
revision. rename: r1, then `post.body` renamed to `text`. widen: r1, then `post.rank` an
integer of 64 bits. drop: r1, then `post.rank` dropped. Each next release carries its
revision among its built-in migrations, as a real one would.
"""
import pathlib
import sys

root, release = pathlib.Path(sys.argv[1]), sys.argv[2]
models = root / "src/models/mod.rs"
versions = root / "migrations/versions"


def replace(path, old, new):
    text = path.read_text()
    if old not in text:
        sys.exit(f"{path}: no {old!r}")
    path.write_text(text.replace(old, new))


last = sorted(versions.glob("*.toml"))
# The application's head: the revision no other follows.
ids = {p.name.split("_")[0] for p in last}
followed = set()
for p in last:
    for line in p.read_text().splitlines():
        if line.startswith("down_revision"):
            followed.add(line.split('"')[1])
(app_head,) = ids - followed


def revision(rid, down, message, up, down_ops):
    (versions / f"{rid}_{message.replace(' ', '_')}.toml").write_text(
        f'revision = "{rid}"\ndown_revision = "{down}"\nmessage = "{message}"\n\n'
        f"[[upgrade]]\n{up}\n\n[[downgrade]]\n{down_ops}\n"
    )


replace(models, "        pub user_id: Option<i32>,\n    }", "        pub user_id: Option<i32>,\n        pub rank: Option<i32>,\n    }")
revision(
    "ro11ing00001", app_head, "post rank",
    'op = "add_column"\ntable = "post"\ncolumn = { name = "rank", type = "integer" }',
    'op = "drop_column"\ntable = "post"\ncolumn = "rank"',
)
if release == "rename":
    replace(models, "pub body: Option<String>,", "pub text: Option<String>,")
    replace(models, 'repr = "<Post {body}>"', 'repr = "<Post {text}>"')
    replace(root / "src/models/posts.rs", "body: Some(body.to_string()),", "text: Some(body.to_string()),")
    pages = root / "src/web/pages.rs"
    replace(pages, "post.body.unwrap_or_default()", "post.text.unwrap_or_default()")
    replace(pages, 'max_length::<Post>("body")', 'max_length::<Post>("text")')
    revision(
        "ro11ing00002", "ro11ing00001", "rename body",
        'op = "alter_column"\ntable = "post"\ncolumn = "body"\nnew_name = "text"',
        'op = "alter_column"\ntable = "post"\ncolumn = "text"\nnew_name = "body"',
    )
elif release == "widen":
    replace(models, "pub rank: Option<i32>,", "pub rank: Option<i64>,")
    revision(
        "ro11ing00002", "ro11ing00001", "widen rank",
        'op = "alter_column"\ntable = "post"\ncolumn = "rank"\ntype = "bigint"',
        'op = "alter_column"\ntable = "post"\ncolumn = "rank"\ntype = "integer"',
    )
elif release == "drop":
    replace(models, "        pub rank: Option<i32>,\n", "")
    revision(
        "ro11ing00002", "ro11ing00001", "drop rank",
        'op = "drop_column"\ntable = "post"\ncolumn = "rank"',
        'op = "add_column"\ntable = "post"\ncolumn = { name = "rank", type = "integer" }',
    )
elif release != "r1":
    sys.exit(f"unknown release {release}")
