#include "tests/tools/callgen/sip_script.h"

#include <algorithm>

#include "fmt/format.h"

namespace callvault::callgen {
namespace {

constexpr const char* kSbcAgent = "ExampleCarrier-SBC/7.2.1";
constexpr const char* kPhoneAgent = "Yealink SIP-T54W 96.86.0.70";
constexpr const char* kAllow =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY";

const char* CodecName(Codec c) { return c == Codec::kPcmu ? "PCMU" : "PCMA"; }
int Pt(Codec c) { return static_cast<int>(c); }

// Everything the messages of one dialog share.
struct Dialog {
  std::string sbc, phone;          // address as in URIs and Via ("[2001:db8::1]" for IPv6)
  std::string sbc_raw, phone_raw;  // address as in SDP and received= (no brackets)
  std::string ip_ver;              // SDP address type: "IP4" / "IP6" (RFC 4566 §5.7)
  int port;
  int sbc_src_port;        // the SBC's source port (its ephemeral port over TCP)
  std::string phone_wire;  // the phone's address as the SBC sees it (NAT)
  int phone_src_port;
  std::string transport;  // "UDP" / "TCP"
  std::string tp;         // "udp" / "tcp"
  std::string ext, dialled, ani, name, call_id, from_tag, to_tag, branch;

  std::string Via(bool from_sbc, int n) const {
    return fmt::format("Via: SIP/2.0/{} {}:{};branch=z9hG4bK{}{:02d};rport", transport,
                       from_sbc ? sbc : phone, port, branch, n);
  }
  std::string From() const {  // the caller's identity (INVITE direction)
    return fmt::format("From: \"{}\" <sip:{}@{};user=phone>;tag={}", ani, ani, sbc, from_tag);
  }
  std::string To(bool tagged) const {  // the dialled number
    return tagged ? fmt::format("To: <sip:{}@{}>;tag={}", dialled, phone, to_tag)
                  : fmt::format("To: <sip:{}@{}>", dialled, phone);
  }
  std::string SbcContact() const {
    return fmt::format("<sip:{}@{}:{};transport={}>", ani, sbc, port, tp);
  }
  std::string PhoneContact() const {
    return fmt::format("<sip:{}@{}:{};transport={}>", ext, phone, port, tp);
  }
};

// SDP (RFC 4566) of the SBC: an offer of both laws, or one law with a direction attribute
// (RFC 3264 §5.1, §8.4: hold is a=sendonly / a=recvonly).
std::string Offer(const Dialog& d, uint32_t sess, int version, uint16_t rtp, Codec first,
                  bool only_first, const char* direction = "sendrecv") {
  Codec second = first == Codec::kPcmu ? Codec::kPcma : Codec::kPcmu;
  std::string pts = only_first ? fmt::format("{} 101", Pt(first))
                               : fmt::format("{} {} 101", Pt(first), Pt(second));
  std::string s = fmt::format(
      "v=0\r\no=CarrierSBC {} {} IN {} {}\r\ns=SBC Session\r\nc=IN {} {}\r\nt=0 0\r\n"
      "m=audio {} RTP/AVP {}\r\na=rtpmap:{} {}/8000\r\n",
      sess, version, d.ip_ver, d.sbc_raw, d.ip_ver, d.sbc_raw, rtp, pts, Pt(first),
      CodecName(first));
  if (!only_first) s += fmt::format("a=rtpmap:{} {}/8000\r\n", Pt(second), CodecName(second));
  s += fmt::format("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na={}\r\n",
                   direction);
  return s;
}

// SDP of the phone (its answers, and its hold/resume offers).
std::string Answer(const Dialog& d, uint32_t sess, int version, uint16_t rtp, Codec c,
                   const char* direction = "sendrecv") {
  return fmt::format(
      "v=0\r\no=- {} {} IN {} {}\r\ns=SIP Call\r\nc=IN {} {}\r\nt=0 0\r\n"
      "m=audio {} RTP/AVP {} 101\r\na=rtpmap:{} {}/8000\r\n"
      "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na={}\r\n",
      sess, version, d.ip_ver, d.phone_raw, d.ip_ver, d.phone_raw, rtp, Pt(c), Pt(c), CodecName(c),
      direction);
}

// Appends Content-Type (with a body) and an exact Content-Length, then the body.
std::string Finish(std::string head, const std::string& body,
                   const char* content_type = "application/sdp") {
  if (!body.empty()) head += fmt::format("Content-Type: {}\r\n", content_type);
  head += fmt::format("Content-Length: {}\r\n\r\n", body.size());
  return head + body;
}

// A response from the phone to a request from the SBC (or the reverse for BYE from the
// phone): Via, From, To, Call-ID and CSeq copied from the request (RFC 3261 §8.2.6.2).
std::string Response(const Dialog& d, int code, const char* reason, const std::string& via,
                     const std::string& from, const std::string& to, const std::string& cseq,
                     bool from_phone, bool contact, const std::string& body) {
  // RFC 3581 §4: the request asked for rport, so its response names the source address
  // and port the request came from.
  std::string top = via;
  const std::string rport = ";rport";
  if (top.size() >= rport.size() && top.ends_with(rport)) {
    top += fmt::format("={};received={}", from_phone ? d.sbc_src_port : d.phone_src_port,
                       from_phone ? d.sbc_raw : d.phone_wire);
  }
  std::string h = fmt::format("SIP/2.0 {} {}\r\n{}\r\n{}\r\n{}\r\nCall-ID: {}\r\nCSeq: {}\r\n",
                              code, reason, top, from, to, d.call_id, cseq);
  if (contact && from_phone) {
    h += fmt::format("Contact: \"{}\" {}\r\n", d.name, d.PhoneContact());
    h += fmt::format("P-Asserted-Identity: \"{}\" <sip:{}@{}>\r\n", d.name, d.ext, d.phone);
  } else if (contact) {
    h += fmt::format("Contact: {}\r\n", d.SbcContact());
  }
  if (contact) h += fmt::format("Allow: {}\r\nSupported: replaces, timer\r\n", kAllow);
  h += fmt::format("Server: {}\r\n", from_phone ? kPhoneAgent : kSbcAgent);
  return Finish(std::move(h), body);
}

}  // namespace

std::vector<SipMessage> BuildSipMessages(const CallPlan& p, const Agent& agent, const Options& o) {
  Dialog d;
  d.sbc = HostUriText(p.caller_sig);
  d.sbc_raw = HostText(p.caller_sig);
  d.phone = HostUriText(p.agent_sdp);
  d.phone_raw = HostText(p.agent_sdp);
  d.phone_wire = HostText(p.agent_sig);
  d.ip_ver = p.agent_sdp.v6 ? "IP6" : "IP4";
  d.phone_src_port = p.agent_sip_port;
  d.port = o.sip_port;
  d.sbc_src_port = o.sip_tcp ? p.tcp_port : o.sip_port;
  d.transport = o.sip_tcp ? "TCP" : "UDP";
  d.tp = o.sip_tcp ? "tcp" : "udp";
  d.ext = agent.extension;
  d.dialled = p.dialled;
  d.ani = p.ani;
  d.name = agent.name;
  d.call_id = p.call_id;
  d.from_tag = p.from_tag;
  d.to_tag = p.to_tag;
  d.branch = p.branch_seed;
  const std::string ruri = fmt::format("sip:{}@{}:{}", d.ext, d.phone, d.port);
  const uint32_t sbc_sess = p.ssrc[0] % 1000000000u;
  const uint32_t phone_sess = p.ssrc[1] % 1000000000u;

  std::vector<SipMessage> m;
  int branch_n = 1;
  // `same_via`: CANCEL and the ACK of a non-2xx response belong to the INVITE's
  // transaction and reuse its Via branch (RFC 3261 §9.1, §17.1.1.3).
  auto sbc_request = [&](uint64_t t, const std::string& method, int cseq, const std::string& body,
                         bool in_dialog, const std::string& same_via = "",
                         const char* content_type = "application/sdp") {
    std::string via = same_via.empty() ? d.Via(true, branch_n++) : same_via;
    std::string h = fmt::format(
        "{} {} SIP/2.0\r\n{}\r\nMax-Forwards: 69\r\n{}\r\n{}\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
        method, ruri, via, d.From(), d.To(in_dialog), d.call_id, cseq, method);
    if (method == "INVITE") {
      h += fmt::format("Contact: {}\r\n", d.SbcContact());
      h += fmt::format("P-Asserted-Identity: <sip:{}@{};user=phone>\r\n", d.ani, d.sbc);
      h += fmt::format("Allow: {}\r\nSupported: replaces, timer\r\n", kAllow);
    }
    h += fmt::format("User-Agent: {}\r\n", kSbcAgent);
    m.push_back(SipMessage{t, 0, Finish(std::move(h), body, content_type)});
    return via;
  };

  // Initial INVITE transaction.
  const uint64_t trying_t = p.start_ns + 2'000'000;
  const uint64_t ringing_t = o.tcp_coalesce ? trying_t : p.start_ns + 60'000'000;
  std::string via = sbc_request(p.start_ns, "INVITE", 1,
                                Offer(d, sbc_sess, 1, p.caller_rtp, p.codec, false), false);
  m.push_back(
      {trying_t, 1,
       Response(d, 100, "Trying", via, d.From(), d.To(false), "1 INVITE", true, false, "")});
  if (p.outcome == Outcome::kBusy) {
    m.push_back(
        {p.end_ns, 1,
         Response(d, 486, "Busy Here", via, d.From(), d.To(true), "1 INVITE", true, false, "")});
    sbc_request(p.end_ns + 20'000'000, "ACK", 1, "", true, via);
    return m;
  }
  m.push_back({ringing_t, 1,
               Response(d, 180, "Ringing", via, d.From(), d.To(true), "1 INVITE", true, true, "")});
  if (p.outcome == Outcome::kCancelled) {
    sbc_request(p.end_ns, "CANCEL", 1, "", false, via);
    m.push_back({p.end_ns + 5'000'000, 1,
                 Response(d, 200, "OK", via, d.From(), d.To(true), "1 CANCEL", true, false, "")});
    m.push_back({p.end_ns + 10'000'000, 1,
                 Response(d, 487, "Request Terminated", via, d.From(), d.To(true), "1 INVITE", true,
                          false, "")});
    sbc_request(p.end_ns + 30'000'000, "ACK", 1, "", true, via);
    return m;
  }
  m.push_back({p.answer_ns, 1,
               Response(d, 200, "OK", via, d.From(), d.To(true), "1 INVITE", true, true,
                        Answer(d, phone_sess, 1, p.agent_sdp_rtp, p.codec))});
  sbc_request(p.answer_ns + 20'000'000, "ACK", 1, "", true);

  // The SBC's in-dialog requests take CSeq numbers in time order (RFC 3261 §12.2.1.1).
  std::vector<uint64_t> sbc_times;
  if (p.has_switch) sbc_times.push_back(p.reinvite_ns);
  if (o.dtmf_info) {
    for (const DtmfDigit& dg : p.dtmf) sbc_times.push_back(dg.time_ns);
  }
  auto cseq_at = [&](uint64_t t) {
    return 2 + static_cast<int>(std::count_if(sbc_times.begin(), sbc_times.end(),
                                              [t](uint64_t x) { return x < t; }));
  };
  if (o.dtmf_info) {
    // DTMF relayed as SIP INFO (application/dtmf-relay, as Cisco and most SBCs send it)
    // instead of RFC 4733 events; the audio is not interrupted.
    for (const DtmfDigit& dg : p.dtmf) {
      const int n = cseq_at(dg.time_ns);
      via =
          sbc_request(dg.time_ns, "INFO", n, fmt::format("Signal={}\r\nDuration=100\r\n", dg.digit),
                      true, "", "application/dtmf-relay");
      m.push_back({dg.time_ns + 10'000'000, 1,
                   Response(d, 200, "OK", via, d.From(), d.To(true), fmt::format("{} INFO", n),
                            true, false, "")});
    }
  }
  // Each side's SDP version (o= line) counts its own new SDPs in time order.
  std::vector<uint64_t> sbc_sdp, phone_sdp;
  if (p.has_switch) {
    sbc_sdp.push_back(p.reinvite_ns);
    phone_sdp.push_back(p.switch_ns);
  }
  if (p.has_hold) {
    phone_sdp.insert(phone_sdp.end(), {p.hold_ns, p.resume_ns});
    sbc_sdp.insert(sbc_sdp.end(), {p.hold_ns + 40'000'000, p.resume_ns + 40'000'000});
  }
  auto version_at = [](const std::vector<uint64_t>& v, uint64_t t) {
    return 2 +
           static_cast<int>(std::count_if(v.begin(), v.end(), [t](uint64_t x) { return x < t; }));
  };
  auto codec_at = [&](uint64_t t) {
    return p.has_switch && t >= p.switch_ns ? p.switch_codec : p.codec;
  };

  int cseq = cseq_at(p.has_switch ? p.reinvite_ns : 0);
  if (p.has_switch) {  // re-INVITE offering only the other law (RFC 3264 §8)
    via = sbc_request(
        p.reinvite_ns, "INVITE", cseq,
        Offer(d, sbc_sess, version_at(sbc_sdp, p.reinvite_ns), p.caller_rtp, p.switch_codec, true),
        true);
    m.push_back({p.switch_ns, 1,
                 Response(d, 200, "OK", via, d.From(), d.To(true), fmt::format("{} INVITE", cseq),
                          true, true,
                          Answer(d, phone_sess, version_at(phone_sdp, p.switch_ns), p.agent_sdp_rtp,
                                 p.switch_codec))});
    sbc_request(p.switch_ns + 20'000'000, "ACK", cseq, "", true);
  }

  // Requests from the phone: its own CSeq space, From/To swapped (RFC 3261 §12.2.1.1).
  const std::string pfrom = fmt::format("From: <sip:{}@{}>;tag={}", d.dialled, d.phone, d.to_tag);
  const std::string pto =
      fmt::format("To: \"{}\" <sip:{}@{};user=phone>;tag={}", d.ani, d.ani, d.sbc, d.from_tag);
  uint32_t phone_cseq = p.agent_cseq;
  auto phone_request = [&](uint64_t t, const char* method, uint32_t n, const std::string& body) {
    std::string pvia = d.Via(false, branch_n++);
    std::string h = fmt::format(
        "{} sip:{}@{}:{};transport={} SIP/2.0\r\n{}\r\nMax-Forwards: 70\r\n{}\r\n{}\r\n"
        "Call-ID: {}\r\nCSeq: {} {}\r\n",
        method, d.ani, d.sbc, d.port, d.tp, pvia, pfrom, pto, d.call_id, n, method);
    if (std::string_view(method) == "INVITE") {
      h += fmt::format("Contact: \"{}\" {}\r\nAllow: {}\r\n", d.name, d.PhoneContact(), kAllow);
    }
    h += fmt::format("User-Agent: {}\r\n", kPhoneAgent);
    m.push_back({t, 1, Finish(std::move(h), body)});
    return pvia;
  };
  if (p.has_hold) {  // the agent holds the caller, then resumes (RFC 3264 §8.4)
    const struct {
      uint64_t t;
      const char* phone_dir;
      const char* sbc_dir;
    } steps[] = {{p.hold_ns, "sendonly", "recvonly"}, {p.resume_ns, "sendrecv", "sendrecv"}};
    for (const auto& st : steps) {
      const uint32_t n = phone_cseq++;
      const Codec c = codec_at(st.t);
      std::string pvia = phone_request(
          st.t, "INVITE", n,
          Answer(d, phone_sess, version_at(phone_sdp, st.t), p.agent_sdp_rtp, c, st.phone_dir));
      m.push_back(
          {st.t + 40'000'000, 0,
           Response(d, 200, "OK", pvia, pfrom, pto, fmt::format("{} INVITE", n), false, true,
                    Offer(d, sbc_sess, version_at(sbc_sdp, st.t + 40'000'000), p.caller_rtp, c,
                          true, st.sbc_dir))});
      phone_request(st.t + 60'000'000, "ACK", n, "");
    }
  }
  cseq = cseq_at(p.end_ns);
  std::stable_sort(m.begin(), m.end(),
                   [](const SipMessage& a, const SipMessage& b) { return a.t < b.t; });

  const uint64_t ok_t = p.end_ns + 15'000'000;
  if (p.outcome == Outcome::kNoBye) return m;
  // (BYE and its 200 OK come after every other message of the call.)
  if (!p.bye_from_agent) {
    via = sbc_request(p.end_ns, "BYE", cseq, "", true);
    m.push_back({ok_t, 1,
                 Response(d, 200, "OK", via, d.From(), d.To(true), fmt::format("{} BYE", cseq),
                          true, false, "")});
  } else {
    const uint32_t n = phone_cseq++;
    std::string pvia = phone_request(p.end_ns, "BYE", n, "");
    m.push_back(
        {ok_t, 0,
         Response(d, 200, "OK", pvia, pfrom, pto, fmt::format("{} BYE", n), false, false, "")});
  }
  return m;
}

std::vector<ScriptFrame> BuildSipFrames(const CallPlan& p, const std::vector<SipMessage>& msgs,
                                        const Options& o, const FrameBuilder& fb) {
  std::vector<ScriptFrame> out;
  const Host* host[2] = {&p.caller_sig, &p.agent_sig};
  uint16_t ip_id[2] = {static_cast<uint16_t>(p.ip_id[0] + 0x4000),
                       static_cast<uint16_t>(p.ip_id[1] + 0x4000)};
  auto bytes = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };

  if (!o.sip_tcp) {
    const uint16_t port[2] = {static_cast<uint16_t>(o.sip_port), p.agent_sip_port};
    const int mtu = o.fragment_sip ? o.mtu : 65535;
    for (const SipMessage& m : msgs) {
      uint64_t t = m.t;
      for (std::string& f : fb.UdpFragmented(*host[m.dir], port[m.dir], *host[1 - m.dir],
                                             port[1 - m.dir], ip_id[m.dir]++, bytes(m.text), mtu)) {
        out.push_back({t, std::move(f)});
        t += 5'000;  // fragments follow each other on the wire
      }
    }
    return out;
  }

  // One TCP connection per call, SBC (ephemeral port) -> phone (SIP port).
  const uint16_t port[2] = {p.tcp_port, p.agent_sip_port};
  uint32_t nxt[2] = {p.tcp_isn[0], p.tcp_isn[1]};
  constexpr uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10;
  auto seg = [&](uint64_t t, int dir, uint8_t flags, std::span<const uint8_t> payload) {
    out.push_back({t, fb.Tcp(*host[dir], port[dir], *host[1 - dir], port[1 - dir], ip_id[dir]++,
                             nxt[dir], nxt[1 - dir], flags, payload)});
    nxt[dir] += static_cast<uint32_t>(payload.size());
    if (flags & (kSyn | kFin)) ++nxt[dir];
  };
  const uint64_t t0 = CallFirstFrameNs(p);
  seg(t0, 0, kSyn, {});
  seg(t0 + 200'000, 1, kSyn | kAck, {});
  seg(t0 + 400'000, 0, kAck, {});

  for (size_t i = 0; i < msgs.size(); ++i) {
    const SipMessage& m = msgs[i];
    std::string data = m.text;
    // --tcp-coalesce: messages of one side sent at the same instant share a segment.
    while (i + 1 < msgs.size() && msgs[i + 1].dir == m.dir && msgs[i + 1].t == m.t) {
      data += msgs[++i].text;
    }
    const bool has_body = data.find("\r\n\r\nv=0") != std::string::npos;
    if (o.tcp_split && has_body) {
      size_t cut = data.size() / 2;  // inside the headers or the SDP: framing must cope
      seg(m.t, m.dir, kAck, bytes(data).first(cut));
      seg(m.t + 100'000, m.dir, kPsh | kAck, bytes(data).subspan(cut));
    } else {
      seg(m.t, m.dir, kPsh | kAck, bytes(data));
    }
    // The peer acknowledges unless it answers at once (then the answer carries the ACK).
    const bool peer_answers_soon =
        i + 1 < msgs.size() && msgs[i + 1].dir != m.dir && msgs[i + 1].t < m.t + 1'000'000;
    if (!peer_answers_soon) seg(m.t + 300'000, 1 - m.dir, kAck, {});
  }
  const uint64_t tf = msgs.back().t + 50'000'000;
  seg(tf, 0, kFin | kAck, {});
  seg(tf + 200'000, 1, kFin | kAck, {});
  seg(tf + 400'000, 0, kAck, {});
  std::stable_sort(out.begin(), out.end(),
                   [](const ScriptFrame& a, const ScriptFrame& b) { return a.t < b.t; });
  return out;
}

}  // namespace callvault::callgen
