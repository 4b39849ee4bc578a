#!/usr/bin/env python3
"""daemon_multiqueue: the same capture through callvaultd with ONE RX queue (one worker)
and split by symmetric RSS into TWO queues (two workers, one net_pcap vdev with two
rx_pcap=, SIP and RTP of a call on different workers) gives identical calls: `search
--json`, `show --json` per call, and `export --wav` / `export --pcap` byte for byte.

Usage: daemon_multiqueue_test.py CALLVAULTD CALLVAULT CALLGEN PCAP_SPLIT TEST_DATA_DIR
Needs root (EAL). Two workers on any machine with >= 2 CPUs: `--lcores 0@0,1@1,2@0`
(main lcore and worker 2 share CPU 0; docs/DPDK.md). What proves the hand-over ran: the
split files each hold part of the capture, and the two-worker daemon's pipeline counters
(callvaultd.prom) show media sessions received over the bus.
"""
import json
import os
import re
import shutil
import sys

import daemon_util as du

# Public captures whose SIP and RTP the symmetric hash puts on different queues (with
# the 0x6d5a key the hash depends only on the XOR of the 16-bit words of addresses and
# ports, so a two-host capture often stays on one queue: those are left out).
# voipshark_SIP-SRTP-Normal_Call_two_parties.pcap is a call through a PBX whose two
# dialogs land on different queues: worker 0 runs every dialog (the other hands it its
# SIP), so they are linked into one call as with one queue (before: 3 calls, not 2).
PUBLIC = [
    "wswiki_SIP_CALL_RTP_G711.pcap",
    "heplify_sip_ipv4_tcp_rtp_pcma.pcap",
    "wswiki_sip-rtp-g722.pcap",
    "voipshark_SIP-SRTP-Normal_Call_two_parties.pcap",
]
TWO_WORKERS = "0@0,1@1,2@0"


def main():
    callvaultd, callvault, callgen, pcap_split, data = sys.argv[1:6]
    du.need_root("daemon_multiqueue")
    c = du.Checks("daemon_multiqueue")
    s = du.Scratch(callvault, "cv_daemon_mq.")
    try:
        captures = [os.path.join(data, n) for n in PUBLIC]
        # Many concurrent calls, media impairments, VLAN-tagged: 40 calls of 8 s.
        ns = s.path("synthetic_ns.pcap")
        du.run([callgen, "-o", ns, "--calls", "40", "--concurrency", "40", "--duration", "8",
                "--codec", "mixed", "--loss", "1", "--reorder", "1", "--duplicate", "1",
                "--vlan", "100", "--dtmf", "42#", "--dtmf-at", "2", "--seed", "11"],
               check=True)
        captures.append(ns)
        for n, cap in enumerate(captures):
            compare_one(c, s, callvaultd, callvault, pcap_split, cap, n,
                        expect_handover=(cap == ns), queues=2)
        compare_one(c, s, callvaultd, callvault, pcap_split, ns, len(captures),
                    expect_handover=True, queues=3)
    finally:
        s.cleanup()
    c.finish()


def eal(prefix, files, lcores):
    vdev = "net_pcap0," + ",".join(f"rx_pcap={f}" for f in files)
    return ["--lcores", lcores, "--no-huge", "--no-pci", "--no-shconf", "-m", "512",
            "--file-prefix", prefix, "--vdev", vdev]


def bus_sessions_received(prom_text):
    """Sum of the pipelines' bus.received.session counters in the Prometheus text."""
    total = 0
    for line in prom_text.splitlines():
        if line.startswith("#") or "received" not in line or "session" not in line:
            continue
        if "bus" in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def run_daemon(c, s, callvaultd, name, files, lcores, tag):
    store = s.path(f"{tag}_store")
    sock = s.path(f"{tag}_run", "control.sock")
    cfg = du.write_config(s.path(f"{tag}.toml"), store=store, key=s.key, socket=sock,
                          source="dpdk",
                          eal_args=eal(f"cv_mq_{os.getpid()}_{tag}", files, lcores),
                          stop_at_eof=True)
    p = du.run([callvaultd, "--config", cfg], timeout=300)
    c.ok(p.returncode == 0, f"{name}: callvaultd ({tag}) exits 0 at end of file"
         + ("" if p.returncode == 0 else f" (exit {p.returncode}: {p.stderr.strip()[-400:]})"))
    m = re.search(r"drops=(\d+)", p.stderr)
    c.ok(m is not None, f"{name}: callvaultd ({tag}) summary line")
    # The clocks of the summary: the run splits into start-up and the capture window.
    t = re.search(r" seconds=([0-9.]+) .* startup_s=([0-9.]+) capture_s=([0-9.]+) "
                  r"capture_frames_per_s=(\d+)", p.stderr)
    c.ok(t is not None, f"{name}: callvaultd ({tag}) summary has startup_s and capture_s")
    if t:
        whole, startup, capture = (float(t.group(i)) for i in (1, 2, 3))
        c.ok(startup > 0 and capture > 0 and abs(startup + capture - whole) < 0.01,
             f"{name}: ({tag}) startup_s + capture_s = seconds "
             f"({startup} + {capture} vs {whole})")
    prom = os.path.join(os.path.dirname(sock), "callvaultd.prom")
    text = open(prom).read() if os.path.exists(prom) else ""
    return store, text, int(m.group(1)) if m else -1


def compare_one(c, s, callvaultd, callvault, pcap_split, cap, n, expect_handover, queues):
    name = f"{os.path.basename(cap)} ({queues} queues)"
    parts = [s.path(f"{n}_q{i}.pcap") for i in range(queues)]
    p = du.run([pcap_split, cap, *parts], check=True)
    counts = [int(x) for x in re.findall(r": (\d+) frames", p.stdout)]
    c.ok(len(counts) == queues and all(k > 0 for k in counts),
         f"{name}: split into non-empty queues ({counts})")
    c.ok("out of time order: 0" in p.stdout, f"{name}: input in time order")

    one, _, drops_one = run_daemon(c, s, callvaultd, name, [cap], "0@0,1@1", f"{n}_one")
    two, prom, drops_two = run_daemon(c, s, callvaultd, name, parts, TWO_WORKERS, f"{n}_two")
    # Public captures hold frames that are not voice (counted drops): the same on both.
    c.eq(drops_two, drops_one, f"{name}: drops = one queue")
    if expect_handover:  # callgen: everything is voice
        c.eq(drops_two, 0, f"{name}: no drops")
    if expect_handover:
        got = bus_sessions_received(prom)
        c.ok(got > 0, f"{name}: media sessions handed over between workers ({got})")

    base = du.search_all(callvault, one, s.key)
    other = du.search_all(callvault, two, s.key)
    c.ok(len(base) > 0, f"{name}: one queue recorded {len(base)} call(s)")
    c.eq(len(other), len(base), f"{name}: call count = one queue")
    c.eq(other, base, f"{name}: search --json = one queue (every field)")
    legs = sum(len(x.get("legs", [])) for x in base)
    pkts = sum(leg.get("packets", 0) for x in base for leg in x.get("legs", []))
    print(f"     {name}: {len(base)} calls, {legs} legs, {pkts} RTP packets", flush=True)

    for call in base:
        cid = call["call_id"]
        shows = []
        for st in (one, two):
            p = du.offline(callvault, st, s.key, "show", cid, "--json")
            shows.append(json.loads(p.stdout) if p.returncode == 0 else f"exit {p.returncode}")
        c.eq(shows[1], shows[0], f"{name}: show {cid} --json = one queue")
        for kind, ext in (("--wav", "wav"), ("--pcap", "pcap")):
            out = []
            for tag, st in (("one", one), ("two", two)):
                path = s.path(f"{n}_{tag}_{cid}.{ext}")
                p = du.offline(callvault, st, s.key, "export", cid, kind, path)
                # A failure compares by exit code (its message names the output path).
                out.append(open(path, "rb").read() if p.returncode == 0 and
                           os.path.exists(path) else f"exit {p.returncode}")
            same = out[0] == out[1]
            size = len(out[0]) if isinstance(out[0], bytes) else out[0][:120]
            c.ok(same, f"{name}: export {cid} {kind} = one queue byte for byte ({size})")
    shutil.rmtree(one, ignore_errors=True)
    shutil.rmtree(two, ignore_errors=True)


if __name__ == "__main__":
    main()
