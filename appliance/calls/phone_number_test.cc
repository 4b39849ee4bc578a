#include "appliance/calls/phone_number.h"

#include <gtest/gtest.h>

namespace callvault::calls {
namespace {

PhoneNormalizer Us() { return *PhoneNormalizer::Create("US"); }

TEST(UriUserPart, Forms) {
  EXPECT_EQ(UriUserPart("sip:+12025550143@host;user=phone"), "+12025550143");
  EXPECT_EQ(UriUserPart("\"Bob\" <sip:2001@pbx.example.com:5060;transport=udp>;tag=1"), "2001");
  EXPECT_EQ(UriUserPart("tel:+1-202-555-0143;phone-context=example.com"), "+1-202-555-0143");
  EXPECT_EQ(UriUserPart("sips:alice:secret@example.com"), "alice");
  EXPECT_EQ(UriUserPart("sip:example.com"), "");
  EXPECT_EQ(UriUserPart("  2001 "), "2001");
  EXPECT_EQ(UriUserPart("<sip:bob@h"), "bob");  // unterminated '<' still yields the user
}

TEST(PhoneNormalizer, AcceptsCommonForms) {
  PhoneNormalizer n = Us();
  EXPECT_EQ(n.ToE164("+1 202-555-0143"), "+12025550143");
  EXPECT_EQ(n.ToE164("(202) 555-0143"), "+12025550143");
  EXPECT_EQ(n.ToE164("202.555.0143"), "+12025550143");
  EXPECT_EQ(n.ToE164("tel:+12025550143"), "+12025550143");
  EXPECT_EQ(n.ToE164("sip:+12025550143@host;user=phone"), "+12025550143");
  EXPECT_EQ(n.ToE164("<sip:2025550143@10.0.0.1>"), "+12025550143");
  EXPECT_EQ(n.ToE164("sip:%2B12025550143@host"), "+12025550143");
  EXPECT_EQ(n.ToE164("0044 20 7946 0958"), "+442079460958");
  EXPECT_EQ(n.ToE164("011 44 20 7946 0958"), "+442079460958");  // US international prefix
  EXPECT_EQ(n.ToE164("+44 20 7946 0958"), "+442079460958");
}

TEST(PhoneNormalizer, NationalNumbersUseTheDefaultRegion) {
  PhoneNormalizer gb = *PhoneNormalizer::Create("gb");
  EXPECT_EQ(gb.region(), "GB");
  EXPECT_EQ(gb.ToE164("020 7946 0958"), "+442079460958");
  EXPECT_EQ(gb.ToE164("+1 202 555 0143"), "+12025550143");
}

TEST(PhoneNormalizer, NotPhoneNumbers) {
  PhoneNormalizer n = Us();
  EXPECT_EQ(n.ToE164("2001"), std::nullopt);
  EXPECT_EQ(n.ToE164("sip:alice@example.com"), std::nullopt);
  EXPECT_EQ(n.ToE164("1-800-FLOWERS"), std::nullopt);  // vanity letters are not dialled
  EXPECT_EQ(n.ToE164("*72"), std::nullopt);
  EXPECT_EQ(n.ToE164(""), std::nullopt);
  EXPECT_EQ(n.ToE164("+"), std::nullopt);
  EXPECT_EQ(n.ToE164("sip:host.example.com"), std::nullopt);
  EXPECT_EQ(n.ToE164("12345678901234567890123"), std::nullopt);
  EXPECT_EQ(n.NormalizeOrRaw("sip:2001@pbx"), "2001");
  EXPECT_EQ(n.NormalizeOrRaw("\"Alice\" <sip:alice@example.com>"), "alice");
  EXPECT_EQ(n.NormalizeOrRaw("sip:2025550143@pbx"), "+12025550143");
}

TEST(PhoneNormalizer, UnknownRegionIsAnError) {
  auto n = PhoneNormalizer::Create("XX");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(std::string(n.status().message()).find("\"XX\""), std::string::npos);
}

}  // namespace
}  // namespace callvault::calls
