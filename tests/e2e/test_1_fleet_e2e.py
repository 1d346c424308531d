"""The DBaaS fleet in containers: respawn, election, autoscaling and infrastructure
restarts, observed only through the orchestrator's API (worker/list, crash/*, metrics)."""
import subprocess
import threading
import time

import pytest
import requests

from e2e import PW, compose_container, db, fleet_settled, metric, wait_for, workers


@pytest.fixture
def quiet(composed):
    """A fleet back to one master and one slave: reads of earlier tests scaled it out, so
    wait for an interval without them."""
    fleet_settled(composed, 1, timeout=2 * composed.scale_interval + 60)
    return composed


def add_user(f, name):
    return db(f, "write", {"table": "users", "insert": {"username": name, "password": PW}})


def usernames(f):
    r = db(f, "read", {"table": "users", "columns": ["username"]})
    assert r.status_code == 200, r.text
    return {row["username"] for row in r.json()}


def test_fleet_starts_with_one_master_and_one_slave(composed):
    pids = fleet_settled(composed, 1, timeout=120)
    assert pids == sorted(pids) and all(isinstance(p, int) and p > 0 for p in pids)


def test_crashed_slave_is_replaced_and_holds_all_data(quiet):
    f = quiet
    assert db(f, "clear", None).status_code == 200
    for i in range(50):
        assert add_user(f, f"slave-crash-{i}").status_code == 200
    before = workers(f)
    r = requests.post(f.orch_url + "/api/v1/crash/slave", timeout=10)
    assert r.status_code == 200, r.text
    (victim,) = r.json()
    assert int(victim) in before
    after = fleet_settled(f, 1, timeout=60)
    assert int(victim) not in after and len(set(after) - set(before)) == 1
    # the only slave is the new one: every read is its
    assert usernames(f) == {f"slave-crash-{i}" for i in range(50)}


def test_crashed_master_is_replaced_by_the_slave(quiet):
    f = quiet
    assert db(f, "clear", None).status_code == 200
    for i in range(20):
        assert add_user(f, f"master-crash-{i}").status_code == 200
    before = workers(f)
    r = requests.post(f.orch_url + "/api/v1/crash/master", timeout=10)
    assert r.status_code == 200, r.text
    (victim,) = r.json()
    assert int(victim) in before
    (survivor,) = set(before) - {int(victim)}
    t0 = time.time()
    wait_for(lambda: add_user(f, "after-failover").status_code == 200, 30, "a write after the master crash")
    took = time.time() - t0
    after = fleet_settled(f, 1, timeout=60)
    assert int(victim) not in after and survivor in after
    assert usernames(f) == {f"master-crash-{i}" for i in range(20)} | {"after-failover"}
    print(f"writes accepted again {took:.2f}s after crash/master")


def write_load(f, prefix, seconds_before, action, seconds_after):
    acked, codes, stop, lock = [], [], threading.Event(), threading.Lock()

    def writer(k):
        i = 0
        while not stop.is_set():
            name = f"{prefix}-{k}-{i}"
            try:
                code = add_user(f, name).status_code
            except requests.RequestException:
                code = 0
            with lock:
                codes.append(code)
                if code == 200:
                    acked.append(name)
            i += 1

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(seconds_before)
    action()
    time.sleep(seconds_after)
    stop.set()
    for t in threads:
        t.join()
    return acked, codes


def test_no_acknowledged_write_is_lost_when_the_master_crashes_under_load(quiet):
    f = quiet
    assert db(f, "clear", None).status_code == 200
    acked, codes = write_load(f, "load", 2, lambda: requests.post(f.orch_url + "/api/v1/crash/master", timeout=10),
                              8)
    assert len(acked) > 50
    assert set(codes) <= {200, 503}
    fleet_settled(f, 1, timeout=60)
    missing = set(acked) - usernames(f)
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"


def test_autoscaling_follows_reads_per_interval(quiet):
    f = quiet
    # start the burst right after an interval boundary, so all of it lands in one interval
    db(f, "read", {"table": "users", "count": True})
    left = metric(f, "rideshare_scale_seconds_left")
    if left < f.scale_interval * 0.6:
        time.sleep(left + 0.5)
    for _ in range(45):  # 41..60 reads -> 3 slaves
        assert db(f, "read", {"table": "users", "count": True}).status_code == 200
    pids = fleet_settled(f, 3, timeout=f.scale_interval + 60)
    assert len(pids) == 4
    # a quiet interval: back to one slave, the removed ones are not respawned
    pids = fleet_settled(f, 1, timeout=2 * f.scale_interval + 60)
    assert len(pids) == 2
    time.sleep(3)
    assert len(workers(f)) == 2


def test_restarted_orchestrator_adopts_its_fleet(quiet):
    """It finds its workers again by their Docker labels: same pids, the data intact, no
    second master and no orphan container."""
    f = quiet
    assert db(f, "clear", None).status_code == 200
    assert add_user(f, "before-orch-restart").status_code == 200
    before = workers(f)
    orch = compose_container("orchestrator")

    def started_at():
        return subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", orch], capture_output=True,
                              text=True, check=True).stdout.strip()

    first = started_at()
    subprocess.run(["docker", "restart", "-t", "10", orch], check=True, capture_output=True)
    assert started_at() != first, "the orchestrator was not restarted"
    def healthy():
        try:
            return requests.get(f.orch_url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(healthy, 60, "orchestrator up")
    after = fleet_settled(f, 1, timeout=60)
    assert after == before, "the restarted orchestrator replaced workers instead of adopting them"
    assert "before-orch-restart" in usernames(f)
    running = subprocess.run(["docker", "ps", "-q", "--filter", "label=rideshare.role=worker",
                              "--filter", "label=rideshare.fleet=rideshare"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert len(running) == 2, "a worker container runs that the fleet does not count"


@pytest.mark.parametrize("service", ["rabbitmq", "zookeeper"])
def test_infrastructure_restart_under_load_loses_no_acknowledged_write(quiet, service):
    f = quiet
    assert db(f, "clear", None).status_code == 200
    container = compose_container(service)
    started_before = metric(f, "rideshare_workers_started_total")
    acked, codes = write_load(f, f"restart-{service}", 2,
                              lambda: subprocess.run(["docker", "restart", "-t", "5", container], check=True,
                                                     capture_output=True), 5)
    # every service reconnects by itself: writes and reads work again without any help
    wait_for(lambda: add_user(f, f"after-{service}").status_code == 200, 90, f"a write after the {service} restart")
    wait_for(lambda: db(f, "read", {"table": "users", "count": True}).status_code == 200, 60, "a read")
    fleet_settled(f, 1, timeout=120)
    missing = set(acked) - usernames(f)
    assert not missing, f"{len(missing)} acknowledged writes lost across the {service} restart"
    assert len(acked) > 0
    # at most the master it may cost and a slave to replace it: no storm of respawns
    started = metric(f, "rideshare_workers_started_total") - started_before
    assert started <= 3, f"{started:.0f} workers started across the {service} restart"
