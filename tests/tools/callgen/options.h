// Options: the callgen command line (see --help and tests/tools/README.md).
//
// Contract: ParseOptions() turns argv into a validated Options or an InvalidArgument
// status naming the flag and the problem ("--loss: must be 0..100, got 120"). Control
// path only.
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_OPTIONS_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace callvault::callgen {

enum class CodecChoice : uint8_t { kPcmu, kPcma, kMixed };

struct Options {
  bool help = false;
  std::string output;  // pcap path ("-" = stdout)
  int calls = 10;
  int concurrency = 0;           // 0 = all calls overlap (= calls)
  double duration_min_s = 30.0;  // talk time: answer (200 OK) to BYE
  double duration_max_s = 30.0;
  double ring_min_s = 1.0;  // INVITE to 200 OK
  double ring_max_s = 3.0;
  uint64_t start_ns = 0;  // first INVITE; default 2026-01-15T09:00:00Z
  uint64_t seed = 1;
  CodecChoice codec = CodecChoice::kPcmu;
  double loss_pct = 0, reorder_pct = 0, duplicate_pct = 0;
  int vlan = -1;               // 802.1Q tag on every frame
  int outer_vlan = -1;         // QinQ S-tag (then vlan is the inner C-tag)
  std::string encap = "none";  // none|gre|erspan2|erspan3|vxlan around every frame
  uint32_t encap_id = 7;       // ERSPAN session / VXLAN VNI / GRE key
  bool fragment_sip = false;
  int mtu = 1500;     // IP MTU for SIP over UDP; 576 by default with --fragment-sip
  bool ipv6 = false;  // every party on IPv6 (2001:db8::/32); SDP "IN IP6"
  bool sip_tcp = false;
  bool tcp_split = false;     // split each SIP message with a body across 2 segments
  bool tcp_coalesce = false;  // send 100 Trying + 180 Ringing in one segment
  int sip_port = 5060;
  std::string dtmf;        // digits 0-9 * # A-D sent by the caller
  bool dtmf_info = false;  // as SIP INFO (application/dtmf-relay) instead of RFC 4733
  double dtmf_at_s = 2.0;  // after answer
  int rtp_after_bye_ms = 0;
  double codec_switch_at_s = -1;  // after answer; < 0 = no re-INVITE
  double ssrc_change_at_s = -1;   // after answer; caller's stream restarts; < 0 = never
  double hold_at_s = -1;          // after answer; the agent puts the caller on hold
  double hold_for_s = 5;          // ... and resumes this much later
  // Call outcomes other than answered-and-hung-up, in percent of calls.
  double cancel_pct = 0;  // caller hangs up while ringing: CANCEL / 487
  double busy_pct = 0;    // 486 Busy Here
  double no_bye_pct = 0;  // answered, but no BYE is ever seen
  double nat_pct = 0;     // agents working remotely behind NAT
  bool rtcp = false;
  int jitter_us = 200;  // max random network delay added to each RTP packet
  std::string agents_file;
  std::string write_agents_file;
  std::string manifest_file;
};

// Returns the options, or InvalidArgument. With --help, `help` is set and nothing else
// is validated.
absl::StatusOr<Options> ParseOptions(int argc, char** argv);

std::string UsageText();

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_OPTIONS_H_
