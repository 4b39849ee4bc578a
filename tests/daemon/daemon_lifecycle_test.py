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
  - a second daemon on the same socket/store is refused with one line.
"""
import json
import os
import signal
import stat
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
    cfg = du.write_config(s.path("online.toml"), store=store, key=s.key, socket=sock,
                          files=[cap], stop_at_eof=False, agents=agents)
    errf = s.path("daemon.stderr")
    d = subprocess.Popen([callvaultd, "--config", cfg], stdout=subprocess.DEVNULL,
                         stderr=open(errf, "w"))
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

        d.send_signal(signal.SIGTERM)
        c.eq(d.wait(timeout=60), 0, "SIGTERM -> exit 0")
        c.ok(not os.path.exists(sock), "socket removed at exit")
        after = du.search_all(callvault, store, s.key)
        c.eq(len(after), want_calls, "offline search after exit finds every call")
        v = du.offline(callvault, store, s.key, "verify", "--json")
        c.eq(v.returncode, 0, "store verifies after exit")
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        print("     daemon stderr: " + open(errf).read().strip()[-800:], flush=True)


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
