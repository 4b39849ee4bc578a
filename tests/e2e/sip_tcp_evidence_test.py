#!/usr/bin/env python3
"""End to end: SIP over TCP split across segments keeps every segment frame as evidence.

The test builds its own capture (Ethernet/IPv4/TCP, checksums computed here): one call
over one TCP connection whose INVITE with SDP is split across three segments sent out of
order (1, 3, 2) with segment 2 then retransmitted; the 200 OK's SDP is split in two; the
ACK and the start of the BYE share one segment. It runs the real CLI (`keys init`,
`ingest`, `search`, `show`, `export --pcap`) and checks the exported capture against the
frames the test itself wrote, for calls starting in 2026, 2040 and 2106:
  - it holds exactly the TCP frames that carried SIP bytes, each once, byte for byte with
    its capture time: the exact retransmission is not evidence (a duplicate of bytes
    already seen), the shared ACK/BYE segment is stored once;
  - tshark reassembles the INVITE with its SDP from the exported file (independent parser);
  - the call's codecs (signalling) survive storage: `show`/`search --json` list PCMU.

usage: sip_tcp_evidence_test.py CALLVAULT
"""
import datetime
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

CALLVAULT = sys.argv[1]
# Capture start times (s): 2026; 2040-01-01 (past 2^31 s: libpcap hands classic pcap
# seconds over sign-extended); 2106-02-06, hours before classic pcap's u32 seconds end.
STARTS = [1_780_000_000, 2_208_988_800, 4_294_944_000]
CLIENT = ("10.1.0.1", 40000, bytes.fromhex("020000000001"))
SERVER = ("10.2.0.2", 5060, bytes.fromhex("020000000002"))
failures = []


CURRENT = [""]


def check(cond, msg):
    if not cond:
        failures.append(f"[start {CURRENT[0]}] {msg}")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def tcp_frame(src, dst, seq, ack, flags, payload):
    sip, sport, smac = src
    dip, dport, dmac = dst
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    pseudo = ip4(sip) + ip4(dip) + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    c = csum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64, 6,
                     0, ip4(sip), ip4(dip))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp + payload


SYN, ACK, PSH = 0x02, 0x10, 0x08


def sip_msg(start, headers, body=b""):
    h = start + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    h += f"Content-Length: {len(body)}\r\n\r\n"
    return h.encode() + body


def sdp(ip, port):
    return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            f"a=sendrecv\r\n").encode()


def build(t0):
    cid = "tcp-evidence-1@10.1.0.1"
    common = [("From", "\"Caller\" <sip:+12025550143@10.1.0.1>;tag=c1"),
              ("Call-ID", cid)]
    via = ("Via", "SIP/2.0/TCP 10.1.0.1:40000;branch=z9hG4bK-1")
    invite = sip_msg("INVITE sip:2001@10.2.0.2 SIP/2.0",
                     [via, ("To", "<sip:2001@10.2.0.2>")] + common +
                     [("CSeq", "1 INVITE"), ("Contact", "<sip:caller@10.1.0.1:40000;transport=tcp>"),
                      ("Max-Forwards", "70"), ("User-Agent", "callvault-e2e/1.0"),
                      ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"),
                      ("Content-Type", "application/sdp")], sdp("10.1.0.1", 16384))
    to_tag = "<sip:2001@10.2.0.2>;tag=s1"
    trying = sip_msg("SIP/2.0 100 Trying", [via, ("To", "<sip:2001@10.2.0.2>")] + common +
                     [("CSeq", "1 INVITE")])
    ok = sip_msg("SIP/2.0 200 OK", [via, ("To", to_tag)] + common +
                 [("CSeq", "1 INVITE"), ("Contact", "<sip:2001@10.2.0.2;transport=tcp>"),
                  ("Content-Type", "application/sdp")], sdp("10.2.0.2", 20000))
    ack = sip_msg("ACK sip:2001@10.2.0.2;transport=tcp SIP/2.0",
                  [("Via", "SIP/2.0/TCP 10.1.0.1:40000;branch=z9hG4bK-2"), ("To", to_tag)] +
                  common + [("CSeq", "1 ACK")])
    bye = sip_msg("BYE sip:2001@10.2.0.2;transport=tcp SIP/2.0",
                  [("Via", "SIP/2.0/TCP 10.1.0.1:40000;branch=z9hG4bK-3"), ("To", to_tag)] +
                  common + [("CSeq", "2 BYE")])
    bye_ok = sip_msg("SIP/2.0 200 OK",
                     [("Via", "SIP/2.0/TCP 10.1.0.1:40000;branch=z9hG4bK-3"), ("To", to_tag)] +
                     common + [("CSeq", "2 BYE")])
    assert len(invite) > 500
    frames = []  # (ts_ns, bytes, carries_sip_evidence)
    t = [t0 * 10**9]

    def send(src, dst, seq, ack_no, flags, payload=b"", evidence=None, dt_ms=1):
        t[0] += dt_ms * 10**6
        frames.append((t[0], tcp_frame(src, dst, seq, ack_no, flags, payload),
                       bool(payload) if evidence is None else evidence))

    c, s = 1000, 5000  # ISNs
    send(CLIENT, SERVER, c, 0, SYN)
    send(SERVER, CLIENT, s, c + 1, SYN | ACK)
    send(CLIENT, SERVER, c + 1, s + 1, ACK)
    cs, ss = c + 1, s + 1
    # INVITE in three segments, sent 1, 3, 2, then 2 again (exact retransmission).
    a, b = 200, 450
    p1, p2, p3 = invite[:a], invite[a:b], invite[b:]
    send(CLIENT, SERVER, cs, ss, ACK | PSH, p1)
    send(CLIENT, SERVER, cs + b, ss, ACK | PSH, p3)
    send(CLIENT, SERVER, cs + a, ss, ACK | PSH, p2)
    invite_done = t[0]  # this segment fills the hole: the INVITE is complete (call start)
    send(CLIENT, SERVER, cs + a, ss, ACK | PSH, p2, evidence=False, dt_ms=200)
    cs += len(invite)
    send(SERVER, CLIENT, ss, cs, ACK | PSH, trying)
    ss += len(trying)
    # 200 OK in two segments.
    send(SERVER, CLIENT, ss, cs, ACK | PSH, ok[:300], dt_ms=500)
    send(SERVER, CLIENT, ss + 300, cs, ACK | PSH, ok[300:])
    ss += len(ok)
    # ACK + the first 40 bytes of the BYE in one segment, the rest of the BYE later.
    send(CLIENT, SERVER, cs, ss, ACK | PSH, ack + bye[:40])
    send(CLIENT, SERVER, cs + len(ack) + 40, ss, ACK | PSH, bye[40:], dt_ms=3000)
    cs += len(ack) + len(bye)
    send(SERVER, CLIENT, ss, cs, ACK | PSH, bye_ok)
    ss += len(bye_ok)
    send(CLIENT, SERVER, cs, ss, ACK)
    return cid, frames, invite_done


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))  # ns pcap
        for ts, data, _ in frames:
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(data), len(data)))
            f.write(data)


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B23C4D, 0xA1B2C3D4):
        raise RuntimeError(f"{path}: not a classic little-endian pcap (magic {magic:#x})")
    scale = 1 if magic == 0xA1B23C4D else 1000
    out, off = [], 24
    while off < len(data):
        sec, frac, cap, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec * 10**9 + frac * scale, data[off + 16:off + 16 + cap]))
        off += 16 + cap
    return out


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


def main():
    if shutil.which("tshark") is None:
        print("tshark not found; skipping")
        return 77
    for t0 in STARTS:
        one_call(t0)
    for f in failures:
        print("FAIL", f)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


def one_call(t0):
    CURRENT[0] = t0
    cid, frames, invite_done = build(t0)
    want_start = datetime.datetime.fromtimestamp(invite_done // 10**9, datetime.timezone.utc)
    want_start = want_start.strftime("%Y-%m-%dT%H:%M:%S") + f".{invite_done % 10**9 // 10**6:03d}Z"
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, "tcp.pcap")
        write_pcap(pcap, frames)
        cv = [CALLVAULT, "--store", f"{d}/store", "--key-file", f"{d}/master.key"]
        run(cv + ["keys", "init"])
        run(cv + ["ingest", pcap])
        found = json.loads(run(cv + ["search", "--limit", "0", "--json"]).stdout)
        check(len(found) == 1, f"{len(found)} calls recorded, want 1")
        if not found:
            return
        call = found[0]
        check(call["sip_call_ids"] == [cid], f"Call-IDs {call['sip_call_ids']}")
        check(call["start"] == want_start, f"start {call['start']} != {want_start}")
        check(call["state"] == "answered", f"state {call['state']}")
        show = json.loads(run(cv + ["show", call["call_id"], "--json"]).stdout)
        check(show["sip_code"] == 200, f"sip_code {show['sip_code']}")
        # Codecs survive storage (record v2): the answer's first format is PCMU.
        check(show.get("codecs") == ["PCMU"], f"show codecs {show.get('codecs')}")
        check(call.get("codecs") == ["PCMU"], f"search codecs {call.get('codecs')}")
        text = run(cv + ["show", call["call_id"]]).stdout
        check("codecs: PCMU\n" in text, f"show (text) lacks 'codecs: PCMU': {text!r}")
        out = os.path.join(d, "export.pcap")
        run(cv + ["export", call["call_id"], "--pcap", out])
        exported = read_pcap(out)
        want = [(ts, data) for ts, data, ev in frames if ev]
        check(sorted(exported) == sorted(want),
              f"exported {len(exported)} frames, want exactly the {len(want)} SIP-carrying "
              f"frames (missing {len([w for w in want if w not in exported])}, "
              f"extra {len([e for e in exported if e not in want])})")
        check(len(set(exported)) == len(exported), "a frame is exported twice")
        # tshark reassembles the INVITE (three segments, out of order) with its SDP.
        fields = run(["tshark", "-r", out, "-o", "tcp.reassemble_out_of_order:TRUE",
                      "-Y", "sip.Method == \"INVITE\"", "-T", "fields", "-e", "sip.Call-ID",
                      "-e", "sdp.media", "-e", "tcp.reassembled.length"]).stdout.split("\n")
        rows = [r.split("\t") for r in fields if r.strip()]
        check(len(rows) == 1, f"tshark found {len(rows)} INVITEs in the export, want 1")
        if rows:
            check(rows[0][0] == cid, f"tshark INVITE Call-ID {rows[0][0]!r}")
            check(rows[0][1].startswith("audio 16384 RTP/AVP"), f"tshark INVITE SDP {rows[0][1]!r}")
        # Every message, once (one frame may hold two: ACK + the start of the BYE).
        cseqs = run(["tshark", "-r", out, "-o", "tcp.reassemble_out_of_order:TRUE",
                     "-Y", "sip", "-T", "fields", "-E", "occurrence=a",
                     "-e", "sip.CSeq.method", "-e", "sip.Status-Code"]).stdout
        got = sorted(x for x in cseqs.replace("\t", ",").replace("\n", ",").split(",") if x)
        want_msgs = sorted(["INVITE", "INVITE", "100", "INVITE", "200", "ACK", "BYE", "BYE",
                            "200"])
        check(got == want_msgs, f"tshark sees {got} in the export, want {want_msgs}")


if __name__ == "__main__":
    sys.exit(main())
