#include "tests/tools/callgen/call_plan.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "appliance/common/status.h"
#include "fmt/format.h"

namespace callvault::callgen {
namespace {

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr const char* kFirstNames[] = {
    "Alice", "Bruno",  "Chloe",  "Daniel", "Elena", "Farid", "Grace", "Hiroshi", "Ines",   "Jamal",
    "Keiko", "Liam",   "Maria",  "Nikhil", "Olga",  "Pedro", "Qing",  "Rosa",    "Samuel", "Tanya",
    "Umar",  "Vera",   "Walter", "Ximena", "Yusuf", "Zoe",   "Aaron", "Beatriz", "Carlos", "Dana",
    "Emeka", "Fatima", "Gustav", "Hannah", "Ivan",  "Julia", "Kwame", "Leila",   "Mateo",  "Nora"};
constexpr const char* kLastNames[] = {
    "Smith",   "Garcia", "Nguyen",  "Okafor", "Kowalski", "Haddad",    "Tanaka",  "Johnson",
    "Silva",   "Muller", "Rossi",   "Dubois", "Kim",      "Patel",     "Ivanova", "Hansen",
    "Brown",   "Lopez",  "Chen",    "Novak",  "Ali",      "Jensen",    "Moreau",  "Costa",
    "Schmidt", "Walker", "Yilmaz",  "Santos", "Fischer",  "Murphy",    "Reyes",   "Larsen",
    "Kaur",    "Sato",   "Popescu", "Horvat", "Mensah",   "Lindqvist", "Romero",  "Abara"};
constexpr int kFirst = sizeof(kFirstNames) / sizeof(kFirstNames[0]);
constexpr int kLast = sizeof(kLastNames) / sizeof(kLastNames[0]);

// Agent i's phone: 10.20.(i / 200).(10 + i % 200).
uint32_t AgentIp(size_t i) {
  return (10u << 24) | (20u << 16) | (static_cast<uint32_t>(i / 200 % 256) << 8) |
         static_cast<uint32_t>(10 + i % 200);
}

uint64_t SecondsToNs(double s) { return static_cast<uint64_t>(std::llround(s * 1e9)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix(seed);
}

uint64_t Rng::Next() {
  uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

std::string Rng::Hex(int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(static_cast<size_t>(digits));
  for (int i = 0; i < digits; ++i) out.push_back(kHex[Next() >> 60]);
  return out;
}

uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t x = seed ^ (a * 0xD1B54A32D192ED03ull) ^ (b * 0x8CB92BA72F3D8DD7ull);
  return SplitMix(x);
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAnswered:
      return "answered";
    case Outcome::kCancelled:
      return "cancelled";
    case Outcome::kBusy:
      return "busy";
    case Outcome::kNoBye:
      return "no_bye";
  }
  return "?";
}

uint8_t DtmfEventCode(char d) {
  if (d >= '0' && d <= '9') return static_cast<uint8_t>(d - '0');
  if (d == '*') return 10;
  if (d == '#') return 11;
  if (d >= 'A' && d <= 'D') return static_cast<uint8_t>(12 + d - 'A');
  if (d >= 'a' && d <= 'd') return static_cast<uint8_t>(12 + d - 'a');
  return 0;
}

std::vector<Agent> MakeAgents(int count) {
  std::vector<Agent> agents;
  agents.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    Agent a;
    a.extension = std::to_string(2001 + i);
    a.name = fmt::format("{} {}", kFirstNames[i % kFirst], kLastNames[(i / kFirst) % kLast]);
    if (i >= kFirst * kLast) {  // keep names unique past 1,600 agents: a middle initial
      a.name = fmt::format("{} {}. {}", kFirstNames[i % kFirst],
                           static_cast<char>('A' + (i / (kFirst * kLast)) % 26),
                           kLastNames[(i / kFirst) % kLast]);
    }
    // 104729 is prime, so this is a permutation of 0..999999: unique ids.
    a.employee_id = fmt::format("E{:06d}", (104729ull * static_cast<uint64_t>(i + 1)) % 1000000);
    a.ip = AgentIp(static_cast<size_t>(i));
    agents.push_back(std::move(a));
  }
  return agents;
}

absl::StatusOr<std::vector<Agent>> ReadAgents(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("open {}: cannot read", path));
  std::vector<Agent> agents;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#' || line.rfind("extension", 0) == 0) continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, ',')) cols.push_back(col);
    if (cols.size() != 3 || cols[0].empty() || cols[1].empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: expected 'extension,name,employee_id', got '{}'", path, lineno, line));
    }
    agents.push_back(Agent{cols[0], cols[1], cols[2], AgentIp(agents.size())});
  }
  if (agents.empty()) return absl::InvalidArgumentError(fmt::format("{}: no agents", path));
  return agents;
}

absl::Status WriteAgents(const std::string& path, const std::vector<Agent>& agents) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(fmt::format("open {}: cannot write", path));
  out << "extension,name,employee_id\n";
  for (const Agent& a : agents) out << a.extension << ',' << a.name << ',' << a.employee_id << '\n';
  out.close();
  if (!out) return absl::InternalError(fmt::format("write {}: failed", path));
  return absl::OkStatus();
}

std::vector<CallPlan> PlanCalls(const Options& o, const std::vector<Agent>& agents) {
  const int n = o.calls;
  const int c = std::max(1, o.concurrency);
  const double mean_len =
      (o.ring_min_s + o.ring_max_s) / 2 + (o.duration_min_s + o.duration_max_s) / 2 + 2.0;
  const uint64_t stagger = SecondsToNs(mean_len / c);
  std::vector<uint64_t> cursor(static_cast<size_t>(c));
  for (int s = 0; s < c; ++s) cursor[static_cast<size_t>(s)] = o.start_ns + s * stagger;

  std::vector<CallPlan> plans(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    CallPlan& p = plans[static_cast<size_t>(i)];
    Rng rng(MixSeed(o.seed, static_cast<uint64_t>(i), 1));
    const int slot = i % c;
    p.index = i;
    p.agent = slot % static_cast<int>(agents.size());
    const uint32_t sbc_ip = (198u << 24) | (51u << 16) | (100u << 8) | (10u + (i % 4));
    p.caller_sig = MakeHost(sbc_ip);
    if (o.ipv6) {  // documentation prefix 2001:db8::/32 (RFC 3849)
      p.caller_sig = MakeHost6({0x20, 0x01, 0x0d, 0xb8, 0, 0x51, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
                                static_cast<uint8_t>(0x10 + i % 4)});
    }
    p.agent_sig = MakeHost(agents[static_cast<size_t>(p.agent)].ip);
    p.call_id = fmt::format("{}@{}", rng.Hex(24), HostText(p.caller_sig));
    p.ani = fmt::format("+1202555{:04d}", rng.Below(10000));
    p.dialled = fmt::format("+1800555010{}", rng.Below(5));
    p.from_tag = rng.Hex(10);
    p.to_tag = rng.Hex(10);
    p.branch_seed = rng.Hex(12);
    p.agent_cseq = static_cast<uint32_t>(100 + rng.Below(800));
    p.bye_from_agent = rng.Below(2) == 1;
    switch (o.codec) {
      case CodecChoice::kPcmu:
        p.codec = Codec::kPcmu;
        break;
      case CodecChoice::kPcma:
        p.codec = Codec::kPcma;
        break;
      case CodecChoice::kMixed:
        p.codec = rng.Below(2) ? Codec::kPcma : Codec::kPcmu;
        break;
    }
    p.switch_codec = p.codec == Codec::kPcmu ? Codec::kPcma : Codec::kPcmu;

    const uint64_t ring = SecondsToNs(rng.Range(o.ring_min_s, o.ring_max_s));
    const uint64_t talk = SecondsToNs(rng.Range(o.duration_min_s, o.duration_max_s));
    uint64_t& cur = cursor[static_cast<size_t>(slot)];
    p.start_ns = cur;
    p.answer_ns = p.start_ns + std::max<uint64_t>(ring, 100'000'000);  // after 180 Ringing
    p.end_ns = p.answer_ns + talk;
    p.media_start_ns[1] = p.answer_ns + 10'000'000;  // the phone talks once it answers
    p.media_start_ns[0] = p.answer_ns + 30'000'000;  // the SBC after it ACKs
    uint64_t after = static_cast<uint64_t>(o.rtp_after_bye_ms) * 1'000'000;
    {
      // A separate stream, so that adding outcomes leaves every other choice unchanged.
      Rng orng(MixSeed(o.seed, static_cast<uint64_t>(i), 2));
      const double u = orng.Uniform() * 100.0;
      if (u < o.cancel_pct) {
        p.outcome = Outcome::kCancelled;
        p.end_ns = p.answer_ns;  // the caller gives up instead of being answered
      } else if (u < o.cancel_pct + o.busy_pct) {
        p.outcome = Outcome::kBusy;
        p.end_ns = p.start_ns + 300'000'000;
      } else if (u < o.cancel_pct + o.busy_pct + o.no_bye_pct) {
        p.outcome = Outcome::kNoBye;
      }
      if (!p.answered()) {
        p.answer_ns = 0;
        after = 0;
        p.media_start_ns[0] = p.media_start_ns[1] = p.end_ns;  // no media
      }
    }
    for (int d = 0; d < 2; ++d) {
      p.media_end_ns[d] = std::max(p.end_ns + after, p.media_start_ns[d]);
    }
    if (o.codec_switch_at_s >= 0 && p.answered()) {
      uint64_t at = p.answer_ns + SecondsToNs(o.codec_switch_at_s);
      if (at + 200'000'000 < p.end_ns) {
        p.has_switch = true;
        p.reinvite_ns = at;
        p.switch_ns = at + 40'000'000;  // when its 200 OK is sent
      }
    }
    cur = p.end_ns + after + SecondsToNs(rng.Range(1.0, 3.0));

    p.caller_rtp = static_cast<uint16_t>(10000 + 2 * (i % 25000));
    p.agent_rtp = static_cast<uint16_t>(16384 + 2 * (i % 8000));
    p.agent_sip_port = static_cast<uint16_t>(o.sip_port);
    if (o.ipv6) {  // agent k: 2001:db8:20::(k+10)
      const auto k = static_cast<uint32_t>(p.agent) + 10;
      p.agent_sig = MakeHost6({0x20, 0x01, 0x0d, 0xb8, 0, 0x20, 0, 0, 0, 0, 0, 0,
                               static_cast<uint8_t>(k >> 24), static_cast<uint8_t>(k >> 16),
                               static_cast<uint8_t>(k >> 8), static_cast<uint8_t>(k)});
    }
    p.agent_sdp = p.agent_sig;
    p.agent_sdp_rtp = p.agent_rtp;
    if (o.nat_pct > 0 &&
        Rng(MixSeed(o.seed, static_cast<uint64_t>(p.agent), 3)).Percent(o.nat_pct)) {
      // A remote agent: private address like the office numbering, a public one per home.
      const auto k = static_cast<uint32_t>(p.agent);
      p.agent_nat = true;
      p.agent_sdp = MakeHost((192u << 24) | (168u << 16) | ((k / 200 % 256) << 8) | (10 + k % 200));
      p.agent_sig = MakeHost((203u << 24) | (0u << 16) | (113u << 8) | (10 + k % 240));
      p.agent_sip_port = static_cast<uint16_t>(30000 + (i % 10000));
      p.agent_rtp = static_cast<uint16_t>(40000 + 2 * (i % 10000));
    }
    p.tcp_port = static_cast<uint16_t>(40000 + (i % 20000));
    p.tone_hz[0] = 300 + 50 * (i % 12);   // caller: 300..850 Hz
    p.tone_hz[1] = 1000 + 50 * (i % 20);  // agent: 1000..1950 Hz
    for (int d = 0; d < 2; ++d) {
      p.ssrc[d] = static_cast<uint32_t>(rng.Next());
      p.seq0[d] = static_cast<uint32_t>(rng.Below(65536));
      p.ts0[d] = static_cast<uint32_t>(rng.Next());
      p.tcp_isn[d] = static_cast<uint32_t>(rng.Next());
      p.ip_id[d] = static_cast<uint16_t>(rng.Below(65536));
    }

    if (o.ssrc_change_at_s >= 0 && p.answered()) {
      uint64_t at = p.answer_ns + SecondsToNs(o.ssrc_change_at_s);
      const uint64_t t0 = p.media_start_ns[0];
      if (at > t0 && at < p.media_end_ns[0]) {
        // Align to the caller's 20 ms grid: the new stream starts on a slot.
        p.has_ssrc_change = true;
        p.ssrc_change_ns = t0 + (at - t0 + kSlotNs - 1) / kSlotNs * kSlotNs;
        p.ssrc2 = static_cast<uint32_t>(rng.Next());
        p.seq2 = static_cast<uint32_t>(rng.Below(65536));
        p.ts2 = static_cast<uint32_t>(rng.Next());
        if (p.ssrc_change_ns >= p.media_end_ns[0]) p.has_ssrc_change = false;
      }
    }

    if (o.hold_at_s >= 0 && p.answered()) {
      const uint64_t at = p.answer_ns + SecondsToNs(o.hold_at_s);
      const uint64_t back = at + SecondsToNs(o.hold_for_s);
      const uint64_t t0 = p.media_start_ns[0];
      // Both re-INVITE transactions must finish before the BYE.
      if (at > t0 && back + 100'000'000 < p.end_ns) {
        p.has_hold = true;
        p.hold_ns = at;
        p.resume_ns = back;
        const uint64_t first = (at + 40'000'000 - t0 + kSlotNs - 1) / kSlotNs;
        const uint64_t end = (back + 40'000'000 - t0 + kSlotNs - 1) / kSlotNs;
        p.pause_first_slot = static_cast<uint32_t>(first);
        p.pause_slots = static_cast<uint32_t>(end - first);
      }
    }

    // DTMF from the caller, on the caller's RTP stream's 20 ms grid; an event never
    // straddles an SSRC change or falls into a hold.
    if (!o.dtmf.empty() && p.answered()) {
      const uint64_t t0 = p.media_start_ns[0];
      const uint64_t target = p.answer_ns + SecondsToNs(o.dtmf_at_s);
      const uint64_t slots = (p.media_end_ns[0] - t0 + kSlotNs - 1) / kSlotNs;
      uint64_t slot0 = target > t0 ? (target - t0 + kSlotNs - 1) / kSlotNs : 0;
      for (char d : o.dtmf) {
        if (slot0 + kDtmfSlots > slots) break;  // does not fit before the stream ends
        if (p.has_hold && slot0 + kDtmfSlots > p.pause_first_slot &&
            slot0 < p.pause_first_slot + p.pause_slots) {
          slot0 = p.pause_first_slot + p.pause_slots;
          if (slot0 + kDtmfSlots > slots) break;
        }
        if (p.has_ssrc_change) {
          const uint64_t change_slot = (p.ssrc_change_ns - t0) / kSlotNs;
          if (slot0 < change_slot && slot0 + kDtmfSlots > change_slot) slot0 = change_slot;
          if (slot0 + kDtmfSlots > slots) break;
        }
        p.dtmf.push_back(
            DtmfDigit{d, DtmfEventCode(d), static_cast<uint32_t>(slot0), t0 + slot0 * kSlotNs});
        slot0 += kDtmfSlots + kDtmfGapSlots;
      }
    }
  }
  return plans;
}

}  // namespace callvault::callgen
