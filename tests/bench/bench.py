"""make bench: brings up a fleet on loopback, drives it with wrk, prints the tables.

Scenarios: db/read and db/write at the orchestrator, and through nginx the rides list and
user creation. Each runs for BENCH_SECONDS (default 10) with BENCH_CONNECTIONS (default 32).
Then the product read (a) and db/read (c) at a constant rate with hey, at half and at 90 %
of the peak just measured (latency under a steady load), and every process's RSS, idle and
at the end of its load.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from fleet import Fleet, Rabbit, db  # noqa: E402
from procs import descendants  # noqa: E402

import requests  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))


def lua_post(path, body):
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, dir=WORK)
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n")
    f.close()
    return f.name


# wrk gives every thread its own Lua state: setup() numbers the threads so that each
# one makes names of its own, unique across threads and runs.
UNIQUE_LUA = """
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) prefix = string.format("%d-%d", tid, os.time()) ; n = 0 end
"""


def lua_unique(path, method, body_fmt):
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, dir=WORK)
    f.write(UNIQUE_LUA + 'request = function()\n  n = n + 1\n'
            f"  local body = string.format('{body_fmt}', prefix, n)\n"
            f'  return wrk.format("{method}", "{path}", {{["Content-Type"]="application/json"}}, body)\nend\n')
    f.close()
    return f.name


def lua_put_users():
    return lua_unique("/api/v1/users", "PUT", '{"username":"b%s-%d","password":"' + "a" * 40 + '"}')


def lua_write():
    return lua_unique("/api/v1/db/write", "POST",
                      '{"table":"users","insert":{"username":"w%s-%d","password":"' + "a" * 40 + '"}}')


def lua_get():
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, dir=WORK)
    f.write('wrk.method = "GET"\n')
    f.close()
    return f.name


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)", v)
    if not m:
        raise ValueError(f"unexpected wrk latency {v!r}")
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[m.group(2)]


def wrk(url, script):
    out = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNS), "-d", f"{SECONDS}s", "--latency",
                          "-s", script, url], capture_output=True, text=True, check=True).stdout
    if "50%" not in out:
        raise RuntimeError(f"wrk printed no latency distribution:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(non2xx.group(1)) if non2xx else 0


def hey_rate(url, rate, method="GET", body=None):
    """Latency at a constant total rate (hey -q is per worker): (achieved req/s, p50, p99)."""
    conns = max(4, min(64, int(rate // 100)))
    argv = ["hey", "-z", f"{SECONDS}s", "-c", str(conns), "-q", f"{rate / conns:.2f}", "-m", method,
            "-T", "application/json"]
    if body is not None:
        argv += ["-d", body]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000
    return rps, p50, p99


def rss_kib(pid):
    """The resident set of pid and its descendants (nginx workers, RabbitMQ's beam), KiB."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                total += int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        except (OSError, AttributeError):
            pass
    return total


def fleet_procs(f):
    procs = {"orchestrator": f.orch.pid, "users": f.users.pid, "rides": f.rides.pid, "nginx": f.nginx.pid}
    procs.update({f"worker {name}": p.pid for name, p in f.workers.items()})
    return procs


def seed(f):
    assert db(f, "clear", None).status_code == 200
    lb = f.lb_url
    for i in range(20):
        requests.put(f"{lb}/api/v1/users", json={"username": f"seed{i}", "password": "c" * 40}, timeout=10)
    for i in range(50):
        r = requests.post(f"{lb}/api/v1/rides", json={"created_by": f"seed{i % 20}", "timestamp": "01-01-2035:00-00-10",
                                                       "source": 3, "destination": 7}, timeout=10)
        assert r.status_code == 201, r.text


READ_BODY = {"table": "rides", "columns": ["id", "created_by", "timestamp"],
             "where": {"source": 3, "destination": 7}, "order": ["timestamp", "id"]}


def steady(rows, steady_rows, name, slaves, url, method="GET", body=None):
    """The peak of `name` (already in rows) at 50 % and 90 % with a constant-rate generator."""
    peak = next(r[2][0] for r in rows if r[0] == name and r[1] == slaves)
    for share in (0.5, 0.9):
        steady_rows.append((name, slaves, share, peak * share, hey_rate(url, peak * share, method, body)))


def measure_fleet(rabbit, slaves, rows, steady_rows, memory):
    """(a)-(d) against a full fleet with `slaves` slaves, then (a) and (c) at steady rates."""
    f = Fleet(os.path.join(WORK, f"fleet-{slaves}"), rabbit)
    try:
        f.start_dbaas(slaves=slaves)
        f.start_services()
        seed(f)
        idle = {name: rss_kib(pid) for name, pid in fleet_procs(f).items()}
        a, c = "(a) GET /api/v1/rides?source&destination, nginx", "(c) POST db/read, orchestrator"
        rides_url = f.lb_url + "/api/v1/rides?source=3&destination=7"
        rows.append((a, slaves, wrk(rides_url, lua_get())))
        rows.append(("(b) PUT /api/v1/users, nginx", slaves, wrk(f.lb_url + "/api/v1/users", lua_put_users())))
        rows.append((c, slaves, wrk(f.orch_url + "/api/v1/db/read", lua_post("/api/v1/db/read", READ_BODY))))
        rows.append(("(d) POST db/write, orchestrator", slaves, wrk(f.orch_url + "/api/v1/db/write", lua_write())))
        steady(rows, steady_rows, a, slaves, rides_url)
        steady(rows, steady_rows, c, slaves, f.orch_url + "/api/v1/db/read", "POST", json.dumps(READ_BODY))
        loaded = {name: rss_kib(pid) for name, pid in fleet_procs(f).items()}
        memory.append((slaves, idle, loaded, rss_kib(rabbit.proc.pid)))
    finally:
        f.stop()


def measure_limit(rabbit, slaves, rows):
    """(e) the same db/read round trip with slaves that answer at once, without SQLite."""
    f = Fleet(os.path.join(WORK, f"limit-{slaves}"), rabbit)
    try:
        f.start_orchestrator()
        f.start_worker("master", "master")
        for i in range(slaves):
            f.start_worker("slave", f"echo-{i}", WORKER_BENCH_ECHO=1)
        rows.append(("(e) limit: db/read, slaves answer without SQLite", slaves,
                     wrk(f.orch_url + "/api/v1/db/read", lua_post("/api/v1/db/read", READ_BODY))))
    finally:
        f.stop()


def main():
    global WORK
    WORK = tempfile.mkdtemp(prefix="rideshare-bench-")
    rabbit = Rabbit(WORK)
    rabbit.start()
    rows, steady_rows, memory = [], [], []
    try:
        for slaves in (1, 3):
            measure_limit(rabbit, slaves, rows)
            measure_fleet(rabbit, slaves, rows, steady_rows, memory)
    finally:
        rabbit.stop()
    limit = {n: r[0] for name, n, r in rows if name.startswith("(e)")}
    print(f"\nwrk: {CONNS} connections, {THREADS} threads, {SECONDS}s per row; 1 master; "
          f"{os.cpu_count()} cores shared by every process\n")
    print(f"| {'scenario':<50} | slaves | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | non-2xx | vs (e) |")
    print(f"|{'-' * 52}|--------|{'-' * 9}|{'-' * 9}|{'-' * 9}|---------|--------|")
    for name, n, (rps, p50, p99, bad) in sorted(rows, key=lambda r: (r[0][:3], r[1])):
        print(f"| {name:<50} | {n:>6} | {rps:>7.0f} | {p50:>7.2f} | {p99:>7.2f} | {bad:>7} | {rps / limit[n]:>5.0%} |")
    print(f"\nsteady load (hey, constant rate, {SECONDS}s per row): the rate is a share of the peak above\n")
    print(f"| {'scenario':<50} | slaves | share | target | req/s | p50 ms | p99 ms |")
    print(f"|{'-' * 52}|--------|-------|--------|-------|--------|--------|")
    for name, n, share, target, (rps, p50, p99) in steady_rows:
        print(f"| {name:<50} | {n:>6} | {share:>5.0%} | {target:>6.0f} | {rps:>5.0f} | {p50:>6.2f} | {p99:>6.2f} |")
    print("\nresident memory (MiB), idle after start and at the end of the load above\n")
    print("| process | slaves | idle | loaded |")
    print("|---|---|---|---|")
    for n, idle, loaded, rabbit_kib in memory:
        for name in idle:
            print(f"| {name} | {n} | {idle[name] / 1024:.1f} | {loaded[name] / 1024:.1f} |")
        print(f"| RabbitMQ (whole node) | {n} | - | {rabbit_kib / 1024:.1f} |")


if __name__ == "__main__":
    main()
