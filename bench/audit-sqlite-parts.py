#!/usr/bin/env python3
"""What an audit row costs inside SQLite itself, without Cairn or sqlx: seconds to run,
where `cargo bench -p cairn --bench audit` needs a release build.

    python3 bench/audit-sqlite-parts.py

Replays the numbers write (BEGIN IMMEDIATE, INSERT, COMMIT; WAL, synchronous=NORMAL, as
Cairn opens its files) with and without an audit entry in the same transaction, on the
real migrations: as Cairn runs them (filter indexes filled in runs of 32, migration 0002),
as before 0002 (every index written by every append), and with no index at all (the row
and the chain head alone), so each part's share of the audit overhead shows. Prints the
WAL pages each commit writes beside the times: SQLite writes a whole page per table or
index a commit touches, and that is most of an audit row's cost. Alternating rounds; the
median of each.
"""
import glob, hashlib, itertools, json, os, re, sqlite3, statistics, time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
AUDIT = sorted(glob.glob(os.path.join(ROOT, "crates/cairn-audit/migrations/sqlite/*.sql")))
NUMBERS = os.path.join(ROOT, "crates/cairn-numbers/migrations/sqlite/tenant_0001_numbers.sql")

# Ids ordered by time, as Cairn's UUIDv7 are (random ids would scatter index pages).
_ids = itertools.count(1)
def ordered_id(): return f"{time.time_ns():020d}-{next(_ids):012d}"

def setup(path, migrations, drop=()):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix): os.remove(path + suffix)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL")
    for m in migrations + [NUMBERS]: c.executescript(open(m).read())
    for d in drop: c.execute(d)
    return c

def plain(c, i):
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO numbers (id, value, created_at, created_by) VALUES (?,?,?,?)", (ordered_id(), i, 1, "bench"))
    c.execute("COMMIT")

state = {"seq": 0, "hash": "0" * 64}
def audited(c, i):
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO numbers (id, value, created_at, created_by) VALUES (?,?,?,?)", (ordered_id(), i, 1, "bench"))
    seq = state["seq"] + 1; h = hashlib.sha256(f"{state['hash']}:{seq}:x".encode()).hexdigest()
    c.execute("INSERT INTO audit_entries (seq,id,time,actor_id,actor_email,action,resource_type,resource_id,outcome,details,ip,user_agent,request_id,prev_hash,hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      (seq, ordered_id(), 1700000000000+i, "bench", None, "number.created", "number", ordered_id(), "success", json.dumps({"value": i}), "127.0.0.1", "bench", "bench", state["hash"], h))
    state["seq"], state["hash"] = seq, h
    c.execute("COMMIT")

def wal_pages(c, path, write, n=320):
    """WAL frames (pages) per commit of `write`, from a restarted log."""
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.execute("PRAGMA wal_autocheckpoint=0")
    for i in range(n): write(c, i)
    pages = (os.path.getsize(path + "-wal") - 32) / (24 + 4096)
    c.execute("PRAGMA wal_autocheckpoint=1000"); c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return pages / n

def run(name, migrations, drop=()):
    state["seq"], state["hash"] = 0, "0" * 64
    path = f"/tmp/cairn-audit-parts-{re.sub('[^a-z0-9]+', '-', name)}.db"
    c = setup(path, migrations, drop)
    for i in range(200): plain(c, i); audited(c, i)
    rounds, n = 9, 320
    tp, ta = [], []
    for _ in range(rounds):
        t = time.perf_counter(); [plain(c, i) for i in range(n)]; tp.append(time.perf_counter() - t)
        t = time.perf_counter(); [audited(c, i) for i in range(n)]; ta.append(time.perf_counter() - t)
    p, a = statistics.median(tp) / n * 1e6, statistics.median(ta) / n * 1e6
    pp, pa = wal_pages(c, path, plain), wal_pages(c, path, audited)
    print(f"{name:<34} plain {p:6.1f} µs {pp:4.1f} pages   audited {a:6.1f} µs {pa:4.1f} pages   ratio {a/p:.2f}")

AUDIT_INDEXES = ["audit_by_id", "audit_by_time", "audit_by_actor", "audit_by_action", "audit_by_resource"]
run("batched indexes (as Cairn runs)", AUDIT)
run("every index on every append", AUDIT[:1])
run("no index: the row and the head", AUDIT, [f"DROP INDEX {i}" for i in AUDIT_INDEXES] + ["DROP TRIGGER audit_index_batch"])
