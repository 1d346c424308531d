"""What the swarm tier's tests share (conftest.py makes the fixture): the stack's URLs and
how to reach each node's engine (see conftest.py for the configuration), and the lines of
the run's figures."""
import json
import os
import subprocess

REPORT = []  # lines for the terminal summary ("swarm: figures")


class Swarm:
    def __init__(self):
        host = os.environ.get("SWARM_HOST", "127.0.0.1")
        self.lb_url = f"http://{host}:{os.environ.get('SWARM_LB_PORT', '18080')}"
        self.users_url = f"http://{host}:{os.environ.get('SWARM_USERS_PORT', '18001')}"
        self.rides_url = f"http://{host}:{os.environ.get('SWARM_RIDES_PORT', '18002')}"
        self.orch_url = f"http://{host}:{os.environ.get('SWARM_ORCH_PORT', '18081')}"
        self.scale_interval = float(os.environ.get("SCALE_INTERVAL", "120"))
        self.stack = os.environ.get("STACK", "rideshare-swarm")
        self.engines = dict(kv.split("=", 1) for kv in os.environ.get("SWARM_DOCKER_HOSTS", "").split() if "=" in kv)

    def docker(self, *args, node=None, check=True, timeout=60):
        """docker <args> on the engine of node (None: this one, a manager); its stdout."""
        cmd = ["docker"] + (["-H", self.engines[node]] if node in self.engines else []) + list(args)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)}: {out.returncode} {out.stderr.strip()}")
        return out.stdout

    def tasks(self, service):
        """The running tasks of <stack>_<service>: [{"task", "node", "container"}]."""
        ids = self.docker("service", "ps", "-q", "--no-trunc", "--filter", "desired-state=running",
                          f"{self.stack}_{service}").split()
        out = []
        for t in ids:
            info = json.loads(self.docker("inspect", t))[0]
            st = info.get("Status", {})
            cid = st.get("ContainerStatus", {}).get("ContainerID")
            if st.get("State") != "running" or not cid:
                continue
            node = self.docker("node", "inspect", "-f", "{{.Description.Hostname}}", info["NodeID"]).strip()
            out.append({"task": t, "node": node, "container": cid})
        return out

    def task(self, service):
        ts = self.tasks(service)
        assert len(ts) == 1, f"{service}: {len(ts)} running tasks"
        return ts[0]

    def exec(self, service, *cmd, timeout=60, check=True):
        """Runs cmd in the running container of a one-task service; its stdout."""
        t = self.task(service)
        return self.docker("exec", t["container"], *cmd, node=t["node"], timeout=timeout, check=check)
