// CallPlan: everything random about one call, decided up front from (seed, call index) so
// that the output is deterministic and one call's choices never depend on another's.
// Also the agent directory (generated, or read from / written to CSV).
//
// Contract: control path, single thread. PlanCalls() places calls on `concurrency` slots:
// slot s starts at start + s * stagger (stagger = mean call length / concurrency, so about
// `concurrency` calls overlap in steady state) and runs its calls back to back with a
// 1-3 s gap. Slot s always uses agent s % agents, so an agent is never in two calls at
// once when there are at least `concurrency` agents.
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_CALL_PLAN_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_CALL_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/tools/callgen/frame_builder.h"
#include "tests/tools/callgen/g711.h"
#include "tests/tools/callgen/options.h"

namespace callvault::callgen {

// splitmix64-seeded xoshiro256**: portable and fast, unlike std:: distributions whose
// output differs between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0,1)
  double Range(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  bool Percent(double pct) { return pct > 0 && Uniform() * 100.0 < pct; }
  std::string Hex(int digits);

 private:
  uint64_t s_[4];
};

uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b = 0);

struct Agent {
  std::string extension;
  std::string name;
  std::string employee_id;
  uint32_t ip = 0;  // the agent's phone, 10.20.x.y
};

// `count` agents: extensions 2001.., names from a fixed list, employee ids E######.
std::vector<Agent> MakeAgents(int count);
// CSV "extension,name,employee_id" (a header line starting with "extension" is skipped).
absl::StatusOr<std::vector<Agent>> ReadAgents(const std::string& path);
absl::Status WriteAgents(const std::string& path, const std::vector<Agent>& agents);

struct DtmfDigit {
  char digit = '0';
  uint8_t event = 0;        // RFC 4733 §3.2 event code
  uint32_t first_slot = 0;  // 20 ms slot of the caller's RTP stream where the event starts
  uint64_t time_ns = 0;     // send time of the first packet of the event
};

enum class Outcome : uint8_t {
  kAnswered,   // INVITE .. 200 OK, ACK, media, BYE, 200 OK
  kCancelled,  // INVITE, 100, 180, CANCEL, 200 OK (CANCEL), 487, ACK (RFC 3261 §9)
  kBusy,       // INVITE, 100, 486 Busy Here, ACK
  kNoBye,      // as answered, but neither BYE nor its 200 OK is ever sent
};
const char* OutcomeName(Outcome o);

// Direction 0 = caller -> agent, 1 = agent -> caller.
struct CallPlan {
  int index = 0;
  int agent = 0;  // index into the agent vector
  std::string call_id;
  std::string ani;      // E.164, "+1202555xxxx"
  std::string dialled;  // E.164 number the caller dialled (a queue's DID)
  std::string from_tag, to_tag, branch_seed;
  uint32_t agent_cseq = 0;  // the phone's own CSeq for its BYE
  bool bye_from_agent = false;
  Outcome outcome = Outcome::kAnswered;
  bool answered() const { return outcome == Outcome::kAnswered || outcome == Outcome::kNoBye; }

  Codec codec = Codec::kPcmu;         // negotiated at answer
  Codec switch_codec = Codec::kPcma;  // after the re-INVITE, if any
  bool has_switch = false;

  uint64_t start_ns = 0;     // INVITE
  uint64_t answer_ns = 0;    // 200 OK
  uint64_t reinvite_ns = 0;  // re-INVITE (has_switch)
  uint64_t switch_ns = 0;    // media switches codec (200 OK of the re-INVITE)
  uint64_t end_ns = 0;       // BYE; CANCEL or final error response if not answered
  // --ssrc-change-at: the caller's stream restarts with a new SSRC/seq/timestamp.
  bool has_ssrc_change = false;
  uint64_t ssrc_change_ns = 0;
  uint32_t ssrc2 = 0, seq2 = 0, ts2 = 0;
  // --hold-at: the phone's re-INVITE (a=sendonly) at hold_ns, the resume (a=sendrecv) at
  // resume_ns; the caller's RTP pauses from 40 ms after each (their 200 OK).
  bool has_hold = false;
  uint64_t hold_ns = 0, resume_ns = 0;
  uint32_t pause_first_slot = 0, pause_slots = 0;  // of the caller's stream
  uint64_t media_start_ns[2] = {};
  uint64_t media_end_ns[2] = {};  // RTP slots strictly before this time

  Host caller_sig, agent_sig;  // SBC and phone as on the wire (media on the same addresses)
  uint16_t caller_rtp = 0, agent_rtp = 0;  // RTP ports on the wire
  uint16_t agent_sip_port = 0;             // the phone's SIP port on the wire
  // What the phone writes in Via/Contact/SDP: its own address and port. They differ
  // from the wire when the agent sits behind NAT (--nat): private address, NAT-mapped
  // public address and ports on the wire, symmetric RTP (RFC 4961) to the SBC.
  bool agent_nat = false;
  Host agent_sdp;  // address only (no MAC use)
  uint16_t agent_sdp_rtp = 0;
  uint16_t tcp_port = 0;  // SBC's ephemeral port with --sip-tcp
  int tone_hz[2] = {};    // tone of each direction
  uint32_t ssrc[2] = {}, seq0[2] = {}, ts0[2] = {};
  uint32_t tcp_isn[2] = {};
  uint16_t ip_id[2] = {};
  std::vector<DtmfDigit> dtmf;
};

std::vector<CallPlan> PlanCalls(const Options& o, const std::vector<Agent>& agents);

// RFC 4733 §3.2: 0-9 -> 0-9, * -> 10, # -> 11, A-D -> 12-15.
uint8_t DtmfEventCode(char digit);

inline constexpr uint64_t kSlotNs = 20'000'000;  // 20 ms packetisation
inline constexpr uint32_t kDtmfSlots = 7;        // start + 3 updates + 3 end packets
inline constexpr uint32_t kDtmfGapSlots = 6;     // audio between two key presses

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_CALL_PLAN_H_
