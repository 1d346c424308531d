"""Writes under faults, case by case (docs/DESIGN.md "Fencing", "Ghost writes", "Snapshots"):
Idempotency-Key (one application, 409 in flight, 422 for another body, 400 for a bad key),
no ghost write after a broker outage, snapshots in chunks (and one larger than an AMQP
message) with a small resync buffer under a write load, and a frozen master across a
scale-in. The randomized fault rounds are in test_faults_jepsen.py."""
import json
import os
import signal
import sqlite3
import threading
import time

import pytest
import requests

from conftest import make_ha_fleet
from fleet import Fleet, Rabbit, db, usernames, wait_until
from fleet import wait_whole as whole

PW = "c" * 40


def write(fleet, body, key=None, timeout=15):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return requests.post(f"{fleet.orch_url}/api/v1/db/write", data=json.dumps(body), headers=headers,
                         timeout=timeout)


def user(name):
    return {"table": "users", "insert": {"username": name, "password": PW}}


def names(fleet):
    return usernames(fleet, timeout=20)


def wait_whole(fleet, slaves=1, timeout=40):
    whole(fleet, slaves, timeout)


@pytest.fixture(scope="module")
def ha(request, rabbit, workroot):
    """1 master + 1 slave; snapshots in 64 KiB chunks, at most 8 sync messages held while a
    slave resyncs; reads scale every 4 s up to 3 slaves."""
    yield from make_ha_fleet(request, rabbit, workroot, SCALE_INTERVAL=4, MAX_SLAVES=3, RPC_TIMEOUT_MS=8000,
                             SNAPSHOT_CHUNK_BYTES=65536, SYNC_PREFETCH=8)


def test_a_retry_with_its_key_applies_once_and_gets_the_first_answer(ha):
    wait_whole(ha)
    first = write(ha, user("idem-once"), key="key-once-1")
    assert first.status_code == 200, first.text
    again = write(ha, user("idem-once"), key="key-once-1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()  # the same lastId: not a second insert, not a 400 duplicate
    plain = write(ha, user("idem-once"))
    assert plain.status_code == 400  # without the key it is a second insert of the same name
    r = db(ha, "read", {"table": "users", "where": {"username": "idem-once"}, "count": True})
    assert r.json() == [{"count": 1}]


def test_the_same_key_with_another_body_is_422_and_changes_nothing(ha):
    assert write(ha, user("idem-a"), key="key-shared").status_code == 200
    r = write(ha, user("idem-b"), key="key-shared")
    assert r.status_code == 422, r.text
    assert "error" in r.json()
    assert "idem-b" not in names(ha)


@pytest.mark.parametrize("key", ["", "x" * 129, "caf\u00e9", "tab\there"])
def test_a_bad_key_is_400(ha, key):
    r = requests.post(f"{ha.orch_url}/api/v1/db/write", data=json.dumps(user("idem-bad")),
                      headers={"Idempotency-Key": key.encode("utf-8")}, timeout=10)
    assert r.status_code == 400, r.text
    assert "idem-bad" not in names(ha)


def test_a_second_request_with_a_key_in_flight_is_409(ha):
    """The master is frozen (shorter than a session): the first request waits in flight."""
    wait_whole(ha)
    master = ha.zk.master_pid()
    out = {}
    os.kill(master, signal.SIGSTOP)
    try:
        t = threading.Thread(target=lambda: out.setdefault("r", write(ha, user("idem-flight"), key="key-flight")))
        t.start()
        time.sleep(0.3)
        second = write(ha, user("idem-flight"), key="key-flight")
        assert second.status_code == 409, second.text
    finally:
        os.kill(master, signal.SIGCONT)
    t.join(20)
    assert out["r"].status_code == 200, out["r"].text
    assert write(ha, user("idem-flight"), key="key-flight").json() == out["r"].json()


def test_a_new_master_says_serving_only_once_it_takes_writes(ha):
    """The master frozen: its AMQP connection, and so its writeQ consumer, outlives its
    ZooKeeper session by up to two heartbeats, and the promoted slave waits for writeQ to be
    free before it takes a write. Its member node says "serving" only then: a write sent
    the moment the fleet view first shows the new master serving is answered at once."""
    wait_whole(ha)
    old = ha.zk.master_pid()
    os.kill(old, signal.SIGSTOP)
    try:
        def new_master():
            ws = requests.get(ha.orch_url + "/api/v1/fleet", timeout=5).json()["workers"]
            return [w for w in ws if w["role"] == "master" and w["state"] == "serving" and w["pid"] != old]
        wait_until(new_master, 40, 0.02, what="a new master serving")
        t0 = time.monotonic()
        r = write(ha, user("serving-first"), timeout=15)
        took = time.monotonic() - t0
    finally:
        os.kill(old, signal.SIGCONT)
    assert r.status_code == 200, r.text
    assert took < 2.0, f"the first write to a master that says serving took {took:.1f} s"
    wait_whole(ha, 1, timeout=60)


def test_a_slave_joins_by_a_chunked_snapshot_under_writes(ha):
    """~300 KiB of data in 64 KiB chunks, 8 sync messages held at most, writes flowing."""
    wait_whole(ha)
    for i in range(300):
        assert write(ha, {"table": "users", "insert": {"username": f"chunk-{i:04d}-" + "z" * 900,
                                                       "password": PW}}).status_code == 200
    acked, stop = [], threading.Event()

    def writer():
        i = 0
        while not stop.is_set() and i < 2000:
            if write(ha, user(f"during-{i}")).status_code == 200:
                acked.append(f"during-{i}")
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        r = ha.crash("slave")
        assert r.status_code == 200, r.text
        wait_whole(ha)
        time.sleep(1)
    finally:
        stop.set()
        t.join(30)
    with open(ha.orch.log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    chunks = [int(line.split("snapshot in ")[1].split(" chunk")[0]) for line in log.splitlines()
              if "installed a snapshot in" in line]
    assert max(chunks) >= 4, chunks
    # the only slave is the new one: every read is its
    have = names(ha)
    assert set(acked) <= have and len(acked) > 0
    assert {f"chunk-{i:04d}-" + "z" * 900 for i in range(300)} <= have


def test_a_frozen_master_across_a_scale_in_heals_without_loss(ha):
    """Reads scale the fleet to 3 slaves; they stop, and the master freezes across the next
    scale-in decision. Scale-in waits for a master and never removes the last synced slave."""
    wait_whole(ha)
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                db(ha, "read", {"table": "users", "count": True}, timeout=5)
            except requests.RequestException:
                pass
            stop.wait(0.06)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        wait_until(lambda: ha.is_whole(3), 40, 0.2, what="3 slaves")
    finally:
        stop.set()
        t.join(10)
    acked = [n for n in (f"scalein-{i}" for i in range(50)) if write(ha, user(n)).status_code == 200]
    master = ha.zk.master_pid()
    os.kill(master, signal.SIGSTOP)
    time.sleep(5)  # past a session and across a 4 s scaling interval without reads
    os.kill(master, signal.SIGCONT)
    wait_whole(ha, 1, timeout=60)
    assert ha.zk.master_pid() != master
    assert set(acked) <= names(ha)
    assert write(ha, user("scalein-after")).status_code == 200


def test_all_workers_killed_at_once_heal_without_loss(ha):
    """Every worker SIGKILLed in the same instant, writes in flight: the orchestrator starts
    a hinted master, which seeds from the freshest file left behind, then a slave."""
    wait_whole(ha)
    acked, stop = [], threading.Event()

    def writer(k):
        for i in range(400):
            if stop.is_set():
                return
            name = f"allkill-{k}-{i}"
            try:
                if write(ha, user(name), key=f"allkill-{k}-{i}", timeout=12).status_code == 200:
                    acked.append(name)
            except requests.RequestException:
                pass

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= 30, 20, 0.05, what="writes flowing")
        before = ha.worker_list()
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        t0 = time.time()
        wait_until(lambda: not set(before) & set(ha.worker_list()), 20, 0.1, what="the dead unlisted")
        wait_whole(ha, 1, timeout=40)
        healed = time.time() - t0
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert write(ha, user("allkill-after")).status_code == 200
    assert set(acked) <= names(ha)
    print(f"all workers killed: whole again after {healed:.1f} s, {len(acked)} acknowledged writes kept")


@pytest.fixture(scope="module")
def own_broker(workroot):
    """A RabbitMQ of this module's own: the ghost test stops it."""
    r = Rabbit(os.path.join(workroot, "ghost-broker"))
    r.start()
    yield r
    r.stop()


def test_a_write_that_got_503_while_the_broker_was_down_is_never_applied(own_broker, workroot):
    f = Fleet(os.path.join(workroot, "ghost"), own_broker)
    try:
        f.start_orchestrator(RPC_TIMEOUT_MS=1500)
        f.start_worker("master", "master")
        f.start_worker("slave", "slave-0")
        assert db(f, "write", user("ghost-before")).status_code == 200
        own_broker.kill()
        codes = [db(f, "write", user(f"ghost-{i}"), timeout=10).status_code for i in range(3)]
        # 504 (outcome unknown) only for one that went out before the orchestrator saw the
        # socket dead; once it has, nothing goes out and the answer is 503
        assert set(codes) <= {503, 504} and codes[-1] == 503, codes
        own_broker.start()
        wait_until(lambda: db(f, "write", user("ghost-after"), timeout=10).status_code == 200, 60, 0.5,
                   what="writes accepted after the broker came back")
        time.sleep(3)  # anything still queued anywhere would have been applied by now
        have = names(f)
        assert {"ghost-before", "ghost-after"} <= have
        assert not {f"ghost-{i}" for i in range(3)} & have
    finally:
        f.stop()


def test_a_write_in_flight_when_the_broker_dies_is_answered_once_it_is_back(own_broker, workroot):
    """The write's message (held by a frozen master) dies with the broker, which keeps no
    transient message: the orchestrator sends it again on its next connection, and the
    caller gets the master's 200 (without that resend: a 503 after RPC_TIMEOUT_MS). Then a
    write with the same key gets the same answer: it was applied once."""
    f = Fleet(os.path.join(workroot, "resend"), own_broker)
    try:
        f.start_orchestrator(RPC_TIMEOUT_MS=40000)
        master = f.start_worker("master", "master")
        f.start_worker("slave", "slave-0")
        assert db(f, "write", user("resend-before")).status_code == 200
        out = {}
        master.kill(signal.SIGSTOP)
        try:
            t = threading.Thread(target=lambda: out.update(r=write(f, user("resend-1"), key="resend-key", timeout=60)))
            t.start()
            time.sleep(0.5)  # the orchestrator has published it; the frozen master holds it unapplied
            own_broker.kill()
        finally:
            master.kill(signal.SIGCONT)
        own_broker.restart()
        t.join(70)
        assert "r" in out, "the write got no answer"
        assert out["r"].status_code == 200, out["r"].text
        again = write(f, user("resend-1"), key="resend-key", timeout=20)
        assert again.status_code == 200 and again.json() == out["r"].json(), again.text
        assert "resend-1" in names(f)
    finally:
        f.stop()


def test_a_slave_joins_a_store_larger_than_an_amqp_message(rabbit, workroot):
    """A master on a 150 MiB store (over RabbitMQ's 128 MiB message limit): a new slave
    copies it in 8 MiB chunks and serves it. RS_BIG_SNAPSHOT_MB makes it larger (make soak)."""
    mb = int(os.environ.get("RS_BIG_SNAPSHOT_MB", "150"))
    f = Fleet(os.path.join(workroot, "bigsnap"), rabbit)
    try:
        f.start_orchestrator(RPC_TIMEOUT_MS=20000)
        f.start_worker("master", "master")
        assert db(f, "write", user("big-marker")).status_code == 200
        f.workers["master"].stop()
        with sqlite3.connect(os.path.join(f.dir, "master.db")) as c:
            pad = "p" * 1000
            c.executemany("INSERT INTO users(username, password) VALUES (?, ?)",
                          ((f"big-{i}", pad) for i in range(mb * 1000)))
        f.start_worker("master", "master")
        t0 = time.time()
        p = f.start_worker("slave", "slave-big", wait=False)
        wait_until(lambda: p.log_has("slave: serving reads") or not p.alive(), 60 + mb / 4, 0.2,
                   what="the big slave serving")
        assert p.alive()
        joined = time.time() - t0
        r = db(f, "read", {"table": "users", "count": True}, timeout=30)
        assert r.status_code == 200 and r.headers["X-Worker"] == "slave-big"
        assert r.json() == [{"count": mb * 1000 + 1}]
        with open(f.workers["slave-big"].log_path, "rb") as fh:
            lines = [l for l in fh.read().decode("utf-8", "replace").splitlines() if "installed a snapshot in" in l]
        chunks = int(lines[-1].split("snapshot in ")[1].split(" chunk")[0])
        assert chunks * 8 > 128, f"{chunks} chunks of 8 MiB is no more than one AMQP message"
        print(f"a {mb} MiB store joined in {joined:.1f} s ({chunks} chunks)")
    finally:
        f.stop()
