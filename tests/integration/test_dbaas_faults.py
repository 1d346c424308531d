"""The DBaaS under faults: late slaves catch up, killed workers never hang the orchestrator."""
import concurrent.futures
import os
import signal
import threading
import time

import pytest

from fleet import Fleet, db

PW = "b" * 40
RPC_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def fleet(rabbit, workroot):
    f = Fleet(os.path.join(workroot, "faults"), rabbit)
    try:
        f.start_orchestrator(RPC_TIMEOUT_MS=RPC_TIMEOUT_S * 1000)
        f.start_worker("master", "master")
        f.start_worker("slave", "slave-0")
        f.start_worker("slave", "slave-1")
        yield f
    finally:
        f.stop()


def count(f, table="users"):
    r = db(f, "read", {"table": table, "count": True})
    assert r.status_code == 200, r.text
    return r.json()[0]["count"]


def test_slave_started_after_1000_writes_serves_them_all(fleet):
    assert db(fleet, "clear", None).status_code == 200

    def write(i):
        return db(fleet, "write", {"table": "users", "insert": {"username": f"late-{i}", "password": PW}}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(write, range(1000))) == {200}
    fleet.start_worker("slave", "slave-late")
    # Only the late slave is left to serve reads: it must hold everything.
    for name in ("slave-0", "slave-1"):
        fleet.workers[name].kill(signal.SIGKILL)
    for _ in range(10):
        r = db(fleet, "read", {"table": "users", "count": True})
        assert r.status_code == 200 and r.headers["X-Worker"] == "slave-late"
        assert r.json() == [{"count": 1000}]
    names = {row["username"] for row in db(fleet, "read", {"table": "users", "columns": ["username"]}).json()}
    assert names == {f"late-{i}" for i in range(1000)}


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


def test_killed_slave_mid_load_does_not_hang_reads(fleet):
    fleet.start_worker("slave", "slave-2")
    stop = threading.Event()
    results = []

    def reader():
        while not stop.is_set():
            results.append(timed(lambda: db(fleet, "read", {"table": "users", "count": True}).status_code))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1)
    fleet.workers["slave-late"].kill(signal.SIGKILL)
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join()
    assert results, "no read finished"
    assert all(code in (200, 503) for code, _ in results)
    assert max(d for _, d in results) < RPC_TIMEOUT_S + 2
    # the surviving slave serves every read now
    assert all(db(fleet, "read", {"table": "users", "count": True}).status_code == 200 for _ in range(20))


def test_killed_master_gives_503_then_recovers_without_losing_acked_writes(fleet):
    acked, codes = [], []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(k):
        i = 0
        while not stop.is_set():
            name = f"mk-{k}-{i}"
            (r, d) = timed(lambda: db(fleet, "write", {"table": "users", "insert": {"username": name, "password": PW}}))
            with lock:
                codes.append((r.status_code, d))
                if r.status_code == 200:
                    acked.append(name)
            i += 1

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1)
    fleet.workers["master"].kill(signal.SIGKILL)
    time.sleep(RPC_TIMEOUT_S + 1)
    stop.set()
    for t in threads:
        t.join()
    assert any(c == 503 for c, _ in codes), "writes should fail while there is no master"
    assert all(c in (200, 503) for c, _ in codes)
    assert max(d for _, d in codes) < RPC_TIMEOUT_S + 2
    # recovery: the master comes back on its own database file and takes writes again
    fleet.start_worker("master", "master")
    r = db(fleet, "write", {"table": "users", "insert": {"username": "after-restart", "password": PW}})
    assert r.status_code == 200, r.text
    present = {row["username"] for row in db(fleet, "read", {"table": "users", "columns": ["username"]}).json()}
    assert set(acked) <= present
    assert "after-restart" in present
