#include "appliance/media/codec.h"

#include <cctype>

namespace callvault::media {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view CodecName(Codec c) {
  switch (c) {
    case Codec::kUnknown: return "unknown";
    case Codec::kPcmu: return "PCMU";
    case Codec::kPcma: return "PCMA";
    case Codec::kG722: return "G722";
    case Codec::kG729: return "G729";
    case Codec::kOpus: return "opus";
    case Codec::kComfortNoise: return "CN";
    case Codec::kTelephoneEvent: return "telephone-event";
    case Codec::kOther: return "other";
  }
  return "unknown";
}

Codec CodecFromName(std::string_view n) {
  if (IEquals(n, "PCMU")) return Codec::kPcmu;
  if (IEquals(n, "PCMA")) return Codec::kPcma;
  if (IEquals(n, "G722")) return Codec::kG722;
  if (IEquals(n, "G729") || IEquals(n, "G729a")) return Codec::kG729;
  if (IEquals(n, "opus")) return Codec::kOpus;
  if (IEquals(n, "CN")) return Codec::kComfortNoise;
  if (IEquals(n, "telephone-event")) return Codec::kTelephoneEvent;
  if (n.empty()) return Codec::kUnknown;
  return Codec::kOther;
}

PayloadMap::PayloadMap() {
  // RFC 3551 §6, Table 4 (audio).
  Set(0, Codec::kPcmu, 8000);
  Set(3, Codec::kOther, 8000);   // GSM
  Set(4, Codec::kOther, 8000);   // G723
  Set(8, Codec::kPcma, 8000);
  Set(9, Codec::kG722, 8000);
  Set(13, Codec::kComfortNoise, 8000);
  Set(18, Codec::kG729, 8000);
}

bool PlausibleRtpPayloadType(uint8_t pt) {
  if (pt >= 96 && pt <= 127) return true;
  if (pt <= 34) return pt != 1 && pt != 2 && pt != 19 && pt != 20 && pt != 21 &&
                       pt != 22 && pt != 23 && pt != 24 && pt != 27 && pt != 29 &&
                       pt != 30;
  return false;
}

}  // namespace callvault::media
