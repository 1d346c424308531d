"""Starts the real fleet as local processes for black-box tests.

Everything binds loopback ports chosen at run time and keeps its files under one work
directory, so a test run never collides with another broker, ZooKeeper or fleet.
"""
import json
import os
import random
import shlex
import shutil
import signal
import socket
import string
import subprocess
import time
import uuid

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("RS_BIN", os.path.join(ROOT, "build", "rel"))
RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # runs as the caller, unlike /usr/sbin's wrapper
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
# Opt-in: RS_WRAP="valgrind --log-file=... " prefixes the argv of our own binaries
# (orchestrator, workers, users, rides; not nginx, RabbitMQ or ZooKeeper, nor workers the
# orchestrator spawns itself), each started with RS_PROC=<its name> in its environment
# (valgrind's --log-file=%q{RS_PROC}). Start, ready and stop timeouts are multiplied by
# RS_TIMEOUT_SCALE (default 10 under a wrapper, else 1). See tests/memcheck.sh.
WRAP = shlex.split(os.environ.get("RS_WRAP", ""))
SLOW = float(os.environ.get("RS_TIMEOUT_SCALE", "10" if WRAP else "1"))


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


_EPHEMERAL = _ephemeral_range()
_GIVEN = set()


def _bindable(port):
    for addr in ("127.0.0.1", "0.0.0.0"):
        with socket.socket() as s:
            try:
                s.bind((addr, port))
            except OSError:
                return False
    return True


def free_port():
    """A port for a server to listen on, chosen below the kernel's ephemeral range: a port
    the kernel hands out (bind to 0) may be taken by any outgoing connection between now
    and the server's bind, and a service that cannot bind exits (seen in CI: a users
    service or a ZooKeeper that never came up). Never the same port twice in one run."""
    rng = random.SystemRandom()
    lo, hi = 10000, min(_EPHEMERAL[0], 65536) - 1
    if hi - lo < 1000:  # an unusual ephemeral range: fall back to the kernel's choice
        lo, hi = _EPHEMERAL[1] + 1, 65535
    for _ in range(1000):
        port = rng.randint(lo, hi)
        if port not in _GIVEN and _bindable(port):
            _GIVEN.add(port)
            return port
    raise RuntimeError("no free port")


def wait_port(port, timeout=30.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open in {timeout}s")


def wait_until(pred, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached in {timeout}s")


class Proc:
    """A child process with its log file; logs are JSON lines."""

    def __init__(self, name, argv, env, workdir, stop_timeout=10):
        self.name = name
        self.stop_timeout = stop_timeout
        self.log_path = os.path.join(workdir, f"{name}.log")
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      cwd=workdir, start_new_session=True)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log_has(self, text):
        with open(self.log_path, "rb") as f:
            return text.encode() in f.read()

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout=None):
        timeout = self.stop_timeout if timeout is None else timeout
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()


class Rabbit:
    """A private RabbitMQ node: own node name, ports and data directory."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "rabbit")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.node = f"rs{self.port}@localhost"
        with open(os.path.join(self.dir, "plugins"), "w") as f:
            f.write("[].\n")
        self.env = dict(os.environ, RABBITMQ_NODENAME=self.node, RABBITMQ_NODE_PORT=str(self.port),
                        RABBITMQ_DIST_PORT=str(free_port()), RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.dir, "plugins"), HOME=self.dir)
        self.proc = None

    def start(self):
        self.proc = Proc("rabbitmq", [RABBIT_SERVER], self.env, self.dir)
        wait_port(self.port, 60, self.proc.popen)
        subprocess.run([RABBITMQCTL, "-n", self.node, "await_startup"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def kill(self):
        """SIGKILL: no goodbye, its clients see a dead socket."""
        self.proc.kill(signal.SIGKILL)
        self.proc.popen.wait(10)
        self.proc._log.close()

    def restart(self, timeout=60):
        """Starts it again after kill(), on the same port and data directory. The log says
        when it is up: rabbitmqctl cannot always reach a node restarted this fast."""
        done = "Starting broker... completed"
        with open(self.proc.log_path, "rb") as fh:
            before = fh.read().count(done.encode())
        self.proc = Proc("rabbitmq", [RABBIT_SERVER], self.env, self.dir)
        wait_port(self.port, timeout, self.proc.popen)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"rabbitmq exited on restart; see {self.proc.log_path}")
            if open(self.proc.log_path, "rb").read().count(done.encode()) > before:
                return
            time.sleep(0.1)
        raise TimeoutError("rabbitmq did not restart")

    def add_vhost(self, name):
        for args in (["add_vhost", name], ["set_permissions", "-p", name, "guest", ".*", ".*", ".*"]):
            subprocess.run([RABBITMQCTL, "-n", self.node] + args, env=self.env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def stop(self):
        if self.proc:
            subprocess.run([RABBITMQCTL, "-n", self.node, "stop"], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            self.proc.stop()


class ZooKeeper:
    """A private, standalone ZooKeeper: own port and data directory, tickTime 200 ms so
    sessions as short as 400 ms are allowed."""

    JAR = "/usr/share/java/zookeeper.jar"

    def __init__(self, workdir, name="zookeeper"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.port = free_port()
        self.hosts = f"127.0.0.1:{self.port}"
        self.proc = None

    @classmethod
    def available(cls):
        return os.path.exists(cls.JAR) and shutil.which("java") is not None

    def start(self):
        argv = ["java", "-Xmx128m", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=*",
                "-cp", "/usr/share/java/*:/etc/zookeeper/conf",
                "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.port), os.path.join(self.dir, "data"), "200"]
        self.proc = Proc(self.name, argv, dict(os.environ), self.dir)
        deadline = time.time() + 60
        while time.time() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"zookeeper exited; see {self.proc.log_path}")
            if self.four_letter("srvr").find("Mode: standalone") >= 0:
                return
            time.sleep(0.2)
        raise TimeoutError("zookeeper did not start in 60s")

    def four_letter(self, word):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(word.encode())
                out = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    out += chunk
                return out.decode(errors="replace")
        except OSError:
            return ""

    def ephemerals(self):
        """{session id: [ephemeral paths]} from the "dump" four-letter word."""
        out, sess = {}, None
        text = self.four_letter("dump")
        section = text.split("ephemeral nodes dump:", 1)[-1].split("Connections dump:", 1)[0]
        for line in section.splitlines():
            line = line.strip()
            if line.startswith("0x"):
                sess = line.rstrip(":")
                out[sess] = []
            elif line.startswith("/") and sess:
                out[sess].append(line)
        return out

    def candidates_by_id(self):
        """{worker id: pid} of every worker standing in the election (synced slaves, master)."""
        out = {}
        for paths in self.ephemerals().values():
            for p in paths:
                if p.startswith("/rideshare/election/"):
                    pid, wid = p.rsplit("/", 1)[1].split("-", 1)
                    out[wid] = int(pid)
        return out

    def candidates(self):
        """The pids standing in the election, ascending."""
        return sorted(self.candidates_by_id().values())

    def master_pid(self):
        """The pid of whoever holds /rideshare/master (its session's election candidate
        is /rideshare/election/<pid, 10 digits>-<id>), or None."""
        for paths in self.ephemerals().values():
            if "/rideshare/master" in paths:
                for p in paths:
                    if p.startswith("/rideshare/election/"):
                        return int(p.rsplit("/", 1)[1].split("-", 1)[0])
        return None

    def stop(self):
        if self.proc:
            self.proc.stop()


class Fleet:
    """Orchestrator, workers, users, rides and nginx on one broker vhost of their own."""

    def __init__(self, workdir, rabbit):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.rabbit = rabbit
        self.vhost = "v" + uuid.uuid4().hex[:12]
        rabbit.add_vhost(self.vhost)
        self.procs = []
        self.workers = {}
        self.orch_url = self.users_url = self.rides_url = self.lb_url = None

    def base_env(self, **extra):
        env = dict(os.environ, AMQP_HOST="127.0.0.1", AMQP_PORT=str(self.rabbit.port), AMQP_VHOST=self.vhost,
                   LOG_LEVEL=os.environ.get("RS_LOG_LEVEL", "info"))
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def _start(self, name, binary, env):
        if WRAP:
            env = dict(env, RS_PROC=name)
        p = Proc(name, WRAP + [os.path.join(BIN, binary)], env, self.dir, stop_timeout=10 * SLOW)
        self.procs.append(p)
        return p

    def _service(self, name, binary, **env):
        port = free_port()
        p = self._start(name, binary, self.base_env(PORT=port, **env))
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(url), 30 * SLOW, what=f"{name} healthy")
        return p, url

    def start_orchestrator(self, **env):
        self.orch, self.orch_url = self._service("orchestrator", "orchestrator", **env)
        return self.orch

    def start_ha(self, zk, scale_interval=120, max_slaves=8, **env):
        """An orchestrator that runs its own workers (SPAWNER=process) under ZooKeeper;
        their logs go to the orchestrator's."""
        self.zk = zk
        self.ha_env = dict(SPAWNER="process", WORKER_BIN=os.path.join(BIN, "worker"),
                           DATA_DIR=os.path.join(self.dir, "data"), ZK_HOSTS=zk.hosts, ZK_SESSION_MS=1500,
                           SCALE_INTERVAL=scale_interval, MAX_SLAVES=max_slaves, FLEET="f" + uuid.uuid4().hex[:8])
        self.ha_env.update(env)
        return self.start_orchestrator(**self.ha_env)

    def restart_orchestrator(self, sig=signal.SIGTERM, timeout=20):
        """Stops the orchestrator alone (its process, not its group) and starts it again on
        the same port with the same settings."""
        old = self.orch
        os.kill(old.pid, sig)
        old.popen.wait(timeout * SLOW)
        old._log.close()
        port = int(self.orch_url.rsplit(":", 1)[1])
        p = self._start("orchestrator", "orchestrator", self.base_env(PORT=port, **self.ha_env))
        wait_until(lambda: _healthy(self.orch_url), 30 * SLOW, what="orchestrator healthy again")
        self.orch = p
        return p

    def worker_list(self):
        r = requests.get(f"{self.orch_url}/api/v1/worker/list", timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    def is_whole(self, slaves=1):
        """True when worker/list has 1 + slaves pids, one of them the elected master, and
        every other one a synced slave standing in the election."""
        pids = self.worker_list()
        return len(pids) == 1 + slaves and self.zk.master_pid() in pids and self.zk.candidates() == pids

    def crash(self, kind):
        """POST /api/v1/crash/<kind>; the response."""
        return requests.post(f"{self.orch_url}/api/v1/crash/{kind}", timeout=10)

    def start_worker(self, role="slave", name=None, wait=True, **env):
        name = name or f"{role}-{len(self.workers)}"
        p = self._start(name, "worker", self.base_env(WORKER_ROLE=role, WORKER_ID=name,
                                                      DB_PATH=os.path.join(self.dir, f"{name}.db"), **env))
        self.workers[name] = p
        if wait:
            wait_until(lambda: p.log_has(READY_TEXT[role]) or not p.alive(), 60 * SLOW, what=f"{name} ready")
            assert p.alive(), f"worker {name} died on start; see {p.log_path}"
        return p

    def start_dbaas(self, slaves=2):
        self.start_orchestrator()
        self.start_worker("master", "master")
        for i in range(slaves):
            self.start_worker("slave", f"slave-{i}")

    def start_services(self):
        lb_port = free_port()
        self.lb_url = f"http://127.0.0.1:{lb_port}"
        self.users, self.users_url = self._service("users", "users", ORCH_URL=self.orch_url)
        self.rides, self.rides_url = self._service("rides", "rides", ORCH_URL=self.orch_url,
                                                   USERS_URL=self.lb_url + "/api/v1/users")
        self.start_nginx(lb_port)

    def start_nginx(self, port):
        run = os.path.join(self.dir, "nginx")
        os.makedirs(os.path.join(run, "logs"), exist_ok=True)
        with open(os.path.join(ROOT, "docker", "lb", "nginx.conf.template")) as f:
            conf = string.Template(f.read()).safe_substitute(
                LB_PORT=port, LB_RUN_DIR=run,
                USERS_UPSTREAM=self.users_url.split("//")[1], RIDES_UPSTREAM=self.rides_url.split("//")[1],
                ORCH_UPSTREAM=self.orch_url.split("//")[1], DASHBOARD_CRASH="")
        path = os.path.join(run, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        p = Proc("nginx", ["/usr/sbin/nginx", "-p", run, "-c", path, "-e", os.path.join(run, "logs", "error.log")],
                 dict(os.environ), self.dir)
        self.procs.append(p)
        wait_port(port, 20, p.popen)
        self.nginx = p

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


# The log line a worker writes once it serves its role (worker/*.c).
READY_TEXT = {"master": "master: serving writes", "slave": "slave: serving reads"}


def _healthy(url):
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def db(fleet, op, body, timeout=10):
    """POSTs a db request at the orchestrator; returns the response."""
    return requests.post(f"{fleet.orch_url}/api/v1/db/{op}", data=json.dumps(body) if body is not None else None,
                         timeout=timeout)


def usernames(fleet, timeout=15):
    """Every username a db/read returns now."""
    r = db(fleet, "read", {"table": "users", "columns": ["username"]}, timeout=timeout)
    assert r.status_code == 200, r.text
    return {row["username"] for row in r.json()}


def wait_whole(fleet, slaves=1, timeout=30):
    """Waits until the fleet is 1 master + slaves synced slaves (Fleet.is_whole)."""
    wait_until(lambda: fleet.is_whole(slaves), timeout, 0.2, what=f"1 master + {slaves} slaves serving")
