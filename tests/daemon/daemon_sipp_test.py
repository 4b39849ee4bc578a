#!/usr/bin/env python3
"""daemon_sipp: callvaultd records calls made by a real, independent SIP stack (SIPp).

Usage: daemon_sipp_test.py CALLVAULTD CALLVAULT CALLGEN TEST_DATA_DIR
Needs root, `ip netns`, sipp (Debian package sip-tester) and tcpdump (exit 77 otherwise).

Two network namespaces joined by a veth pair play the caller's network (namespace A,
10.77.0.1) and the contact centre (namespace B, 10.77.0.2, the agent network). SIPp
user agents place real calls from A to B: their own transactions, retransmission timers,
tags, branches and SDP, and RTP paced by SIPp's rtp_stream player (G.711 µ-law, a 440 Hz
tone from the caller, a 1 kHz tone from the agent). callvaultd runs in namespace B on the
B end of the veth (the "SPAN port"), once through libpcap and once through DPDK
net_af_packet; tcpdump records the same interface at the same time as the independent
witness.

SIPp 3.6 plays every call of one instance from one media port, so concurrency comes from
several UAC/UAS pairs on distinct SIP and media ports, each placing calls one after the
other (so consecutive calls also reuse the same endpoints, as phones do). One pair
signals over TCP, the others over UDP. One more UAS answers 486 Busy Here.

Checked after SIGTERM, against the tcpdump witness read with tshark:
  - exactly the calls SIPp placed (one per SIP Call-ID), answered ones with 200 and the
    busy one failed with 486; ANI, dialled number and the agent from the directory;
  - per call and direction, the RTP packet count equals tshark's count for that call's
    ports between its INVITE and its BYE;
  - the exported WAV has the caller's 440 Hz tone on channel 1 and the agent's 1 kHz tone
    on channel 2; the exported pcap holds the call's SIP messages;
  - the store verifies, and an offline ingest of the witness capture gives the same calls.
"""
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import wave

import daemon_util as du

CALLER_IP, AGENT_IP = "10.77.0.1", "10.77.0.2"
PAIRS = 3            # concurrent UAC/UAS pairs
CALLS_PER_PAIR = 2   # calls placed one after the other by each pair
TALK_MS = 2500
CALLER_HZ, AGENT_HZ = 440, 1000
ANI = "+442071234567"
AGENT_EXT, AGENT_NAME = "2001", "Dana Reyes"

SDP = """      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [rtpstream_audio_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=ptime:20
"""

ACK = f"""  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice Caller" <sip:{ANI}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"""

UAC = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callvault test caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice Caller" <sip:{ANI}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: SIPp
      Content-Type: application/sdp
      Content-Length: [len]

{SDP}    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="486" optional="true" next="busy"/>
  <recv response="200" rtd="true"/>
{ACK}  <nop><action><exec rtp_stream="caller.ulaw,1,0"/></action></nop>
  <pause milliseconds="{TALK_MS}"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Alice Caller" <sip:{ANI}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true" next="done"/>
  <label id="busy"/>
{ACK}  <label id="done"/>
</scenario>
"""

UAS_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callvault test agent">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]A[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
"""

UAS_ANSWER = UAS_HEAD + f"""  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]A[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{AGENT_EXT}@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{SDP}    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <nop><action><exec rtp_stream="agent.ulaw,1,0"/></action></nop>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""

UAS_BUSY = UAS_HEAD + """  <send>
    <![CDATA[
      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]A[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


def sh(cmd):
    return subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


def ulaw(sample):
    """ITU-T G.711 µ-law encoding of one 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    mag = min(abs(sample), 32635) + 0x84
    exp, mask = 7, 0x4000
    while exp > 0 and not mag & mask:
        exp, mask = exp - 1, mask >> 1
    return ~(sign | exp << 4 | (mag >> (exp + 3)) & 0x0F) & 0xFF


def write_tone(path, hz, seconds):
    with open(path, "wb") as f:
        f.write(bytes(ulaw(int(8000 * math.sin(2 * math.pi * hz * n / 8000)))
                      for n in range(int(8000 * seconds))))


def dominant_hz(samples, rate):
    best, best_p = 0, -1.0
    for f in range(100, 2000, 20):
        w = 2 * math.pi * f / rate
        re = sum(v * math.cos(w * i) for i, v in enumerate(samples))
        im = sum(v * math.sin(w * i) for i, v in enumerate(samples))
        if re * re + im * im > best_p:
            best, best_p = f, re * re + im * im
    return best


def wav_tones(path):
    """Dominant frequency of each channel over 0.1 s taken 1 s into the call."""
    with wave.open(path) as w:
        rate, n, ch = w.getframerate(), w.getnframes(), w.getnchannels()
        data = struct.unpack("<%dh" % (n * ch), w.readframes(n))
    first = rate
    win = data[first * ch:(first + rate // 10) * ch]
    return [dominant_hz(win[c::ch], rate) for c in range(ch)]


def tshark(pcap, *args):
    return du.run(["tshark", "-r", pcap, *args]).stdout


def witness(pcap):
    """Per SIP Call-ID, from tshark alone: final INVITE status, and the RTP packets per
    direction between the INVITE and the BYE on the ports the two SDPs announced."""
    calls = {}
    rows = tshark(pcap, "-Y", "sip", "-T", "fields", "-E", "separator=|",
                  "-e", "frame.time_epoch", "-e", "sip.Call-ID", "-e", "sip.Method",
                  "-e", "sip.Status-Code", "-e", "sip.CSeq.method", "-e", "ip.src",
                  "-e", "sdp.media.port")
    for line in rows.splitlines():
        t, cid, method, status, cseq_m, src, mport = (line.split("|") + [""] * 7)[:7]
        c = calls.setdefault(cid, {"code": None, "start": None, "bye": None, "ports": {}})
        t = float(t)
        if method == "INVITE" and c["start"] is None:
            c["start"] = t
        if method == "BYE" and c["bye"] is None:
            c["bye"] = t
        if status and cseq_m == "INVITE" and int(status) >= 200:
            c["code"] = int(status)
        if mport:
            c["ports"][src] = int(mport)
    rtp = [r.split("|") for r in tshark(
        pcap, "-d", "udp.port==30000-30100,rtp", "-d", "udp.port==40000-40100,rtp",
        "-Y", "rtp", "-T", "fields", "-E", "separator=|", "-e", "frame.time_epoch",
        "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport").splitlines()]
    for c in calls.values():
        if c["code"] != 200:
            continue
        # A call's media: on its ports, from its INVITE until 1 s after its BYE (the tail
        # in flight) or until the next call on the same ports starts, whichever is first.
        end = min([c["bye"] + 1.0] + [o["start"] for o in calls.values()
                                      if o["ports"] == c["ports"] and o["start"] > c["start"]])
        counts = {}
        for t, s, sp, d, dp in rtp:
            if c["ports"].get(s) == int(sp) and c["ports"].get(d) == int(dp) and \
                    c["start"] <= float(t) < end:
                counts[f"{s}>{d}"] = counts.get(f"{s}>{d}", 0) + 1
        c["rtp"] = counts
    return calls


def main():
    callvaultd, callvault = sys.argv[1:3]
    du.need_root("daemon_sipp")
    for tool in ("sipp", "ip", "tcpdump", "tshark"):
        if not shutil.which(tool):
            print(f"daemon_sipp: {tool} is needed (scripts/setup installs it); skipping")
            sys.exit(du.SKIP)
    ns_a, ns_b = f"cvsa{os.getpid()}", f"cvsb{os.getpid()}"
    if sh(f"ip netns add {ns_a}") != 0 or sh(f"ip netns add {ns_b}") != 0:
        sh(f"ip netns del {ns_a}")
        print("daemon_sipp: ip netns add failed; skipping")
        sys.exit(du.SKIP)
    c = du.Checks("daemon_sipp")
    s = du.Scratch(callvault, "cv_daemon_sipp.")
    try:
        assert sh(f"ip netns exec {ns_a} ip link add va type veth peer name vb netns {ns_b}") == 0
        for ns, dev, ip in ((ns_a, "va", CALLER_IP), (ns_b, "vb", AGENT_IP)):
            for cmd in ("sysctl -qw net.ipv6.conf.all.disable_ipv6=1", "ip link set lo up",
                        f"ip addr add {ip}/24 dev {dev}", f"ip link set {dev} up"):
                sh(f"ip netns exec {ns} {cmd}")
        for name, text in (("uac.xml", UAC), ("uas.xml", UAS_ANSWER), ("busy.xml", UAS_BUSY)):
            with open(s.path(name), "w") as f:
                f.write(text)
        write_tone(s.path("caller.ulaw"), CALLER_HZ, TALK_MS / 1000 + 1)
        write_tone(s.path("agent.ulaw"), AGENT_HZ, TALK_MS / 1000 + 1)
        agents = s.path("agents.csv")
        with open(agents, "w") as f:
            f.write(f"{AGENT_EXT},{AGENT_NAME},E{AGENT_EXT}\n")
        for path in ("pcap", "dpdk"):
            run_once(c, s, callvaultd, callvault, ns_a, ns_b, path, agents)
    finally:
        sh("pkill -f 'sipp -sf .*cv_daemon_sipp'")
        sh(f"ip netns del {ns_a}")
        sh(f"ip netns del {ns_b}")
        s.cleanup()
    c.finish()


def transport(pair):
    """The second pair signals over TCP (one connection), the others over UDP."""
    return ["-t", "t1"] if pair == 1 else ["-t", "u1"]


def place_calls(s, ns_a, ns_b):
    """Start the UASs, run the UACs (concurrently), return how many calls succeeded."""
    a, b = ["ip", "netns", "exec", ns_a], ["ip", "netns", "exec", ns_b]
    servers, clients = [], []
    for i in range(PAIRS + 1):
        busy = i == PAIRS
        calls = 1 if busy else CALLS_PER_PAIR
        servers.append(subprocess.Popen(
            b + ["sipp", "-sf", s.path("busy.xml" if busy else "uas.xml"), "-i", AGENT_IP,
                 *transport(i),
                 "-p", str(5060 + 2 * i), "-mi", AGENT_IP, "-mp", str(40000 + 10 * i),
                 "-m", str(calls), "-nostdin", "-timeout", "60s"],
            cwd=s.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.5)
    for i in range(PAIRS + 1):
        busy = i == PAIRS
        clients.append(subprocess.Popen(
            a + ["sipp", "-sf", s.path("uac.xml"), "-s", AGENT_EXT, *transport(i),
                 f"{AGENT_IP}:{5060 + 2 * i}", "-i", CALLER_IP, "-p", str(5060 + 2 * i),
                 "-mi", CALLER_IP, "-mp", str(30000 + 10 * i),
                 "-m", str(1 if busy else CALLS_PER_PAIR), "-l", "1", "-r", "1",
                 "-nostdin", "-timeout", "60s"],
            cwd=s.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    ok = sum(1 for p in clients if p.wait(timeout=90) == 0)
    for p in servers:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    return ok


def run_once(c, s, callvaultd, callvault, ns_a, ns_b, path, agents):
    store = s.path(f"{path}_store")
    sock = s.path(f"{path}_run", "control.sock")
    cfg = du.write_config(
        s.path(f"{path}.toml"), store=store, key=s.key, socket=sock, source=path,
        interfaces=["vb"] if path == "pcap" else (),
        eal_args=du.live_eal(f"cv_sipp_{os.getpid()}", "vb") if path == "dpdk" else (),
        stop_at_eof=False, agents=agents)
    with open(cfg) as f:
        text = f.read()
    # The agent side is the contact centre's network (namespace B).
    text = text.replace(f'directory = "{agents}"',
                        f'directory = "{agents}"\nnetworks = ["{AGENT_IP}/32"]')
    with open(cfg, "w") as f:
        f.write(text)
    b = ["ip", "netns", "exec", ns_b]
    cap = s.path(f"{path}_witness.pcap")
    err = open(s.path(f"{path}.stderr"), "w")
    dump = subprocess.Popen(b + ["tcpdump", "-i", "vb", "-U", "-w", cap],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = subprocess.Popen(b + [callvaultd, "--config", cfg], stdout=subprocess.DEVNULL,
                         stderr=err)
    try:
        if not c.ok(du.wait_capturing(callvault, cfg, d), f"{path}: callvaultd is up and capturing"):
            return
        want_ok = PAIRS + 1
        c.eq(place_calls(s, ns_a, ns_b), want_ok, f"{path}: every SIPp caller finished its calls")
        time.sleep(1.5)  # the last RTP and the BYE/200 reach both captures
        d.send_signal(signal.SIGTERM)
        c.eq(d.wait(timeout=60), 0, f"{path}: SIGTERM -> exit 0")
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=10)
        err.close()
        with open(s.path(f"{path}.stderr")) as f:
            t = f.read().strip()
        if t:
            print(f"     {path} stderr: {t[-600:]}", flush=True)
    check_store(c, s, callvault, path, store, cap)


def check_store(c, s, callvault, path, store, cap):
    wit = witness(cap)
    answered = sorted(k for k, v in wit.items() if v["code"] == 200)
    busy = sorted(k for k, v in wit.items() if v["code"] == 486)
    c.eq((len(answered), len(busy)), (PAIRS * CALLS_PER_PAIR, 1),
         f"{path}: the witness capture holds every call SIPp placed")
    c.ok(tshark(cap, "-Y", "sip && tcp", "-T", "fields", "-e", "frame.number").split(),
         f"{path}: the witness holds SIP over TCP (pair 2)")
    got = du.search_all(callvault, store, s.key)
    by_cid = {x["sip_call_ids"][0]: x for x in got if x.get("sip_call_ids")}
    c.eq(sorted(by_cid), sorted(wit), f"{path}: one call per SIP Call-ID, no more, no less")
    for cid in answered:
        x = by_cid.get(cid)
        if not c.ok(x is not None, f"{path}: call {cid} recorded"):
            continue
        c.eq((x["state"], x["sip_code"], x["ani"], (x.get("agent") or {}).get("name")),
             ("answered", 200, ANI, AGENT_NAME), f"{path}: {cid} state, code, ANI, agent")
        legs = {f'{l["src"].rsplit(":", 1)[0]}>{l["dst"].rsplit(":", 1)[0]}': l["packets"]
                for l in x["legs"]}
        c.eq(legs, wit[cid]["rtp"], f"{path}: {cid} RTP packets per direction = tshark")
    if answered:
        x = by_cid.get(answered[0])
        if x:
            wav = s.path(f"{path}_call.wav")
            p = du.offline(callvault, store, s.key, "export", x["call_id"], "--wav", wav)
            if c.eq(p.returncode, 0, f"{path}: export --wav"):
                c.eq(wav_tones(wav), [CALLER_HZ, AGENT_HZ],
                     f"{path}: WAV channel 1 = caller's tone, channel 2 = agent's tone")
            pc = s.path(f"{path}_call.pcap")
            p = du.offline(callvault, store, s.key, "export", x["call_id"], "--pcap", pc)
            if c.eq(p.returncode, 0, f"{path}: export --pcap"):
                methods = tshark(pc, "-Y", "sip.Method", "-T", "fields", "-e",
                                 "sip.Method").split()
                c.eq(sorted(set(methods)), ["ACK", "BYE", "INVITE"],
                     f"{path}: exported pcap holds the call's SIP requests")
    for cid in busy:
        x = by_cid.get(cid)
        if c.ok(x is not None, f"{path}: busy call recorded"):
            c.eq((x["state"], x["sip_code"]), ("failed", 486), f"{path}: busy call failed 486")
    v = du.offline(callvault, store, s.key, "verify", "--json")
    c.eq(v.returncode, 0, f"{path}: store verifies")
    ref_store = s.path(f"{path}_ref_store")
    p = du.offline(callvault, ref_store, s.key, "ingest", cap)
    if c.eq(p.returncode, 0, f"{path}: offline ingest of the witness capture"):
        ref = {x["sip_call_ids"][0]: (x["state"], sorted(l["packets"] for l in x["legs"]))
               for x in du.search_all(callvault, ref_store, s.key)}
        live = {k: (v["state"], sorted(l["packets"] for l in v["legs"]))
                for k, v in by_cid.items()}
        c.eq(live, ref, f"{path}: live recording = offline ingest of the witness capture")


if __name__ == "__main__":
    main()
