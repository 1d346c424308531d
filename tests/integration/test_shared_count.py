"""_count across replicas (issue 14): two users services that keep the count in ZooKeeper
(COUNT_ZK_HOSTS, common/reqcount.c) count every request whichever of them took it, read
the same number right after, reset together, keep what a replica counted after it is
killed, stay available while ZooKeeper is away (the count catching up once it is back);
and the admin token read from a file (ADMIN_TOKEN_FILE, as a Docker secret is), required
with ADMIN_TOKEN_REQUIRED=1."""
import concurrent.futures
import os
import signal
import subprocess
import time

import pytest
import requests

import fleet as fleetmod
from fleet import Fleet, ZooKeeper

TOKEN = "shared-count-token"


@pytest.fixture(scope="module")
def pair(request, rabbit, workroot):
    """A DBaaS (orchestrator, master, slave), a ZooKeeper of its own, and two users
    replicas sharing their _count there, with the admin token from a file."""
    if not ZooKeeper.available():
        pytest.skip("no ZooKeeper (apt-get install zookeeper)")
    d = os.path.join(workroot, "shared-count")
    z = ZooKeeper(d)
    z.start()
    f = Fleet(d, rabbit)
    token_file = os.path.join(d, "admin_token")
    with open(token_file, "w") as fh:
        fh.write(TOKEN + "\n")  # a trailing newline, as `echo > file` leaves
    try:
        f.start_orchestrator()
        f.start_worker("master", "master")
        f.start_worker("slave", "slave-0")
        env = dict(ORCH_URL=f.orch_url, COUNT_ZK_HOSTS=z.hosts, ZK_SESSION_MS=4000, ADMIN_TOKEN_FILE=token_file,
                   ADMIN_TOKEN_REQUIRED=1, COUNT_FLUSH_WAIT_MS=2000)
        f.replicas = [f._service(f"users-{k}", "users", **env) for k in "ab"]
        f.zk, f.replica_env = z, env
        yield f
    finally:
        f.stop()
        z.stop()


def count(url):
    r = requests.get(url + "/api/v1/_count", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()[0]


def reset(url):
    r = requests.delete(url + "/api/v1/_count", timeout=10)
    assert r.status_code == 200, r.text


def urls(f):
    return [url for _, url in f.replicas]


def hit(url, i):
    """A counted request (GET /api/v1/users), a fresh connection each."""
    return requests.get(url + "/api/v1/users", timeout=10, headers={"Connection": "close"}).status_code


def test_every_request_counts_whichever_replica_took_it(pair):
    a, b = urls(pair)
    reset(a)
    assert count(a) == count(b) == 0
    for i in range(10):
        assert hit((a, b)[i % 2], i) in (200, 204)
        # read on the other replica right after: the request is there already
        assert count((b, a)[i % 2]) == i + 1
    # many at once, on both: one ZooKeeper write per batch, none lost
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda i: hit((a, b)[i % 2], i), range(200)))
    assert set(codes) <= {200, 204}
    assert count(a) == count(b) == 210
    reset(b)
    assert count(a) == count(b) == 0


def test_a_killed_replica_keeps_what_it_counted(pair):
    (pa, a), (pb, b) = pair.replicas
    reset(a)
    for i in range(7):
        hit(a, i)
    pa.kill(signal.SIGKILL)
    pa.popen.wait(10)
    assert count(b) == 7
    # and a new replica starts from the shared count, not from zero
    pair.replicas[0] = pair._service("users-a2", "users", **pair.replica_env)
    assert count(pair.replicas[0][1]) == 7


def test_requests_are_answered_while_zookeeper_is_away_and_counted_after(pair):
    a, b = urls(pair)
    reset(a)
    hit(a, 0)
    pair.zk.stop()
    try:
        t0 = time.time()
        assert hit(b, 1) in (200, 204)
        assert time.time() - t0 < 5, "a request waited for ZooKeeper longer than COUNT_FLUSH_WAIT_MS allows"
        r = requests.get(b + "/api/v1/_count", timeout=10)
        assert r.status_code == 503 and r.json()["error"], r.text
    finally:
        pair.zk.start()
    fleetmod.wait_until(lambda: requests.get(a + "/api/v1/_count", timeout=10).status_code == 200, 30,
                        what="_count readable again")
    fleetmod.wait_until(lambda: count(a) == 2, 30, what="the request made while ZooKeeper was away counted")
    assert count(b) == 2


def test_the_admin_token_comes_from_the_file(pair):
    a, _ = urls(pair)
    assert requests.post(a + "/api/v1/db/clear", timeout=10).status_code == 401
    r = requests.post(a + "/api/v1/db/clear", headers={"Authorization": "Bearer " + TOKEN}, timeout=10)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("env", [{}, {"ADMIN_TOKEN_FILE": "/nonexistent/token"}])
def test_no_token_when_one_is_required_is_a_failed_start(pair, env):
    e = dict(os.environ, PORT=str(fleetmod.free_port()), ORCH_URL=pair.orch_url, ADMIN_TOKEN_REQUIRED="1", **env)
    e.pop("ADMIN_TOKEN", None)
    if not env:
        e.pop("ADMIN_TOKEN_FILE", None)
    p = subprocess.run([os.path.join(fleetmod.BIN, "users")], env=e, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "ADMIN_TOKEN" in p.stdout + p.stderr
