"""Safe at the edges (issue 10): one client cannot take a service down, the admin routes
need ADMIN_TOKEN when it is set, and every oversized request is a 400.

The flood tests open thousands of sockets from 127.0.0.2 (a client of its own: Linux
answers the whole of 127/8 on the loopback interface) while a second client on
127.0.0.1 keeps calling the service; the figures go to the test's output (pytest -s)."""
import json
import os
import resource
import selectors
import socket
import statistics
import threading
import time

import pytest
import requests

from fleet import Fleet, db, wait_until

FLOOD_CONNECTIONS = int(os.environ.get("RS_FLOOD_CONNECTIONS", "5000"))
FLOOD_SECONDS = float(os.environ.get("RS_FLOOD_SECONDS", "8"))
FLOOD_SOURCE = "127.0.0.2"
TOKEN = "t0ken-" + "x" * 26


def _raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 512
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"needs {want} descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Flood:
    """Holds up to n connections from FLOOD_SOURCE to host:port for a while: idle ones
    (connect and say nothing) or slow-header ones (a request line, then one header byte
    a second). A connection the server closes is opened again, a bounded number of times."""

    def __init__(self, port, n, slow_headers=False, seconds=FLOOD_SECONDS):
        self.port, self.n, self.slow, self.seconds = port, n, slow_headers, seconds
        self.sel = selectors.DefaultSelector()
        self.opened = self.closed_by_server = self.refused = 0
        self.max_open = 0
        self.started = set()  # descriptors that sent their request line (slow headers)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((FLOOD_SOURCE, 0))
        try:
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            self.refused += 1
            return
        self.sel.register(s, selectors.EVENT_READ)
        self.opened += 1

    def _close(self, s):
        self.started.discard(s.fileno())
        self.sel.unregister(s)
        s.close()

    def _run(self):
        budget = self.n * 4  # reconnections are bounded too
        end = time.monotonic() + self.seconds
        last_drip = 0.0
        started = self.started
        while not self.stop.is_set() and time.monotonic() < end:
            while len(self.sel.get_map()) < self.n and self.opened < budget:
                self._open()
            self.max_open = max(self.max_open, len(self.sel.get_map()))
            for key, _ in self.sel.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:  # the server closed it (cap, timeout) or reset it
                    self.closed_by_server += 1
                    self._close(key.fileobj)
            if self.slow and time.monotonic() - last_drip >= 1.0:
                last_drip = time.monotonic()
                for key in list(self.sel.get_map().values()):
                    s = key.fileobj
                    first = s.fileno() not in started
                    try:
                        s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " if first else b"x")
                        started.add(s.fileno())
                    except OSError:
                        continue
        for key in list(self.sel.get_map().values()):
            self._close(key.fileobj)

    def __enter__(self):
        self.thread.start()
        time.sleep(1.5)  # let it reach its full size
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


def probe(url, n=60, timeout=2.0):
    """n sequential GETs on new connections; (success rate, median ms, max ms)."""
    ok, lat = 0, []
    for _ in range(n):
        t0 = time.monotonic()
        try:
            r = requests.get(url, timeout=timeout, headers={"Connection": "close"})
            if r.status_code in (200, 204):
                ok += 1
        except requests.RequestException:
            pass
        lat.append((time.monotonic() - t0) * 1000)
    return ok / n, statistics.median(lat), max(lat)


@pytest.fixture(scope="module")
def fleet(lb_fleet):
    return lb_fleet


def _report(name, base, flooded, flood):
    print(f"\nflood[{name}]: second client without flood: {base[0]:.0%} ok, median {base[1]:.1f} ms, "
          f"max {base[2]:.1f} ms; with flood: {flooded[0]:.0%} ok, median {flooded[1]:.1f} ms, "
          f"max {flooded[2]:.1f} ms; flooder opened {flood.opened}, held at most {flood.max_open}, "
          f"{flood.closed_by_server} closed by the server")


@pytest.mark.parametrize("slow", [False, True], ids=["idle", "slow-headers"])
def test_flood_from_one_client_does_not_stop_another(fleet, slow):
    _raise_fd_limit(FLOOD_CONNECTIONS)
    port = int(fleet.users_url.rsplit(":", 1)[1])
    # a DB-backed route (through the orchestrator) and the health check
    urls = [fleet.users_url + "/api/v1/users", fleet.users_url + "/healthz"]
    base = probe(urls[0], 30)
    with Flood(port, FLOOD_CONNECTIONS, slow_headers=slow) as flood:
        flooded = probe(urls[0], 60)
        health = probe(urls[1], 20)
    _report("slow-headers" if slow else "idle", base, flooded, flood)
    assert flood.max_open >= FLOOD_CONNECTIONS * 0.9, "the flood did not reach its size"
    assert flooded[0] == 1.0 and health[0] == 1.0, (flooded, health)
    assert flooded[1] < 500, flooded


def test_one_client_holds_at_most_its_cap(fleet):
    """The service closes what one client opens beyond HTTP_PER_CLIENT_LIMIT (256)."""
    _raise_fd_limit(1000)
    port = int(fleet.users_url.rsplit(":", 1)[1])
    with Flood(port, 600, seconds=3) as flood:
        time.sleep(1)
    assert flood.closed_by_server >= 600 - 256


def test_slow_header_connection_is_cut_off(fleet):
    """A connection that sends part of its headers and then nothing is closed after the
    header timeout (HTTP_HEADER_TIMEOUT_S, 5 s), not the idle one."""
    port = int(fleet.users_url.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    s.settimeout(15)
    t0 = time.monotonic()
    try:
        data = s.recv(100)
    except (socket.timeout, ConnectionResetError):
        data = b"timeout"
    took = time.monotonic() - t0
    s.close()
    assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
    assert took < 9, took


# ---- admin token ----

@pytest.fixture(scope="module")
def token_fleet(request, rabbit, workroot):
    """The whole product with ADMIN_TOKEN set on every service."""
    f = Fleet(os.path.join(workroot, request.module.__name__ + "-token"), rabbit)
    try:
        f.start_orchestrator(ADMIN_TOKEN=TOKEN)
        f.start_worker("master", "master")
        f.start_worker("slave", "slave-0")
        f.users, f.users_url = f._service("users", "users", ORCH_URL=f.orch_url, ADMIN_TOKEN=TOKEN)
        f.rides, f.rides_url = f._service("rides", "rides", ORCH_URL=f.orch_url, ADMIN_TOKEN=TOKEN,
                                          USERS_URL=f.users_url + "/api/v1/users")
        yield f
    finally:
        f.stop()


AUTH = {"Authorization": "Bearer " + TOKEN}
PW = "a" * 40


def _is_401(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert isinstance(r.json()["error"], str) and r.json()["error"]
    return True


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/v1/db/read"), ("POST", "/api/v1/db/write"), ("POST", "/api/v1/db/clear"),
    ("POST", "/api/v1/crash/master"), ("POST", "/api/v1/crash/slave"), ("GET", "/api/v1/worker/list"),
])
def test_orchestrator_admin_routes_need_the_token(token_fleet, method, path):
    url = token_fleet.orch_url + path
    body = json.dumps({"table": "users", "update": {"id": {">": 0}}, "set": {"password": "b" * 40}})
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"Authorization": "Bearer " + TOKEN[:-1]}, {"Authorization": "Basic " + TOKEN}):
        assert _is_401(requests.request(method, url, data=body, headers=headers, timeout=10))
    r = requests.request(method, url, data=body if "db/" in path else None, headers=AUTH, timeout=10)
    assert r.status_code != 401, r.text


def test_a_refused_write_changes_nothing(token_fleet):
    f = token_fleet
    r = requests.post(f.orch_url + "/api/v1/db/write", headers=AUTH, timeout=10,
                      data=json.dumps({"table": "users", "insert": {"username": "tok-alice", "password": PW}}))
    assert r.status_code == 200, r.text
    bad = {"table": "users", "update": {"id": {">": 0}}, "set": {"password": "b" * 40}}
    assert _is_401(db(f, "write", bad))
    assert _is_401(db(f, "clear", None))
    r = requests.post(f.orch_url + "/api/v1/db/read", headers=AUTH, timeout=10,
                      data=json.dumps({"table": "users", "where": {"username": "tok-alice"}, "columns": ["password"]}))
    assert r.status_code == 200 and r.json() == [{"password": PW}], r.text


def test_users_and_rides_send_the_token_and_guard_db_clear(token_fleet):
    f = token_fleet
    assert requests.put(f.users_url + "/api/v1/users", json={"username": "tok-bob", "password": PW},
                        timeout=10).status_code == 201
    assert "tok-bob" in requests.get(f.users_url + "/api/v1/users", timeout=10).json()
    r = requests.post(f.rides_url + "/api/v1/rides", timeout=10, json={
        "created_by": "tok-bob", "timestamp": "05-01-2099:30-15-18", "source": 12, "destination": 3})
    assert r.status_code == 201, r.text
    for svc in (f.users_url, f.rides_url):
        assert _is_401(requests.post(svc + "/api/v1/db/clear", timeout=10))
        assert _is_401(requests.post(svc + "/api/v1/db/clear", headers={"Authorization": "Bearer x"}, timeout=10))
    assert "tok-bob" in requests.get(f.users_url + "/api/v1/users", timeout=10).json()  # nothing changed
    assert requests.post(f.rides_url + "/api/v1/db/clear", headers=AUTH, timeout=10).status_code == 200
    assert requests.get(f.users_url + "/api/v1/users", timeout=10).status_code == 204
    # the public routes never need it, and _count, healthz and metrics stay open
    for url in (f.users_url + "/api/v1/_count", f.rides_url + "/api/v1/rides/count", f.orch_url + "/healthz",
                f.orch_url + "/metrics"):
        assert requests.get(url, timeout=10).status_code == 200, url


def test_token_mode_logs_no_warning_and_open_mode_logs_one(token_fleet, fleet):
    for p in (token_fleet.orch, token_fleet.users, token_fleet.rides):
        assert not p.log_has("ADMIN_TOKEN is unset"), p.log_path
    for p in (fleet.orch, fleet.users, fleet.rides):
        with open(p.log_path, encoding="utf-8", errors="replace") as fh:
            assert fh.read().count("ADMIN_TOKEN is unset") == 1, p.log_path


# ---- request caps ----

def _col_req(key, n, table="rides"):
    return {"table": table, key: ["id"] * n}


@pytest.mark.parametrize("body", [
    _col_req("columns", 2001), _col_req("order", 2001), _col_req("columns", 2), _col_req("order", 2),
    {"table": "rides", "order": ["id", "-id"]},
    {"table": "rides", "columns": ["id", "source", "destination", "timestamp", "created_by", "id"]},
    {"table": "users", "limit": 10001}, {"table": "users", "limit": 2 ** 62},
    {"table": "users", "where": {"id": 1, "username": "a", "password": "b", "nope": 1}},
], ids=["2001-columns", "2001-order", "dup-columns", "dup-order", "order-asc-desc", "6-columns", "limit-10001",
        "limit-huge", "where-4-keys"])
def test_oversized_reads_are_400(fleet, body):
    r = db(fleet, "read", body)
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json()["error"]


def test_oversized_writes_are_400(fleet):
    ins = {c: "x" for c in ["created_by", "timestamp"]}
    ins.update({f"c{i}": 1 for i in range(2001)})
    assert db(fleet, "write", {"table": "rides", "insert": ins}).status_code == 400
    where = {f"c{i}": 1 for i in range(2001)}
    assert db(fleet, "write", {"table": "rides", "delete": where}).status_code == 400


def test_the_maximum_limit_is_fine(fleet):
    r = db(fleet, "read", {"table": "users", "limit": 10000})
    assert r.status_code == 200, r.text


def test_log_lines_quote_a_few_hundred_bytes(fleet):
    """A 10 KB request does not become a 10 KB log line anywhere in the fleet."""
    db(fleet, "read", {"table": "rides", "columns": ["id"] * 2001, "where": {"x" * 5000: 1}})
    db(fleet, "read", {"table": "x" * 8000})
    time.sleep(0.5)
    for p in fleet.procs:
        with open(p.log_path, "rb") as fh:
            longest = max((len(line) for line in fh), default=0)
        assert longest < 2048, (p.log_path, longest)
