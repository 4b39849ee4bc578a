#!/usr/bin/env python3
"""daemon_live: callvaultd capturing live traffic on a veth interface.

Usage: daemon_live_test.py CALLVAULTD CALLVAULT CALLGEN TEST_DATA_DIR
Needs root, `ip netns` and tcpreplay (exit 77 otherwise). Creates a network namespace
with a veth pair (only these, removed at exit). For each capture path — libpcap
(capture.interfaces) and DPDK net_af_packet — callvaultd runs inside the namespace on one
end, tcpreplay sends a synthetic capture into the other end, then:
  - while the daemon still runs, `callvault --config CFG search --json` over the control
    socket finds every call of the capture (calls that ended a moment ago are visible);
  - SIGTERM: exit 0; offline search finds the same calls with the same SIP Call-IDs and
    RTP packet counts as an offline `callvault ingest` of the same file.
A third run, DPDK net_af_packet with two queues (qpairs=2, a fanout group hashing flows
symmetrically) and two workers: the same calls as the offline ingest, every queue carried
frames, all SIP read on worker 1 was run by worker 0 (bus counters in `status`). A last
run sends SIGTERM while calls are still active (replay at a low rate): exit 0, and the
calls captured so far are stored and pass `callvault verify`.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import daemon_util as du


def sh(cmd):
    return subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


def wait_for(pred, timeout, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def summary(calls):
    """What must match between a live capture and an offline ingest (times differ)."""
    out = []
    for x in calls:
        out.append({"sip_call_ids": sorted(x.get("sip_call_ids", [])),
                    "state": x.get("state"), "ani": x.get("ani"), "dialled": x.get("dialled"),
                    "legs": sorted((l.get("src"), l.get("dst"), l.get("codec"), l.get("packets"))
                                   for l in x.get("legs", []))})
    return sorted(out, key=lambda d: d["sip_call_ids"])


def main():
    callvaultd, callvault, callgen, data = sys.argv[1:5]
    del data
    du.need_root("daemon_live")
    if not shutil.which("tcpreplay") or not shutil.which("ip"):
        print("daemon_live: tcpreplay and ip are needed; skipping")
        sys.exit(du.SKIP)
    ns = f"cvd{os.getpid()}"
    if sh(f"ip netns add {ns}") != 0:
        print("daemon_live: ip netns add failed; skipping")
        sys.exit(du.SKIP)
    c = du.Checks("daemon_live")
    s = du.Scratch(callvault, "cv_daemon_live.")
    inns = ["ip", "netns", "exec", ns]
    try:
        assert sh(f"ip netns exec {ns} ip link add cvtx type veth peer name cvrx") == 0
        for cmd in ("sysctl -qw net.ipv6.conf.all.disable_ipv6=1",
                    "ip link set lo up", "ip link set cvtx up", "ip link set cvrx up"):
            sh(f"ip netns exec {ns} {cmd}")
        cap = s.path("live.pcap")
        du.run([callgen, "-o", cap, "--calls", "8", "--concurrency", "8", "--duration", "3",
                "--seed", "11"], check=True)
        ref_store = s.path("ref_store")
        p = du.offline(callvault, ref_store, s.key, "ingest", cap)
        c.ok(p.returncode == 0, "offline ingest of the capture (reference)")
        ref = du.search_all(callvault, ref_store, s.key)
        c.eq(len(ref), 8, "reference: 8 calls")

        for path in ("pcap", "dpdk"):
            live_run(c, s, callvaultd, callvault, inns, cap, path, ref, mid_stop=False)
        # Two RX queues (net_af_packet qpairs: a fanout group hashing flows symmetrically),
        # two workers: SIP read on worker 1 is handed to worker 0, media to both.
        live_run(c, s, callvaultd, callvault, inns, cap, "dpdk", ref, mid_stop=False, queues=2)
        live_run(c, s, callvaultd, callvault, inns, cap, "pcap", ref, mid_stop=True)
    finally:
        sh(f"ip netns del {ns}")
        s.cleanup()
    c.finish()


def walk(obj, prefix=""):
    """(dotted key, value) of every number in a JSON object."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk(v, f"{prefix}{k}.")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk(v, f"{prefix}{i}.")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix[:-1], obj


def live_run(c, s, callvaultd, callvault, inns, cap, path, ref, mid_stop, queues=1):
    tag = f"{path}{'_sigterm' if mid_stop else ''}{f'_{queues}q' if queues > 1 else ''}"
    store = s.path(f"{tag}_store")
    sock = s.path(f"{tag}_run", "control.sock")
    eal = du.live_eal(f"cv_live_{os.getpid()}", "cvrx") if path == "dpdk" else []
    if queues > 1:  # one worker lcore per queue; on two CPUs, worker 2 beside the main lcore
        eal[eal.index("-l"):eal.index("-l") + 2] = ["--lcores", "0@0,1@1,2@0"]
        eal[-1] += f",qpairs={queues}"
    cfg = du.write_config(
        s.path(f"{tag}.toml"), store=store, key=s.key, socket=sock, source=path,
        interfaces=["cvrx"] if path == "pcap" else (), eal_args=eal, stop_at_eof=False)
    err = open(s.path(f"{tag}.stderr"), "w")
    d = subprocess.Popen(inns + [callvaultd, "--config", cfg], stdout=subprocess.DEVNULL,
                         stderr=err)
    try:
        up = wait_for(lambda: os.path.exists(sock) or d.poll() is not None, 30) and \
            du.wait_capturing(callvault, cfg, d, timeout=30)
        if not c.ok(up, f"{tag}: callvaultd is up and capturing"):
            return
        rate = ["--pps=300"] if mid_stop else ["--pps=5000"]
        r = subprocess.Popen(inns + ["tcpreplay", "-q", *rate, "-i", "cvtx", cap],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if mid_stop:
            time.sleep(3.0)  # calls answered and talking, replay not done
            c.ok(r.poll() is None, f"{tag}: replay still running when SIGTERM is sent")
        else:
            c.eq(r.wait(timeout=120), 0, f"{tag}: tcpreplay exit code")
            # A call's final record is handed on 32 s after its BYE (DialogTracker linger,
            # 64*T1, RFC 3261 §17.1.1.2) plus media.grace_ms + 0.5 s; the store writer is
            # flushed every second. So wait up to 60 s of wall clock.
            def online():
                p = du.run([callvault, "--config", cfg, "search", "--limit", "0", "--json"])
                return json.loads(p.stdout) if p.returncode == 0 else []
            got = []

            def all_ended():
                got[:] = online()
                return summary(got) == summary(ref)
            wait_for(all_ended, 60, step=1.0)
            c.eq(summary(got), summary(ref),
                 f"{tag}: online search while capturing = offline ingest (Call-IDs, legs, packets)")
            st = du.run([callvault, "--config", cfg, "status", "--json"])
            if c.ok(st.returncode == 0, f"{tag}: online status"):
                cap_st = json.loads(st.stdout).get("capture") or {}
                c.eq(cap_st.get("source"), path, f"{tag}: status capture.source")
                c.eq(cap_st.get("dropped_total"), 0, f"{tag}: status shows zero drops")
                if queues > 1:
                    n = dict(walk(cap_st))
                    print(f"     {tag} counters: " + ", ".join(
                        f"{k}={v}" for k, v in n.items() if ".bus." in k or
                        k.endswith(".frames")), flush=True)
                    q = [n.get(f"queues.{i}.frames", 0) for i in range(queues)]
                    c.ok(all(x > 0 for x in q), f"{tag}: every queue carried frames {q}")
                    # Which SIP lands on queue 1 depends on the kernel's per-boot flow
                    # hash key: whatever it was, all of it reached worker 0.
                    c.eq(n.get("pipeline.bus.received.sip"), n.get("pipeline.bus.sent.sip"),
                         f"{tag}: SIP handed to worker 0 = SIP it ran")
                    c.eq(n.get("pipeline.bus.sip_kept_local"), 0, f"{tag}: no SIP kept local")
                    c.ok(n.get("pipeline.bus.received.session", 0) > 0,
                         f"{tag}: media sessions handed over")
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
        c.eq(rc, 0, f"{tag}: SIGTERM -> exit 0")
        if mid_stop:
            r.terminate()
            r.wait()
        after = du.search_all(callvault, store, s.key)
        if mid_stop:
            c.ok(0 < len(after) <= len(ref),
                 f"{tag}: calls active at SIGTERM were ended and stored ({len(after)} of {len(ref)})")
            v = du.offline(callvault, store, s.key, "verify", "--json")
            c.eq(v.returncode, 0, f"{tag}: store verifies after SIGTERM")
        else:
            c.eq(summary(after), summary(ref), f"{tag}: offline search after SIGTERM = ingest")
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        err.close()
        with open(s.path(f"{tag}.stderr")) as f:
            text = f.read().strip()
        if text:
            print(f"     {tag} stderr: {text[-600:]}", flush=True)


if __name__ == "__main__":
    main()
