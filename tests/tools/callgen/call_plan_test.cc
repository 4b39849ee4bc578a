// PlanCalls and ParseOptions: invariants a capture's consumers rely on, checked over many
// calls (the tshark tests cover what ends up on the wire).
#include "tests/tools/callgen/call_plan.h"

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tools/callgen/options.h"

namespace callvault::callgen {
namespace {

absl::StatusOr<Options> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "callgen");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(CallgenOptions, ErrorsNameTheFlag) {
  auto missing = Parse({"--calls", "3"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(std::string(missing.status().message()), "--output: missing (-o FILE.pcap)");
  auto loss = Parse({"-o", "x", "--loss", "101"});
  ASSERT_FALSE(loss.ok());
  EXPECT_EQ(std::string(loss.status().message()), "--loss: must be 0..100, got 101");
  EXPECT_FALSE(Parse({"-o", "x", "--duration", "9:3"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--qinq", "5"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--dtmf", "12x"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--tcp-split"}).ok());  // needs --sip-tcp
  EXPECT_FALSE(Parse({"-o", "x", "--cancel", "60", "--busy", "50"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--start", "yesterday"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--start", "1970-01-01T00:00:00Z"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--start", "2200-01-01"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--bogus"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--ipv6", "--nat", "5"}).ok());
  EXPECT_FALSE(Parse({"-o", "x", "--encap", "mpls"}).ok());
}

TEST(CallgenOptions, Defaults) {
  auto o = Parse({"-o", "x", "--calls", "4", "--fragment-sip", "--qinq", "7,8", "--start",
                  "1999-12-31T23:59:59Z", "--duration", "5:9"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->concurrency, 4);
  EXPECT_EQ(o->mtu, 576);
  EXPECT_EQ(o->outer_vlan, 7);
  EXPECT_EQ(o->vlan, 8);
  EXPECT_EQ(o->start_ns, 946684799ull * 1000000000ull);
  EXPECT_EQ(o->duration_min_s, 5.0);
  EXPECT_EQ(o->duration_max_s, 9.0);
}

TEST(CallgenPlan, NoAgentOrMediaPortIsInTwoCallsAtOnce) {
  auto o = Parse({"-o", "x", "--calls", "3000", "--concurrency", "300", "--duration", "5:60",
                  "--rtp-after-bye", "500", "--seed", "9"});
  ASSERT_TRUE(o.ok());
  auto agents = MakeAgents(o->concurrency);
  auto plans = PlanCalls(*o, agents);
  ASSERT_EQ(plans.size(), 3000u);
  // Busy intervals per agent and per (address, RTP port): none may overlap.
  std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> agent_busy, port_busy;
  for (const CallPlan& p : plans) {
    const uint64_t end = std::max(p.media_end_ns[0], p.media_end_ns[1]);
    agent_busy.emplace_back(static_cast<uint32_t>(p.agent), p.start_ns - 3000000, end);
    port_busy.emplace_back(p.caller_sig.ip * 65536u + p.caller_rtp, p.start_ns, end);
    port_busy.emplace_back(p.agent_sig.ip * 65536u + p.agent_rtp, p.start_ns, end);
    EXPECT_LT(p.start_ns, p.answer_ns);
    EXPECT_LT(p.answer_ns, p.end_ns);
    EXPECT_GE(p.end_ns - p.answer_ns, 5000000000ull);
    EXPECT_LE(p.end_ns - p.answer_ns, 60000000000ull);
    EXPECT_EQ(p.media_end_ns[0], p.end_ns + 500000000ull);
    EXPECT_NE(p.tone_hz[0], p.tone_hz[1]);
    EXPECT_EQ(p.tone_hz[0] % 50, 0);
    EXPECT_EQ(p.tone_hz[1] % 50, 0);
  }
  for (auto* busy : {&agent_busy, &port_busy}) {
    std::sort(busy->begin(), busy->end());
    for (size_t i = 1; i < busy->size(); ++i) {
      const auto& [k0, s0, e0] = (*busy)[i - 1];
      const auto& [k1, s1, e1] = (*busy)[i];
      if (k0 == k1) {
        EXPECT_LE(e0, s1) << "key " << k1 << " in two calls at once";
      }
    }
  }
  // Call-IDs are unique; starts are staggered so ~300 calls overlap at the peak.
  std::set<std::string> ids;
  for (const CallPlan& p : plans) ids.insert(p.call_id);
  EXPECT_EQ(ids.size(), plans.size());
  std::vector<std::pair<uint64_t, int>> edges;
  for (const CallPlan& p : plans) {
    edges.emplace_back(p.start_ns, 1);
    edges.emplace_back(p.end_ns, -1);
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, peak = 0;
  for (auto [t, d] : edges) peak = std::max(peak, now += d);
  EXPECT_LE(peak, 300);
  EXPECT_GE(peak, 250);
}

TEST(CallgenPlan, SameSeedSamePlanAndOutcomeShares) {
  auto o = Parse({"-o", "x", "--calls", "2000", "--cancel", "10", "--busy", "20", "--no-bye", "30",
                  "--dtmf", "12", "--seed", "3"});
  ASSERT_TRUE(o.ok());
  auto agents = MakeAgents(o->concurrency);
  auto a = PlanCalls(*o, agents);
  auto b = PlanCalls(*o, agents);
  int counts[4] = {};
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].call_id, b[i].call_id);
    EXPECT_EQ(a[i].start_ns, b[i].start_ns);
    EXPECT_EQ(a[i].ssrc[0], b[i].ssrc[0]);
    ++counts[static_cast<int>(a[i].outcome)];
    // Unanswered calls have no media and no DTMF; answered ones have both digits.
    EXPECT_EQ(a[i].dtmf.size(), a[i].answered() ? 2u : 0u);
    if (!a[i].answered()) {
      EXPECT_EQ(a[i].media_start_ns[0], a[i].media_end_ns[0]);
    }
  }
  // 2,000 draws: each share within 4 points of what was asked.
  EXPECT_NEAR(counts[static_cast<int>(Outcome::kCancelled)], 200, 80);
  EXPECT_NEAR(counts[static_cast<int>(Outcome::kBusy)], 400, 80);
  EXPECT_NEAR(counts[static_cast<int>(Outcome::kNoBye)], 600, 80);
  EXPECT_NEAR(counts[static_cast<int>(Outcome::kAnswered)], 800, 80);
}

TEST(CallgenPlan, AgentsAreUnique) {
  auto agents = MakeAgents(5000);
  std::set<std::string> names, ids, ext;
  std::set<uint32_t> ips;
  for (const Agent& a : agents) {
    names.insert(a.name);
    ids.insert(a.employee_id);
    ext.insert(a.extension);
    ips.insert(a.ip);
  }
  EXPECT_EQ(names.size(), 5000u);
  EXPECT_EQ(ids.size(), 5000u);
  EXPECT_EQ(ext.size(), 5000u);
  EXPECT_EQ(ips.size(), 5000u);
}

}  // namespace
}  // namespace callvault::callgen
