"""Shared fixtures: one private RabbitMQ (and ZooKeeper) per test session, a fresh fleet
per module; an HA fleet gets a ZooKeeper of its own, since the znode root is fixed."""
import os
import shutil
import tempfile

import pytest

from fleet import Fleet, Rabbit, ZooKeeper


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_reports(root):
    """(log file, first report line) for every sanitizer report in the fleet logs: with
    the ASan/UBSan builds (RS_BIN=build/asan, as make test runs them) a report is a
    failure even when the test that caused it passed."""
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".log"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if any(m in line for m in SANITIZER_MARKS):
                        found.append((path, line.strip()))
                        break
    return found


@pytest.fixture(scope="session", autouse=True)
def workroot():
    d = tempfile.mkdtemp(prefix="rideshare-it-")
    yield d
    reports = sanitizer_reports(d)
    if os.environ.get("RS_KEEP") != "1" and not reports:
        shutil.rmtree(d, ignore_errors=True)
    assert not reports, "sanitizer reports (logs kept in %s):\n%s" % (
        d, "\n".join(f"{p}: {l}" for p, l in reports))


@pytest.fixture(scope="session")
def rabbit(workroot):
    r = Rabbit(workroot)
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def dbaas(request, rabbit, workroot):
    """Orchestrator, master and two slaves."""
    f = Fleet(os.path.join(workroot, request.module.__name__), rabbit)
    try:
        f.start_dbaas(slaves=2)
        yield f
    finally:
        f.stop()


@pytest.fixture(scope="module")
def lb_fleet(request, rabbit, workroot):
    """The whole product: DBaaS, users, rides and nginx in front."""
    f = Fleet(os.path.join(workroot, request.module.__name__ + "-lb"), rabbit)
    try:
        f.start_dbaas(slaves=2)
        f.start_services()
        yield f
    finally:
        f.stop()


@pytest.fixture(scope="session")
def zookeeper(workroot):
    """A private ZooKeeper for the session (skips when Debian's zookeeper is missing)."""
    if not ZooKeeper.available():
        pytest.skip("no ZooKeeper (apt-get install zookeeper)")
    z = ZooKeeper(workroot)
    z.start()
    yield z
    z.stop()


def make_ha_fleet(request, rabbit, workroot, **env):
    """An orchestrator supervising its own workers (SPAWNER=process) on a ZooKeeper of
    its own; yields the fleet once it has a master and a slave serving."""
    if not ZooKeeper.available():
        pytest.skip("no ZooKeeper (apt-get install zookeeper)")
    name = request.module.__name__ + "-ha"
    z = ZooKeeper(os.path.join(workroot, name), name="zookeeper")
    z.start()
    f = Fleet(os.path.join(workroot, name), rabbit)
    try:
        f.start_ha(z, **env)
        yield f
    finally:
        f.stop()
        z.stop()


@pytest.fixture(scope="module")
def ha_fleet(request, rabbit, workroot):
    """1 master + 1 slave run by the orchestrator; SCALE_INTERVAL 4 s, MAX_SLAVES 4."""
    yield from make_ha_fleet(request, rabbit, workroot, SCALE_INTERVAL=4, MAX_SLAVES=4)
