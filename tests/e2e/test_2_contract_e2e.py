"""The whole public contract, through the composed load balancer: the same black-box suite
that runs against processes (tests/integration/test_users_rides_api.py), here against the
containers."""
from test_users_rides_api import *  # noqa: F401,F403  (the tests and their fixtures)

# It starts local processes of its own: a process-tier test, not an end-to-end one.
del test_unavailable_backends_are_503  # noqa: F821
