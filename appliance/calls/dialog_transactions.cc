// DialogTracker: transaction memory — recognises retransmissions and the copies a proxy
// forwards on its next hop (RFC 3261 §17.1.1.3, §17.2.3) so that they are kept as
// evidence but never re-applied to call state.
//
// Input: a request or response of a tracked dialog. Output: true when it is new (and is
// now remembered), false when it was seen before. Bounds: kMaxKeysPerDialog keys per
// dialog set (a ring: the oldest key is overwritten) and SipConfig.max_transactions keys
// in all; beyond that new transactions are not remembered (counted
// kTransactionTableFull) and are treated as new. No allocation once a dialog's ring is
// full. Thread: the tracker's.
#include <algorithm>

#include "appliance/calls/dialog_state.h"

namespace callvault::calls {
namespace {

constexpr size_t kMaxKeysPerDialog = 32;  // remembered transactions per dialog set

// FNV-1a over the fields that identify a transaction.
uint64_t Mix(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= 0xff;  // field separator
  return h * 0x100000001b3ull;
}
uint64_t Mix(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

bool DialogTracker::Remember(Dialog& d, uint64_t key) {
  if (std::find(d.keys.begin(), d.keys.end(), key) != d.keys.end()) return false;
  if (d.keys.size() < kMaxKeysPerDialog) {
    if (transactions_ >= opt_.sip.max_transactions) {
      counters_.Inc(CallsDrop::kTransactionTableFull);
      return true;  // cannot remember it: treated as new
    }
    d.keys.push_back(key);
    ++transactions_;
  } else {
    d.keys[d.next_key++ % kMaxKeysPerDialog] = key;
  }
  return true;
}

bool DialogTracker::RememberRequest(Dialog& d, const sip::Message& m) {
  // Retransmissions and the copies a proxy forwards on its next hop share CSeq, method
  // and From-tag (RFC 3261 §8.1.1.5, §17.1.1.3); two different requests of one sender
  // never do (CSeq grows, §12.2.1.1).
  auto cseq = m.cseq();
  uint64_t k = Mix(Mix(0xcbf29ce484222325ull, 1), uint64_t(cseq->number));
  k = Mix(Mix(k, cseq->method_raw), FromTag(m));
  return Remember(d, k);
}

bool DialogTracker::RememberResponse(Dialog& d, const sip::Message& m) {
  // A response is repeated (retransmitted, or seen on both hops of a proxy) with the
  // same CSeq, status and tags.
  auto cseq = m.cseq();
  uint64_t k = Mix(Mix(0xcbf29ce484222325ull, 2), uint64_t(cseq->number));
  k = Mix(Mix(k, cseq->method_raw), uint64_t(m.status_code()));
  k = Mix(Mix(k, ToTag(m)), FromTag(m));
  return Remember(d, k);
}

}  // namespace callvault::calls
