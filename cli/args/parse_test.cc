#include "cli/args/parse.h"

#include <gtest/gtest.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"

namespace callvault::cli {
namespace {

class ParseTest : public ::testing::Test {
 protected:
  absl::StatusOr<Invocation> P(std::vector<std::string> args) {
    args.insert(args.begin(), "callvault");
    return ParseCommandLine(args, phone_);
  }
  ExitCode Code(std::vector<std::string> args) { return ExitCodeFor(P(std::move(args)).status()); }
  calls::PhoneNormalizer phone_ = *calls::PhoneNormalizer::Create("US");
};

TEST_F(ParseTest, SearchWithEveryCriterion) {
  auto inv = P({"--store", "/s", "--key-file", "/k", "search", "--agent", "Jane Doe", "--ani",
                "(202) 555-0143", "--dialled", "tel:+18008291040", "--from", "2026-11-28",
                "--to=2026-11-29T00:00:00Z", "--state", "answered", "--limit", "5", "--json"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->global.store, "/s");
  EXPECT_EQ(inv->global.key_file, "/k");
  EXPECT_EQ(inv->cmd, "search");
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(inv->args["agent"], "Jane Doe");
  EXPECT_EQ(inv->args["ani"], "+12025550143");
  EXPECT_EQ(inv->args["dialled"], "+18008291040");
  // 2026-11-28T00:00:00Z = 1795824000 s since the epoch (date -u -d 2026-11-28 +%s).
  EXPECT_EQ(inv->args["from"].get<uint64_t>(), 1795824000ull * kNsPerSec);
  EXPECT_EQ(inv->args["to"].get<uint64_t>(), (1795824000ull + 86400) * kNsPerSec);
  EXPECT_EQ(inv->args["state"], "answered");
  EXPECT_EQ(inv->args["limit"], 5);
  EXPECT_FALSE(inv->args.contains("json"));
}

TEST_F(ParseTest, GlobalOptionsAnywhere) {
  auto inv = P({"status", "--config", "/etc/cv.toml", "--offline"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->global.config, "/etc/cv.toml");
  EXPECT_TRUE(inv->global.offline);
  EXPECT_EQ(inv->cmd, "status");
}

TEST_F(ParseTest, BadInputIsUsageError) {
  EXPECT_EQ(Code({"search", "--from", "yesterday"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--from", "2026-13-01"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--ani", "not-a-number"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--ani", "12"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--limit", "-1"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--limit", "5x"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--state", "ringing"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--agent"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--frob"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "extra"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"show"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"show", "xyz"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"show", "0123456789abcdeg"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"show", "0000000000000000"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"show", "0123456789abcdef", "0123456789abcdef"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"export", "0123456789abcdef"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"export", "0123456789abcdef", "--wav", "a", "--pcap", "b"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"hold", "add", "0123456789abcdef", "--case", "C1"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"hold"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"hold", "frob"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"ingest"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"frobnicate"}), ExitCode::kUsage);
  EXPECT_EQ(Code({}), ExitCode::kUsage);
  EXPECT_EQ(Code({"--store"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"status", "--json=1"}), ExitCode::kUsage);
  EXPECT_EQ(Code({"search", "--ani", "+12025550143", "--ani", "+12025550143"}), ExitCode::kUsage);
  // The message names the problem.
  auto s = P({"search", "--from", "yesterday"}).status();
  EXPECT_NE(std::string(s.message()).find("yesterday"), std::string::npos) << s;
  EXPECT_NE(std::string(s.message()).find("--from"), std::string::npos) << s;
}

TEST_F(ParseTest, SubCommandsAndPositionals) {
  auto inv = P({"hold", "add", "0123456789abcdef", "00000000000000ff", "--case", "GR-7",
                "--reason", "grievance"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->cmd, "hold");
  EXPECT_EQ(inv->sub, "add");
  EXPECT_EQ(inv->args["sub"], "add");
  EXPECT_EQ(inv->args["call_ids"].size(), 2u);
  EXPECT_EQ(inv->args["case"], "GR-7");
  inv = P({"export", "0123456789abcdef", "--wav", "out.wav"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->args["format"], "wav");
  EXPECT_EQ(inv->output_file, "out.wav");
  inv = P({"ingest", "a.pcap", "b.pcapng", "--json"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->args["files"], nlohmann::json({"a.pcap", "b.pcapng"}));
  inv = P({"retention", "run", "--dry-run", "--now", "2028-01-01"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->args["dry_run"], true);
  EXPECT_TRUE(inv->args["now"].is_number_unsigned());
}

TEST_F(ParseTest, HelpEverywhere) {
  auto inv = P({"--help"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->help);
  EXPECT_NE(inv->help_text.find("retention run"), std::string::npos);
  for (const char* c : {"status", "ingest", "search", "show", "export", "hold", "retention",
                        "keys", "audit", "verify"}) {
    inv = P({c, "--help"});
    ASSERT_TRUE(inv.ok()) << c;
    EXPECT_TRUE(inv->help) << c;
    EXPECT_NE(inv->help_text.find(std::string("callvault ") + c), std::string::npos) << c;
  }
  inv = P({"search", "--help"});
  EXPECT_NE(inv->help_text.find("--ani NUMBER"), std::string::npos);
}

TEST_F(ParseTest, ValidateRequestRechecksWhatTheDaemonReceives) {
  nlohmann::json ok = {{"v", 1}, {"cmd", "search"}, {"args", {{"ani", "(202) 555-0143"}}}};
  ASSERT_TRUE(ValidateRequest(ok, phone_).ok());
  EXPECT_EQ(ok["args"]["ani"], "+12025550143");
  nlohmann::json bad_time = {{"cmd", "search"}, {"args", {{"from", "2026-11-28"}}}};
  EXPECT_EQ(ExitCodeFor(ValidateRequest(bad_time, phone_)), ExitCode::kUsage);
  nlohmann::json bad_id = {{"cmd", "show"}, {"args", {{"call_ids", {"zz"}}}}};
  EXPECT_EQ(ExitCodeFor(ValidateRequest(bad_id, phone_)), ExitCode::kUsage);
  nlohmann::json no_id = {{"cmd", "show"}, {"args", nlohmann::json::object()}};
  EXPECT_EQ(ExitCodeFor(ValidateRequest(no_id, phone_)), ExitCode::kUsage);
  nlohmann::json extra = {{"cmd", "status"}, {"args", {{"path", "/etc/shadow"}}}};
  EXPECT_EQ(ExitCodeFor(ValidateRequest(extra, phone_)), ExitCode::kUsage);
  nlohmann::json unknown = {{"cmd", "rm"}, {"args", nlohmann::json::object()}};
  EXPECT_EQ(ExitCodeFor(ValidateRequest(unknown, phone_)), ExitCode::kUsage);
  nlohmann::json hold = {{"cmd", "hold"},
                         {"args", {{"sub", "add"}, {"call_ids", {"0123456789abcdef"}}}}};
  EXPECT_EQ(ExitCodeFor(ValidateRequest(hold, phone_)), ExitCode::kUsage);  // no --case
}

}  // namespace
}  // namespace callvault::cli
