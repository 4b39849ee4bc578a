#include "tests/tools/callgen/options.h"

#include <getopt.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "appliance/common/time_util.h"
#include "fmt/format.h"
#include "tests/tools/callgen/tunnel.h"

namespace callvault::callgen {
namespace {

absl::Status Bad(std::string_view flag, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("--{}: {}", flag, what));
}

absl::StatusOr<double> ParseDouble(std::string_view flag, std::string_view text, double lo,
                                   double hi) {
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end == nullptr || *end != '\0') {
    return Bad(flag, fmt::format("not a number: '{}'", s));
  }
  if (v < lo || v > hi) return Bad(flag, fmt::format("must be {}..{}, got {}", lo, hi, s));
  return v;
}

absl::StatusOr<int64_t> ParseInt(std::string_view flag, std::string_view text, int64_t lo,
                                 int64_t hi) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Bad(flag, fmt::format("not an integer: '{}'", text));
  }
  if (v < lo || v > hi) return Bad(flag, fmt::format("must be {}..{}, got {}", lo, hi, v));
  return v;
}

// "30" or "20:90" (uniform random per call).
absl::Status ParseRange(std::string_view flag, std::string_view text, double* lo, double* hi) {
  auto colon = text.find(':');
  auto a = ParseDouble(flag, text.substr(0, colon), 0.02, 86400.0);
  if (!a.ok()) return a.status();
  *lo = *hi = *a;
  if (colon != std::string_view::npos) {
    auto b = ParseDouble(flag, text.substr(colon + 1), 0.02, 86400.0);
    if (!b.ok()) return b.status();
    if (*b < *a) return Bad(flag, fmt::format("max {} is below min {}", *b, *a));
    *hi = *b;
  }
  return absl::OkStatus();
}

enum Flag : int {
  kCalls = 1000,
  kConcurrency,
  kDuration,
  kRing,
  kStart,
  kSeed,
  kCodec,
  kLoss,
  kReorder,
  kDuplicate,
  kVlan,
  kQinq,
  kFragmentSip,
  kMtu,
  kSipTcp,
  kTcpSplit,
  kTcpCoalesce,
  kSipPort,
  kDtmf,
  kDtmfAt,
  kRtpAfterBye,
  kCodecSwitchAt,
  kSsrcChangeAt,
  kCancel,
  kBusy,
  kNoBye,
  kNat,
  kDtmfInfo,
  kHoldAt,
  kHoldFor,
  kEncap,
  kIpv6,
  kEncapId,
  kRtcp,
  kJitter,
  kAgents,
  kWriteAgents,
  kManifest,
  kOutput,
  kHelp,
};

}  // namespace

std::string UsageText() {
  return R"(usage: callgen -o FILE.pcap [options]

Writes a pcap (nanosecond timestamps, Ethernet) of synthetic SIP calls with RTP both ways,
and optionally a JSON manifest of what it wrote. Deterministic for a given --seed.

Output
  -o, --output FILE          pcap file to write ("-" = stdout)           (required)
  --manifest FILE            JSON manifest: per call ids, parties, times, tones, counts
  --write-agents FILE        write the agent directory CSV (extension,name,employee_id)
  --agents FILE              read the agent directory CSV instead of generating one
Calls
  --calls N                  number of calls (default 10)
  --concurrency N            calls in progress at once; starts are staggered (default: N)
  --duration SECS|MIN:MAX    talk time, answer to BYE (default 30)
  --ring SECS|MIN:MAX        INVITE to answer (default 1:3)
  --start RFC3339            time of the first INVITE, any date (default 2026-01-15T09:00:00Z)
  --seed N                   random seed (default 1)
  --codec pcmu|pcma|mixed    G.711 law of the calls (default pcmu)
  --codec-switch-at SECS     re-INVITE switching codec (PCMU<->PCMA) SECS after answer
  --dtmf DIGITS              RFC 4733 events the caller keys (0-9 * # A-D)
  --dtmf-at SECS             when the first digit starts, after answer (default 2)
  --dtmf-info                send the digits as SIP INFO (application/dtmf-relay) instead
  --rtp-after-bye MS         RTP keeps flowing MS after the BYE (default 0)
  --ssrc-change-at SECS      the caller's RTP restarts with a new SSRC, seq and timestamp
  --hold-at SECS             the agent holds the caller (re-INVITE a=sendonly) SECS after
                             answer; the caller's RTP stops until the resume re-INVITE
  --hold-for SECS            how long the hold lasts (default 5)
  --rtcp                     RTCP SR+SDES every 5 s on RTP port + 1
  --cancel PCT               PCT % of calls: caller gives up while ringing (CANCEL, 487)
  --busy PCT                 PCT % of calls: 486 Busy Here, no media
  --no-bye PCT               PCT % of calls: answered, media ends, no BYE ever seen
  --nat PCT                  PCT % of agents are remote behind NAT: their SIP/SDP name a
                             private 192.168.x.y address, packets use a public one
SIP transport
  --sip-port N               SIP port (default 5060)
  --sip-tcp                  SIP over TCP: one connection per call, handshake and FIN
  --tcp-split                with --sip-tcp: messages with a body span two segments
  --tcp-coalesce             with --sip-tcp: 100 Trying and 180 Ringing in one segment
  --ipv6                     every party on IPv6 (2001:db8::/32), SDP "c=IN IP6"
  --fragment-sip             fragment SIP datagrams larger than --mtu (IPv4, or IPv6
                             Fragment headers with --ipv6)
  --mtu N                    IP MTU for --fragment-sip (default 576)
Network impairments (RTP only; SIP is never impaired)
  --loss PCT                 drop PCT % of RTP packets
  --reorder PCT              deliver PCT % of RTP packets after their successor
  --duplicate PCT            deliver PCT % of RTP packets twice (SPAN duplicates)
  --jitter-us N              random delay 0..N us on each RTP packet (default 200)
  --vlan ID                  802.1Q tag on every frame
  --qinq OUTER,INNER         802.1ad S-tag OUTER and 802.1Q C-tag INNER on every frame
  --encap KIND               wrap every frame as a remote SPAN would: gre, erspan2,
                             erspan3 or vxlan (outer 192.0.2.1 -> 192.0.2.100)
  --encap-id N               ERSPAN session id, VXLAN VNI or GRE key (default 7)
  -h, --help                 this text
)";
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  static const option kLong[] = {
      {"calls", required_argument, nullptr, kCalls},
      {"concurrency", required_argument, nullptr, kConcurrency},
      {"duration", required_argument, nullptr, kDuration},
      {"ring", required_argument, nullptr, kRing},
      {"start", required_argument, nullptr, kStart},
      {"seed", required_argument, nullptr, kSeed},
      {"codec", required_argument, nullptr, kCodec},
      {"loss", required_argument, nullptr, kLoss},
      {"reorder", required_argument, nullptr, kReorder},
      {"duplicate", required_argument, nullptr, kDuplicate},
      {"vlan", required_argument, nullptr, kVlan},
      {"qinq", required_argument, nullptr, kQinq},
      {"fragment-sip", no_argument, nullptr, kFragmentSip},
      {"mtu", required_argument, nullptr, kMtu},
      {"sip-tcp", no_argument, nullptr, kSipTcp},
      {"tcp-split", no_argument, nullptr, kTcpSplit},
      {"tcp-coalesce", no_argument, nullptr, kTcpCoalesce},
      {"sip-port", required_argument, nullptr, kSipPort},
      {"dtmf", required_argument, nullptr, kDtmf},
      {"dtmf-at", required_argument, nullptr, kDtmfAt},
      {"rtp-after-bye", required_argument, nullptr, kRtpAfterBye},
      {"codec-switch-at", required_argument, nullptr, kCodecSwitchAt},
      {"ssrc-change-at", required_argument, nullptr, kSsrcChangeAt},
      {"cancel", required_argument, nullptr, kCancel},
      {"busy", required_argument, nullptr, kBusy},
      {"no-bye", required_argument, nullptr, kNoBye},
      {"nat", required_argument, nullptr, kNat},
      {"dtmf-info", no_argument, nullptr, kDtmfInfo},
      {"hold-at", required_argument, nullptr, kHoldAt},
      {"encap", required_argument, nullptr, kEncap},
      {"ipv6", no_argument, nullptr, kIpv6},
      {"encap-id", required_argument, nullptr, kEncapId},
      {"hold-for", required_argument, nullptr, kHoldFor},
      {"rtcp", no_argument, nullptr, kRtcp},
      {"jitter-us", required_argument, nullptr, kJitter},
      {"agents", required_argument, nullptr, kAgents},
      {"write-agents", required_argument, nullptr, kWriteAgents},
      {"manifest", required_argument, nullptr, kManifest},
      {"output", required_argument, nullptr, kOutput},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  Options o;
  bool mtu_set = false;
  bool start_set = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "o:h", kLong, nullptr)) != -1) {
    std::string_view arg = optarg != nullptr ? optarg : "";
    switch (c) {
      case 'o':
      case kOutput:
        o.output = std::string(arg);
        break;
      case 'h':
      case kHelp:
        o.help = true;
        return o;
      case kCalls: {
        auto v = ParseInt("calls", arg, 1, 10'000'000);
        if (!v.ok()) return v.status();
        o.calls = static_cast<int>(*v);
        break;
      }
      case kConcurrency: {
        auto v = ParseInt("concurrency", arg, 1, 10'000'000);
        if (!v.ok()) return v.status();
        o.concurrency = static_cast<int>(*v);
        break;
      }
      case kDuration: {
        auto s = ParseRange("duration", arg, &o.duration_min_s, &o.duration_max_s);
        if (!s.ok()) return s;
        break;
      }
      case kRing: {
        auto s = ParseRange("ring", arg, &o.ring_min_s, &o.ring_max_s);
        if (!s.ok()) return s;
        break;
      }
      case kStart: {
        auto t = ParseTime(arg);
        if (!t.ok()) return Bad("start", std::string(t.status().message()));
        // pcap stores 32-bit unsigned seconds; the TCP handshake precedes the first INVITE.
        if (*t < kNsPerSec || *t / kNsPerSec > 4'290'000'000ull) {
          return Bad("start", fmt::format("'{}' is outside 1970-01-01T00:00:01Z..2105", arg));
        }
        o.start_ns = *t;
        start_set = true;
        break;
      }
      case kSeed: {
        auto v = ParseInt("seed", arg, 0, INT64_MAX);
        if (!v.ok()) return v.status();
        o.seed = static_cast<uint64_t>(*v);
        break;
      }
      case kCodec:
        if (arg == "pcmu")
          o.codec = CodecChoice::kPcmu;
        else if (arg == "pcma")
          o.codec = CodecChoice::kPcma;
        else if (arg == "mixed")
          o.codec = CodecChoice::kMixed;
        else
          return Bad("codec", fmt::format("must be pcmu, pcma or mixed, got '{}'", arg));
        break;
      case kLoss:
      case kReorder:
      case kDuplicate: {
        const char* name = c == kLoss ? "loss" : c == kReorder ? "reorder" : "duplicate";
        auto v = ParseDouble(name, arg, 0, 100);
        if (!v.ok()) return v.status();
        (c == kLoss ? o.loss_pct : c == kReorder ? o.reorder_pct : o.duplicate_pct) = *v;
        break;
      }
      case kVlan: {
        auto v = ParseInt("vlan", arg, 0, 4095);
        if (!v.ok()) return v.status();
        o.vlan = static_cast<int>(*v);
        break;
      }
      case kQinq: {
        auto comma = arg.find(',');
        if (comma == std::string_view::npos) return Bad("qinq", "expected OUTER,INNER");
        auto outer = ParseInt("qinq", arg.substr(0, comma), 0, 4095);
        if (!outer.ok()) return outer.status();
        auto inner = ParseInt("qinq", arg.substr(comma + 1), 0, 4095);
        if (!inner.ok()) return inner.status();
        o.outer_vlan = static_cast<int>(*outer);
        o.vlan = static_cast<int>(*inner);
        break;
      }
      case kFragmentSip:
        o.fragment_sip = true;
        break;
      case kMtu: {
        auto v = ParseInt("mtu", arg, 68, 9000);
        if (!v.ok()) return v.status();
        o.mtu = static_cast<int>(*v);
        mtu_set = true;
        break;
      }
      case kSipTcp:
        o.sip_tcp = true;
        break;
      case kTcpSplit:
        o.tcp_split = true;
        break;
      case kTcpCoalesce:
        o.tcp_coalesce = true;
        break;
      case kSipPort: {
        auto v = ParseInt("sip-port", arg, 1, 65535);
        if (!v.ok()) return v.status();
        o.sip_port = static_cast<int>(*v);
        break;
      }
      case kDtmf:
        for (char d : arg) {
          if (std::string_view("0123456789*#ABCDabcd").find(d) == std::string_view::npos) {
            return Bad("dtmf", fmt::format("'{}' is not a DTMF digit (0-9 * # A-D)", d));
          }
        }
        o.dtmf = std::string(arg);
        break;
      case kDtmfAt: {
        auto v = ParseDouble("dtmf-at", arg, 0, 86400);
        if (!v.ok()) return v.status();
        o.dtmf_at_s = *v;
        break;
      }
      case kRtpAfterBye: {
        auto v = ParseInt("rtp-after-bye", arg, 0, 60000);
        if (!v.ok()) return v.status();
        o.rtp_after_bye_ms = static_cast<int>(*v);
        break;
      }
      case kCodecSwitchAt: {
        auto v = ParseDouble("codec-switch-at", arg, 0, 86400);
        if (!v.ok()) return v.status();
        o.codec_switch_at_s = *v;
        break;
      }
      case kSsrcChangeAt: {
        auto v = ParseDouble("ssrc-change-at", arg, 0, 86400);
        if (!v.ok()) return v.status();
        o.ssrc_change_at_s = *v;
        break;
      }
      case kCancel:
      case kBusy:
      case kNoBye: {
        const char* name = c == kCancel ? "cancel" : c == kBusy ? "busy" : "no-bye";
        auto v = ParseDouble(name, arg, 0, 100);
        if (!v.ok()) return v.status();
        (c == kCancel ? o.cancel_pct : c == kBusy ? o.busy_pct : o.no_bye_pct) = *v;
        break;
      }
      case kDtmfInfo:
        o.dtmf_info = true;
        break;
      case kIpv6:
        o.ipv6 = true;
        break;
      case kEncap:
        if (!ParseTunnelKind(arg).has_value()) {
          return Bad("encap",
                     fmt::format("must be none, gre, erspan2, erspan3 or vxlan, got '{}'", arg));
        }
        o.encap = std::string(arg);
        break;
      case kEncapId: {
        auto v = ParseInt("encap-id", arg, 0, 0xFFFFFF);
        if (!v.ok()) return v.status();
        o.encap_id = static_cast<uint32_t>(*v);
        break;
      }
      case kHoldAt:
      case kHoldFor: {
        auto v = ParseDouble(c == kHoldAt ? "hold-at" : "hold-for", arg, 0, 86400);
        if (!v.ok()) return v.status();
        (c == kHoldAt ? o.hold_at_s : o.hold_for_s) = *v;
        break;
      }
      case kNat: {
        auto v = ParseDouble("nat", arg, 0, 100);
        if (!v.ok()) return v.status();
        o.nat_pct = *v;
        break;
      }
      case kRtcp:
        o.rtcp = true;
        break;
      case kJitter: {
        auto v = ParseInt("jitter-us", arg, 0, 10000);
        if (!v.ok()) return v.status();
        o.jitter_us = static_cast<int>(*v);
        break;
      }
      case kAgents:
        o.agents_file = std::string(arg);
        break;
      case kWriteAgents:
        o.write_agents_file = std::string(arg);
        break;
      case kManifest:
        o.manifest_file = std::string(arg);
        break;
      default: {
        std::string_view bad = (optind >= 1 && optind <= argc) ? argv[optind - 1] : "?";
        return absl::InvalidArgumentError(
            fmt::format("unknown option or missing value: '{}' (see --help)", bad));
      }
    }
  }
  if (optind < argc) {
    return absl::InvalidArgumentError(
        fmt::format("unexpected argument '{}' (see --help)", argv[optind]));
  }
  if (o.output.empty()) return Bad("output", "missing (-o FILE.pcap)");
  if (o.concurrency == 0 || o.concurrency > o.calls) o.concurrency = o.calls;
  if (!start_set) {
    auto t = ParseTime("2026-01-15T09:00:00Z");
    if (!t.ok()) return t.status();
    o.start_ns = *t;
  }
  if (o.fragment_sip && !mtu_set) o.mtu = 576;
  if (o.ipv6 && o.nat_pct > 0) return Bad("nat", "IPv4 only (NAT with --ipv6 makes no sense)");
  if (o.cancel_pct + o.busy_pct + o.no_bye_pct > 100) {
    return Bad("cancel", "--cancel + --busy + --no-bye exceed 100 %");
  }
  if (o.fragment_sip && o.sip_tcp) {
    return Bad("fragment-sip", "applies to SIP over UDP; not with --sip-tcp");
  }
  if ((o.tcp_split || o.tcp_coalesce) && !o.sip_tcp) {
    return Bad(o.tcp_split ? "tcp-split" : "tcp-coalesce", "needs --sip-tcp");
  }
  return o;
}

}  // namespace callvault::callgen
