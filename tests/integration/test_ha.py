"""Black-box tests of fault tolerance and scaling (docs/API.md "Fault tolerance and
scaling"): the orchestrator runs its own workers as child processes (SPAWNER=process)
under a private ZooKeeper, and we crash, kill, load and restart them.

The tests share one fleet and run in file order; each leaves it at 1 master + 1 slave.
Which worker is master is read from ZooKeeper's "dump" (the session that holds
/rideshare/master also holds its election candidate /rideshare/election/<pid>-<id>).
"""
import os
import signal
import threading
import time

import pytest
import requests

from fleet import db, usernames, wait_until, wait_whole

PASSWORD = "a" * 40


def insert_user(fleet, name, timeout=10):
    return db(fleet, "write", {"table": "users", "insert": {"username": name, "password": PASSWORD}}, timeout=timeout)


def wait_writable(fleet, timeout=30):
    """Seconds until a write is accepted."""
    t0 = time.time()
    deadline = t0 + timeout
    while time.time() < deadline:
        try:
            if insert_user(fleet, f"probe-{time.time_ns()}", timeout=5).status_code == 200:
                return time.time() - t0
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no write accepted within {timeout}s")


class Reader(threading.Thread):
    """Sends db/read requests at a steady rate (per second) until stopped."""

    def __init__(self, fleet, rate):
        super().__init__(daemon=True)
        self.fleet, self.pause, self.halt = fleet, 1.0 / rate, threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                db(self.fleet, "read", {"table": "users", "count": True}, timeout=5)
            except requests.RequestException:
                pass
            self.halt.wait(self.pause)

    def stop(self):
        self.halt.set()
        self.join(10)


def test_fleet_starts_with_one_master_and_one_slave(ha_fleet):
    wait_until(lambda: len(ha_fleet.worker_list()) == 2, 15, 0.2, what="2 workers listed")
    wait_whole(ha_fleet)
    assert insert_user(ha_fleet, "first").status_code == 200
    assert "first" in usernames(ha_fleet)


def test_crashed_slave_is_replaced_by_one_holding_all_data(ha_fleet):
    wait_whole(ha_fleet)
    for i in range(30):
        assert insert_user(ha_fleet, f"before-crash-{i}").status_code == 200
    before = ha_fleet.worker_list()
    master = ha_fleet.zk.master_pid()
    r = ha_fleet.crash("slave")
    assert r.status_code == 200, r.text
    crashed = int(r.json()[0])
    assert crashed in before and crashed != master
    assert crashed == max(p for p in before if p != master)
    wait_until(lambda: crashed not in ha_fleet.worker_list(), 10, 0.1, what="crashed slave unlisted")
    wait_whole(ha_fleet)
    (new,) = set(ha_fleet.worker_list()) - set(before)
    # The only slave now: it serves every read, and holds everything written before.
    r = db(ha_fleet, "read", {"table": "users", "columns": ["username"]})
    assert r.status_code == 200
    assert ha_fleet.zk.candidates_by_id()[r.headers["X-Worker"]] == new
    assert {f"before-crash-{i}" for i in range(30)} <= {row["username"] for row in r.json()}


def test_scale_out_to_three_then_lowest_pid_slave_wins_the_election(ha_fleet):
    """50 reads per 4 s interval keep 3 slaves; crash/master then elects the slave with the
    lowest pid, and the next crash/master names it. Back to 1 slave once reads stop."""
    wait_whole(ha_fleet)
    reader = Reader(ha_fleet, rate=12.5)
    reader.start()
    try:
        wait_until(lambda: ha_fleet.is_whole(slaves=3), 30, 0.2, what="3 slaves serving")
        old_master = ha_fleet.zk.master_pid()
        slaves = sorted(set(ha_fleet.worker_list()) - {old_master})
        r = ha_fleet.crash("master")
        assert r.status_code == 200, r.text
        assert int(r.json()[0]) == old_master
        wait_until(lambda: ha_fleet.zk.master_pid() not in (None, old_master), 15, 0.05, what="a new master")
        assert ha_fleet.zk.master_pid() == slaves[0]
        wait_writable(ha_fleet, 15)
        r = ha_fleet.crash("master")
        assert r.status_code == 200 and int(r.json()[0]) == slaves[0]
        wait_writable(ha_fleet, 20)
    finally:
        reader.stop()
    # Quiet intervals: back to one slave (scale-in removes the highest pids).
    wait_whole(ha_fleet, slaves=1, timeout=30)


def test_scale_one_three_one_by_reads_per_interval(ha_fleet):
    wait_whole(ha_fleet)
    # An interval is counted from its first read: 50 reads in a burst fall in one.
    for _ in range(50):
        assert db(ha_fleet, "read", {"table": "users", "count": True}).status_code == 200
    wait_until(lambda: len(ha_fleet.worker_list()) == 4, 15, 0.2, what="4 workers (3 slaves)")
    # The interval after it has no reads: back to 1 slave.
    wait_until(lambda: len(ha_fleet.worker_list()) == 2, 15, 0.2, what="2 workers (1 slave)")
    wait_whole(ha_fleet)


def test_no_acknowledged_write_is_lost_when_the_master_is_sigkilled(ha_fleet):
    wait_whole(ha_fleet)
    acked, stop = [], threading.Event()
    failures = []

    def writer(tag):
        i = 0
        while not stop.is_set():
            name = f"load-{tag}-{i}"
            i += 1
            try:
                r = insert_user(ha_fleet, name, timeout=10)
            except requests.RequestException:
                continue
            if r.status_code == 200:
                acked.append((time.time(), name))
            elif r.status_code != 503:
                failures.append((name, r.status_code, r.text))

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(3)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= 30, 15, what="writes flowing")
        master = ha_fleet.zk.master_pid()
        killed_at = time.time()
        os.kill(master, signal.SIGKILL)
        wait_until(lambda: any(t > killed_at + 0.5 for t, _ in acked), 20, 0.05, what="writes accepted again")
        recovered = min(t for t, _ in acked if t > killed_at + 0.5) - killed_at
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not failures, failures[:5]
    assert recovered < 15
    have = usernames(ha_fleet)
    lost = [name for _, name in acked if name not in have]
    assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
    wait_whole(ha_fleet)


def test_sigterm_master_hands_over_at_once(ha_fleet):
    """A master stopped with SIGTERM leaves the election itself: a slave takes over without
    waiting for the old session to expire, and the old master exits cleanly."""
    wait_whole(ha_fleet)
    master = ha_fleet.zk.master_pid()
    os.kill(master, signal.SIGTERM)
    took = wait_writable(ha_fleet, 15)
    assert took < 1.5, f"writes came back {took:.2f}s after SIGTERM"
    wait_until(lambda: ha_fleet.zk.master_pid() not in (None, master), 10, 0.05, what="a new master")
    with pytest.raises(ProcessLookupError):  # exited (and reaped), not hanging on
        wait_until(lambda: os.kill(master, 0) and False, 10, 0.1, what="the old master to exit")
    wait_whole(ha_fleet)


def test_metrics_show_each_workers_role_applied_sequence_and_lag(ha_fleet):
    wait_whole(ha_fleet)
    for i in range(5):
        assert insert_user(ha_fleet, f"metrics-{i}").status_code == 200

    def series():
        text = requests.get(ha_fleet.orch_url + "/metrics", timeout=5).text
        acked = int(float(next(l.split()[1] for l in text.splitlines() if l.startswith("rideshare_write_seq "))))
        seqs = {l.split("{")[1].split("}")[0]: int(l.split()[1]) for l in text.splitlines()
                if l.startswith("rideshare_worker_applied_seq{")}
        lags = [int(l.split()[1]) for l in text.splitlines() if l.startswith("rideshare_worker_lag{")]
        return text, acked, seqs, lags

    def caught_up():
        text, acked, seqs, lags = series()
        return len(seqs) == 2 and set(seqs.values()) == {acked} and lags == [0, 0]

    try:
        wait_until(caught_up, 10, 0.2, what="both workers report the acked sequence")
    except TimeoutError:
        print("acked, applied, lags:", series()[1:])  # what the failure looked like
        raise
    text, acked, seqs, _ = series()
    assert acked >= 5
    assert sorted(k.split('role="')[1].rstrip('"') for k in seqs) == ["master", "slave"]
    assert text.count("rideshare_worker_info{") == 2


def test_orchestrator_restart_brings_the_fleet_back_whole_with_one_master(ha_fleet):
    wait_whole(ha_fleet)
    before = set(ha_fleet.worker_list())
    ha_fleet.restart_orchestrator(signal.SIGTERM)
    # process backend: the children died with the orchestrator; a new fleet is started
    seen_masters = set()

    def check():
        holders = [paths for paths in ha_fleet.zk.ephemerals().values() if "/rideshare/master" in paths]
        assert len(holders) <= 1
        m = ha_fleet.zk.master_pid()
        if m and m not in before:  # the old master's node may linger until its session expires
            seen_masters.add(m)
        return ha_fleet.is_whole()

    wait_until(check, 30, 0.1, what="1 master + 1 slave after the restart")
    assert not (set(ha_fleet.worker_list()) & before)
    for pid in before:  # the old fleet is gone, not running beside the new one
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert len(seen_masters) == 1, seen_masters
    wait_writable(ha_fleet, 15)


def test_orchestrator_restart_keeps_the_data(ha_fleet):
    wait_whole(ha_fleet)
    assert insert_user(ha_fleet, "survivor").status_code == 200
    ha_fleet.restart_orchestrator(signal.SIGTERM)
    wait_whole(ha_fleet, timeout=30)
    assert "survivor" in usernames(ha_fleet)
