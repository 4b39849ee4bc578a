#!/usr/bin/env python3
"""daemon_equiv: the same capture through callvaultd with DPDK (net_pcap vdev,
stop_at_eof), through callvaultd with libpcap (capture.files) and through the offline
`callvault ingest` gives the same calls, legs, packet counts and exported audio.

Usage: daemon_equiv_test.py CALLVAULTD CALLVAULT CALLGEN TEST_DATA_DIR
Needs root (EAL). For each capture: three fresh stores with one master key; then
`search --json` (all calls), `show --json` per call and `export --wav` per call are
compared field by field and byte by byte across the three stores. The synthetic capture
from callgen is written with nanosecond timestamps; net_pcap reads files at microsecond
precision (docs/DPDK.md), so it is converted to a microsecond pcap with editcap first
(the same file then goes through all three paths).
"""
import json
import os
import shutil
import sys

import daemon_util as du

CAPTURES = [
    "heplify_sip_ipv4_tcp_rtp_pcma.pcap",
    "sipnab_rtp-protocol_prack.pcap",
    "wswiki_sip-rtp-g711.pcap",
    "wswiki_SIP_CALL_RTP_G711.pcap",
]


def main():
    callvaultd, callvault, callgen, data = sys.argv[1:5]
    du.need_root("daemon_equiv")
    c = du.Checks("daemon_equiv")
    s = du.Scratch(callvault, "cv_daemon_equiv.")
    try:
        captures = [os.path.join(data, n) for n in CAPTURES]
        # One synthetic capture: 12 concurrent G.711 calls with loss, reordering, DTMF.
        ns = s.path("synthetic_ns.pcap")
        du.run([callgen, "-o", ns, "--calls", "12", "--concurrency", "12", "--duration", "6",
                "--codec", "mixed", "--loss", "1", "--reorder", "1", "--dtmf", "42#",
                "--dtmf-at", "2", "--seed", "7"], check=True)
        if shutil.which("editcap"):
            us = s.path("synthetic.pcap")
            du.run(["editcap", "-F", "pcap", ns, us], check=True)
            captures.append(us)
        else:
            c.ok(False, "editcap (wireshark-common) is needed for the synthetic capture")
        for n, cap in enumerate(captures):
            compare_one(c, s, callvaultd, callvault, cap, n)
    finally:
        s.cleanup()
    c.finish()


def compare_one(c, s, callvaultd, callvault, cap, n):
    name = os.path.basename(cap)
    stores = {}
    for path in ("pcap", "dpdk"):
        store = s.path(f"{n}_{path}_store")
        cfg = du.write_config(
            s.path(f"{n}_{path}.toml"), store=store, key=s.key,
            socket=s.path(f"{n}_{path}_run", "control.sock"), source=path,
            files=[cap] if path == "pcap" else (),
            eal_args=du.dpdk_file_eal(f"cv_equiv_{os.getpid()}_{n}", [cap])
            if path == "dpdk" else (),
            stop_at_eof=True)
        p = du.run([callvaultd, "--config", cfg], timeout=300)
        c.ok(p.returncode == 0,
             f"{name}: callvaultd ({path}) exits 0 at end of file"
             + ("" if p.returncode == 0 else f" (exit {p.returncode}: {p.stderr.strip()[-400:]})"))
        stores[path] = store
    ingest_store = s.path(f"{n}_ingest_store")
    p = du.offline(callvault, ingest_store, s.key, "ingest", cap, "--json")
    c.ok(p.returncode == 0, f"{name}: callvault ingest exits 0"
         + ("" if p.returncode == 0 else f" ({p.stderr.strip()})"))
    stores["ingest"] = ingest_store

    found = {k: du.search_all(callvault, v, s.key) for k, v in stores.items()}
    base = found["pcap"]
    c.ok(len(base) > 0, f"{name}: libpcap path recorded {len(base)} call(s)")
    for other in ("dpdk", "ingest"):
        c.eq(len(found[other]), len(base), f"{name}: {other} call count = libpcap")
        c.eq(found[other], base, f"{name}: search --json, {other} = libpcap (every field)")

    ids = [x["call_id"] for x in base]
    legs = sum(len(x.get("legs", [])) for x in base)
    pkts = sum(l.get("packets", 0) for x in base for l in x.get("legs", []))
    print(f"     {name}: {len(ids)} calls, {legs} legs, {pkts} RTP packets", flush=True)
    for cid in ids:
        shows = {}
        for k, st in stores.items():
            p = du.offline(callvault, st, s.key, "show", cid, "--json")
            shows[k] = json.loads(p.stdout) if p.returncode == 0 else f"exit {p.returncode}"
        for other in ("dpdk", "ingest"):
            c.eq(shows[other], shows["pcap"], f"{name}: show {cid} --json, {other} = libpcap")
        wavs = {}
        for k, st in stores.items():
            out = s.path(f"{n}_{k}_{cid}.wav")
            p = du.offline(callvault, st, s.key, "export", cid, "--wav", out)
            wavs[k] = open(out, "rb").read() if p.returncode == 0 and os.path.exists(out) \
                else f"exit {p.returncode}: {p.stderr.strip()}"
        has_audio = isinstance(wavs["pcap"], bytes)
        if has_audio:
            samples = du.wav_samples(s.path(f"{n}_pcap_{cid}.wav"))
            print(f"     {cid}: WAV {len(wavs['pcap'])} bytes, "
                  f"{len(samples) if samples else 0} sample bytes", flush=True)
        for other in ("dpdk", "ingest"):
            c.ok(wavs[other] == wavs["pcap"],
                 f"{name}: export {cid} --wav, {other} = libpcap byte for byte"
                 + ("" if has_audio else f" (both: {str(wavs['pcap'])[:120]})"))


if __name__ == "__main__":
    main()
