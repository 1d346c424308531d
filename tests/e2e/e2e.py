"""Helpers for the end-to-end tests: the orchestrator's fleet API and docker containers."""
import json
import subprocess
import time

import requests

PW = "d" * 40


def send_token_everywhere(token):
    """Makes this process an admin client: every request carries `Authorization: Bearer
    <token>` (public routes ignore it) unless it names the header itself; a test that
    wants none passes headers={"Authorization": None}, which requests then leaves out.
    Idempotent: a second wrapper sees the header the first one set."""
    if not token:
        return
    inner = requests.Session.request

    def with_token(self, method, url, **kw):
        headers = dict(kw.get("headers") or {})
        if not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = "Bearer " + token
        kw["headers"] = headers
        return inner(self, method, url, **kw)

    requests.Session.request = with_token


def workers(f):
    r = requests.get(f.orch_url + "/api/v1/worker/list", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def metric(f, name):
    for line in requests.get(f.orch_url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


def db(f, op, body, timeout=15):
    return requests.post(f"{f.orch_url}/api/v1/db/{op}", data=json.dumps(body) if body is not None else None,
                         timeout=timeout)


def wait_for(pred, timeout, what, interval=0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def fleet_settled(f, slaves, timeout=60):
    """Waits until the fleet has one master and `slaves` slaves registered and serving."""
    def ok():
        try:
            return (metric(f, 'rideshare_workers{role="master"}') == 1
                    and metric(f, 'rideshare_workers{role="slave"}') == slaves
                    and metric(f, 'rideshare_workers{role="starting"}') == 0 and len(workers(f)) == slaves + 1)
        except (KeyError, requests.RequestException):
            return False
    wait_for(ok, timeout, f"1 master + {slaves} slaves")
    # Registered is not yet taking writes (the master counts as one from its election, and
    # says "serving" only once it consumes writeQ). A write the master refuses (400, a table
    # that does not exist) proves the whole path answers, and changes nothing.
    def master_answers():
        try:
            return db(f, "write", {"table": "no_such_table", "insert": {"x": 1}}, timeout=6).status_code == 400
        except requests.RequestException:
            return False
    wait_for(master_answers, timeout, "the master answering writes")
    return workers(f)


def compose_container(service):
    """The container id of a compose service of the rideshare project."""
    out = subprocess.run(["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=rideshare",
                          "--filter", f"label=com.docker.compose.service={service}"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out, f"no running container for {service}"
    return out[0]
