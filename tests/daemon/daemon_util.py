"""Helpers for the callvaultd end-to-end tests (tests/daemon/*_test.py).

Each test gets a scratch directory, a master key, and writes callvaultd configs there.
Nothing here depends on the machine: binaries and test data come from the arguments.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Checks:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}", flush=True)
        return cond

    def eq(self, got, want, what):
        if got == want:
            return self.ok(True, what)
        g, w = json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True)
        return self.ok(False, f"{what}: got {g[:600]} want {w[:600]}")

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def need_root(name):
    if os.geteuid() != 0:
        print(f"{name}: needs root (DPDK vdevs, namespaces); skipping")
        sys.exit(SKIP)


class Scratch:
    """A temp dir with a master key; removed at exit unless CV_KEEP is set."""

    def __init__(self, callvault, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.callvault = callvault
        self.key = os.path.join(self.dir, "master.key")
        run([callvault, "--key-file", self.key, "keys", "init"], check=True)

    def cleanup(self):
        if not os.environ.get("CV_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)


def run(argv, check=False, timeout=600, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{argv[0]} {' '.join(argv[1:4])}...: exit {p.returncode}: "
                           f"{p.stderr.strip()[:500]}")
    return p


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def write_config(path, *, store, key, socket, source="pcap", files=(), interfaces=(),
                 eal_args=(), stop_at_eof=True, agents="", extra="", reviewers=(),
                 auditors=("root",)):
    lines = ["[capture]", f'source = "{source}"']
    if files:
        lines.append(f"files = {toml_list(list(files))}")
    if interfaces:
        lines.append(f"interfaces = {toml_list(list(interfaces))}")
    lines += ["", "[dpdk]", f"eal_args = {toml_list(list(eal_args))}",
              "mbufs = 16383", f"stop_at_eof = {'true' if stop_at_eof else 'false'}", ""]
    lines += ["[agents]", f'directory = "{agents}"', ""]
    lines += ["[store]", f'path = "{store}"', f'key_file = "{key}"', ""]
    lines += ["[control]", f'socket = "{socket}"', 'group = "root"', 'admins = ["root"]',
              f"reviewers = {toml_list(list(reviewers))}",
              f"auditors = {toml_list(list(auditors))}", ""]
    text = "\n".join(lines) + extra
    with open(path, "w") as f:
        f.write(text)
    return path


def dpdk_file_eal(prefix, pcap_files, lcores="0-1"):
    vdev = "net_pcap0," + ",".join(f"rx_pcap={f}" for f in pcap_files)
    return ["-l", lcores, "--no-huge", "--no-pci", "--no-shconf", "-m", "512",
            "--file-prefix", prefix, "--vdev", vdev]


def live_eal(prefix, iface):
    """EAL arguments for capturing a kernel interface through DPDK net_af_packet."""
    return ["-l", "0-1", "--no-huge", "--no-pci", "--no-shconf", "-m", "512",
            "--file-prefix", prefix, "--vdev", f"net_af_packet0,iface={iface}"]


def wait_capturing(callvault, cfg, daemon, timeout=40):
    """True once `callvault status` over the control socket says capture is running;
    False if the daemon exits first or the time runs out."""
    end = time.time() + timeout
    while time.time() < end and daemon.poll() is None:
        p = run([callvault, "--config", cfg, "status", "--json"])
        if p.returncode == 0 and \
                (json.loads(p.stdout).get("capture") or {}).get("running") is True:
            return True
        time.sleep(0.3)
    return False


def offline(callvault, store, key, *args, timeout=600):
    return run([callvault, "--store", store, "--key-file", key, *args], timeout=timeout)


def search_all(callvault, store, key):
    p = offline(callvault, store, key, "search", "--limit", "0", "--json")
    if p.returncode == 1:
        return []
    if p.returncode != 0:
        raise RuntimeError(f"search: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def wav_samples(path):
    """The data chunk of a RIFF/WAVE file (the samples), or None."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        return None
    i = 12
    while i + 8 <= len(b):
        cid, size = b[i:i + 4], int.from_bytes(b[i + 4:i + 8], "little")
        if cid == b"data":
            return b[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)
    return None
