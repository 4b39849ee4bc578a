#!/usr/bin/env python3
"""End to end: synthetic calls from callgen -> `callvault ingest` -> search/show/export.

Each scenario generates a capture with the project's generator, whose JSON manifest says
exactly what it wrote (Call-IDs, ANI, dialled number, agent, outcome, packets per
direction after loss/duplication, DTMF digits, tones). The capture goes through the real
CLI into a fresh encrypted store; the test then compares what callvault recorded with the
manifest — an independent source, not callvault's own output — and checks exported WAVs
by their dominant frequency per channel (caller left, agent right).

Public captures: every RTP packet of an Opus (dynamic payload type) and a G.722 call
decodes on WAV export (counts from `tshark -r F -q -o rtp.heuristic_rtp:TRUE -z rtp,streams`).

usage: pipeline_manifest_test.py CALLVAULT CALLGEN DATA_DIR
"""
import json
import math
import getpass
import os
import struct
import subprocess
import sys
import tempfile
import wave

CALLVAULT, CALLGEN, DATA = sys.argv[1], sys.argv[2], sys.argv[3]

SCENARIOS = {
    # name: callgen options
    "impaired_vlan": ["--calls", "12", "--concurrency", "6", "--duration", "5:8",
                      "--codec", "mixed", "--loss", "2", "--reorder", "2",
                      "--duplicate", "2", "--vlan", "100", "--rtcp"],
    "dtmf": ["--calls", "4", "--concurrency", "2", "--duration", "6:8", "--dtmf", "59#*0"],
    "tcp_qinq": ["--calls", "6", "--concurrency", "3", "--duration", "4:6", "--sip-tcp",
                 "--tcp-split", "--tcp-coalesce", "--qinq", "200,300"],
    "fragments_tail_switch": ["--calls", "6", "--concurrency", "3", "--duration", "6:8",
                              "--fragment-sip", "--mtu", "576", "--rtp-after-bye", "800",
                              "--codec-switch-at", "3"],
    "outcomes": ["--calls", "30", "--concurrency", "10", "--duration", "3:5",
                 "--cancel", "20", "--busy", "20"],
    "erspan_nat": ["--calls", "6", "--concurrency", "3", "--duration", "4:6",
                   "--encap", "erspan2", "--nat", "50"],
}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def edge_losses(pcap, want):
    """Packets of a stream lost before its first / after its last received one."""
    out = run(["tshark", "-r", pcap, "-o", "rtp.heuristic_rtp:TRUE", "-Y",
               f"rtp.ssrc=={want['ssrc']}", "-T", "fields", "-e", "rtp.seq"]).stdout.split()
    first = want["first_seq"]
    rel = [(int(x) - first) % 65536 for x in out]
    lead = min(rel)
    trail = want["packets_before_loss"] - 1 - max(rel)
    return lead, trail


def dominant_hz(samples, rate):
    best, best_p = 0, -1.0
    for f in range(100, 2000, 50):
        w = 2 * math.pi * f / rate
        re = sum(v * math.cos(w * i) for i, v in enumerate(samples))
        im = sum(v * math.sin(w * i) for i, v in enumerate(samples))
        p = re * re + im * im
        if p > best_p:
            best, best_p = f, p
    return best


def wav_tones(path, start_s):
    with wave.open(path) as w:
        rate, n, ch = w.getframerate(), w.getnframes(), w.getnchannels()
        data = struct.unpack("<%dh" % (n * ch), w.readframes(n))
    first = int(start_s * rate)
    win = data[first * ch:(first + 800) * ch]
    return [dominant_hz(win[c::ch], rate) for c in range(ch)]


def scenario(name, opts, tmp):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    pcap, manifest_path, agents = (os.path.join(d, f) for f in
                                   ("calls.pcap", "manifest.json", "agents.csv"))
    run([CALLGEN, "-o", pcap, "--manifest", manifest_path, "--write-agents", agents,
         "--seed", str(len(name))] + opts)
    manifest = json.load(open(manifest_path))
    cfg = os.path.join(d, "callvault.toml")
    me = getpass.getuser()
    with open(cfg, "w") as f:
        f.write(f'[store]\npath = "{d}/store"\nkey_file = "{d}/master.key"\n'
                f'[agents]\ndirectory = "{agents}"\nextension_patterns = ["^2[0-9]{{3}}$"]\n'
                f'networks = ["10.20.0.0/16"]\n[media]\nmask_dtmf = false\n'
                f'[control]\nsocket = "{d}/control.sock"\nadmins = ["{me}"]\n'
                f'reviewers = ["{me}"]\nauditors = ["{me}"]\n')
    cv = [CALLVAULT, "--config", cfg, "--offline"]
    run(cv + ["keys", "init"])
    summary = json.loads(run(cv + ["ingest", pcap, "--json"]).stdout)
    found = json.loads(run(cv + ["search", "--limit", "0", "--json"]).stdout)
    by_sip = {}
    for call in found:
        for sid in call["sip_call_ids"]:
            by_sip[sid] = call
    calls = manifest["calls"]
    check(len(found) == len(calls),
          f"{name}: {len(found)} calls recorded, manifest has {len(calls)}")
    check(not summary.get("drops"), f"{name}: ingest drops {summary.get('drops')}")
    exported = 0
    for m in calls:
        sid = m["sip_call_id"]
        c = by_sip.get(sid)
        if c is None:
            failures.append(f"{name}: call {sid} not recorded")
            continue
        tag = f"{name}: {sid}"
        check(c["state"] == m["expected_state"], f"{tag}: state {c['state']} != {m['expected_state']}")
        check(c["sip_code"] == m["sip_code"], f"{tag}: sip_code {c['sip_code']} != {m['sip_code']}")
        check(c["ani"] == m["ani"], f"{tag}: ani {c['ani']} != {m['ani']}")
        check(c["dialled"] == m["dialled"], f"{tag}: dialled {c['dialled']} != {m['dialled']}")
        check(c["agent"]["name"] == m["agent"]["name"],
              f"{tag}: agent {c['agent']} != {m['agent']}")
        check(c["agent"]["id"] == m["agent"]["employee_id"],
              f"{tag}: agent id {c['agent']} != {m['agent']}")
        if m["expected_state"] != "answered":
            continue
        show = json.loads(run(cv + ["show", c["call_id"], "--json"]).stdout)
        legs = {leg["direction"]: leg for leg in show["legs"]}
        for direction, want in m["rtp"].items():
            leg = legs.get(direction)
            if leg is None:
                failures.append(f"{tag}: no {direction} leg (have {sorted(legs)})")
                continue
            check(leg["packets"] == want["packets_written"],
                  f"{tag}: {direction} packets {leg['packets']} != written {want['packets_written']}")
            check(leg["duplicates"] == want["packets_duplicated"],
                  f"{tag}: {direction} duplicates {leg['duplicates']} != {want['packets_duplicated']}")
            if leg["lost"] != want["packets_lost"]:
                # RFC 3550 A.3 counts loss between the first and the highest sequence
                # number received: packets lost before the first or after the last one
                # that arrived are invisible to any receiver. Explain a difference only
                # by those, counted independently with tshark.
                lead, trail = edge_losses(pcap, want)
                check(leg["lost"] == want["packets_lost"] - lead - trail,
                      f"{tag}: {direction} lost {leg['lost']} != {want['packets_lost']} "
                      f"(of which {lead} before the first and {trail} after the last)")
        digits = "".join(e["digit"] for e in show.get("dtmf", []) if e["source"] == "rfc4733")
        want_digits = "".join(e["digit"] for e in m.get("dtmf") or [] if e["method"] == "rfc4733")
        check(digits == want_digits, f"{tag}: DTMF {digits!r} != {want_digits!r}")
        if exported < 2:  # two WAVs per scenario: tones and channel order
            exported += 1
            wav = os.path.join(d, c["call_id"] + ".wav")
            run(cv + ["export", c["call_id"], "--wav", wav])
            # One second after answer: both parties talk, past any DTMF.
            start = (m["answer_ns"] - m["start_ns"]) / 1e9 + 1.0
            tones = wav_tones(wav, start)
            want = [m["caller"]["tone_hz"], m["agent_side"]["tone_hz"]]
            check(tones == want, f"{tag}: WAV tones {tones} != caller,agent {want}")
            pcap_out = os.path.join(d, c["call_id"] + ".pcap")
            run(cv + ["export", c["call_id"], "--pcap", pcap_out])
            check(os.path.getsize(pcap_out) > 24, f"{tag}: empty pcap export")
            if m["sip_transport"] == "udp":
                # Every frame that carried the call's SIP is evidence, every IP fragment
                # of a fragmented INVITE included (counted by tshark, against callgen).
                sip = run(["tshark", "-r", pcap_out, "-Y", "udp.port == 5060 or "
                           "ip.flags.mf == 1 or ip.frag_offset > 0 or ipv6.fragment",
                           "-T", "fields", "-e", "frame.number"]).stdout.split()
                check(len(sip) == m["sip_frames"],
                      f"{tag}: {len(sip)} SIP frames exported, callgen wrote {m['sip_frames']}")
    verify = subprocess.run(cv + ["verify"], capture_output=True, text=True)
    check(verify.returncode == 0, f"{name}: verify failed: {verify.stdout}{verify.stderr}")


# capture -> RTP packets in it (tshark rtp,streams, both directions summed)
PUBLIC_EXPORTS = {
    "sipnab_invite-opus-bye.pcap": 304,   # Opus, PT 96 (dynamic), 152 + 152
    "wswiki_sip-rtp-g722.pcap": 425,      # G.722, PT 9, one way
}


def public_exports(tmp):
    d = os.path.join(tmp, "public")
    os.makedirs(d)
    cv = [CALLVAULT, "--store", f"{d}/store", "--key-file", f"{d}/master.key"]
    run(cv + ["keys", "init"])
    for name, rtp in PUBLIC_EXPORTS.items():
        run(cv + ["ingest", os.path.join(DATA, name)])
    # Bad input: a missing or non-capture file is a usage error, one line, nothing stored.
    garbage = os.path.join(d, "not-a-capture.pcap")
    with open(garbage, "w") as f:
        f.write("garbage\n")
    for bad in (os.path.join(d, "missing.pcap"), garbage):
        r = subprocess.run(cv + ["ingest", bad], capture_output=True, text=True)
        check(r.returncode == 2, f"ingest {os.path.basename(bad)}: exit {r.returncode}, want 2")
        check(len(r.stderr.strip().splitlines()) == 1 and os.path.basename(bad) in r.stderr,
              f"ingest {os.path.basename(bad)}: error not one line naming the file: {r.stderr!r}")
    for call in json.loads(run(cv + ["search", "--limit", "0", "--json"]).stdout):
        out = json.loads(run(cv + ["export", call["call_id"], "--wav",
                                   os.path.join(d, call["call_id"] + ".wav"), "--json"]).stdout)
        tag = f"public {call['sip_call_ids']}"
        check(out["undecodable"] == 0, f"{tag}: {out['undecodable']} undecodable packets")
        check(out["packets_decoded"] in PUBLIC_EXPORTS.values(),
              f"{tag}: {out['packets_decoded']} packets decoded, expected one of "
              f"{sorted(PUBLIC_EXPORTS.values())}")


def b2bua_merge(tmp):
    """An Asterisk B2BUA whose two legs share media only after a re-INVITE (direct media):
    through the CLI the call is one call carrying both SIP Call-IDs, and the record of the
    leg absorbed at the re-INVITE names it in merged_into (calls_capture asserts the
    tshark-derived times; this checks what survives storage and the JSON contract)."""
    d = os.path.join(tmp, "b2bua")
    os.makedirs(d)
    cv = [CALLVAULT, "--store", f"{d}/store", "--key-file", f"{d}/master.key"]
    run(cv + ["keys", "init"])
    run(cv + ["ingest", os.path.join(DATA, "sipnab_b2bua-asterisk.pcapng")])
    calls = json.loads(run(cv + ["search", "--limit", "0", "--json"]).stdout)
    survivors = [c for c in calls if c.get("merged_into") is None]
    absorbed = [c for c in calls if c.get("merged_into") is not None]
    check(len(survivors) == 1 and len(absorbed) == 1,
          f"b2bua: want 1 call + 1 absorbed record, got {[(c['call_id'], c.get('merged_into')) for c in calls]}")
    if len(survivors) == 1 and len(absorbed) == 1:
        s, a = survivors[0], absorbed[0]
        check(a["merged_into"] == s["call_id"], "b2bua: merged_into names the surviving call")
        check(len(s["sip_call_ids"]) == 2 and set(a["sip_call_ids"]) <= set(s["sip_call_ids"]),
              f"b2bua: survivor Call-IDs {s['sip_call_ids']} should hold {a['sip_call_ids']}")
        check(s["state"] == "answered" and s["call_id"] < a["call_id"],
              "b2bua: the earlier call survives, answered")
        table = run(cv + ["search", "--limit", "0"]).stdout
        rows = {line.split()[0]: line.split()[3] for line in table.splitlines()[1:] if line}
        check(rows.get(a["call_id"]) == "merged:" + s["call_id"] and
              rows.get(s["call_id"]) == "answered",
              f"b2bua: the search table should show the absorbed record as merged: {table}")


def main():
    with tempfile.TemporaryDirectory(prefix="cv-e2e-") as tmp:
        try:
            public_exports(tmp)
            b2bua_merge(tmp)
        except subprocess.CalledProcessError as e:
            failures.append(f"public: {' '.join(e.cmd)} exited {e.returncode}: {e.stderr.strip()}")
        for name, opts in SCENARIOS.items():
            try:
                scenario(name, opts, tmp)
            except subprocess.CalledProcessError as e:
                failures.append(f"{name}: {' '.join(e.cmd)} exited {e.returncode}: {e.stderr.strip()}")
    for f in failures:
        print("FAIL", f)
    print(f"{len(SCENARIOS)} scenarios, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
