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
  r.codecs.clear();
  std::string enc = EncodeCallRecord(r);
  // v2 ends with u32 sip ids, u32 legs, u32 dtmf, u32 codecs (all 0), u64 merged_into:
  // make each count enormous in turn.
  const std::size_t tail = 8;
  for (std::size_t count = 0; count < 4; ++count) {
    std::string bad = enc;
    const std::size_t at = bad.size() - tail - 16 + 4 * count;
    bad[at] = '\xff';
    bad[at + 1] = '\xff';
    bad[at + 2] = '\xff';
    bad[at + 3] = '\x7f';
    EXPECT_FALSE(DecodeCallRecord(Bytes(bad)).ok()) << count;
  }
}

// Codecs and merged_into (record v2) survive the round trip.
TEST(RecordCodec, CodecsAndMergedIntoRoundTrip) {
  std::mt19937_64 rng(14);
  CallRecord r = testing::RandomRecord(rng, 1'700'000'000'000'000'000ull);
  r.codecs = {"PCMU", "G722", "opus"};
  r.merged_into = CallId{0x0123456789abcdefull};
  std::string enc = EncodeCallRecord(r);
  EXPECT_EQ(uint8_t(enc[0]), 2);
  auto d = DecodeCallRecord(Bytes(enc));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(testing::SameRecord(r, *d));
  EXPECT_EQ(d->codecs, r.codecs);
  EXPECT_EQ(d->merged_into, r.merged_into);
  r.codecs.clear();
  r.merged_into = CallId{};
  d = DecodeCallRecord(Bytes(EncodeCallRecord(r)));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->codecs.empty());
  EXPECT_EQ(d->merged_into.value, 0u);
}

// A record written by the v1 encoder (no codecs, no merged_into), built here byte by
// byte from the v1 layout in record_codec.h, still decodes.
TEST(RecordCodec, DecodesVersion1Layout) {
  std::string v1;
  auto num = [&v1](auto v) { v1.append(reinterpret_cast<const char*>(&v), sizeof v); };
  auto str = [&](std::string_view s) {
    num(uint32_t(s.size()));
    v1.append(s);
  };
  num(uint8_t{1});
  num(uint64_t{0x0001000200030004ull});  // call id
  num(uint64_t{1'700'000'000'000'000'000ull});
  num(uint64_t{1'700'000'003'000'000'000ull});
  num(uint64_t{1'700'000'063'500'000'000ull});
  num(uint8_t(CallState::kAnswered));
  num(int32_t{200});
  num(uint8_t{0});
  str("+12025550143");
  str("+18008291040");
  str("Jane Doe");
  str("2001");
  str("E-77");
  num(uint32_t{1});
  str("abc@pbx");
  num(uint32_t{1});  // one leg
  num(uint16_t{3});
  num(uint8_t(LegDirection::kAgentToCaller));
  IpAddress src = IpAddress::FromV4(0x0a000001), dst = IpAddress::FromV4(0x0a000002);
  v1.append(reinterpret_cast<const char*>(src.bytes.data()), 16);
  num(uint16_t{16384});
  v1.append(reinterpret_cast<const char*>(dst.bytes.data()), 16);
  num(uint16_t{20000});
  str("PCMA");
  num(uint64_t{2990});
  num(uint64_t{4});
  num(uint64_t{1});
  num(double{1.25});
  num(uint8_t{0});
  num(uint32_t{1});  // one DTMF event
  num(double{3.5});
  str("5");
  num(uint32_t{200});
  str("rfc4733");

  auto d = DecodeCallRecord(Bytes(v1));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->call_id.value, 0x0001000200030004ull);
  EXPECT_EQ(d->end_ns, 1'700'000'063'500'000'000ull);
  EXPECT_EQ(d->state, CallState::kAnswered);
  EXPECT_EQ(d->sip_code, 200);
  EXPECT_EQ(d->ani, "+12025550143");
  EXPECT_EQ(d->agent.id, "E-77");
  EXPECT_EQ(d->sip_call_ids, std::vector<std::string>{"abc@pbx"});
  ASSERT_EQ(d->legs.size(), 1u);
  EXPECT_EQ(d->legs[0].leg, 3);
  EXPECT_EQ(d->legs[0].codec, "PCMA");
  EXPECT_EQ(d->legs[0].src, (Endpoint{src, 16384}));
  EXPECT_EQ(d->legs[0].packets, 2990u);
  ASSERT_EQ(d->dtmf.size(), 1u);
  EXPECT_EQ(d->dtmf[0].digit, "5");
  EXPECT_TRUE(d->codecs.empty());
  EXPECT_EQ(d->merged_into.value, 0u);
  // v1 has no tail: v1 bytes followed by a v2 tail are trailing garbage for v1.
  EXPECT_FALSE(DecodeCallRecord(Bytes(v1 + std::string(12, '\0'))).ok());
  // Truncated v1 is still rejected; a newer version is refused by name.
  EXPECT_FALSE(DecodeCallRecord(Bytes(v1.substr(0, v1.size() - 1))).ok());
  std::string v3 = v1;
  v3[0] = 3;
  auto newer = DecodeCallRecord(Bytes(v3));
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(std::string(newer.status().message()).find("newer callvault"), std::string::npos);
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
