#include "appliance/calls/agent_directory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "appliance/common/status.h"
#include "appliance/config/config.h"

namespace callvault::calls {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits one CSV line (RFC 4180 quoting, no embedded newlines). Returns an error text or "".
std::string SplitCsv(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  size_t i = 0;
  while (true) {
    std::string field;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        field += line[i++];
      }
      if (!closed) return "unterminated quoted field";
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] != ',') return "text after a closing quote";
    } else {
      size_t end = line.find(',', i);
      if (end == std::string_view::npos) end = line.size();
      field = std::string(Trim(line.substr(i, end - i)));
      i = end;
    }
    fields->push_back(std::move(field));
    if (i >= line.size()) return "";
    ++i;  // the comma
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const AgentDirectory>> AgentDirectory::Parse(
    std::string_view csv, std::string_view source_name) {
  auto dir = std::make_shared<AgentDirectory>();
  std::unordered_map<std::string, int> first_line;
  std::vector<std::string> fields;
  int line_no = 0;
  bool seen_data = false;
  while (!csv.empty()) {
    size_t nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv = nl == std::string_view::npos ? std::string_view() : csv.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view t = Trim(line);
    if (t.empty() || t.front() == '#') continue;
    auto err = [&](std::string_view what) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: {}", std::string(source_name), line_no, std::string(what)));
    };
    if (std::string e = SplitCsv(t, &fields); !e.empty()) return err(e);
    if (fields.size() != 3) {
      return err(fmt::format(
          "expected 3 fields (extension_or_sip_user,name,employee_id), got {}",
          fields.size()));
    }
    if (!seen_data && fields[0] == "extension_or_sip_user") {
      seen_data = true;  // header line
      continue;
    }
    seen_data = true;
    if (fields[0].empty()) return err("empty extension_or_sip_user");
    if (fields[1].empty()) return err(fmt::format("empty name for \"{}\"", fields[0]));
    auto [it, inserted] = first_line.emplace(fields[0], line_no);
    if (!inserted) {
      return err(fmt::format("duplicate extension_or_sip_user \"{}\" (first on line {})",
                             fields[0], it->second));
    }
    AgentInfo info;
    info.extension = fields[0];
    info.name = fields[1];
    info.id = fields[2];
    dir->agents_.emplace(fields[0], std::move(info));
  }
  return std::shared_ptr<const AgentDirectory>(std::move(dir));
}

absl::StatusOr<std::shared_ptr<const AgentDirectory>> AgentDirectory::Load(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoToStatus(errno, fmt::format("agent directory {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return ErrnoToStatus(errno, fmt::format("agent directory {}: read", path));
  return Parse(ss.str(), path);
}

const AgentInfo* AgentDirectory::Find(std::string_view user) const {
  if (user.empty()) return nullptr;
  auto it = agents_.find(std::string(user));
  return it == agents_.end() ? nullptr : &it->second;
}

AgentDirectoryHandle::AgentDirectoryHandle()
    : current_(std::make_shared<const AgentDirectory>()) {}

void AgentDirectoryHandle::Set(std::shared_ptr<const AgentDirectory> directory) {
  if (!directory) directory = std::make_shared<const AgentDirectory>();
  current_.store(std::move(directory));
}

absl::Status AgentDirectoryHandle::Reload(const std::string& path) {
  ASSIGN_OR_RETURN(auto dir, AgentDirectory::Load(path));
  Set(std::move(dir));
  return absl::OkStatus();
}

absl::StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  std::string_view t = Trim(text);
  std::string_view addr = t;
  int bits = -1;
  if (size_t slash = t.find('/'); slash != std::string_view::npos) {
    addr = t.substr(0, slash);
    std::string_view len = t.substr(slash + 1);
    if (len.empty() || len.size() > 3) {
      return absl::InvalidArgumentError(fmt::format("bad prefix length in \"{}\"",
                                                    std::string(text)));
    }
    bits = 0;
    for (char c : len) {
      if (c < '0' || c > '9') {
        return absl::InvalidArgumentError(fmt::format("bad prefix length in \"{}\"",
                                                      std::string(text)));
      }
      bits = bits * 10 + (c - '0');
    }
  }
  std::optional<IpAddress> ip = IpAddress::Parse(addr);
  if (!ip) {
    return absl::InvalidArgumentError(fmt::format("bad address in \"{}\"", std::string(text)));
  }
  int max_bits = ip->is_v4() ? 32 : 128;
  if (bits < 0) bits = max_bits;
  if (bits > max_bits) {
    return absl::InvalidArgumentError(fmt::format("prefix length {} over {} in \"{}\"", bits,
                                                  max_bits, std::string(text)));
  }
  Cidr c;
  c.bits = static_cast<uint8_t>(ip->is_v4() ? bits + 96 : bits);
  c.base = *ip;
  // Clear the host bits so that Contains() compares prefixes only.
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(int(c.bits) - i * 8, 0, 8);
    c.base.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return c;
}

bool Cidr::Contains(const IpAddress& ip) const {
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(int(bits) - i * 8, 0, 8);
    if (keep == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - keep));
    if ((ip.bytes[i] & mask) != base.bytes[i]) return false;
  }
  return true;
}

absl::StatusOr<AgentSideRules> AgentSideRules::Create(const AgentConfig& config) {
  AgentSideRules rules;
  for (size_t i = 0; i < config.extension_patterns.size(); ++i) {
    const std::string& p = config.extension_patterns[i];
    try {
      rules.patterns_.emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return absl::InvalidArgumentError(fmt::format(
          "agents.extension_patterns[{}]: bad regex \"{}\": {}", i, p, e.what()));
    }
  }
  for (size_t i = 0; i < config.networks.size(); ++i) {
    auto c = Cidr::Parse(config.networks[i]);
    if (!c.ok()) {
      return absl::InvalidArgumentError(fmt::format("agents.networks[{}]: {}", i,
                                                    std::string(c.status().message())));
    }
    rules.networks_.push_back(*c);
  }
  return rules;
}

bool AgentSideRules::MatchesPattern(std::string_view user) const {
  if (user.empty()) return false;
  for (const std::regex& re : patterns_) {
    if (std::regex_match(user.begin(), user.end(), re)) return true;
  }
  return false;
}

bool AgentSideRules::InAgentNetwork(const IpAddress& ip) const {
  for (const Cidr& c : networks_) {
    if (c.Contains(ip)) return true;
  }
  return false;
}

int AgentSideRules::Score(const AgentDirectory* directory, const PartyId& p) const {
  if (directory != nullptr && directory->Find(p.user) != nullptr) return 3;
  if (MatchesPattern(p.user)) return 2;
  if (p.ip && InAgentNetwork(*p.ip)) return 1;
  return 0;
}

int AgentSideRules::AgentParty(const AgentDirectory* directory, const PartyId& a,
                               const PartyId& b) const {
  int sa = Score(directory, a), sb = Score(directory, b);
  if (sa == sb) return -1;
  return sa > sb ? 0 : 1;
}

AgentInfo AgentSideRules::Identify(const AgentDirectory* directory, const PartyId& agent) {
  if (directory != nullptr) {
    if (const AgentInfo* info = directory->Find(agent.user)) return *info;
  }
  AgentInfo info;
  info.extension = std::string(agent.user);
  info.name = std::string(agent.display_name.empty() ? agent.user : agent.display_name);
  return info;
}

}  // namespace callvault::calls
