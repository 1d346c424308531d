"""The swarm tier's fixtures: the stack that tests/swarm/run.sh deployed (scripts/swarm.sh,
docker/stack.yml), its URLs and admin token, and where each node's Docker engine is, so
that the same tests run on this machine's one-node swarm or on three machines.

Configuration (environment):
  SWARM_HOST [127.0.0.1]      any node: the published ports answer on every node
  SWARM_LB_PORT [18080], SWARM_USERS_PORT [18001], SWARM_RIDES_PORT [18002],
  SWARM_ORCH_PORT [18081]     as in docker/stack.yml
  STACK [rideshare-swarm]     the stack's name
  SWARM_DOCKER_HOSTS [""]     "<node hostname>=<docker host> ...", e.g.
                              "node2=ssh://root@node2 node3=ssh://root@node3": how to reach
                              the engine of a node other than this one (docker -H); nodes
                              not listed are this engine's
  ADMIN_TOKEN                 the stack's token (run.sh passes it; scripts/swarm.sh keeps it
                              in build/swarm/admin_token)
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import swarmlib  # noqa: E402  (after the path)
from e2e import send_token_everywhere  # noqa: E402

ADMIN_TOKEN = os.environ.get("ADMIN_TOKEN", "")

send_token_everywhere(ADMIN_TOKEN)


def pytest_terminal_summary(terminalreporter):
    if swarmlib.REPORT:
        terminalreporter.section("swarm: figures")
        for line in swarmlib.REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def swarm():
    return swarmlib.Swarm()
