"""The end-to-end suite runs against the composed fleet that tests/e2e/run.sh brought up
with `scripts/fleet.sh up` (the ports of docker-compose.yml, overridable as there)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))


from e2e import send_token_everywhere  # noqa: E402  (after the path)

# tests/e2e/run.sh brings the fleet up with ADMIN_TOKEN: the suite is an admin client.
ADMIN_TOKEN = os.environ.get("ADMIN_TOKEN", "")
send_token_everywhere(ADMIN_TOKEN)


class ComposedFleet:
    def __init__(self):
        self.lb_url = f"http://127.0.0.1:{os.environ.get('LB_HOST_PORT', '8080')}"
        self.users_url = f"http://127.0.0.1:{os.environ.get('USERS_HOST_PORT', '8001')}"
        self.rides_url = f"http://127.0.0.1:{os.environ.get('RIDES_HOST_PORT', '8002')}"
        self.orch_url = f"http://127.0.0.1:{os.environ.get('ORCH_HOST_PORT', '8081')}"
        self.scale_interval = float(os.environ.get("SCALE_INTERVAL", "120"))


@pytest.fixture(scope="session")
def composed():
    return ComposedFleet()


@pytest.fixture(scope="module")
def lb_fleet(composed):
    """What the black-box API suite (tests/integration) asks for, here in containers."""
    return composed
