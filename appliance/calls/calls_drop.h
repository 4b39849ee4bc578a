// CallsDrop: named reasons for SIP messages the dialog tracker did not turn into call
// state, and the events it counts (retransmissions, evictions), per appliance/common/
// counters.h. Each consumed SIP message increments at most one "drop" reason; the event
// reasons (kRetransmission, kEvicted, kExpired...) count occurrences.
#ifndef CALLVAULT_APPLIANCE_CALLS_CALLS_DROP_H_
#define CALLVAULT_APPLIANCE_CALLS_CALLS_DROP_H_

#include <cstdint>
#include <string_view>

namespace callvault::calls {

enum class CallsDrop : uint8_t {
  kUnknownDialog = 0,     // in-dialog request or response for a dialog not tracked
  kNotCallRelated,        // REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, MESSAGE, PUBLISH ... outside a call
  kMissingHeaders,        // no Call-ID, CSeq or From: cannot be placed in a dialog
  kDialogTableFull,       // new dialog refused: SipConfig.max_dialogs reached, nothing evictable
  kTransactionTableFull,  // transaction not remembered (SipConfig.max_transactions reached)
  kBadSdp,                // SDP body present but unparsable: media of that offer/answer unknown
  kRetransmission,        // event: a retransmitted request/response, kept as evidence only
  kEvicted,               // event: a dialog evicted (oldest first) to make room
  kExpired,               // event: a dialog ended by the idle / early / session timer
  kForkedAnswerIgnored,   // event: a second 2xx from another fork after one was accepted
  kLinkedByCorrelation,   // event: a dialog linked to a call by a correlation header
  kLinkedByMedia,         // event: a dialog linked to a call by shared media endpoints
  kLinkedByTransfer,      // event: a dialog linked to a call by REFER / Replaces
  kPickedUpMidDialog,     // event: a call first seen by an in-dialog re-INVITE/UPDATE
  kMergedCalls,           // event: two started calls merged (later shared media/correlation)
  kCount
};

std::string_view DropName(CallsDrop reason);

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_CALLS_DROP_H_
