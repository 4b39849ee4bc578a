#include "appliance/export/call_keys.h"

#include <algorithm>
#include <string_view>

#include "appliance/config/config.h"
#include "appliance/decode/decoder.h"
#include "appliance/sip/message.h"

namespace callvault::exporter {
namespace {

constexpr std::size_t kMaxTcpBuffer = 256 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

DecodeConfig KeysDecodeConfig() {
  DecodeConfig c;
  c.frag_max_datagrams = 64;  // SIP over UDP may be fragmented (large INVITEs)
  c.frag_max_bytes = 1 << 20;
  return c;
}

}  // namespace

struct CallKeys::Impl {
  decode::Decoder decoder{KeysDecodeConfig(), decode::DecoderOptions{.verify_l4_checksums = false,
                                                                      .max_tunnel_depth = 4}};
  // TCP: per direction (src, dst) the bytes not yet framed into a message.
  std::map<std::pair<Endpoint, Endpoint>, std::vector<uint8_t>> tcp;
  sip::Limits limits;
  sip::Message msg;
};

CallKeys::CallKeys(std::vector<std::string> sip_call_ids)
    : call_ids_(std::move(sip_call_ids)), impl_(std::make_unique<Impl>()) {}
CallKeys::~CallKeys() = default;

const LegKeys& CallKeys::ForLeg(uint16_t leg) const {
  static const LegKeys kNone;
  auto it = legs_.find(leg);
  return it == legs_.end() ? kNone : it->second;
}

void CallKeys::AddSipFrame(const FrameRecordView& v) {
  Frame f;
  f.data = v.bytes.data();
  f.caplen = uint32_t(v.bytes.size());
  f.wirelen = v.wirelen;
  f.ts_ns = v.ts_ns;
  f.link = v.link;
  decode::DecodedPacket p;
  if (impl_->decoder.Decode(f, &p) != decode::DecodeDrop::kOk) return;  // fragment held, ...
  if (p.l4 == decode::L4Proto::kUdp) {
    OnMessage(p.payload, v.ts_ns);
    return;
  }
  if (p.l4 != decode::L4Proto::kTcp || p.payload.empty()) return;
  // SIP over TCP (RFC 3261 §18.3): frame by Content-Length. Segments arrive in capture
  // order; a gap only loses the messages it cuts (the buffer resyncs when it overflows).
  std::vector<uint8_t>& buf = impl_->tcp[{p.src, p.dst}];
  buf.insert(buf.end(), p.payload.begin(), p.payload.end());
  std::size_t off = 0;
  while (off < buf.size()) {
    sip::FrameResult fr = sip::MeasureMessage(std::span(buf).subspan(off), impl_->limits);
    if (fr.status == sip::FrameStatus::kNeedMore) break;
    if (fr.status == sip::FrameStatus::kError) {
      off = buf.size();
      break;
    }
    OnMessage(std::span(buf).subspan(off, fr.length), v.ts_ns);
    off += fr.length;
  }
  buf.erase(buf.begin(), buf.begin() + std::ptrdiff_t(off));
  if (buf.size() > kMaxTcpBuffer) buf.clear();
}

void CallKeys::OnMessage(std::span<const uint8_t> bytes, uint64_t ts_ns) {
  sip::Message& m = impl_->msg;
  if (!sip::ParseMessage(bytes, impl_->limits, &m).ok()) return;
  ++messages_;
  std::string call_id(m.call_id());
  auto from = m.from();
  if (call_id.empty() || !from) return;
  auto dialog = std::find(call_ids_.begin(), call_ids_.end(), call_id);
  if (dialog == call_ids_.end()) return;
  std::string tag(from->tag);
  // Side A: the From tag of the first INVITE of this Call-ID (the dialog's initial INVITE,
  // or the re-INVITE a mid-dialog pick-up started from: DialogTracker does the same).
  auto a = side_a_tag_.find(call_id);
  if (a == side_a_tag_.end()) {
    if (!m.is_request() || m.method() != sip::Method::kInvite) return;
    a = side_a_tag_.emplace(call_id, tag).first;
  }
  bool from_a = tag == a->second;
  int side = (m.is_request() == from_a) ? 0 : 1;
  std::string_view sdp = m.sdp();
  if (sdp.empty()) return;
  ++sdp_messages_;
  uint16_t base = uint16_t((dialog - call_ids_.begin()) * 32);
  int mline = -1;
  LegKeys* cur = nullptr;
  bool session_fingerprint = false;  // a=fingerprint before the first m= (RFC 8122 §5)
  while (!sdp.empty()) {
    std::size_t nl = sdp.find('\n');
    std::string_view line = Trim(sdp.substr(0, nl));
    sdp = nl == std::string_view::npos ? std::string_view() : sdp.substr(nl + 1);
    if (line.starts_with("m=")) {
      ++mline;
      cur = nullptr;
      if (mline >= 16) break;  // media numbers at most 16 streams per dialog
      cur = &legs_[uint16_t(base + mline * 2 + side)];
      // A new SDP from this side replaces what it announced before for this m-line; keep
      // the earlier keys as candidates (packets under them may still be in flight).
      cur->sdp_seen = true;
      cur->dtls = session_fingerprint || line.find("UDP/TLS/") != std::string_view::npos;
      cur->zrtp = false;
      continue;
    }
    if (!line.starts_with("a=")) continue;
    std::string_view attr = line.substr(2);
    if (cur == nullptr) {
      if (mline < 0 && attr.starts_with("fingerprint:")) session_fingerprint = true;
      continue;
    }
    if (attr.starts_with("crypto:")) {
      AnnouncedCrypto ac;
      ac.ts_ns = ts_ns;
      if (ParseCryptoAttribute(attr.substr(7), &ac.crypto)) {
        cur->cryptos.push_back(std::move(ac));
      } else {
        ++malformed_crypto_;
      }
    } else if (attr.starts_with("fingerprint:")) {
      cur->dtls = true;
    } else if (attr.starts_with("zrtp-hash:")) {
      cur->zrtp = true;
    }
  }
}

}  // namespace callvault::exporter
