"""Fault injection in the spirit of Jepsen (issue 9, item 6): the process backend
(SPAWNER=process) with a real RabbitMQ and ZooKeeper, concurrent writers and readers, a
nemesis injecting one kind of fault for JEPSEN_ROUNDS rounds, and a checker at the end.

Each test is one nemesis on a fleet of its own (1 master + 1 slave, a ZooKeeper of its own,
ZK_SESSION_MS=1500, RPC_TIMEOUT_MS=8000, no autoscaling):

* freeze     the master SIGSTOPped for a random 2-5 s (longer than a ZooKeeper session,
             shorter than the RPC timeout), then SIGCONTed
* kill       the master SIGKILLed
* crashpair  POST crash/slave, then crash/master 50 ms later
* broker     the suite's own RabbitMQ SIGKILLed with writes in flight, restarted
* snapshot   a new slave SIGKILLed while it copies its snapshot (a ~20 MB database)

After each round the fleet must be whole again (fleet.is_whole) within JEPSEN_HEAL_S.
The checker: every write answered 200 is readable on every slave (full reads until every
slave has answered one, told apart by X-Worker); no read that started after a write was
acknowledged misses it; no write whose final answer was a definite failure (503, 4xx;
retries of a 503 carry the same Idempotency-Key and body) is in the database; a client
timeout is indeterminate. A line per nemesis is printed (run with -s to see it).

Knobs: JEPSEN_ROUNDS (default 20), JEPSEN_ROUNDS_<NEMESIS> (e.g. JEPSEN_ROUNDS_FREEZE=100
for `make soak`), JEPSEN_HEAL_S (30), JEPSEN_WRITERS (4), JEPSEN_READERS (2).
"""
import collections
import os
import random
import re
import signal
import sqlite3
import time

import pytest
import requests

from fleet import Fleet, Rabbit, ZooKeeper
import jepsen

ROUNDS = int(os.environ.get("JEPSEN_ROUNDS", "20"))
HEAL_S = float(os.environ.get("JEPSEN_HEAL_S", "30"))
WRITERS = int(os.environ.get("JEPSEN_WRITERS", "4"))
READERS = int(os.environ.get("JEPSEN_READERS", "2"))
FLEET_ENV = dict(RPC_TIMEOUT_MS=8000, ZK_SESSION_MS=1500, SCALE_INTERVAL=86400, MAX_SLAVES=4)
SUMMARY = []


def rounds(nemesis):
    return int(os.environ.get(f"JEPSEN_ROUNDS_{nemesis.upper()}", ROUNDS))


def new_fleet(workroot, rabbit, name):
    if not ZooKeeper.available():
        pytest.skip("no ZooKeeper (apt-get install zookeeper)")
    d = os.path.join(workroot, "jepsen-" + name)
    z = ZooKeeper(d)
    z.start()
    f = Fleet(d, rabbit)
    try:
        f.start_ha(z, **FLEET_ENV)
    except BaseException:
        f.stop()
        z.stop()
        raise
    return f, z


@pytest.fixture
def fleet_for(request, rabbit, workroot):
    made = []

    def make(name, broker=None):
        f, z = new_fleet(workroot, broker or rabbit, name)
        made.append((f, z))
        return f

    yield make
    for f, z in made:
        f.stop()
        z.stop()


@pytest.fixture(scope="module", autouse=True)
def print_summary():
    yield
    if SUMMARY:
        print("\n== jepsen summary (today's verdicts per nemesis)")
        for line in SUMMARY:
            print(line)


# ---------------------------------------------------------------- fleet helpers

def whole(f, slaves=1):
    try:
        return f.is_whole(slaves)
    except (requests.RequestException, AssertionError, ValueError):
        return False


def wait_heal(f, since, timeout=HEAL_S, slaves=1, gone=(), deposed=None):
    """Seconds from `since` until the fleet is whole, the pids `gone` are no longer listed
    and `deposed` is not the master (the fault took effect and was repaired), or None if
    not within timeout."""
    deadline = jepsen.now() + timeout
    while jepsen.now() < deadline:
        if whole(f, slaves):
            try:
                listed = set(f.worker_list())
            except (requests.RequestException, AssertionError, ValueError):
                listed = None
            if listed is not None and not (set(gone) & listed) and (deposed is None or f.zk.master_pid() != deposed):
                return jepsen.now() - since
        time.sleep(0.1)
    return None


def wait_master(f, timeout=15):
    """The pid of the master in ZooKeeper, once it is a live process (the znode of a master
    that just died lingers until its session expires)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = f.zk.master_pid()
        if m and m in f.worker_list():
            try:
                os.kill(m, 0)
                return m
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    raise TimeoutError("no live master in ZooKeeper")


def slave_ids(f):
    cands = f.zk.candidates_by_id()
    m = f.zk.master_pid()
    return {wid for wid, pid in cands.items() if pid != m}


def final_state(f, range_from="j", reads=60, seconds=30):
    """{slave worker id: usernames from range_from on} for every slave that answered a full
    read (told apart by X-Worker), within `reads` reads and `seconds`."""
    wanted = slave_ids(f)
    out = {}
    deadline = time.time() + seconds
    for _ in range(reads):
        if time.time() > deadline or (wanted and wanted <= set(out)):
            break
        try:
            r = requests.post(f.orch_url + "/api/v1/db/read", timeout=15,
                              json={"table": "users", "columns": ["username"],
                                    "where": {"username": {">=": range_from}}})
        except requests.RequestException:
            continue
        if r.status_code == 200:
            out.setdefault(r.headers.get("X-Worker"), {row["username"] for row in r.json()})
    return out, wanted


def db_names(path, range_from="j"):
    """The usernames from range_from on in one worker's SQLite file, read directly (read-only)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as c:
            return {r[0] for r in c.execute("SELECT username FROM users WHERE username >= ?", (range_from,))}
    except sqlite3.Error:
        return set()


def direct_state(f):
    """({live worker id: usernames in its database file}, usernames in any .db file of DATA_DIR):
    the workers the orchestrator lists (rideshare_worker_info), read without the fleet."""
    data = os.path.join(f.dir, "data")
    try:
        text = requests.get(f.orch_url + "/metrics", timeout=5).text
        ids = re.findall(r'^rideshare_worker_info\{worker="([^"]+)"', text, re.M)
    except requests.RequestException:
        ids = []
    live = {wid: db_names(os.path.join(data, wid + ".db")) for wid in ids}
    anyfile = set()
    for name in os.listdir(data):
        if name.endswith(".db"):
            anyfile |= db_names(os.path.join(data, name))
    return live, anyfile


# ---------------------------------------------------------------- the run and the verdict

def run(f, name, inject, n_rounds, slaves=1, before_round=None):
    hist = jepsen.History()
    assert wait_heal(f, jepsen.now(), 60, slaves) is not None, "the fleet is not whole at the start"
    faults, heals, notes = [], [], []
    t_start = time.time()
    with jepsen.Load(f.orch_url, hist, name, writers=WRITERS, readers=READERS):
        deadline = time.time() + 20
        while len(hist.acked) < 20 and time.time() < deadline:
            time.sleep(0.05)
        assert len(hist.acked) >= 20, "writes are not flowing before the first fault"
        for rnd in range(n_rounds):
            hist.phase(name, rnd)
            if before_round:
                before_round(rnd)
            time.sleep(random.uniform(0.3, 0.7))  # writes in flight when the fault hits
            t_fault, note, effect = inject(rnd)
            faults.append(t_fault)
            if note:
                notes.append(note)
            hist.event(f"{name} round {rnd}")
            heal = wait_heal(f, t_fault, HEAL_S, slaves, **effect)
            heals.append(heal)
            if heal is None:
                break  # the fleet did not heal: every later round would only wait again
        hist.phase(name, n_rounds)
        time.sleep(1.0)
    took = time.time() - t_start
    final_whole = wait_heal(f, jepsen.now(), HEAL_S, slaves) is not None
    final, wanted = final_state(f)
    live, anyfile = direct_state(f)
    res = jepsen.check(hist, final)
    acked = [o.name for o in hist.ops if o.outcome == "ok"]
    not_live = [n for n in acked if not any(n in names for names in live.values())]
    nowhere = [n for n in acked if n not in anyfile]
    recovers = [(lambda a: None if a is None else a - t)(hist.first_ack_after(t)) for t in faults]
    readable = bool(final) and wanted <= set(final)
    line = jepsen.summary_line(name, res, heals, recovers, readable)
    line += (f" | final whole {final_whole}, slaves read {sorted(final)} of {sorted(wanted)} | files: acked "
             f"in no live worker {len(not_live)}, in no file at all {len(nowhere)} | {took:.0f}s")
    if notes:
        line += " | " + "; ".join(f"{n} x{k}" for n, k in collections.Counter(notes).most_common())[:300]
    SUMMARY.append(line)
    print("\n" + line)
    problems = []
    if not readable:
        problems.append(f"not every slave answered the final read ({sorted(final)} of {sorted(wanted)}): "
                        f"{res['ok']} acknowledged writes unverifiable")
    if not readable and not_live:
        problems.append(f"{len(not_live)} acknowledged writes are in no live worker's database "
                        f"({len(nowhere)} in no database file at all), e.g. {not_live[:3]}")
    if readable and (res["lost"] or res["partial"]):
        problems.append(f"{len(res['lost'])} acknowledged writes lost, {len(res['partial'])} missing on some "
                        f"slave, e.g. {(res['lost'] + res['partial'])[:5]}")
    if res["stale_reads"]:
        ex = res["stale_reads"][0]
        problems.append(f"{len(res['stale_reads'])} stale reads, e.g. {ex['kind']} read by {ex['worker']} in "
                        f"round {ex['round']} missed {ex['missing'][:3]}")
    if res["ghost"]:
        problems.append(f"{len(res['ghost'])} ghost writes (failed, yet applied), e.g. {res['ghost'][:3]}")
    unhealed = [i for i, h in enumerate(heals) if h is None]
    if unhealed or len(heals) < n_rounds:
        problems.append(f"the fleet did not heal within {HEAL_S:.0f}s after round {unhealed[0] if unhealed else '?'} "
                        f"({len(heals)} of {n_rounds} rounds run)")
    if not final_whole:
        problems.append("the fleet is not whole at the end")
    assert not problems, f"{name}: " + "; ".join(problems)


# ---------------------------------------------------------------- nemeses

def test_master_freeze_longer_than_a_session(fleet_for):
    """SIGSTOP the master for 2-5 s (ZK session 1.5 s, RPC timeout 8 s), then SIGCONT."""
    f = fleet_for("freeze")

    def inject(rnd):
        m = wait_master(f)
        t = jepsen.now()
        try:
            os.kill(m, signal.SIGSTOP)
        except ProcessLookupError:
            return t, "the master exited before SIGSTOP", dict(gone=[m])
        try:
            time.sleep(random.uniform(2.0, 5.0))
        finally:
            try:
                os.kill(m, signal.SIGCONT)
            except ProcessLookupError:
                pass
        return t, None, dict(deposed=m)

    run(f, "freeze", inject, rounds("freeze"))


def test_master_sigkill(fleet_for):
    f = fleet_for("kill")

    def inject(rnd):
        m = wait_master(f)
        t = jepsen.now()
        try:
            os.kill(m, signal.SIGKILL)
        except ProcessLookupError:
            return t, "the master exited before SIGKILL", dict(gone=[m])
        return t, None, dict(gone=[m])

    run(f, "kill", inject, rounds("kill"))


def test_crash_slave_then_master_50ms_later(fleet_for):
    f = fleet_for("crashpair")

    def inject(rnd):
        wait_master(f)
        t = jepsen.now()
        r1 = f.crash("slave")
        time.sleep(0.05)
        r2 = f.crash("master")
        gone = [int(r.json()[0]) for r in (r1, r2) if r.status_code == 200]
        return t, None if len(gone) == 2 else f"crash answers {r1.status_code}/{r2.status_code}", dict(gone=gone)

    run(f, "crashpair", inject, rounds("crashpair"))


@pytest.fixture
def own_rabbit(workroot):
    """A RabbitMQ of this suite's own (the session's is shared with other modules), which
    the broker nemesis kills and restarts on the same port and data directory."""
    r = Rabbit(os.path.join(workroot, "jepsen-broker-rabbit"))
    r.start()
    yield r
    if r.proc and r.proc.alive():
        r.stop()


def test_broker_killed_with_writes_in_flight(fleet_for, own_rabbit):
    f = fleet_for("broker", broker=own_rabbit)

    def inject(rnd):
        t = jepsen.now()
        own_rabbit.kill()
        time.sleep(random.uniform(0.2, 1.0))
        own_rabbit.restart()
        return t, None, {}

    run(f, "broker", inject, rounds("broker"))


BULK_ROWS = int(os.environ.get("JEPSEN_BULK_ROWS", "150000"))


def seed_bulk(f, rows=BULK_ROWS):
    """Gives the fleet ~20 MB of data so that a snapshot takes a moment: a copy of the
    master's database with `rows` extra users (names before "j", outside the checked
    range) and a higher applied sequence is left in DATA_DIR, and the orchestrator is
    restarted; the new master seeds itself from the freshest copy (worker/seed.c)."""
    data = os.path.join(f.dir, "data")
    r = requests.post(f.orch_url + "/api/v1/db/write", timeout=10,
                      json={"table": "users", "insert": {"username": "bseed", "password": jepsen.PW}})
    assert r.status_code == 200, r.text
    src = max((p for p in os.listdir(data) if p.endswith(".db")),
              key=lambda p: os.path.getsize(os.path.join(data, p)))
    path = os.path.join(data, "bulk.tmp")
    with sqlite3.connect(os.path.join(data, src)) as a, sqlite3.connect(path) as b:
        a.backup(b)
    with sqlite3.connect(path) as b:
        b.execute("PRAGMA journal_mode=DELETE")
        b.executemany("INSERT INTO users(username, password) VALUES (?, ?)",
                      ((f"bulk-{i:07d}-" + "x" * 40, jepsen.PW) for i in range(rows)))
        b.execute("UPDATE meta SET value = value + 1000 WHERE key = 'applied_seq'")
    os.rename(path, os.path.join(data, "bulk.db"))
    f.restart_orchestrator(signal.SIGTERM)
    deadline = time.time() + 60
    while time.time() < deadline and not whole(f):
        time.sleep(0.2)
    assert whole(f), "the fleet did not come back after seeding"


def test_slave_killed_during_its_snapshot(fleet_for):
    f = fleet_for("snapshot")
    seed_bulk(f)
    started = re.compile(rb"spawner: started slave \S+, pid (\d+)")
    asking = b"slave: asking the master for a snapshot"
    installed = b"slave: installed a"

    def inject(rnd):
        log = f.orch.log_path
        offset = os.path.getsize(log)
        t = jepsen.now()
        r = f.crash("slave")
        if r.status_code != 200:
            return t, f"crash/slave answered {r.status_code}", {}
        crashed = int(r.json()[0])
        deadline = time.time() + 15
        pid, pos = None, None
        with open(log, "rb") as fh:
            fh.seek(offset)
            buf = b""
            while time.time() < deadline:
                buf += fh.read()
                if pid is None:
                    m = started.search(buf)
                    if m:
                        pid, pos = int(m.group(1)), m.end()
                if pid is not None:
                    i = buf.find(asking, pos)
                    if i >= 0:
                        # somewhere in the copy: waiting for, receiving or installing it
                        time.sleep(random.uniform(0.0, 0.4))
                        buf += fh.read()
                        os.kill(pid, signal.SIGKILL)
                        late = buf.find(installed, i) >= 0
                        return t, ("killed after the install (late)" if late else None), dict(gone=[pid, crashed])
                time.sleep(0.003)
        return t, "no new slave asked for a snapshot within 15 s", dict(gone=[crashed])

    run(f, "snapshot", inject, rounds("snapshot"))
