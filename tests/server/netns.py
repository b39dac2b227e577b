"""Hosts for multi-host tests on one machine: network namespaces that the test makes, joined to a
hub namespace by veth pairs on private addresses, so that every packet stays inside namespaces the
test owns (nothing is added to the machine's own namespace).

    with Hosts() as h:
        h.add("cp"); h.add("a1")
        cp_addr, a1_addr = h.join("cp", "a1")        # 10.231.1.1 <-> 10.231.1.2
        p = h.popen("a1", ["ccbridge", "agent", ...])  # runs inside a1 (ip netns exec)
        h.cut("a1"); h.mend("a1")                      # a1's link down, then up
        sock = h.dial("cp", "127.0.0.1", 8443)         # a TCP socket made inside cp
    # every process in the namespaces is killed and the namespaces are deleted, even on failure

Namespace names are unique per test process and test (ccbt-<pid>-<n>-<name>), so tests running in
parallel do not meet. Needs root, `ip` (iproute2) with netns support.
"""
import ctypes
import itertools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count(1)


def _ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def unavailable():
    """Why network namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to make network namespaces"
    if not shutil.which("ip"):
        return "no `ip` command (iproute2)"
    probe = f"ccbt-{os.getpid()}-probe"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        return f"`ip netns add` refused: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


class Hosts:
    """A set of namespaces and the processes started in them; a context manager that cleans up."""

    def __init__(self):
        self.prefix = f"ccbt-{os.getpid()}-{next(_counter)}-"
        self.names = []
        self.links = {}  # namespace -> (its interface, hub namespace, hub interface)
        self.procs = []

    def ns(self, name):
        return self.prefix + name

    def add(self, name):
        full = self.ns(name)
        _ip("netns", "add", full)
        self.names.append(name)
        _ip("-n", full, "link", "set", "lo", "up")
        return full

    def join(self, hub, name):
        """A veth pair between `hub` and `name` on 10.231.<k>.0/30; returns (hub's, name's) address."""
        k = len(self.links) + 1
        hub_if, its_if = f"h{k}", f"a{k}"
        _ip("-n", self.ns(hub), "link", "add", hub_if, "type", "veth", "peer", "name", its_if, "netns", self.ns(name))
        hub_addr, its_addr = f"10.231.{k}.1", f"10.231.{k}.2"
        _ip("-n", self.ns(hub), "addr", "add", f"{hub_addr}/30", "dev", hub_if)
        _ip("-n", self.ns(name), "addr", "add", f"{its_addr}/30", "dev", its_if)
        _ip("-n", self.ns(hub), "link", "set", hub_if, "up")
        _ip("-n", self.ns(name), "link", "set", its_if, "up")
        self.links[name] = (its_if, hub, hub_if)
        return hub_addr, its_addr

    def cut(self, name):
        """Takes `name`'s link to the hub down at its end: packets either way are dropped."""
        _ip("-n", self.ns(name), "link", "set", self.links[name][0], "down")

    def mend(self, name):
        _ip("-n", self.ns(name), "link", "set", self.links[name][0], "up")

    def popen(self, name, argv, **kw):
        """`argv` run inside namespace `name`; `ip netns exec` execs it, so the pid is its own."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(name), *argv], **kw)
        self.procs.append(p)
        return p

    def pids(self, name):
        """Live processes whose network namespace is `name`."""
        out = _ip("netns", "pids", self.ns(name), check=False)
        return [int(x) for x in out.split()]

    def wait_no_pids(self, name, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.pids(name):
                return True
            time.sleep(0.05)
        return not self.pids(name)

    def dial(self, name, host, port, timeout=10):
        """A TCP socket connected from inside namespace `name` (made by a thread that enters it;
        a socket keeps the namespace it was made in)."""
        got = {}

        def inside():
            try:
                fd = os.open(f"/run/netns/{self.ns(name)}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                got["sock"] = socket.create_connection((host, port), timeout)
            except Exception as e:  # handed to the caller's thread
                got["error"] = e

        t = threading.Thread(target=inside)
        t.start()
        t.join()
        if "error" in got:
            raise got["error"]
        return got["sock"]

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for name in self.names:
            self._empty(name)
            _ip("netns", "del", self.ns(name), check=False)

    def _empty(self, name):
        """SIGKILL for whatever still runs in `name` (a session's CLI, a guard) until none is left."""
        deadline = time.time() + 10
        while time.time() < deadline:
            pids = self.pids(name)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
