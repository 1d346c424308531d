"""Two replicas of users and of rides behind the routing mesh and nginx: _count counts every
request the service received, whichever replica took it (docker/stack.yml: COUNT_ZK_HOSTS),
and both replicas did take some. The admin token is required in this mode."""
import concurrent.futures
import re

import requests

NO_AUTH = {"Authorization": None}


def count(url):
    r = requests.get(url + "/api/v1/_count", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()[0]


def served(swarm, service, route):
    """{container: requests on route} from each replica's own /metrics."""
    out = {}
    for t in swarm.tasks(service):
        text = swarm.docker("exec", t["container"], "curl", "-fsS", "http://127.0.0.1:80/metrics", node=t["node"])
        n = sum(int(float(m.group(1))) for m in
                re.finditer(r'^http_requests_total\{method="GET",route="%s",status="[^"]+"\} (\S+)$' % re.escape(route),
                            text, re.M))
        out[t["container"][:12]] = n
    return out


def fresh_get(url):
    """A GET on a new connection, so that the mesh balances it anew."""
    return requests.get(url, timeout=15, headers={"Connection": "close"}).status_code


def test_two_replicas_each(swarm):
    assert len(swarm.tasks("users")) == 2 and len(swarm.tasks("rides")) == 2


def test_count_covers_both_replicas(swarm):
    for service, direct, path, route in (
            ("users", swarm.users_url, "/api/v1/users", "/api/v1/users"),
            ("rides", swarm.rides_url, "/api/v1/rides/count", "/api/v1/rides/count")):
        assert requests.delete(direct + "/api/v1/_count", timeout=10).status_code == 200
        before = served(swarm, service, route)
        urls = [direct + path] * 30 + [swarm.lb_url + path] * 30
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            codes = list(ex.map(fresh_get, urls))
        assert set(codes) <= {200, 204}, codes
        after = served(swarm, service, route)
        took = {c: after.get(c, 0) - before.get(c, 0) for c in after}
        assert sum(took.values()) == 60, took
        assert all(n > 0 for n in took.values()), f"one replica took every request: {took}"
        # every read, on whichever replica, sees all 60
        for _ in range(6):
            assert count(direct) == 60
        print(f"{service}: 60 requests, by replica {took}, _count 60")


def test_the_admin_token_is_required(swarm):
    for url in (swarm.orch_url + "/api/v1/db/clear", swarm.users_url + "/api/v1/db/clear",
                swarm.rides_url + "/api/v1/db/clear"):
        assert requests.post(url, headers=NO_AUTH, timeout=10).status_code == 401, url
