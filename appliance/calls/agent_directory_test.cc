#include "appliance/calls/agent_directory.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "appliance/config/config.h"

namespace callvault::calls {
namespace {

constexpr char kCsv[] =
    "# contact centre floor 2\n"
    "extension_or_sip_user,name,employee_id\n"
    "2001,Jane Doe,E1001\r\n"
    "\n"
    "  2002 , \"Smith, John\" , \n"
    "alice,\"Alice \"\"Al\"\" Liddell\",E77\n";

TEST(AgentDirectory, ParsesCommentsHeaderQuotesAndCrlf) {
  auto dir = AgentDirectory::Parse(kCsv, "agents.csv");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ((*dir)->size(), 3u);
  const AgentInfo* jane = (*dir)->Find("2001");
  ASSERT_NE(jane, nullptr);
  EXPECT_EQ(jane->name, "Jane Doe");
  EXPECT_EQ(jane->id, "E1001");
  EXPECT_EQ(jane->extension, "2001");
  const AgentInfo* john = (*dir)->Find("2002");
  ASSERT_NE(john, nullptr);
  EXPECT_EQ(john->name, "Smith, John");
  EXPECT_EQ(john->id, "");
  ASSERT_NE((*dir)->Find("alice"), nullptr);
  EXPECT_EQ((*dir)->Find("alice")->name, "Alice \"Al\" Liddell");
  EXPECT_EQ((*dir)->Find("Alice"), nullptr);  // user parts are case-sensitive
  EXPECT_EQ((*dir)->Find(""), nullptr);
  EXPECT_EQ((*dir)->Find("2003"), nullptr);
}

void ExpectError(std::string_view csv, std::string_view expected) {
  auto dir = AgentDirectory::Parse(csv, "a.csv");
  ASSERT_FALSE(dir.ok()) << csv;
  EXPECT_EQ(std::string(dir.status().message()), expected);
}

TEST(AgentDirectory, ErrorsNameFileAndLine) {
  ExpectError("2001,Jane\n",
              "a.csv:1: expected 3 fields (extension_or_sip_user,name,employee_id), got 2");
  ExpectError("# c\n2001,Jane,1\n2001,Jim,2\n",
              "a.csv:3: duplicate extension_or_sip_user \"2001\" (first on line 2)");
  ExpectError("2001,\"Jane,1\n", "a.csv:1: unterminated quoted field");
  ExpectError("2001,\"Jane\"x,1\n", "a.csv:1: text after a closing quote");
  ExpectError(",Jane,1\n", "a.csv:1: empty extension_or_sip_user");
  ExpectError("2001,,1\n", "a.csv:1: empty name for \"2001\"");
  ExpectError("2001,a,b,c\n",
              "a.csv:1: expected 3 fields (extension_or_sip_user,name,employee_id), got 4");
}

TEST(AgentDirectory, LoadMissingFileNamesIt) {
  auto dir = AgentDirectory::Load("/nonexistent/agents.csv");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(std::string(dir.status().message()).find("/nonexistent/agents.csv"),
            std::string::npos);
}

TEST(AgentDirectoryHandle, ReloadSwapsAndKeepsOldSnapshots) {
  std::string path = ::testing::TempDir() + "calls_agents_reload.csv";
  {
    std::ofstream(path) << "2001,Jane Doe,E1\n";
  }
  AgentDirectoryHandle handle;
  EXPECT_EQ(handle.Get()->size(), 0u);
  ASSERT_TRUE(handle.Reload(path).ok());
  auto before = handle.Get();
  ASSERT_NE(before->Find("2001"), nullptr);
  {
    std::ofstream(path) << "2001,Jane Roe,E1\n2002,Bob,E2\n";
  }
  ASSERT_TRUE(handle.Reload(path).ok());
  EXPECT_EQ(handle.Get()->Find("2001")->name, "Jane Roe");
  EXPECT_EQ(before->Find("2001")->name, "Jane Doe");  // old snapshot unchanged
  {
    std::ofstream(path) << "broken\n";
  }
  EXPECT_FALSE(handle.Reload(path).ok());
  EXPECT_EQ(handle.Get()->size(), 2u);  // a failed reload keeps the current directory
  std::remove(path.c_str());
}

TEST(Cidr, ParseAndContains) {
  auto v4 = Cidr::Parse("10.1.2.3/16");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->Contains(*IpAddress::Parse("10.1.200.7")));
  EXPECT_FALSE(v4->Contains(*IpAddress::Parse("10.2.0.1")));
  EXPECT_FALSE(v4->Contains(*IpAddress::Parse("::1")));
  auto v6 = Cidr::Parse("2001:db8::/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains(*IpAddress::Parse("2001:db8:ffff::1")));
  EXPECT_FALSE(v6->Contains(*IpAddress::Parse("2001:db9::1")));
  EXPECT_FALSE(v6->Contains(*IpAddress::Parse("10.1.2.3")));
  auto host = Cidr::Parse("192.168.0.9");
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(host->Contains(*IpAddress::Parse("192.168.0.9")));
  EXPECT_FALSE(host->Contains(*IpAddress::Parse("192.168.0.8")));
  auto odd = Cidr::Parse("10.0.0.0/9");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->Contains(*IpAddress::Parse("10.127.0.1")));
  EXPECT_FALSE(odd->Contains(*IpAddress::Parse("10.128.0.1")));
  EXPECT_TRUE(Cidr::Parse("0.0.0.0/0")->Contains(*IpAddress::Parse("8.8.8.8")));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(Cidr::Parse("10.0.0/8").ok());
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/").ok());
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/x").ok());
}

TEST(AgentSideRules, ScoresDirectoryPatternNetwork) {
  AgentConfig cfg;
  cfg.extension_patterns = {"2[0-9]{3}"};
  cfg.networks = {"10.20.0.0/16"};
  auto rules = AgentSideRules::Create(cfg);
  ASSERT_TRUE(rules.ok()) << rules.status();
  auto dir = *AgentDirectory::Parse("alice,Alice A,E5\n", "d");
  auto ip = [](const char* s) { return IpAddress::Parse(s); };

  // Inbound: PSTN number calls extension 2001 (pattern).
  EXPECT_EQ(rules->AgentParty(dir.get(), {"+12025550143", "", ip("192.0.2.1")},
                              {"2001", "", ip("192.0.2.2")}), 1);
  // Outbound: the agent "alice" (directory) calls out.
  EXPECT_EQ(rules->AgentParty(dir.get(), {"alice", "", ip("192.0.2.1")},
                              {"+442079460958", "", ip("192.0.2.2")}), 0);
  // Directory beats pattern.
  EXPECT_EQ(rules->AgentParty(dir.get(), {"2001", "", {}}, {"alice", "", {}}), 1);
  // Only the network says it.
  EXPECT_EQ(rules->AgentParty(dir.get(), {"x", "", ip("10.20.3.4")},
                              {"y", "", ip("192.0.2.2")}), 0);
  // Pattern must match the whole user: "20011" is not an extension.
  EXPECT_EQ(rules->AgentParty(dir.get(), {"20011", "", {}}, {"y", "", {}}), -1);
  // Agent to agent, and nobody: unknown.
  EXPECT_EQ(rules->AgentParty(dir.get(), {"2001", "", {}}, {"2002", "", {}}), -1);
  EXPECT_EQ(rules->AgentParty(nullptr, {"x", "", {}}, {"y", "", {}}), -1);

  AgentInfo a = AgentSideRules::Identify(dir.get(), {"alice", "Ignored", {}});
  EXPECT_EQ(a.name, "Alice A");
  EXPECT_EQ(a.id, "E5");
  AgentInfo b = AgentSideRules::Identify(dir.get(), {"2001", "Desk 1", {}});
  EXPECT_EQ(b.name, "Desk 1");
  EXPECT_EQ(b.extension, "2001");
  EXPECT_EQ(b.id, "");
  EXPECT_EQ(AgentSideRules::Identify(nullptr, {"2002", "", {}}).name, "2002");
}

TEST(AgentSideRules, BadConfigIsAnError) {
  AgentConfig cfg;
  cfg.extension_patterns = {"2[0-9"};
  auto r = AgentSideRules::Create(cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("agents.extension_patterns[0]"),
            std::string::npos);
  AgentConfig cfg2;
  cfg2.networks = {"10.0.0.0/8", "nonsense"};
  auto r2 = AgentSideRules::Create(cfg2);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(std::string(r2.status().message()).find("agents.networks[1]"), std::string::npos);
}

}  // namespace
}  // namespace callvault::calls
