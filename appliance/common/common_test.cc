#include <cerrno>
#include <string>

#include "appliance/common/call_id.h"
#include "appliance/common/counters.h"
#include "appliance/common/frame_record.h"
#include "appliance/common/net_types.h"
#include "appliance/common/slot_array.h"
#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "gtest/gtest.h"

namespace callvault {
namespace {

TEST(Status, AnnotateBuildsBreadcrumbs) {
  absl::Status s = ErrnoToStatus(ENOSPC, "write");
  s = Annotate(s, "open segment 42");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "open segment 42: write: No space left on device");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

TEST(Status, ExitCodesFollowContract) {
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), ExitCode::kNotFound);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), ExitCode::kUsage);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("x")), ExitCode::kDenied);
  EXPECT_EQ(ExitCodeFor(IntegrityError("x")), ExitCode::kIntegrity);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), ExitCode::kUnavailable);
}

absl::StatusOr<int> Half(int v) {
  if (v % 2) return absl::InvalidArgumentError("odd");
  return v / 2;
}
absl::Status UseMacros(int v, int* out) {
  ASSIGN_OR_RETURN(int h, Half(v));
  RETURN_IF_ERROR(h > 100 ? absl::OutOfRangeError("big") : absl::OkStatus());
  *out = h;
  return absl::OkStatus();
}

TEST(Status, Macros) {
  int out = 0;
  EXPECT_TRUE(UseMacros(8, &out).ok());
  EXPECT_EQ(out, 4);
  EXPECT_EQ(UseMacros(3, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UseMacros(400, &out).code(), absl::StatusCode::kOutOfRange);
}

TEST(NetTypes, ParseAndPrint) {
  auto v4 = IpAddress::Parse("10.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ((Endpoint{*v4, 16384}).ToString(), "10.0.0.1:16384");
  auto v6 = IpAddress::Parse("[2001:db8::1]");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ((Endpoint{*v6, 5060}).ToString(), "[2001:db8::1]:5060");
  EXPECT_FALSE(IpAddress::Parse("10.0.0.256"));
  EXPECT_FALSE(IpAddress::Parse(""));
  EXPECT_EQ(IpAddress::FromV4(0x0a000001u), *v4);
}

TEST(CallId, SortableStableAndParseable) {
  CallId a = CallId::Make(1'700'000'000'000'000'000ull, "abc@host");
  CallId b = CallId::Make(1'700'000'000'001'000'000ull, "abc@host");
  EXPECT_LT(a, b);
  EXPECT_LT(a.ToString(), b.ToString());
  EXPECT_EQ(CallId::Make(1'700'000'000'000'000'000ull, "abc@host"), a);
  EXPECT_EQ(CallId::Parse(a.ToString()), a);
  EXPECT_FALSE(CallId::Parse("xyz"));
  EXPECT_FALSE(CallId::Parse("000000000000000g"));
  EXPECT_EQ(a.start_ms(), 1'700'000'000'000ull);
}

TEST(Time, FormatAndParse) {
  EXPECT_EQ(FormatRfc3339Ms(1'764'296'329'123'000'000ull), "2025-11-28T02:18:49.123Z");
  auto t = ParseTime("2026-11-28T02:12:09Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatRfc3339Ms(*t), "2026-11-28T02:12:09.000Z");
  auto d = ParseTime("2026-11-28");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(FormatRfc3339Ms(*d), "2026-11-28T00:00:00.000Z");
  auto off = ParseTime("2026-11-28T03:12:09+01:00");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, *t);
  EXPECT_FALSE(ParseTime("28/11/2026").ok());
  EXPECT_EQ(DayString(DayOf(*t)), "20261128");
}

enum class TestDrop : uint8_t { kA, kB, kCount };
TEST(Counters, IncAndSum) {
  DropCounters<TestDrop> c, d;
  c.Inc(TestDrop::kA);
  c.Inc(TestDrop::kB, 3);
  d.Add(c);
  d.Add(c);
  EXPECT_EQ(d[TestDrop::kA], 2u);
  EXPECT_EQ(d.Total(), 8u);
}

TEST(FrameRecord, RoundTripAndTruncation) {
  uint8_t bytes[5] = {1, 2, 3, 4, 5};
  Frame f{bytes, 5, 60, 123456789, 0, 0, LinkType::kEthernet};
  std::vector<uint8_t> buf;
  AppendFrameRecord(f, buf);
  AppendFrameRecord(f, buf);
  EXPECT_EQ(buf.size(), 2 * FrameRecordSize(f));
  FrameRecordReader r(buf);
  int n = 0;
  while (auto v = r.Next()) {
    EXPECT_EQ(v->ts_ns, 123456789u);
    EXPECT_EQ(v->wirelen, 60u);
    EXPECT_EQ(v->bytes.size(), 5u);
    EXPECT_EQ(v->bytes[4], 5);
    ++n;
  }
  EXPECT_EQ(n, 2);
  EXPECT_FALSE(r.error());
  buf.pop_back();
  FrameRecordReader bad(buf);
  while (bad.Next()) {
  }
  EXPECT_TRUE(bad.error());
}

}  // namespace
}  // namespace callvault

namespace callvault {
namespace {

struct Counted {
  static inline int alive = 0;
  Counted() { ++alive; }
  ~Counted() { --alive; }
  std::string text = "slot";  // a member that must really be constructed
  alignas(64) unsigned char line[64] = {};
};

TEST(SlotArray, ConstructsOnlyWhatIsEnsuredAndDestroysIt) {
  {
    SlotArray<Counted> a(100000);  // ~12.8 MB reserved, nothing constructed
    EXPECT_EQ(a.capacity(), 100000u);
    EXPECT_EQ(a.constructed(), 0u);
    EXPECT_EQ(Counted::alive, 0);
    a.Ensure(0);
    a.Ensure(2);  // constructs 1 and 2 as well
    EXPECT_EQ(a.constructed(), 3u);
    EXPECT_EQ(Counted::alive, 3);
    a.Ensure(1);  // already there
    EXPECT_EQ(Counted::alive, 3);
    EXPECT_EQ(a[2].text, "slot");
    a[1].text = "changed";
    EXPECT_EQ(a[1].text, "changed");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(&a[1]) % 64, 0u);  // page-aligned storage
    a.Reset(10);  // destroys the old elements
    EXPECT_EQ(Counted::alive, 0);
    EXPECT_EQ(a.constructed(), 0u);
    a.Ensure(9);
    EXPECT_EQ(Counted::alive, 10);
  }
  EXPECT_EQ(Counted::alive, 0);
}

}  // namespace
}  // namespace callvault
