// Roles: who may run which command (issue 6, shared/cli.md "role" column).
//
// Input: a peer's uid/gid (SO_PEERCRED on the control socket, or getuid() offline) and
// ControlConfig's admins/reviewers/auditors lists. Each entry is a user name, "group:NAME"
// (primary or supplementary group membership, from the system group database) or
// "uid:N". Output: a Principal with the set of roles the user holds.
// Rules: reviewer may run status, metrics, search, show, export; admin may run those and ingest,
// hold, retention, keys, verify; auditor may run audit only (separation of duties: an
// admin is not an auditor unless listed as one). Anyone else holds no role and is denied.
// Thread: RoleMap is immutable after construction; Resolve() uses the reentrant
// getpwuid_r/getgrouplist and may run on any thread (control path only).
#ifndef CALLVAULT_APPLIANCE_CONTROL_ROLES_H_
#define CALLVAULT_APPLIANCE_CONTROL_ROLES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/config/config.h"

namespace callvault::control {

using Roles = uint8_t;
inline constexpr Roles kRoleNone = 0;
inline constexpr Roles kRoleReviewer = 1;
inline constexpr Roles kRoleAdmin = 2;
inline constexpr Roles kRoleAuditor = 4;
inline constexpr Roles kRoleAll = kRoleReviewer | kRoleAdmin | kRoleAuditor;

// "admin", "reviewer", "auditor", joined with '+' ("admin+auditor"); "none".
std::string RolesName(Roles roles);

struct Principal {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string user;   // passwd name, or "uid:N" when the uid has no entry
  Roles roles = kRoleNone;
};

// Roles any one of which allows `command` (the first word of a CLI command: "search",
// "hold", "audit", ...). kRoleNone for an unknown command.
Roles RequiredRoles(std::string_view command);
// The role a denial message names ("reviewer", "admin", "auditor").
std::string RequiredRoleName(std::string_view command);
inline bool Allowed(Roles have, std::string_view command) {
  return (have & RequiredRoles(command)) != 0;
}

class RoleMap {
 public:
  static RoleMap FromConfig(const ControlConfig& config);
  // Every role for everyone: offline use without --config by someone who can read the
  // master key file (who could decrypt everything anyway).
  static RoleMap KeyHolder();

  // Pure mapping, for tests: roles of `user` with uid `uid` who is in `groups`.
  Roles RolesFor(std::string_view user, uint32_t uid,
                 const std::vector<std::string>& groups) const;
  // Looks the uid up in the system databases and maps it.
  Principal Resolve(uint32_t uid, uint32_t gid) const;

 private:
  struct Entry {
    enum Kind { kUser, kGroup, kUid } kind;
    std::string name;
    uint32_t uid = 0;
    Roles role;
  };
  std::vector<Entry> entries_;
  bool everyone_all_ = false;
};

}  // namespace callvault::control

#endif  // CALLVAULT_APPLIANCE_CONTROL_ROLES_H_
