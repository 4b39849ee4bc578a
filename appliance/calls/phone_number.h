// PhoneNormalizer: phone numbers to E.164 (ITU-T E.164, "+<country><national>").
//
// Input: anything a SIP header or an operator may call a number: "+1 202-555-0143",
// "(202) 555-0143", "tel:+12025550143;phone-context=x" (RFC 3966), "sip:+12025550143@host;
// user=phone" (RFC 3261 §19.1.6), "Alice <sip:2025550143@pbx>", "0044 20 7946 0958"
// (the international prefix 00), national numbers of the configured default region.
// Output: "+12025550143", or "not a phone number" (nullopt from ToE164; NormalizeOrRaw
// then keeps the raw user part, e.g. an extension "2001" or a SIP user "alice").
// Ownership: a normaliser is an immutable value (region code only); libphonenumber's
// PhoneNumberUtil is a process-wide singleton whose logging is silenced on first use.
// Thread: const methods are safe from any thread. Control path and call start, never
// per packet (libphonenumber allocates).
#ifndef CALLVAULT_APPLIANCE_CALLS_PHONE_NUMBER_H_
#define CALLVAULT_APPLIANCE_CALLS_PHONE_NUMBER_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace callvault::calls {

// The user part of a SIP/SIPS/tel URI or name-addr, without parameters:
// "Bob <sip:+1202@h;user=phone>" -> "+1202", "tel:+1-202;ext=1" -> "+1-202",
// "2001" -> "2001". Returns a view into `text`.
std::string_view UriUserPart(std::string_view text);

class PhoneNormalizer {
 public:
  // `default_region` is an ISO 3166-1 alpha-2 code ("US", "GB"); an unknown region is an
  // error naming it.
  [[nodiscard]] static absl::StatusOr<PhoneNormalizer> Create(std::string_view default_region);

  // E.164 ("+12025550143") when `text` (a number or URI, see above) is a valid phone
  // number, else nullopt. Alphabetic users ("alice"), feature codes ("*72"), short
  // extensions ("2001") are not phone numbers.
  std::optional<std::string> ToE164(std::string_view text) const;

  // ToE164(text), or else the raw user part of `text` unchanged.
  std::string NormalizeOrRaw(std::string_view text) const;

  const std::string& region() const { return region_; }

 private:
  explicit PhoneNormalizer(std::string region) : region_(std::move(region)) {}
  std::string region_;
};

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_PHONE_NUMBER_H_
