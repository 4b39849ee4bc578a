#include "appliance/calls/media_session.h"

#include "appliance/calls/calls_drop.h"

namespace callvault::calls {

std::string_view StreamDirectionName(StreamDirection d) {
  switch (d) {
    case StreamDirection::kSendRecv: return "sendrecv";
    case StreamDirection::kSendOnly: return "sendonly";
    case StreamDirection::kRecvOnly: return "recvonly";
    case StreamDirection::kInactive: return "inactive";
  }
  return "unknown";
}

std::string_view DropName(CallsDrop reason) {
  switch (reason) {
    case CallsDrop::kUnknownDialog: return "unknown_dialog";
    case CallsDrop::kNotCallRelated: return "not_call_related";
    case CallsDrop::kMissingHeaders: return "missing_headers";
    case CallsDrop::kDialogTableFull: return "dialog_table_full";
    case CallsDrop::kTransactionTableFull: return "transaction_table_full";
    case CallsDrop::kBadSdp: return "bad_sdp";
    case CallsDrop::kRetransmission: return "retransmission";
    case CallsDrop::kEvicted: return "evicted";
    case CallsDrop::kExpired: return "expired";
    case CallsDrop::kForkedAnswerIgnored: return "forked_answer_ignored";
    case CallsDrop::kLinkedByCorrelation: return "linked_by_correlation";
    case CallsDrop::kLinkedByMedia: return "linked_by_media";
    case CallsDrop::kLinkedByTransfer: return "linked_by_transfer";
    case CallsDrop::kPickedUpMidDialog: return "picked_up_mid_dialog";
    case CallsDrop::kMergedCalls: return "merged_calls";
    case CallsDrop::kCount: break;
  }
  return "unknown";
}

namespace {

bool IsAuxiliary(std::string_view enc) {
  auto eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      char x = a[i], y = b[i];
      if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
      if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
      if (x != y) return false;
    }
    return true;
  };
  return eq(enc, "telephone-event") || eq(enc, "CN") || eq(enc, "comfort-noise") ||
         eq(enc, "red") || eq(enc, "ulpfec") || eq(enc, "rtx");
}

std::string FirstCodec(const SideMedia& s) {
  for (const MediaStream& m : s.streams) {
    if (m.kind != MediaKind::kAudio || m.rejected() || !m.rtp_based) continue;
    for (const PayloadType& p : m.payload_types) {
      if (!IsAuxiliary(p.encoding)) return p.encoding;
    }
  }
  return "";
}

}  // namespace

std::string MediaSession::NegotiatedCodec() const {
  if (answer_side != kSideA && answer_side != kSideB) return "";
  return FirstCodec(side[answer_side]);
}

bool MediaSession::OnHold() const {
  for (const SideMedia& s : side) {
    bool any = false, all_hold = true;
    for (const MediaStream& m : s.streams) {
      if (m.kind != MediaKind::kAudio || m.rejected()) continue;
      any = true;
      all_hold = all_hold && m.on_hold();
    }
    if (any && all_hold) return true;
  }
  return false;
}

}  // namespace callvault::calls
