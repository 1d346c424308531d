"""make bench-profile: CPU microseconds per request in each component, measured as the
CPU time (user + system, from /proc) each process and its children spend over a fixed
number of requests. Counts, not rates, so the figures hold on a noisy machine.

Paths: the product read (GET rides through nginx and the rides service), db/read and
db/write at the orchestrator; SQLite's share of a read is the slave's time minus that of a
slave that answers without SQLite (WORKER_BENCH_ECHO). PROFILE_REQUESTS (default 20000)
requests per path, PROFILE_CONNECTIONS (default 16) at once, with hey.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from fleet import Fleet, Rabbit  # noqa: E402
from bench import READ_BODY, seed  # noqa: E402
from procs import descendants  # noqa: E402

N = int(os.environ.get("PROFILE_REQUESTS", "20000"))
CONNS = int(os.environ.get("PROFILE_CONNECTIONS", "16"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_us(pid):
    """CPU time of pid and all its descendants, in microseconds (live ones only)."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) * 1_000_000 // TICK
        except (OSError, ValueError, IndexError):
            pass
    return total


def hey(url, method="GET", body=None):
    argv = ["hey", "-n", str(N), "-c", str(CONNS), "-m", method, "-T", "application/json"]
    if body is not None:
        argv += ["-d", body]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    if "[200]" not in out:
        raise RuntimeError(f"hey saw no 200:\n{out}")
    return out


def profile(label, procs, run):
    before = {name: cpu_us(pid) for name, pid in procs.items()}
    run()
    return label, {name: (cpu_us(pid) - before[name]) / N for name, pid in procs.items()}


def fleet_rows(rabbit, echo):
    f = Fleet(os.path.join(WORK, "echo" if echo else "real"), rabbit)
    rows = []
    try:
        f.start_orchestrator()
        f.start_worker("master", "master")
        f.start_worker("slave", "slave", **({"WORKER_BENCH_ECHO": 1} if echo else {}))
        procs = {"orchestrator": f.orch.pid, "worker (master)": f.workers["master"].pid,
                 "worker (slave)": f.workers["slave"].pid, "RabbitMQ": rabbit.proc.pid}
        read = json.dumps(READ_BODY)
        if echo:
            rows.append(profile("db/read, slave without SQLite", procs,
                                lambda: hey(f.orch_url + "/api/v1/db/read", "POST", read)))
            return rows
        f.start_services()
        procs.update({"nginx": f.nginx.pid, "rides": f.rides.pid, "users": f.users.pid})
        seed(f)
        rows.append(profile("product read (GET rides, nginx)", procs,
                            lambda: hey(f.lb_url + "/api/v1/rides?source=3&destination=7")))
        rows.append(profile("db/read", procs, lambda: hey(f.orch_url + "/api/v1/db/read", "POST", read)))
        # hey sends one body: a write that changes nothing but is a full write
        upd = json.dumps({"table": "users", "update": {"username": "seed0"}, "set": {"password": "d" * 40}})
        rows.append(profile("db/write", procs, lambda: hey(f.orch_url + "/api/v1/db/write", "POST", upd)))
    finally:
        f.stop()
    return rows


def main():
    global WORK
    WORK = tempfile.mkdtemp(prefix="rideshare-profile-")
    rabbit = Rabbit(WORK)
    rabbit.start()
    try:
        rows = fleet_rows(rabbit, echo=False) + fleet_rows(rabbit, echo=True)
    finally:
        rabbit.stop()
    names = ["nginx", "rides", "users", "orchestrator", "RabbitMQ", "worker (master)", "worker (slave)"]
    print(f"\nCPU microseconds per request ({N} requests per path, {CONNS} at once; user + system time of "
          f"each process and its children)\n")
    print("| path | " + " | ".join(names) + " | total | cores per 1,000 req/s |")
    print("|---" * (len(names) + 3) + "|")
    for label, us in rows:
        total = sum(us.values())
        cells = [f"{us[n]:.0f}" if n in us else "-" for n in names]
        print(f"| {label} | " + " | ".join(cells) + f" | {total:.0f} | {total / 1000:.2f} |")
    real = dict(rows).get("db/read", {}).get("worker (slave)")
    echo = dict(rows).get("db/read, slave without SQLite", {}).get("worker (slave)")
    if real is not None and echo is not None:
        print(f"\nSQLite and the request compiler in a read: {real - echo:.0f} us (slave {real:.0f} us, "
              f"echo slave {echo:.0f} us)")


if __name__ == "__main__":
    main()
