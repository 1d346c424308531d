"""A frozen master in containers (issue 9): under a write load through the orchestrator,
`docker pause` the master's container for 2.5-4.5 s (longer than a ZooKeeper session,
shorter than the RPC timeout), then `docker unpause` it; no write answered 200 may be lost.
The history and checker are those of the loopback fault suite (tests/integration/jepsen.py).

E2E_PAUSE_ROUNDS (default 4) sets the number of pauses."""
import os
import random
import re
import subprocess
import time
import uuid

import pytest
import requests

import jepsen
from e2e import fleet_settled, wait_for

ROUNDS = int(os.environ.get("E2E_PAUSE_ROUNDS", "4"))


@pytest.fixture
def quiet(composed):
    fleet_settled(composed, 1, timeout=2 * composed.scale_interval + 60)
    return composed


def master_pid(f):
    """The pid of the worker the orchestrator reports as master (rideshare_worker_info)."""
    text = requests.get(f.orch_url + "/metrics", timeout=10).text
    m = re.search(r'^rideshare_worker_info\{[^}]*role="master"[^}]*pid="(\d+)"', text, re.M)
    return int(m.group(1)) if m else None


def container_of(pid):
    """The worker container whose main process has this host pid."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", "label=rideshare.role=worker",
                          "--filter", "label=rideshare.fleet=rideshare"],
                         capture_output=True, text=True, check=True, timeout=30).stdout.split()
    for cid in ids:
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", cid], capture_output=True, text=True,
                             timeout=30).stdout.strip()
        if out == str(pid):
            return cid
    return None


def final_names(f, prefix, reads=6):
    """{worker id: usernames from prefix on}, from a few full reads (round-robin over the slaves)."""
    out = {}
    for _ in range(reads):
        try:
            r = requests.post(f.orch_url + "/api/v1/db/read", timeout=15,
                              json={"table": "users", "columns": ["username"], "where": {"username": {">=": prefix}}})
        except requests.RequestException:
            continue
        if r.status_code == 200:
            out.setdefault(r.headers.get("X-Worker"), {row["username"] for row in r.json()})
    return out


def docker_pause(cid, tries=10):
    """`docker pause`, again while the engine reports "unable to freeze": the cgroup freezer
    gives up when a task stays in an uninterruptible wait (disk I/O on a loaded machine),
    and the container is left running, so another try is the same fault a moment later."""
    for i in range(tries):
        p = subprocess.run(["docker", "pause", cid], capture_output=True, timeout=30)
        if p.returncode == 0:
            return
        if b"unable to freeze" not in p.stderr or i == tries - 1:
            raise AssertionError(f"docker pause {cid}: {p.stderr.decode(errors='replace')}")
        time.sleep(0.2)


def test_docker_pause_of_the_master_loses_no_acknowledged_write(quiet):
    f = quiet
    tag = uuid.uuid4().hex[:8]
    hist = jepsen.History()
    pauses, heals = [], []
    with jepsen.Load(f.orch_url, hist, tag, writers=4, readers=0):
        wait_for(lambda: len(hist.acked) >= 20, 30, "writes flowing")
        for rnd in range(ROUNDS):
            hist.phase("pause", rnd)
            pid = wait_for(lambda: master_pid(f), 60, "a master")
            cid = container_of(pid)
            assert cid, f"no worker container runs the master's pid {pid}"
            time.sleep(random.uniform(0.3, 0.7))
            t0 = jepsen.now()
            docker_pause(cid)
            try:
                took = random.uniform(2.5, 4.5)
                time.sleep(took)
            finally:
                subprocess.run(["docker", "unpause", cid], capture_output=True, timeout=30)
            pauses.append(took)
            wait_for(lambda: master_pid(f) not in (None, pid), 60, "a new master")
            fleet_settled(f, 1, timeout=90)
            heals.append(jepsen.now() - t0)
        time.sleep(1)
    fleet_settled(f, 1, timeout=90)
    final = final_names(f, "j" + tag)
    res = jepsen.check(hist, final)
    print("\n" + jepsen.summary_line("docker-pause", res, heals, [None]) + f" | pauses {[round(p, 1) for p in pauses]}")
    assert final, "no slave answered the final read"
    assert not res["lost"] and not res["partial"], \
        f"{len(res['lost'])} acknowledged writes lost over {ROUNDS} pauses, e.g. {res['lost'][:5]}"
