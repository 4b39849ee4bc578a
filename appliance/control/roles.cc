#include "appliance/control/roles.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <charconv>

#include <fmt/format.h>

namespace callvault::control {

std::string RolesName(Roles roles) {
  std::string out;
  auto add = [&out](const char* n) {
    if (!out.empty()) out += '+';
    out += n;
  };
  if (roles & kRoleAdmin) add("admin");
  if (roles & kRoleReviewer) add("reviewer");
  if (roles & kRoleAuditor) add("auditor");
  return out.empty() ? "none" : out;
}

Roles RequiredRoles(std::string_view c) {
  if (c == "status" || c == "metrics" || c == "search" || c == "show" || c == "export") {
    return kRoleReviewer | kRoleAdmin;
  }
  if (c == "ingest" || c == "hold" || c == "retention" || c == "keys" || c == "verify") {
    return kRoleAdmin;
  }
  if (c == "audit") return kRoleAuditor;
  return kRoleNone;
}

std::string RequiredRoleName(std::string_view c) {
  Roles r = RequiredRoles(c);
  if (r & kRoleReviewer) return "reviewer";
  return RolesName(r);
}

RoleMap RoleMap::FromConfig(const ControlConfig& config) {
  RoleMap m;
  auto add = [&m](const std::vector<std::string>& list, Roles role) {
    for (const std::string& e : list) {
      std::string_view v(e);
      if (v.substr(0, 6) == "group:") {
        m.entries_.push_back({Entry::kGroup, std::string(v.substr(6)), 0, role});
      } else if (v.substr(0, 4) == "uid:") {
        uint32_t uid = 0;
        auto r = std::from_chars(v.data() + 4, v.data() + v.size(), uid);
        if (r.ec == std::errc() && r.ptr == v.data() + v.size()) {
          m.entries_.push_back({Entry::kUid, "", uid, role});
        }
      } else {
        m.entries_.push_back({Entry::kUser, e, 0, role});
      }
    }
  };
  add(config.admins, kRoleAdmin);
  add(config.reviewers, kRoleReviewer);
  add(config.auditors, kRoleAuditor);
  return m;
}

RoleMap RoleMap::KeyHolder() {
  RoleMap m;
  m.everyone_all_ = true;
  return m;
}

Roles RoleMap::RolesFor(std::string_view user, uint32_t uid,
                        const std::vector<std::string>& groups) const {
  if (everyone_all_) return kRoleAll;
  Roles r = kRoleNone;
  for (const Entry& e : entries_) {
    bool match = false;
    switch (e.kind) {
      case Entry::kUser:
        match = e.name == user;
        break;
      case Entry::kUid:
        match = e.uid == uid;
        break;
      case Entry::kGroup:
        for (const std::string& g : groups) match = match || g == e.name;
        break;
    }
    if (match) r |= e.role;
  }
  return r;
}

Principal RoleMap::Resolve(uint32_t uid, uint32_t gid) const {
  Principal p;
  p.uid = uid;
  p.gid = gid;
  std::vector<std::string> groups;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* pwp = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &pwp) == 0 && pwp != nullptr) {
    p.user = pw.pw_name;
    int n = 64;
    std::vector<gid_t> gids(static_cast<std::size_t>(n));
    if (getgrouplist(pw.pw_name, gid, gids.data(), &n) < 0) {
      gids.resize(static_cast<std::size_t>(n));
      getgrouplist(pw.pw_name, gid, gids.data(), &n);
    }
    gids.resize(static_cast<std::size_t>(n));
    std::vector<char> gbuf(65536);
    for (gid_t g : gids) {
      group gr{};
      group* grp = nullptr;
      if (getgrgid_r(g, &gr, gbuf.data(), gbuf.size(), &grp) == 0 && grp != nullptr) {
        groups.emplace_back(gr.gr_name);
      }
    }
  } else {
    p.user = fmt::format("uid:{}", uid);
  }
  p.roles = RolesFor(p.user, uid, groups);
  return p;
}

}  // namespace callvault::control
