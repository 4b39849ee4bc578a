#!/usr/bin/env python3
"""daemon_lifecycle: callvaultd start-up errors, the control socket, SIGHUP, SIGTERM.

Usage: daemon_lifecycle_test.py CALLVAULTD CALLVAULT CALLGEN TEST_DATA_DIR
Needs root (the socket group is "root"; the DPDK run needs EAL). Checks:
  - no --config, an unknown argument, an unknown config key, a bad value, a missing key
    file, a missing agents.directory: exit 2 and exactly one line on stderr naming it;
  - capture.files with stop_at_eof = false: after the end of input the daemon keeps
    serving; the socket has mode 0660; `callvault --config CFG search` (online) finds
    every call the capture holds (callgen's count), `status --json` shows the capture
    counters, zero drops; the Prometheus file is written; agents are resolved from
    agents.directory;
  - SIGHUP reloads the agent directory (and keeps the old one when the new file is bad),
    the daemon stays up;
  - SIGTERM: exit 0, the store verifies offline, the calls are there;
  - `callvault metrics` (online) prints Prometheus text: every line parses as text format
    0.0.4, the frame and drop families are there, frames agree with `status` and with the
    capture file's record count, drops are zero; a reviewer may run it, an auditor-only
    user is refused (exit 3); both are in the audit log;
  - sd_notify (a bound abstract datagram socket standing in for systemd, WATCHDOG_USEC
    1 s): READY=1 once, STATUS= lines, WATCHDOG=1 about every 0.5 s, STOPPING=1 once on
    SIGTERM and nothing but STATUS/WATCHDOG after it;
  - a second daemon on the same socket/store is refused with one line;
  - sd_notify under the DPDK engine (net_pcap vdev on a public capture, stop_at_eof off):
    READY=1 once capture runs, the last STATUS= says "capturing (dpdk)" with every frame of
    the file, WATCHDOG=1 pings, STOPPING=1 once on SIGTERM, exit 0, the calls are stored;
  - a store that cannot be written (its segment directories made immutable) under the
    DPDK engine replaying a capture without end (net_pcap infinite_rx): the daemon stops
    by itself (exit status 5, which systemd restarts; 2 it would not) with one line naming
    the failed store flush, instead of running
    on and refusing every call; what was stored before still verifies.
"""
import json
import os
import re
import signal
import socket
import stat
import struct
import threading
import subprocess
import sys
import time

import daemon_util as du


def main():
    callvaultd, callvault, callgen, data = sys.argv[1:5]
    du.need_root("daemon_lifecycle")
    c = du.Checks("daemon_lifecycle")
    s = du.Scratch(callvault, "cv_daemon_life.")
    try:
        bad_starts(c, s, callvaultd, data)
        online(c, s, callvaultd, callvault, callgen)
        dpdk_notify(c, s, callvaultd, callvault, data)
        dpdk_store_fails(c, s, callvaultd, callvault, data)
    finally:
        s.cleanup()
    c.finish()


def expect_one_line(c, argv, want_rc, needle, what):
    p = du.run(argv, timeout=60)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    c.ok(p.returncode == want_rc and len(lines) == 1 and needle in p.stderr,
         f"{what}: exit {p.returncode} (want {want_rc}), stderr {p.stderr.strip()!r}")


def bad_starts(c, s, callvaultd, data):
    expect_one_line(c, [callvaultd], 2, "--config", "no --config")
    expect_one_line(c, [callvaultd, "--config", s.path("x.toml"), "--bogus"], 2, "--bogus",
                    "unknown argument")
    expect_one_line(c, [callvaultd, "--config", s.path("missing.toml")], 2, "missing.toml",
                    "config file missing")
    cap = os.path.join(data, "wswiki_sip-rtp-g711.pcap")
    base = dict(store=s.path("bad_store"), key=s.key, socket=s.path("bad_run", "c.sock"),
                files=[cap])
    cfg = du.write_config(s.path("unknown_key.toml"), **base,
                          extra="\n[media]\nmax_legz = 5\n")
    expect_one_line(c, [callvaultd, "--config", cfg], 2, "max_legz", "unknown config key")
    cfg = du.write_config(s.path("bad_value.toml"), **base,
                          extra="\n[media]\nreorder_window = -3\n")
    expect_one_line(c, [callvaultd, "--config", cfg], 2, "reorder_window", "bad config value")
    cfg = du.write_config(s.path("no_key.toml"), **dict(base, key=s.path("nokey")))
    expect_one_line(c, [callvaultd, "--config", cfg], 2, "nokey", "missing key file")
    cfg = du.write_config(s.path("no_agents.toml"), **base, agents=s.path("agents_missing.csv"))
    expect_one_line(c, [callvaultd, "--config", cfg], 2, "agents.directory",
                    "missing agents.directory")


def online(c, s, callvaultd, callvault, callgen):
    cap = s.path("calls.pcap")
    manifest = s.path("calls.json")
    agents = s.path("agents.csv")
    du.run([callgen, "-o", cap, "--calls", "10", "--concurrency", "5", "--duration", "4",
            "--manifest", manifest, "--write-agents", agents, "--seed", "5"], check=True)
    with open(manifest) as f:
        man = json.load(f)
    want_calls = len(man["calls"]) if isinstance(man, dict) and "calls" in man else 10
    sock = s.path("run", "control.sock")
    store = s.path("store")
    # uid 65534 is a reviewer, uid 65533 only an auditor (both in group root, so the
    # 0660 socket lets them connect and the role map decides).
    cfg = du.write_config(s.path("online.toml"), store=store, key=s.key, socket=sock,
                          files=[cap], stop_at_eof=False, agents=agents,
                          reviewers=["uid:65534"], auditors=["root", "uid:65533"])
    errf = s.path("daemon.stderr")
    d, notify = start_notified(callvaultd, cfg, errf)
    try:
        def stderr_has(t):
            with open(errf) as f:
                return t in f.read()
        end = time.time() + 60
        while time.time() < end and d.poll() is None and not stderr_has("input ended"):
            time.sleep(0.2)
        if not c.ok(d.poll() is None and stderr_has("input ended"),
                    "capture.files run: input ended, daemon still serving"):
            return
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        c.eq(oct(mode), oct(0o660), "control socket mode")
        c.ok(stat.S_ISSOCK(os.stat(sock).st_mode), "control socket is a socket")
        p = du.run([callvault, "--config", cfg, "search", "--limit", "0", "--json"])
        calls = json.loads(p.stdout) if p.returncode == 0 else []
        c.eq(len(calls), want_calls, "online search finds every call of the capture")
        named = [x for x in calls if (x.get("agent") or {}).get("name")]
        c.eq(len(named), len(calls), "every call has its agent name from agents.directory")
        p = du.run([callvault, "--config", cfg, "status", "--json"])
        st = json.loads(p.stdout) if p.returncode == 0 else {}
        cap_st = st.get("capture") or {}
        c.eq(cap_st.get("source"), "pcap", "status: capture.source")
        c.eq(cap_st.get("dropped_total"), 0, "status: zero drops")
        c.ok(sum(pt.get("ipackets", 0) for pt in cap_st.get("ports", [])) > 0,
             "status: per-port packet counters")
        prom = os.path.join(os.path.dirname(sock), "callvaultd.prom")
        time.sleep(1.2)
        text = open(prom).read() if os.path.exists(prom) else ""
        c.ok("callvault_port_ipackets_total" in text or "callvault_" in text,
             f"Prometheus file {os.path.basename(prom)} written")
        metrics(c, callvault, cfg, cap, cap_st, text)

        # A second daemon on the same store and socket: refused, one line.
        p = du.run([callvaultd, "--config", cfg], timeout=30)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        c.ok(p.returncode != 0 and len(lines) == 1,
             f"second daemon refused: exit {p.returncode}, {p.stderr.strip()!r}")

        # SIGHUP: reload (good file), then a bad file keeps the old directory.
        d.send_signal(signal.SIGHUP)
        c.ok(wait_text(errf, "reloaded", 5), "SIGHUP reloads agents.directory")
        os.rename(agents, agents + ".away")
        d.send_signal(signal.SIGHUP)
        c.ok(wait_text(errf, "kept the old one", 5),
             "SIGHUP with agents.directory missing: error printed, old directory kept")
        os.rename(agents + ".away", agents)
        d.send_signal(signal.SIGHUP)
        c.ok(wait_text(errf, "reloaded", 5, count=2), "SIGHUP after the file is back: reloaded")
        c.ok(d.poll() is None, "daemon still running after SIGHUP")

        time.sleep(1.6)  # a few watchdog periods while serving
        before_term = notify.drain()
        d.send_signal(signal.SIGTERM)
        c.eq(d.wait(timeout=60), 0, "SIGTERM -> exit 0")
        check_notify(c, before_term, notify.drain())
        c.ok(not os.path.exists(sock), "socket removed at exit")
        after = du.search_all(callvault, store, s.key)
        c.eq(len(after), want_calls, "offline search after exit finds every call")
        v = du.offline(callvault, store, s.key, "verify", "--json")
        c.eq(v.returncode, 0, "store verifies after exit")
    finally:
        notify.close()
        if d.poll() is None:
            d.kill()
            d.wait()
        print("     daemon stderr: " + open(errf).read().strip()[-800:], flush=True)


# One Prometheus text-format (0.0.4) sample: name, optional {label="value",...}, value,
# optional timestamp.
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:' + _LABEL + r'(?:,' + _LABEL +
                     r')*,?)?\})? ([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|Inf))'
                     r'( -?[0-9]+)?$')
_TYPE = re.compile(r'^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$')


def parse_prometheus(text):
    """Returns ([(name, labels, value)], [bad lines]); a sample needs its family's TYPE."""
    samples, bad, typed = [], [], set()
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            m = _TYPE.match(line)
            if m:
                typed.add(m.group(1))
            elif not line.startswith("# HELP "):
                bad.append(line)
            continue
        m = _SAMPLE.match(line)
        if not m or m.group(1) not in typed:
            bad.append(line)
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples, bad


def pcap_records(path):
    """Record count of a classic pcap file (callgen's output), by walking its headers."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off, n = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        off += 16 + incl
        n += 1
    return n


def as_user(uid):
    def drop():
        os.setgroups([])
        os.setgid(0)
        os.setuid(uid)
    return drop


def metrics(c, callvault, cfg, cap, status, file_text):
    p = du.run([callvault, "--config", cfg, "metrics"])
    c.eq(p.returncode, 0, f"metrics (root, admin): exit 0 ({p.stderr.strip()[:200]})")
    samples, bad = parse_prometheus(p.stdout)
    c.eq(bad[:5], [], "metrics: every line is Prometheus text (HELP/TYPE/sample)")
    names = {n for n, _, _ in samples}
    for fam in ("callvault_port_ipackets_total", "callvault_queue_frames_total",
                "callvault_queue_drops_total", "callvault_daemon_running"):
        c.ok(fam in names, f"metrics: family {fam} present")
    # libpcap mode has no rings: the family is declared, its samples come with DPDK.
    c.ok("# TYPE callvault_ring_full_drops_total counter" in p.stdout,
         "metrics: family callvault_ring_full_drops_total declared")
    frames = sum(v for n, _, v in samples if n == "callvault_queue_frames_total")
    st_frames = sum(q.get("frames", 0) for q in status.get("queues", []))
    c.eq(int(frames), st_frames, "metrics: frames equal status queue frames")
    c.eq(int(frames), pcap_records(cap), "metrics: frames equal the capture's record count")
    drops = [(n, l, v) for n, l, v in samples if n.endswith("drops_total") and v != 0]
    c.eq(drops, [], "metrics: every drop counter is zero")
    c.ok(any(n == "callvault_queue_drops_total" and l.get("reason") for n, l, _ in samples),
         "metrics: drop counters carry a reason label")
    file_names = {n for n, _, _ in parse_prometheus(file_text)[0]}
    c.eq(sorted(names), sorted(file_names), "metrics: same families as the metrics file")
    pj = du.run([callvault, "--config", cfg, "metrics", "--json"])
    j = json.loads(pj.stdout) if pj.returncode == 0 else {}
    c.eq(j.get("format"), "prometheus-text-0.0.4", "metrics --json: format")
    c.ok(parse_prometheus(j.get("text", ""))[1] == [] and "callvault_queue_frames_total" in
         j.get("text", ""), "metrics --json: the same text in .text")

    # Roles: a reviewer may, an auditor-only user may not.
    p = du.run([callvault, "--config", cfg, "metrics"], preexec_fn=as_user(65534))
    c.ok(p.returncode == 0 and "callvault_queue_frames_total" in p.stdout,
         f"metrics as a reviewer (uid 65534): exit {p.returncode} {p.stderr.strip()[:200]!r}")
    p = du.run([callvault, "--config", cfg, "metrics"], preexec_fn=as_user(65533))
    c.ok(p.returncode == 3 and "access denied" in p.stderr and p.stdout == "",
         f"metrics as an auditor only (uid 65533): refused, exit {p.returncode} "
         f"{p.stderr.strip()[:200]!r}")
    p = du.run([callvault, "--config", cfg, "audit", "list", "--json"])
    recs = json.loads(p.stdout) if p.returncode == 0 else []
    acts = [(r.get("uid"), r.get("action"), r.get("result")) for r in recs
            if "metrics" in str(r.get("action"))]
    c.ok((65534, "metrics", "ok") in acts and (65533, "denied:metrics", "denied") in acts,
         f"metrics requests are audited, allowed and denied: {acts[-4:]}")


class NotifyListener:
    """An abstract AF_UNIX datagram socket standing in for systemd's notify socket. Like
    systemd it reads continuously (a thread): the kernel queues only a few datagrams."""

    def __init__(self):
        self.name = f"@callvault-life-notify-{os.getpid()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.settimeout(0.05)
        self.lock = threading.Lock()
        self.got = []
        self.stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.stop:
            try:
                m = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            with self.lock:
                self.got.append(m)

    def drain(self):
        time.sleep(0.2)  # let the reader catch up
        with self.lock:
            out, self.got = self.got, []
        return out

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def start_notified(callvaultd, cfg, errf):
    """callvaultd with a NotifyListener as its systemd notify socket (WATCHDOG_USEC 1 s)."""
    notify = NotifyListener()
    env = dict(os.environ, NOTIFY_SOCKET=notify.name, WATCHDOG_USEC="1000000")
    env.pop("WATCHDOG_PID", None)
    d = subprocess.Popen([callvaultd, "--config", cfg], stdout=subprocess.DEVNULL,
                         stderr=open(errf, "w"), env=env)
    return d, notify


def dpdk_notify(c, s, callvaultd, callvault, data):
    cap = os.path.join(data, "wswiki_sip-rtp-g711.pcap")
    sock = s.path("dpdk_run", "control.sock")
    store = s.path("dpdk_store")
    cfg = du.write_config(s.path("dpdk_notify.toml"), store=store, key=s.key, socket=sock,
                          source="dpdk", eal_args=du.dpdk_file_eal("cv_life_notify", [cap]),
                          stop_at_eof=False)
    errf = s.path("dpdk_daemon.stderr")
    d, notify = start_notified(callvaultd, cfg, errf)
    try:
        if not c.ok(du.wait_capturing(callvault, cfg, d, timeout=120), "dpdk: capture running"):
            return
        time.sleep(2.5)  # the replay is over in a moment; several watchdog periods
        running = notify.drain()
        d.send_signal(signal.SIGTERM)
        c.eq(d.wait(timeout=60), 0, "dpdk: SIGTERM -> exit 0")
        stopping = notify.drain()
        keys = [m.split("=", 1)[0] for m in running]
        c.eq(running.count("READY=1"), 1, "dpdk sd_notify: READY=1 exactly once")
        c.ok(all(k in ("READY", "STATUS", "WATCHDOG") for k in keys),
             f"dpdk sd_notify: only READY/STATUS/WATCHDOG while running: {sorted(set(keys))}")
        st = [m for m in running if m.startswith("STATUS=")]
        # The file holds 852 frames (capinfos); 2 of them are counted media.not_rtp.
        c.ok(bool(st) and "capturing (dpdk): 852 frames, 2 dropped" in st[-1],
             f"dpdk sd_notify: last STATUS counts the file's frames: {st[-1:]}")
        c.ok(keys.count("WATCHDOG") >= 3, f"dpdk sd_notify: WATCHDOG pings {keys.count('WATCHDOG')}")
        c.eq(stopping.count("STOPPING=1"), 1, "dpdk sd_notify: STOPPING=1 once after SIGTERM")
        c.ok("READY=1" not in stopping, f"dpdk sd_notify: no READY after SIGTERM: {stopping}")
        calls = du.search_all(callvault, store, s.key)
        # Two calls, as offline ingest finds (one ends in the capture, one is cut off).
        c.eq(len(calls), 2, "dpdk: the capture's calls are stored after SIGTERM")
    finally:
        notify.close()
        if d.poll() is None:
            d.kill()
            d.wait()
        print("     dpdk daemon stderr: " + open(errf).read().strip()[-600:], flush=True)


def dpdk_store_fails(c, s, callvaultd, callvault, data):
    store = s.path("dpdk_store")  # dpdk_notify's: it holds two calls
    seg_dirs = [os.path.join(store, "segments")]
    seg_dirs += [os.path.join(seg_dirs[0], d) for d in os.listdir(seg_dirs[0])]
    p = du.run(["chattr", "+i"] + seg_dirs)
    if p.returncode != 0:  # a file system without the immutable flag: cannot test here
        du.run(["chattr", "-i"] + seg_dirs)  # whichever it did set
        print(f"SKIP dpdk store failure: chattr +i: {p.stderr.strip()}", flush=True)
        return
    try:
        cap = os.path.join(data, "wswiki_sip-rtp-g711.pcap")
        eal = du.dpdk_file_eal("cv_life_fail", [cap])
        eal[-1] += ",infinite_rx=1"  # the capture replayed without end, like a live port
        cfg = du.write_config(s.path("dpdk_fail.toml"), store=store, key=s.key,
                              socket=s.path("fail_run", "control.sock"), source="dpdk",
                              eal_args=eal, stop_at_eof=False)
        started = time.time()
        try:
            p = du.run([callvaultd, "--config", cfg], timeout=120)
        except subprocess.TimeoutExpired:
            c.ok(False, "dpdk, store unwritable: the daemon still ran after 120 s")
            return
        took = time.time() - started
        lines = [l for l in p.stderr.splitlines() if l.startswith("callvaultd: store flush")]
        # 5 (unavailable), whatever the writer's error: not 2 (a configuration error,
        # which systemd does not restart).
        c.eq(p.returncode, 5, f"dpdk, store unwritable: exits 5 by itself (after {took:.1f} s)")
        c.ok(len(lines) == 1 and "not permitted" in lines[0],
             f"dpdk, store unwritable: one line names the failed store flush: {lines} "
             f"(stderr tail {p.stderr.strip()[-400:]!r})")
    finally:
        du.run(["chattr", "-i"] + seg_dirs)
    v = du.offline(callvault, store, s.key, "verify")
    c.eq(v.returncode, 0, f"dpdk, store unwritable: what was stored before verifies: "
         f"{v.stdout.strip()[-200:]} {v.stderr.strip()[-200:]}")


def check_notify(c, running, stopping):
    keys = [m.split("=", 1)[0] for m in running]
    c.eq(running.count("READY=1"), 1, "sd_notify: READY=1 exactly once")
    c.ok(all(k in ("READY", "STATUS", "WATCHDOG") for k in keys),
         f"sd_notify: only READY/STATUS/WATCHDOG while running: {sorted(set(keys))}")
    st = [m for m in running if m.startswith("STATUS=")]
    c.ok(any("input ended" in m and "0 dropped" in m for m in st),
         f"sd_notify: STATUS line after the input ended: {st[-1:]}")
    # The run lasted several seconds: STATUS about 1/s, WATCHDOG about 2/s.
    c.ok(keys.count("WATCHDOG") >= 2 * keys.count("STATUS") - 3 and keys.count("STATUS") >= 3,
         f"sd_notify: WATCHDOG every WATCHDOG_USEC/2 ({keys.count('WATCHDOG')} pings, "
         f"{keys.count('STATUS')} status lines)")
    c.eq(stopping.count("STOPPING=1"), 1, "sd_notify: STOPPING=1 once after SIGTERM")
    c.ok(all(m.split("=", 1)[0] in ("STATUS", "WATCHDOG", "STOPPING") for m in stopping),
         f"sd_notify: no READY after SIGTERM: {stopping}")


def wait_text(path, text, timeout, count=1):
    end = time.time() + timeout
    while True:
        with open(path) as f:
            if f.read().count(text) >= count:
                return True
        if time.time() >= end:
            return False
        time.sleep(0.1)


if __name__ == "__main__":
    main()
