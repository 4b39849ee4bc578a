#include "storage/index/record_codec.h"

#include <random>

#include <gtest/gtest.h>

#include "storage/index/normalize.h"
#include "storage/testing/store_test_util.h"

namespace callvault {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(RecordCodec, RandomRoundTrip) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 500; ++i) {
    CallRecord r = testing::RandomRecord(rng, 1'700'000'000'000'000'000ull + rng() % 1000000);
    // vary shapes: empty strings, many legs, no dtmf, binary junk in strings
    if (i % 3 == 0) r.legs.clear();
    if (i % 5 == 0) r.dtmf.clear();
    if (i % 7 == 0) r.agent = {};
    if (i % 11 == 0) r.ani = std::string("\0\xff\x01 odd", 7);
    if (i % 13 == 0) r.sip_call_ids.assign(20, "x@y");
    auto d = DecodeCallRecord(Bytes(EncodeCallRecord(r)));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_TRUE(testing::SameRecord(r, *d)) << i;
  }
}

TEST(RecordCodec, TruncatedAndTrailingRejected) {
  std::mt19937_64 rng(12);
  std::string enc = EncodeCallRecord(testing::RandomRecord(rng, 1'700'000'000'000'000'000ull));
  for (std::size_t n = 0; n < enc.size(); ++n) {
    EXPECT_FALSE(DecodeCallRecord(Bytes(enc.substr(0, n))).ok()) << n;
  }
  EXPECT_FALSE(DecodeCallRecord(Bytes(enc + "x")).ok());
}

TEST(RecordCodec, HugeCountsRejectedWithoutAllocation) {
  std::mt19937_64 rng(13);
  CallRecord r = testing::RandomRecord(rng, 1'700'000'000'000'000'000ull);
  r.legs.clear();
  r.dtmf.clear();
  r.sip_call_ids.clear();
  std::string enc = EncodeCallRecord(r);
  // last three u32 counts are sip ids, legs, dtmf: make the sip id count enormous
  enc[enc.size() - 12] = '\xff';
  enc[enc.size() - 11] = '\xff';
  enc[enc.size() - 10] = '\xff';
  enc[enc.size() - 9] = '\x7f';
  EXPECT_FALSE(DecodeCallRecord(Bytes(enc)).ok());
}

TEST(RecordCodec, HoldRoundTrip) {
  HoldInfo h{CallId{77}, "CASE-2026-114", "grievance: shouting", "admin", 123456789};
  auto d = DecodeHold(Bytes(EncodeHold(h)));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->case_id, h.case_id);
  EXPECT_EQ(d->reason, h.reason);
  EXPECT_EQ(d->who, h.who);
  EXPECT_EQ(d->when_ns, h.when_ns);
  EXPECT_EQ(d->call_id, h.call_id);
  std::string enc = EncodeHold(h);
  EXPECT_FALSE(DecodeHold(Bytes(enc.substr(0, enc.size() - 1))).ok());
}

TEST(Normalize, NumbersInCommonForms) {
  for (const char* s : {"+1 202-555-0143", "(1) 202 555 0143", "tel:+12025550143",
                        "sip:+12025550143@pbx.example;user=phone", "12025550143"}) {
    EXPECT_EQ(NormalizeNumberForIndex(s), "12025550143") << s;
  }
  EXPECT_EQ(NormalizeNumberForIndex(" Anonymous "), "anonymous");
  EXPECT_EQ(NormalizeNameForIndex("  Jane   DOE\t"), "jane doe");
  EXPECT_EQ(NormalizeExtensionForIndex(" 2001 "), "2001");
}

}  // namespace
}  // namespace callvault
