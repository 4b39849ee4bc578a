// Agents: who is the contact-centre agent in a dialog, and what is their name.
//
// AgentDirectory: an immutable map "extension or SIP user -> agent", loaded from the CSV
// file named by AgentConfig.directory. Format, one agent per line:
//     extension_or_sip_user,name,employee_id
// `#` starts a comment line, blank lines are skipped, fields may be "double quoted" (with
// "" for a quote) so that names may hold commas; employee_id may be empty; an optional
// first line "extension_or_sip_user,name,employee_id" is a header. Errors name the file
// and line ("agents.csv:7: expected 3 fields, got 2"). Keys match exactly (SIP user
// parts are case-sensitive, RFC 3261 §19.1.4).
// AgentDirectoryHandle: the reloadable holder. Reload (SIGHUP) builds a new directory and
// swaps a shared_ptr; readers take a snapshot (Get) and keep using it even if a reload
// happens meanwhile. Get/Set are safe from any thread.
//
// AgentSideRules: from AgentConfig.extension_patterns (ECMAScript regexes, full match on
// the SIP user part, compiled once) and AgentConfig.networks (IPv4/IPv6 CIDRs), decide
// which party of a dialog is the agent. Each party scores: directory entry 3, pattern
// match 2, address in an agent network 1; the higher score is the agent, a tie
// (including 0:0, and agent-to-agent calls) is "unknown". The other party is the caller.
// Thread: const after construction; used at call start (not per packet).
#ifndef CALLVAULT_APPLIANCE_CALLS_AGENT_DIRECTORY_H_
#define CALLVAULT_APPLIANCE_CALLS_AGENT_DIRECTORY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/common/call_record.h"
#include "appliance/common/net_types.h"

namespace callvault {
struct AgentConfig;
}

namespace callvault::calls {

class AgentDirectory {
 public:
  // Parses CSV text; `source_name` names it in errors.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const AgentDirectory>> Parse(
      std::string_view csv, std::string_view source_name);
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const AgentDirectory>> Load(
      const std::string& path);

  // The agent whose extension or SIP user is `user`; nullptr if none.
  const AgentInfo* Find(std::string_view user) const;
  size_t size() const { return agents_.size(); }

 private:
  std::unordered_map<std::string, AgentInfo> agents_;
};

class AgentDirectoryHandle {
 public:
  AgentDirectoryHandle();  // starts with an empty directory
  std::shared_ptr<const AgentDirectory> Get() const { return current_.load(); }
  void Set(std::shared_ptr<const AgentDirectory> directory);
  // Loads `path` and swaps it in; on error the current directory stays.
  [[nodiscard]] absl::Status Reload(const std::string& path);

 private:
  std::atomic<std::shared_ptr<const AgentDirectory>> current_;
};

// An IPv4 or IPv6 prefix ("10.1.0.0/16", "2001:db8::/32", a bare address = host route).
struct Cidr {
  IpAddress base;
  uint8_t bits = 128;  // over the 128-bit (IPv4-mapped) form
  [[nodiscard]] static absl::StatusOr<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& ip) const;
};

// One party of a dialog as the agent rules see it.
struct PartyId {
  std::string_view user;          // SIP user part (From/To/Contact), "" if unknown
  std::string_view display_name;  // display name, "" if none
  std::optional<IpAddress> ip;    // signalling or SDP address of the party
};

class AgentSideRules {
 public:
  [[nodiscard]] static absl::StatusOr<AgentSideRules> Create(const AgentConfig& config);
  AgentSideRules() = default;  // no patterns, no networks: only the directory decides

  // 0 or 1 (index of the agent party in {a, b}), or -1 when it cannot be decided.
  int AgentParty(const AgentDirectory* directory, const PartyId& a, const PartyId& b) const;
  // The agent's identity: the directory entry, else display name (or user) as name with
  // the user as extension and no employee id.
  static AgentInfo Identify(const AgentDirectory* directory, const PartyId& agent);

  bool MatchesPattern(std::string_view user) const;
  bool InAgentNetwork(const IpAddress& ip) const;

 private:
  int Score(const AgentDirectory* directory, const PartyId& p) const;
  std::vector<std::regex> patterns_;
  std::vector<Cidr> networks_;
};

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_AGENT_DIRECTORY_H_
