#!/usr/bin/env python3
"""Checks callgen's captures with an independent decoder (tshark).

usage: callgen_tshark_test.py CALLGEN CASE

Each case generates a small capture into a temporary directory and compares what tshark
decodes from it with what the options asked for and with the manifest. Expected values
come from the test's own construction (the options), never from callgen's code paths,
except where the manifest is itself under test (its counts must equal tshark's).
"""
import calendar
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

CALLGEN = None
TMP = None
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def gen(name, *args):
    pcap = os.path.join(TMP, name + ".pcap")
    manifest = os.path.join(TMP, name + ".json")
    cmd = [CALLGEN, "-o", pcap, "--manifest", manifest, *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"callgen failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    with open(manifest) as f:
        return pcap, json.load(f)


def tshark(pcap, display_filter, *fields, extra=()):
    cmd = ["tshark", "-n", "-r", pcap, "-o", "rtp.heuristic_rtp:TRUE", *extra]
    if display_filter:
        cmd += ["-Y", display_filter]
    cmd += ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields or ("frame.number",):
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"tshark failed: {' '.join(cmd)}\n{r.stderr}")
    return [line.split("\t") for line in r.stdout.splitlines()]


CHECKSUMS = ("-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
             "-o", "tcp.check_checksum:TRUE")
BASE_FIELDS = ("frame.number", "frame.time_epoch", "sip.Method", "sip.Status-Code",
               "sip.Call-ID", "sip.CSeq", "rtp.ssrc", "rtp.seq", "rtp.p_type", "rtp.marker",
               "rtp.timestamp", "rtpevent.event_id", "rtpevent.end_of_event", "udp.srcport")


class Capture:
    """One tshark pass over a capture: a row (dict of field -> text) per frame."""

    def __init__(self, pcap, *extra_fields):
        self.pcap = pcap
        fields = BASE_FIELDS + extra_fields
        self.rows = [dict(zip(fields, r)) for r in tshark(pcap, "", *fields, extra=CHECKSUMS)]

    def where(self, field, value=None):
        """Rows where `field` is present (and one of its values equals `value`)."""
        if value is None:
            return [r for r in self.rows if r.get(field)]
        return [r for r in self.rows if value in r.get(field, "").split(",")]

    def values(self, field):
        """Every value of `field` over all frames (aggregated values split)."""
        return [v for r in self.rows if r.get(field) for v in r[field].split(",")]

    def rtp_by_ssrc(self):
        """{ssrc: [rows]} of RTP packets (audio and telephone-event) in file order."""
        out = defaultdict(list)
        for r in self.rows:
            if r["rtp.ssrc"]:
                out[int(r["rtp.ssrc"], 16)].append(r)
        return out


def common_checks(pcap, m, *extra_fields):
    """Signalling complete, nothing malformed, checksums right, totals as in the manifest.
    Returns the Capture for the case's own checks."""
    cap = Capture(pcap, *extra_fields)
    calls = len(m["calls"])
    total = len(cap.rows)
    check(total == m["totals"]["frames"], f"frames {total} != manifest {m['totals']['frames']}")
    problems = tshark(pcap, "_ws.malformed || _ws.expert.severity == error || "
                      "ip.checksum.status == 0 || udp.checksum.status == 0 || "
                      "tcp.checksum.status == 0 || "
                      "(tcp.analysis.flags && !tcp.analysis.window_update)",
                      "frame.number", "_ws.col.Info", extra=CHECKSUMS)
    check(not problems, f"malformed / bad checksum / TCP analysis problems: {problems[:5]}")
    # One TCP segment may carry several messages: tshark then aggregates "100,180".
    methods = Counter(cap.values("sip.Method"))
    codes = Counter(cap.values("sip.Status-Code"))
    # Codec switches (SBC re-INVITE) and holds (the phone's hold and resume re-INVITEs).
    reinvites = sum(1 for c in m["calls"] if c["codec_switch"])
    reinvites += 2 * sum(1 for c in m["calls"] if c["hold"])
    outcome = Counter(c["outcome"] for c in m["calls"])
    answered = outcome["answered"] + outcome["no_bye"]
    check(methods["INVITE"] == calls + reinvites,
          f"INVITEs {methods['INVITE']} != {calls} + {reinvites}")
    # Every INVITE's final response is ACKed: 2xx, 486 and 487 alike.
    check(methods["ACK"] == calls + reinvites, f"ACKs {methods['ACK']}")
    check(methods["BYE"] == outcome["answered"], f"BYEs {methods['BYE']} != {outcome}")
    check(methods["CANCEL"] == outcome["cancelled"], f"CANCELs {methods['CANCEL']}")
    check(codes["100"] == calls and codes["180"] == calls - outcome["busy"],
          f"100/180 counts {codes['100']}/{codes['180']}, calls {calls}, {outcome}")
    infos = sum(1 for c in m["calls"] for d in c["dtmf"] if d["method"] == "sip_info")
    check(methods["INFO"] == infos, f"INFOs {methods['INFO']} != {infos}")
    check(codes["200"] == answered + reinvites + outcome["answered"] + outcome["cancelled"]
          + infos, f"200 OKs {codes['200']}, {outcome}, re-INVITEs {reinvites}")
    check(codes["486"] == outcome["busy"] and codes["487"] == outcome["cancelled"],
          f"486/487 counts {codes['486']}/{codes['487']}, {outcome}")
    ids = {r["sip.Call-ID"] for r in cap.where("sip.Method", "INVITE")}
    check(ids == {c["sip_call_id"] for c in m["calls"]}, "Call-IDs differ from the manifest")
    return cap


def streams_of(m):
    for c in m["calls"]:
        for key in ("caller_to_agent", "agent_to_caller"):
            yield c, key, c["rtp"][key]


# --- cases ---------------------------------------------------------------------------

def case_basic():
    start = "2031-02-28T23:59:50Z"
    pcap, m = gen("basic", "--calls", "4", "--concurrency", "2", "--duration", "3",
                  "--start", start, "--seed", "7")
    cap = common_checks(pcap, m)
    info = subprocess.run(["capinfos", "-M", pcap], capture_output=True, text=True).stdout
    check("nanoseconds" in info and "Ethernet" in info, "not a nanosecond Ethernet pcap")
    first = cap.rows[0]["frame.time_epoch"]
    want = calendar.timegm((2031, 2, 28, 23, 59, 50, 0, 0, 0))
    check(first == f"{want}.000000000", f"first frame at {first}, expected {start}")
    check(m["calls"][0]["start"] == "2031-02-28T23:59:50.000Z", "manifest start")
    times = [float(r["frame.time_epoch"]) for r in cap.rows]
    check(times == sorted(times), "frames not in time order")
    rtp = cap.rtp_by_ssrc()
    check(len(rtp) == 8, f"{len(rtp)} RTP streams, expected 8")
    for c, key, s in streams_of(m):
        pkts = rtp.get(s["ssrc"], [])
        # 3 s of 20 ms packets, minus the 10/30 ms each side starts after the 200 OK.
        expect = 150 if key == "agent_to_caller" else 149
        check(len(pkts) == expect == s["packets_written"],
              f"{key} of call {c['index']}: {len(pkts)} packets, manifest "
              f"{s['packets_written']}, expected {expect}")
        check(all(p["rtp.p_type"] == "0" for p in pkts), "payload type other than PCMU")
        check(pkts and pkts[0]["rtp.marker"] == "1"
              and all(p["rtp.marker"] == "0" for p in pkts[1:]),
              "marker bit not exactly on the first packet")
        ts = [int(p["rtp.timestamp"]) for p in pkts]
        check(all((b - a) % 2**32 == 160 for a, b in zip(ts, ts[1:])),
              "RTP timestamps do not advance by 160")
    # Concurrency 2: call 1 overlaps call 0, calls 2/3 follow them on the same slots.
    c0, c1, c2 = m["calls"][0], m["calls"][1], m["calls"][2]
    check(c1["start_ns"] < c0["end_ns"], "calls 0 and 1 do not overlap")
    check(c2["start_ns"] > c0["end_ns"], "call 2 starts before call 0 ends")
    check(c2["agent"] == c0["agent"], "slot 0 does not keep its agent")


def case_codec_mixed_switch():
    pcap, m = gen("switch", "--calls", "6", "--duration", "4", "--codec", "mixed",
                  "--codec-switch-at", "2", "--seed", "3")
    cap = common_checks(pcap, m, "sip.CSeq.seq", "sdp.media.format", "sdp.mime.type")
    check(len({c["codec"] for c in m["calls"]}) == 2, "mixed did not produce both laws")
    rtp = cap.rtp_by_ssrc()
    for c, key, s in streams_of(m):
        pkts = rtp[s["ssrc"]]
        pts = [int(p["rtp.p_type"]) for p in pkts]
        first = 0 if c["codecs"][0] == "PCMU" else 8
        second = 8 - first
        at = pts.index(second) if second in pts else -1
        check(at > 0 and set(pts[:at]) == {first} and set(pts[at:]) == {second},
              f"call {c['index']} {key}: payload types do not switch once {first}->{second}")
        t = float(pkts[at]["frame.time_epoch"])
        check(t * 1e9 >= c["answer_ns"] + 2e9, "codec switched before the re-INVITE")
    # The re-INVITE offers only the other law, plus telephone-event.
    sdp = {r["sip.Call-ID"]: r for r in cap.where("sip.Method", "INVITE")
           if r["sip.CSeq.seq"] == "2"}
    check(len(sdp) == 6, f"{len(sdp)} re-INVITEs with SDP, expected 6")
    for c in m["calls"]:
        r = sdp.get(c["sip_call_id"], {})
        fmt = r.get("sdp.media.format", "")
        laws = [f for f in fmt.split(",") if f.startswith("ITU-T G.711")]
        check(laws == ["ITU-T G.711 " + c["codecs"][1]]
              and "telephone-event" in r.get("sdp.mime.type", ""),
              f"call {c['index']}: re-INVITE SDP offers {fmt}")


def case_vlan():
    pcap, m = gen("vlan", "--calls", "2", "--duration", "2", "--vlan", "100")
    cap = common_checks(pcap, m, "vlan.id")
    check(all(r["vlan.id"] == "100" for r in cap.rows), "not every frame has VLAN 100")
    pcap, m = gen("qinq", "--calls", "2", "--duration", "2", "--qinq", "200,300")
    cap = common_checks(pcap, m, "ieee8021ad.id", "vlan.id", "eth.type")
    check(all(r["ieee8021ad.id"] == "200" and r["vlan.id"] == "300" for r in cap.rows),
          "QinQ tags missing or wrong")
    check(all(r["eth.type"].startswith("0x88a8") for r in cap.rows),
          "outer TPID is not 0x88a8")


def case_fragment():
    pcap, m = gen("frag", "--calls", "3", "--duration", "2", "--fragment-sip", "--mtu", "576")
    cap = common_checks(pcap, m, "ip.flags.mf", "ip.frag_offset", "ip.len",
                        "ip.fragment.count", "sdp.media.port")
    frags = [r for r in cap.rows if r["ip.flags.mf"] == "1" or r["ip.frag_offset"] not in
             ("", "0")]
    check(len(frags) > 0 and all(int(r["ip.len"]) <= 576 for r in frags),
          "no fragments, or fragments above the MTU")
    # The INVITE (SDP offer, ~930 bytes) does not fit in 576: two fragments, reassembled.
    inv = cap.where("sip.Method", "INVITE")
    check(len(inv) == 3 and all(r["ip.fragment.count"] == "2" and r["sdp.media.port"]
                                for r in inv),
          f"INVITEs not reassembled from 2 fragments with their SDP: {inv}")
    check(len(cap.rtp_by_ssrc()) == 6, "RTP streams not set up from the reassembled SDP")


def case_tcp():
    pcap, m = gen("tcp", "--calls", "3", "--duration", "2", "--sip-tcp", "--tcp-split",
                  "--tcp-coalesce", "--sip-port", "5080")
    cap = common_checks(pcap, m, "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin",
                        "tcp.dstport", "tcp.srcport", "tcp.segment.count", "sdp.media.port")
    check(sum(1 for r in cap.rows if r["tcp.flags.syn"] == "1" and r["tcp.flags.ack"] == "0")
          == 3, "SYNs")
    check(sum(1 for r in cap.rows if r["tcp.flags.fin"] == "1") == 6, "FINs")
    sip = [r for r in cap.rows if r["sip.Method"] or r["sip.Status-Code"]]
    check(sip and all("5080" in (r["tcp.srcport"], r["tcp.dstport"]) for r in sip),
          "SIP not carried over TCP port 5080")
    # --tcp-coalesce: 100 Trying and 180 Ringing in one segment.
    both = [r for r in cap.rows if r["sip.Status-Code"] == "100,180"]
    check(len(both) == 3, f"{len(both)} segments carry 100+180, expected 3")
    # --tcp-split: INVITEs are reassembled from two segments.
    inv = cap.where("sip.Method", "INVITE")
    check(len(inv) == 3 and all(r["tcp.segment.count"] == "2" and r["sdp.media.port"]
                                for r in inv),
          f"INVITEs not reassembled from 2 TCP segments with their SDP: {inv}")
    check(len(cap.rtp_by_ssrc()) == 6, "RTP streams not set up from SDP over TCP")


def case_dtmf():
    pcap, m = gen("dtmf", "--calls", "2", "--duration", "5", "--dtmf", "15#*",
                  "--dtmf-at", "1.5")
    cap = common_checks(pcap, m)
    want = [1, 5, 11, 10]
    rtp = cap.rtp_by_ssrc()
    for c in m["calls"]:
        s = c["rtp"]["caller_to_agent"]
        pkts = rtp[s["ssrc"]]
        ev = [p for p in pkts if p["rtp.p_type"] == "101"]
        check(len(ev) == 7 * len(want) == s["dtmf_packets"],
              f"call {c['index']}: {len(ev)} event packets")
        check(all(p["rtpevent.event_id"] for p in ev), "tshark did not decode the events")
        starts = [int(p["rtpevent.event_id"]) for p in ev if p["rtp.marker"] == "1"]
        check(starts == want, f"call {c['index']}: event starts {starts} != {want}")
        ends = Counter(int(p["rtpevent.event_id"]) for p in ev
                       if p["rtpevent.end_of_event"] == "1")
        check(all(ends[e] == 3 for e in want), "end packet not sent 3 times")
        for digit in want:
            group = [p for p in ev if int(p["rtpevent.event_id"]) == digit]
            check(len({p["rtp.timestamp"] for p in group}) == 1,
                  "event timestamp changes within an event")
        # Audio pauses while an event is sent: between an event's first and last packet
        # only telephone-event packets.
        idx = [i for i, p in enumerate(pkts) if p["rtp.p_type"] == "101"]
        for k in range(0, len(idx), 7):
            span = pkts[idx[k]:idx[k + 6] + 1]
            check(all(p["rtp.p_type"] == "101" for p in span), "audio inside a DTMF event")
        check([d["digit"] for d in c["dtmf"]] == list("15#*"), "manifest digits")
        first_ev = float(ev[0]["frame.time_epoch"])
        check(abs(first_ev * 1e9 - c["dtmf"][0]["time_ns"]) < 1e6, "manifest DTMF time")
        check(abs(c["dtmf"][0]["offset_from_answer_ms"] - 1500) <= 40, "DTMF offset")
    check(not any(p["rtp.p_type"] == "101" for c in m["calls"]
                  for p in rtp[c["rtp"]["agent_to_caller"]["ssrc"]]), "agent sent DTMF")


def case_impairments():
    pcap, m = gen("impair", "--calls", "4", "--duration", "6", "--loss", "5", "--reorder",
                  "4", "--duplicate", "3", "--seed", "11")
    cap = common_checks(pcap, m)
    rtp = cap.rtp_by_ssrc()
    tot = Counter()
    for c, key, s in streams_of(m):
        seqs = [int(p["rtp.seq"]) for p in rtp[s["ssrc"]]]
        tot["lost"] += s["packets_lost"]
        tot["dup"] += s["packets_duplicated"]
        tot["reord"] += s["packets_reordered"]
        check(len(seqs) == s["packets_written"], f"{key}: {len(seqs)} packets in file, "
              f"manifest {s['packets_written']}")
        check(len(set(seqs)) == s["packets_before_loss"] - s["packets_lost"],
              f"{key}: distinct seqs {len(set(seqs))} != sent - lost")
        check(len(seqs) - len(set(seqs)) == s["packets_duplicated"], f"{key}: duplicates")
        # Each reordered packet shows as one step back in sequence (mod 2^16).
        back = sum(1 for a, b in zip(seqs, seqs[1:]) if 0 < (a - b) % 65536 < 32768)
        check(back == s["packets_reordered"], f"{key}: {back} steps back, manifest "
              f"{s['packets_reordered']}")
        # The sequence space spans every packet sent (loss leaves gaps, not renumbering).
        offs = {(q - s["first_seq"]) % 65536 for q in seqs}
        check(max(offs) < s["packets_before_loss"], f"{key}: seq beyond what was sent")
    sent = m["totals"]["rtp_packets_before_loss"]
    # 5 % / 4 % / 3 % of ~2,380 packets: far from zero and from double.
    check(0.025 * sent < tot["lost"] < 0.08 * sent, f"loss {tot['lost']} of {sent}")
    check(0.01 * sent < tot["dup"] < 0.06 * sent, f"duplicates {tot['dup']} of {sent}")
    check(0.01 * sent < tot["reord"] < 0.07 * sent, f"reordered {tot['reord']} of {sent}")


def case_rtp_after_bye():
    pcap, m = gen("afterbye", "--calls", "3", "--rtp-after-bye", "600", "--rtcp",
                  "--duration", "11")
    cap = common_checks(pcap, m, "rtcp.pt", "rtcp.senderssrc", "rtcp.sender.packetcount")
    byes = {r["sip.Call-ID"]: float(r["frame.time_epoch"]) for r in cap.where("sip.Method",
                                                                              "BYE")}
    rtp = cap.rtp_by_ssrc()
    for c, key, s in streams_of(m):
        bye = byes[c["sip_call_id"]]
        after = [p for p in rtp[s["ssrc"]] if float(p["frame.time_epoch"]) > bye]
        # 600 ms past the BYE at 20 ms: 30 packets (the grid may put one more or less).
        check(29 <= len(after) <= 31, f"{key}: {len(after)} RTP packets after BYE")
    srs = cap.where("rtcp.pt", "200")
    # 11.6 s of media: SRs at 5 s and 10 s per direction.
    check(len(srs) == 3 * 2 * 2 == m["totals"]["rtcp_packets"], f"{len(srs)} sender reports")
    for r in srs:  # the SR's packet count is what its sender had sent by then
        ssrc = int(r["rtcp.senderssrc"].split(",")[0], 16)
        sent = sum(1 for p in rtp[ssrc] if float(p["frame.time_epoch"]) <=
                   float(r["frame.time_epoch"]))
        check(abs(int(r["rtcp.sender.packetcount"]) - sent) <= 1,
              f"SR packet count {r['rtcp.sender.packetcount']} vs {sent} sent")


def case_determinism_and_agents():
    a, _ = gen("det1", "--calls", "3", "--duration", "2", "--seed", "5", "--loss", "3")
    b, _ = gen("det2", "--calls", "3", "--duration", "2", "--seed", "5", "--loss", "3")
    c, _ = gen("det3", "--calls", "3", "--duration", "2", "--seed", "6", "--loss", "3")
    with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
        da, db, dc = fa.read(), fb.read(), fc.read()
    check(da == db, "same seed, different output")
    check(da != dc, "different seed, same output")
    csv = os.path.join(TMP, "agents.csv")
    with open(csv, "w") as f:
        f.write("extension,name,employee_id\n3101,Ada Lovelace,E900001\n"
                "3102,Alan Turing,E900002\n")
    pcap, m = gen("agents", "--calls", "4", "--concurrency", "2", "--duration", "2",
                  "--agents", csv, "--write-agents", os.path.join(TMP, "out.csv"))
    cap = common_checks(pcap, m, "sip.pai.display.info", "sip.r-uri.user", "sdp.media.port")
    names = {c["agent"]["name"] for c in m["calls"]}
    check(names == {"Ada Lovelace", "Alan Turing"}, f"agents {names}")
    pai = [r["sip.pai.display.info"].strip('"') for r in cap.where("sip.Status-Code", "200")
           if r["sdp.media.port"]]
    ruri = [r["sip.r-uri.user"] for r in cap.where("sip.Method", "INVITE")]
    check(sorted(pai) == sorted(c["agent"]["name"] for c in m["calls"]),
          f"P-Asserted-Identity display names {pai}")
    check(sorted(ruri) == sorted(c["agent"]["extension"] for c in m["calls"]),
          "Request-URI users are not the agents' extensions")
    with open(os.path.join(TMP, "out.csv")) as f:
        check(f.read().splitlines()[1] == "3101,Ada Lovelace,E900001", "--write-agents")
    r = subprocess.run([CALLGEN, "-o", os.path.join(TMP, "x.pcap"), "--loss", "120"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "--loss" in r.stderr, f"bad option: {r.returncode} {r.stderr}")


def case_outcomes():
    pcap, m = gen("outcomes", "--calls", "16", "--concurrency", "8", "--duration", "3",
                  "--cancel", "20", "--busy", "20", "--no-bye", "20",
                  "--ssrc-change-at", "1.5", "--seed", "4")
    cap = common_checks(pcap, m)
    kinds = Counter(c["outcome"] for c in m["calls"])
    check(len(kinds) == 4, f"not every outcome drawn: {kinds}")
    # Final response to each initial INVITE, by Call-ID, as tshark sees it.
    final = {}
    for r in cap.where("sip.Status-Code"):
        if r["sip.CSeq"] == "1 INVITE" and int(r["sip.Status-Code"]) >= 200:
            final[r["sip.Call-ID"]] = int(r["sip.Status-Code"])
    byes = {r["sip.Call-ID"] for r in cap.where("sip.Method", "BYE")}
    rtp = cap.rtp_by_ssrc()
    media_ports = Counter(int(r["udp.srcport"]) for r in cap.where("rtp.ssrc"))
    for c in m["calls"]:
        cid = c["sip_call_id"]
        check(final.get(cid) == c["sip_code"], f"call {c['index']}: final {final.get(cid)} "
              f"!= {c['sip_code']} ({c['outcome']})")
        check((cid in byes) == (c["outcome"] == "answered"), f"call {c['index']}: BYE")
        port = int(c["caller"]["media"].split(":")[1])
        if c["answer"] is None:
            check(media_ports[port] == 0, f"call {c['index']}: RTP without an answer")
            continue
        s = c["rtp"]["caller_to_agent"]
        ch = s["ssrc_change"]
        check(ch is not None, f"call {c['index']}: no SSRC change")
        old, new = rtp[s["ssrc"]], rtp[ch["ssrc"]]
        check(len(old) + len(new) == s["packets_written"]
              and len(new) == ch["packets_written"] > 0,
              f"call {c['index']}: {len(old)}+{len(new)} packets, manifest "
              f"{s['packets_written']} ({ch['packets_written']} after the change)")
        for pk, first in ((old, s["first_seq"]), (new, ch["first_seq"])):
            seqs = [int(p["rtp.seq"]) for p in pk]
            check(seqs == [(first + k) % 65536 for k in range(len(seqs))],
                  f"call {c['index']}: sequence not contiguous from {first}")
            check(pk[0]["rtp.marker"] == "1" and all(p["rtp.marker"] == "0" for p in pk[1:]),
                  f"call {c['index']}: marker not only on the first packet of the SSRC")


def case_nat():
    pcap, m = gen("nat", "--calls", "8", "--concurrency", "8", "--duration", "2", "--nat",
                  "50", "--seed", "2")
    cap = common_checks(pcap, m, "ip.src", "sdp.connection_info.address", "sdp.media.port",
                        "udp.dstport")
    nat = [c for c in m["calls"] if c["agent_side"]["nat"]]
    check(0 < len(nat) < 8, f"{len(nat)} of 8 calls behind NAT")
    answers = {r["sip.Call-ID"]: r for r in cap.where("sip.Status-Code", "200")
               if r["sdp.media.port"]}
    rtp = cap.rtp_by_ssrc()
    for c in m["calls"]:
        a = c["agent_side"]
        wire_ip, wire_port = a["media"].split(":")
        sdp_ip, sdp_port = a["sdp_media"].split(":")
        r = answers[c["sip_call_id"]]
        # The phone announces its own (private) address; the packets carry the NAT's.
        check(r["sdp.connection_info.address"] == sdp_ip and r["sdp.media.port"] == sdp_port,
              f"call {c['index']}: SDP answer {r['sdp.connection_info.address']}:"
              f"{r['sdp.media.port']} != {a['sdp_media']}")
        check(r["ip.src"] == a["sip"].split(":")[0]
              and r["udp.srcport"] == a["sip"].split(":")[1],
              f"call {c['index']}: 200 OK from {r['ip.src']}:{r['udp.srcport']}")
        check(a["nat"] == (sdp_ip != wire_ip and sdp_ip.startswith("192.168.")),
              f"call {c['index']}: NAT flag and addresses disagree")
        up = rtp[c["rtp"]["agent_to_caller"]["ssrc"]]
        down = rtp[c["rtp"]["caller_to_agent"]["ssrc"]]
        check(len(up) == c["rtp"]["agent_to_caller"]["packets_written"]
              and all(p["ip.src"] == wire_ip and p["udp.srcport"] == wire_port for p in up),
              f"call {c['index']}: agent RTP not from {a['media']}")
        # Symmetric RTP: the SBC sends to where the agent's media comes from.
        check(all(p["udp.dstport"] == wire_port for p in down),
              f"call {c['index']}: SBC RTP not sent to {a['media']}")


def case_dtmf_info():
    pcap, m = gen("info", "--calls", "3", "--duration", "6", "--dtmf", "5#1", "--dtmf-info",
                  "--codec-switch-at", "2.2", "--seed", "8")
    cap = common_checks(pcap, m, "sip.Content-Type", "text", "ip.src")
    check(not cap.where("rtpevent.event_id"), "RFC 4733 events sent with --dtmf-info")
    for c in m["calls"]:
        cid = c["sip_call_id"]
        infos = [r for r in cap.where("sip.Method", "INFO") if r["sip.Call-ID"] == cid]
        digits = [t[len("Signal="):].replace("\\r\\n", "") for r in infos
                  for t in r["text"].split(",") if t.startswith("Signal=")]
        check(digits == list("5#1") == [d["digit"] for d in c["dtmf"]],
              f"call {c['index']}: INFO digits {digits}")
        check(all(r["sip.Content-Type"] == "application/dtmf-relay" for r in infos),
              "INFO Content-Type")
        check(all(abs(float(r["frame.time_epoch"]) * 1e9 - d["time_ns"]) < 1e6
                  for r, d in zip(infos, c["dtmf"])), "INFO times differ from the manifest")
        check(all(d["method"] == "sip_info" for d in c["dtmf"]), "manifest DTMF method")
        # The SBC's requests (ACKs aside) carry strictly increasing CSeq numbers.
        sbc = c["caller"]["sip"].split(":")[0]
        seqs = [int(r["sip.CSeq"].split()[0]) for r in cap.rows
                if r["sip.Call-ID"] == cid and r["ip.src"] == sbc
                and r["sip.Method"] not in ("", "ACK")]
        check(seqs == sorted(set(seqs)) and len(seqs) >= 5,
              f"call {c['index']}: CSeq order {seqs}")


def case_hold():
    pcap, m = gen("hold", "--calls", "3", "--duration", "6", "--hold-at", "1.5", "--hold-for",
                  "2", "--dtmf", "12", "--dtmf-at", "1.2", "--seed", "6")
    cap = common_checks(pcap, m, "sdp.media_attr", "ip.src")
    rtp = cap.rtp_by_ssrc()
    for c in m["calls"]:
        h = c["hold"]
        check(h is not None, f"call {c['index']}: no hold")
        if h is None:
            continue
        agent_ip = c["agent_side"]["sip"].split(":")[0]
        dirs = [(r["ip.src"] == agent_ip, [a for a in r["sdp.media_attr"].split(",")
                                           if a in ("sendonly", "recvonly", "sendrecv")])
                for r in cap.rows if r["sip.Call-ID"] == c["sip_call_id"] and r["sdp.media_attr"]]
        # offer, answer, hold (phone sendonly / SBC recvonly), resume (both sendrecv)
        want = [(False, ["sendrecv"]), (True, ["sendrecv"]), (True, ["sendonly"]),
                (False, ["recvonly"]), (True, ["sendrecv"]), (False, ["sendrecv"])]
        check(dirs == want, f"call {c['index']}: SDP directions {dirs}")
        up = rtp[c["rtp"]["caller_to_agent"]["ssrc"]]
        t0, t1 = h["start_ns"] / 1e9, h["end_ns"] / 1e9
        held = [p for p in up if t0 + 0.05 < float(p["frame.time_epoch"]) < t1 + 0.04]
        check(not held, f"call {c['index']}: {len(held)} caller packets during the hold")
        seqs = [int(p["rtp.seq"]) for p in up]
        first = c["rtp"]["caller_to_agent"]["first_seq"]
        check(seqs == [(first + k) % 65536 for k in range(len(seqs))],
              f"call {c['index']}: sequence not contiguous across the hold")
        gap = [(i, p) for i, p in enumerate(up[1:], 1)
               if float(p["frame.time_epoch"]) - float(up[i - 1]["frame.time_epoch"]) > 1]
        check(len(gap) == 1, f"call {c['index']}: {len(gap)} gaps in the caller's RTP")
        if gap:
            i, p = gap[0]
            # Timestamps follow the clock across the hold (compare with the last audio
            # packet: telephone-events carry their event's start time).
            q = [x for x in up[:i] if x["rtp.p_type"] != "101"][-1]
            dts = (int(p["rtp.timestamp"]) - int(q["rtp.timestamp"])) % 2**32
            dt = float(p["frame.time_epoch"]) - float(q["frame.time_epoch"])
            check(abs(dts / 8000 - dt) < 0.002, f"timestamp jump {dts} for {dt:.3f} s")
            check(p["rtp.marker"] == "1", "no marker on the first packet after the hold")
            gap_s = float(p["frame.time_epoch"]) - float(up[i - 1]["frame.time_epoch"])
            check(abs(gap_s - 2.0) < 0.03, f"hold gap {gap_s:.3f} s, expected 2 s")
        down = rtp[c["rtp"]["agent_to_caller"]["ssrc"]]
        check(len(down) == c["rtp"]["agent_to_caller"]["packets_written"] == 300,
              "the agent's RTP should continue through the hold")
        check(len(up) == c["rtp"]["caller_to_agent"]["packets_written"], "caller count")
        # Digit 1 (1.2 s) fits before the hold; digit 2 would overlap it and moves past it.
        ev = [float(p["frame.time_epoch"]) for p in up if p["rtp.p_type"] == "101"]
        check(len(ev) == 14 and ev[6] < t0 + 0.06 and ev[7] > t1,
              f"call {c['index']}: DTMF events not placed around the hold")


def case_encap():
    fields = ("ip.src", "gre.proto", "gre.key", "gre.sequence_number", "erspan.version",
              "erspan.spanid", "vxlan.vni", "vlan.id", "ip.fragment.count")
    for kind, proto, version in (("gre", "0x6558", ""), ("erspan2", "0x88be", "1"),
                                 ("erspan3", "0x22eb", "2"), ("vxlan", "", "")):
        pcap, m = gen("encap_" + kind, "--calls", "2", "--duration", "2", "--encap", kind,
                      "--encap-id", "42", "--vlan", "30", "--fragment-sip", "--seed", "12")
        cap = common_checks(pcap, m, *fields)
        rows = cap.rows
        check(all(r["ip.src"].startswith("192.0.2.1,") for r in rows),
              f"{kind}: outer source is not the mirroring switch on every frame")
        check(all(r["vlan.id"] == "30" for r in rows), f"{kind}: inner VLAN tag lost")
        check(len(cap.where("ip.fragment.count")) > 0, f"{kind}: no reassembled fragments")
        check(len(cap.rtp_by_ssrc()) == 4, f"{kind}: inner RTP streams not decoded")
        if kind == "vxlan":
            check(all(r["vxlan.vni"] == "42" for r in rows), "VXLAN VNI")
            continue
        check(all(r["gre.proto"] == proto for r in rows), f"{kind}: GRE protocol")
        if kind == "gre":
            check(all(int(r["gre.key"], 16) == 42 for r in rows), "GRE key")
        else:
            check(all(r["erspan.version"] == version and r["erspan.spanid"] == "42"
                      for r in rows), f"{kind}: ERSPAN version/session")
            check([int(r["gre.sequence_number"]) for r in rows] == list(range(len(rows))),
                  f"{kind}: GRE sequence numbers do not count frames in file order")


def case_ipv6():
    pcap, m = gen("ipv6", "--calls", "3", "--duration", "2", "--ipv6", "--fragment-sip",
                  "--mtu", "576", "--dtmf", "7", "--dtmf-at", "0.5", "--seed", "13")
    cap = common_checks(pcap, m, "ipv6.src", "ip.src", "sdp.connection_info.address_type",
                        "sdp.connection_info.address", "ipv6.fragment.count")
    check(not cap.where("ip.src"), "IPv4 packets in an --ipv6 capture")
    check(all(r["ipv6.src"].startswith("2001:db8:") for r in cap.rows), "IPv6 sources")
    sdp = cap.where("sdp.connection_info.address_type")
    check(len(sdp) == 6 and all(r["sdp.connection_info.address_type"] == "IP6" for r in sdp),
          "SDP offers/answers not IN IP6")
    for c in m["calls"]:
        media = {r["sdp.connection_info.address"] for r in sdp if r["sip.Call-ID"] == c["sip_call_id"]}
        want = {c["caller"]["media"].rsplit(":", 1)[0].strip("[]"),
                c["agent_side"]["media"].rsplit(":", 1)[0].strip("[]")}
        check(media == want, f"call {c['index']}: SDP addresses {media} != {want}")
    inv = cap.where("sip.Method", "INVITE")
    check(len(inv) == 3 and all(r["ipv6.fragment.count"] == "2" for r in inv),
          "INVITEs not reassembled from 2 IPv6 fragments")
    rtp = cap.rtp_by_ssrc()
    for c, key, s in streams_of(m):
        check(len(rtp[s["ssrc"]]) == s["packets_written"] > 0, f"{key}: RTP over IPv6")
    check(len(cap.where("rtpevent.event_id")) == 3 * 7, "DTMF over IPv6")
    pcap, m = gen("ipv6tcp", "--calls", "2", "--duration", "2", "--ipv6", "--sip-tcp",
                  "--tcp-split")
    cap = common_checks(pcap, m)
    check(len(cap.rtp_by_ssrc()) == 4, "RTP streams not set up from SDP over TCP/IPv6")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    global CALLGEN, TMP
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        raise SystemExit(f"usage: {sys.argv[0]} CALLGEN ({'|'.join(CASES)})")
    CALLGEN = sys.argv[1]
    if shutil.which("tshark") is None or shutil.which("capinfos") is None:
        print("tshark not installed (scripts/setup installs it): skipped")
        return 77
    with tempfile.TemporaryDirectory(prefix="callgen_test_") as tmp:
        TMP = tmp
        CASES[sys.argv[2]]()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
