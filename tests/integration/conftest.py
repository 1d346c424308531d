"""Shared fixtures: one private RabbitMQ per test session, a fresh fleet per module."""
import os
import shutil
import tempfile

import pytest

from fleet import Fleet, Rabbit


@pytest.fixture(scope="session")
def workroot():
    d = tempfile.mkdtemp(prefix="rideshare-it-")
    yield d
    if os.environ.get("RS_KEEP") != "1":
        shutil.rmtree(d, ignore_errors=True)


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
