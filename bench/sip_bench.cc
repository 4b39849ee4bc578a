// SIP/SDP parsing and SIP transport throughput.
//   BM_SipParse_InviteWithSdp   ParseMessage + the accessors a dialog tracker reads
//   BM_SipParse_InviteCompact   same INVITE written with compact header names
//   BM_SdpParse_Offer           ParseSdp of the INVITE's offer (reused output struct)
//   BM_SipExtract_Udp           SipExtractor on a UDP INVITE (classify + parse)
//   BM_SipExtract_TcpSplit      the INVITE over TCP split in 3 segments (reassembly)
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "appliance/config/config.h"
#include "appliance/sip/message.h"
#include "appliance/sip/sdp.h"
#include "appliance/sip/sip_extractor.h"

namespace callvault::sip {
namespace {

const std::string kSdp =
    "v=0\r\n"
    "o=FreeSWITCH 1700000000 1700000001 IN IP4 10.20.30.40\r\n"
    "s=FreeSWITCH\r\n"
    "c=IN IP4 10.20.30.40\r\n"
    "t=0 0\r\n"
    "m=audio 24680 RTP/AVP 0 8 9 18 101 13\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=fmtp:18 annexb=no\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n";

std::string Invite(bool compact) {
  auto h = [&](const char* full, const char* c) { return std::string(compact ? c : full); };
  return "INVITE sip:+12025550143@gw.carrier.example;user=phone SIP/2.0\r\n" + h("Via", "v") +
         ": SIP/2.0/UDP 10.20.30.40:5060;branch=z9hG4bK-524287-1---abcdef;rport\r\n" +
         "Max-Forwards: 70\r\n" + h("To", "t") + ": <sip:+12025550143@gw.carrier.example>\r\n" +
         h("From", "f") + ": \"Jane Agent\" <sip:2001@pbx.example.com>;tag=as6f1c2b9e\r\n" +
         h("Call-ID", "i") + ": 3c2a8e1f7d6b4a5c9e0f1a2b3c4d5e6f@10.20.30.40\r\n" +
         "CSeq: 102 INVITE\r\n" + h("Contact", "m") + ": <sip:2001@10.20.30.40:5060>\r\n" +
         "P-Asserted-Identity: \"Jane Agent\" <sip:+18005550100@pbx.example.com>\r\n" +
         "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PRACK\r\n" +
         h("Supported", "k") + ": replaces, timer, 100rel\r\n" + h("Session-Expires", "x") +
         ": 1800;refresher=uac\r\n" + "User-Agent: Asterisk PBX 18.10.0\r\n" +
         h("Content-Type", "c") + ": application/sdp\r\n" + h("Content-Length", "l") + ": " +
         std::to_string(kSdp.size()) + "\r\n\r\n" + kSdp;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void ParseAndRead(benchmark::State& state, const std::string& msg) {
  Message m;
  Limits limits;
  for (auto _ : state) {
    ParseResult r = ParseMessage(Bytes(msg), limits, &m);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(m.call_id());
    auto from = m.from();
    auto to = m.to();
    auto cseq = m.cseq();
    auto via = m.top_via();
    auto pai = m.p_asserted_identity();
    benchmark::DoNotOptimize(from);
    benchmark::DoNotOptimize(to);
    benchmark::DoNotOptimize(cseq);
    benchmark::DoNotOptimize(via);
    benchmark::DoNotOptimize(pai);
    benchmark::DoNotOptimize(m.sdp());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(msg.size()));
}

void BM_SipParse_InviteWithSdp(benchmark::State& state) { ParseAndRead(state, Invite(false)); }
BENCHMARK(BM_SipParse_InviteWithSdp);

void BM_SipParse_InviteCompact(benchmark::State& state) { ParseAndRead(state, Invite(true)); }
BENCHMARK(BM_SipParse_InviteCompact);

void BM_SdpParse_Offer(benchmark::State& state) {
  SessionDescription sd;
  for (auto _ : state) {
    SdpError e = ParseSdp(kSdp, &sd);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(sd.media.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(kSdp.size()));
}
BENCHMARK(BM_SdpParse_Offer);

void BM_SipExtract_Udp(benchmark::State& state) {
  const std::string msg = Invite(false);
  SipExtractor ex(SipConfig{});
  Frame frame;
  decode::DecodedPacket p;
  p.frame = &frame;
  p.l4 = decode::L4Proto::kUdp;
  p.src = Endpoint{IpAddress::FromV4(0x0a141e28), 5060};
  p.dst = Endpoint{IpAddress::FromV4(0x0a141e29), 5060};
  p.payload = Bytes(msg);
  uint64_t n = 0;
  for (auto _ : state) {
    ex.OnPacket(p, [&](const Message&, const TransportMessage&) { ++n; });
  }
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(msg.size()));
}
BENCHMARK(BM_SipExtract_Udp);

void BM_SipExtract_TcpSplit(benchmark::State& state) {
  const std::string msg = Invite(false);
  SipConfig cfg;
  cfg.tcp_max_connections = 16;
  SipExtractor ex(cfg);
  // Each segment's frame: Ethernet + IPv4 + TCP headers (54 bytes) + its payload, so the
  // evidence copy of an incomplete message's frames is measured at real size.
  std::vector<uint8_t> wire(54 + msg.size(), 0x5a);
  Frame frame;
  frame.data = wire.data();
  decode::DecodedPacket p;
  p.frame = &frame;
  p.l4 = decode::L4Proto::kTcp;
  p.tcp_flags = decode::kTcpAck;
  p.src = Endpoint{IpAddress::FromV4(0x0a141e28), 40000};
  p.dst = Endpoint{IpAddress::FromV4(0x0a141e29), 5060};
  const std::size_t cut1 = msg.size() / 3, cut2 = 2 * msg.size() / 3;
  uint32_t seq = 1;
  uint64_t n = 0;
  auto fn = [&](const Message&, const TransportMessage&) { ++n; };
  for (auto _ : state) {
    const std::size_t cuts[4] = {0, cut1, cut2, msg.size()};
    for (int i = 0; i < 3; ++i) {
      p.payload = Bytes(msg).subspan(cuts[i], cuts[i + 1] - cuts[i]);
      p.tcp_seq = seq + uint32_t(cuts[i]);
      frame.caplen = frame.wirelen = uint32_t(54 + p.payload.size());
      ex.OnPacket(p, fn);
    }
    seq += uint32_t(msg.size());
  }
  if (n != uint64_t(state.iterations())) state.SkipWithError("messages lost");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * int64_t(msg.size()));
}
BENCHMARK(BM_SipExtract_TcpSplit);

}  // namespace
}  // namespace callvault::sip
