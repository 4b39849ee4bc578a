// libFuzzer target: sip::ParseMessage, every typed accessor, multipart SDP extraction,
// MeasureMessage and LooksLikeSip on arbitrary bytes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "appliance/sip/message.h"
#include "appliance/sip/sdp.h"

using namespace callvault::sip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  static Message m;
  Limits limits;
  limits.max_message_bytes = 65536;
  limits.max_headers = 64;
  limits.max_header_bytes = 4096;
  (void)LooksLikeSip(in);
  (void)MeasureMessage(in, limits);
  ParseResult r = ParseMessage(in, limits, &m);
  if (!r.ok()) return 0;
  if (r.consumed > size) __builtin_trap();
  for (const Header& h : m.headers()) {
    (void)LookupHeaderId(h.name);
    (void)m.Find(h.name);
    std::array<std::string_view, 4> vals;
    (void)SplitHeaderValues(h.value, vals);
    NameAddr na;
    (void)ParseNameAddr(h.value, &na);
  }
  (void)m.call_id();
  (void)m.from();
  (void)m.to();
  (void)m.contact();
  (void)m.p_asserted_identity();
  (void)m.remote_party_id();
  (void)m.refer_to();
  (void)m.referred_by();
  (void)m.top_via();
  (void)m.cseq();
  (void)m.rack();
  (void)m.rseq();
  (void)m.max_forwards();
  (void)m.session_expires();
  (void)m.reason();
  (void)m.replaces();
  (void)m.user_agent();
  (void)m.content_type();
  (void)m.content_length();
  std::string_view sdp = m.sdp();
  if (!sdp.empty()) {
    if (sdp.data() < m.body().data() ||
        sdp.data() + sdp.size() > m.body().data() + m.body().size()) {
      __builtin_trap();  // the SDP must be a view inside the body
    }
    SessionDescription sd;
    (void)ParseSdp(sdp, &sd);
  }
  return 0;
}
