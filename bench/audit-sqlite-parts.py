#!/usr/bin/env python3
"""What an audit row costs inside SQLite itself, without Cairn or sqlx: seconds to run,
where `cargo bench -p cairn --bench audit` needs a release build.

    python3 bench/audit-sqlite-parts.py

Replays the numbers write (BEGIN IMMEDIATE, INSERT, COMMIT; WAL, synchronous=NORMAL, as
Cairn opens its files) with and without an audit entry in the same transaction, on the
real migrations, then with the chain triggers, the filter indexes, or both dropped, so
each part's share of the audit overhead shows. Alternating rounds; the fastest of each.
"""
import sqlite3, time, os, hashlib, json, itertools

# Ids ordered by time, as Cairn's UUIDv7 are (random ids would scatter index pages).
_ids = itertools.count(1)
def ordered_id(): return f"{time.time_ns():020d}-{next(_ids):012d}"

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
schema = open(os.path.join(ROOT, "crates/cairn-audit/migrations/sqlite/0001_audit.sql")).read()
num = open(os.path.join(ROOT, "crates/cairn-numbers/migrations/sqlite/tenant_0001_numbers.sql")).read()
def setup(path, drop=()):
    if os.path.exists(path): os.remove(path)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL")
    c.executescript(schema); c.executescript(num)
    for d in drop: c.execute(d)
    return c
def plain(c, i):
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO numbers (id, value, created_at, created_by) VALUES (?,?,?,?)", (ordered_id(), i, 1, "bench"))
    c.execute("COMMIT")
state = {"seq": 0, "hash": "0"*64}
def audited(c, i):
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO numbers (id, value, created_at, created_by) VALUES (?,?,?,?)", (ordered_id(), i, 1, "bench"))
    seq = state["seq"] + 1; h = hashlib.sha256(f"{state['hash']}:{seq}:x".encode()).hexdigest()
    c.execute("INSERT INTO audit_entries (seq,id,time,actor_id,actor_email,action,resource_type,resource_id,outcome,details,ip,user_agent,request_id,prev_hash,hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      (seq, ordered_id(), 1700000000000+i, "bench", None, "number.created", "number", ordered_id(), "success", json.dumps({"value": i}), "127.0.0.1", "bench", "bench", state["hash"], h))
    state["seq"], state["hash"] = seq, h
    c.execute("COMMIT")
def run(name, drop=()):
    state["seq"], state["hash"] = 0, "0"*64
    c = setup(f"/tmp/cairn-audit-parts-{name.replace(' ', '-')}.db", drop)
    for i in range(200): plain(c, i); audited(c, i)
    # Alternating rounds, the fastest of each kind: the machine's noise hits both alike.
    rounds, n = 7, 400
    best_p = best_a = float("inf")
    for r in range(rounds):
        t = time.perf_counter(); [plain(c, i) for i in range(n)]; best_p = min(best_p, time.perf_counter() - t)
        t = time.perf_counter(); [audited(c, i) for i in range(n)]; best_a = min(best_a, time.perf_counter() - t)
    print(f"{name:<28} plain {best_p/n*1e6:6.1f} µs  audited {best_a/n*1e6:6.1f} µs  ratio {best_a/best_p:.2f}")
run("as is")
run("no triggers", ["DROP TRIGGER audit_chain_check", "DROP TRIGGER audit_chain_advance"])
run("no filter indexes", ["DROP INDEX audit_by_time", "DROP INDEX audit_by_actor", "DROP INDEX audit_by_action", "DROP INDEX audit_by_resource"])
run("neither", ["DROP TRIGGER audit_chain_check", "DROP TRIGGER audit_chain_advance", "DROP INDEX audit_by_time", "DROP INDEX audit_by_actor", "DROP INDEX audit_by_action", "DROP INDEX audit_by_resource"])
