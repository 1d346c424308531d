#!/usr/bin/env python3
"""failover.py - how long the fleet takes to heal, in seconds.

Starts a private RabbitMQ and ZooKeeper and an orchestrator that runs its own workers
(SPAWNER=process, ZK_SESSION_MS=1500), then, ROUNDS times (default 5):
  (a) master: SIGKILL the master's pid (not through the API) -> first write accepted again;
  (b) slave:  SIGKILL the only slave -> its replacement is in worker/list and has served a
      db/read (X-Worker names it).
Prints every round and the median. Usage: tests/bench/failover.py [ROUNDS]  (build first).
"""
import os
import signal
import statistics
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from fleet import Fleet, Rabbit, ZooKeeper, db, wait_until  # noqa: E402


def write(f, name):
    try:
        return db(f, "write", {"table": "users", "insert": {"username": name, "password": "a" * 40}},
                  timeout=10).status_code == 200
    except requests.RequestException:
        return False


def master_round(f, k):
    wait_until(lambda: f.is_whole(), 60, 0.1, what="fleet whole")
    assert write(f, f"m{k}-before")
    master = f.zk.master_pid()
    t0 = time.time()
    os.kill(master, signal.SIGKILL)
    i = 0
    while not write(f, f"m{k}-after-{i}"):
        i += 1
        time.sleep(0.02)
    return time.time() - t0


def slave_round(f, k):
    wait_until(lambda: f.is_whole(), 60, 0.1, what="fleet whole")
    before = set(f.worker_list())
    (slave,) = before - {f.zk.master_pid()}
    t0 = time.time()
    os.kill(slave, signal.SIGKILL)
    while True:
        new = set(f.worker_list()) - before
        if new:
            try:
                r = db(f, "read", {"table": "users", "count": True}, timeout=10)
                if r.status_code == 200 and f.zk.candidates_by_id().get(r.headers.get("X-Worker")) in new:
                    return time.time() - t0
            except requests.RequestException:
                pass
        time.sleep(0.02)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    work = tempfile.mkdtemp(prefix="rs-failover-")
    zk, rabbit = ZooKeeper(work), Rabbit(work)
    zk.start()
    rabbit.start()
    f = Fleet(os.path.join(work, "fleet"), rabbit)
    try:
        f.start_ha(zk)
        results = {"master SIGKILL -> write accepted": [], "slave SIGKILL -> replacement served a read": []}
        for k in range(rounds):
            for label, fn in zip(results, (master_round, slave_round)):
                s = fn(f, k)
                results[label].append(s)
                print(f"round {k + 1}: {label}: {s:.2f} s", flush=True)
        for label, xs in results.items():
            print(f"{label}: median {statistics.median(xs):.2f} s, min {min(xs):.2f}, max {max(xs):.2f} "
                  f"({len(xs)} rounds)")
    finally:
        f.stop()
        rabbit.stop()
        zk.stop()
        if os.environ.get("RS_KEEP") != "1":
            import shutil
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)


if __name__ == "__main__":
    main()
