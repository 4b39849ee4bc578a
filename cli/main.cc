// callvault: the command-line client (shared/cli.md).
//
// Online: with --config (and without --offline/--store) the request goes to callvaultd
// over the control socket named in the config; the daemon checks the caller's role from
// SO_PEERCRED. Offline: with --store DIR --key-file FILE (or --config FILE --offline) this
// process opens the store itself — the caller must be able to read the key file; with a
// config its uid is mapped through [control]'s role lists, without one the key holder has
// every role (docs/CONTROL.md). Only main() turns a Status into an exit code and a one-line
// message on stderr.
#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/config/config.h"
#include "appliance/control/client.h"
#include "appliance/control/protocol.h"
#include "appliance/control/roles.h"
#include "cli/args/parse.h"
#include "cli/commands/hooks.h"
#include "cli/commands/session.h"
#include "cli/output/progress.h"
#include "cli/output/render.h"
#include "storage/store.h"

namespace callvault::cli {
namespace {

int Fail(const absl::Status& s) {
  std::string msg(s.message());
  for (char& c : msg) {
    if (c == '\n') c = ' ';
  }
  std::fprintf(stderr, "callvault: %s\n", msg.c_str());
  return static_cast<int>(ExitCodeFor(s));
}

// Pre-scan for --config so the phone normaliser gets the configured region.
std::string ConfigArg(const std::vector<std::string>& argv) {
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--config") return argv[i + 1];
  }
  return "";
}

int Print(const Invocation& inv, nlohmann::json response) {
  int code = response.value("exit", 10);
  nlohmann::json result = response.value("result", nlohmann::json());
  if (inv.cmd == "export" && result.is_object()) result["output"] = inv.output_file;
  if (!result.is_null()) {
    if (inv.json) {
      std::cout << result.dump(2) << "\n";
    } else {
      std::cout << RenderHuman(inv.cmd, inv.sub, result);
    }
  }
  if (code != 0) {
    std::string err = response.value("error", std::string("failed"));
    for (char& c : err) {
      if (c == '\n') c = ' ';
    }
    std::fprintf(stderr, "callvault: %s\n", err.c_str());
  }
  return code;
}

// Finishes the output file (rename or remove) before printing, so "wrote FILE" is only
// printed once FILE is in place.
template <typename Finish>
int Finished(const Invocation& inv, const nlohmann::json& response, Finish& finish) {
  int code = response.value("exit", 10);
  int finished = finish(code);
  if (finished != code) return finished;
  return Print(inv, response);
}

int KeysInit(const Invocation& inv, const Config* config) {
  std::string path = inv.global.key_file;
  if (path.empty() && config != nullptr) path = config->store.key_file;
  if (path.empty()) return Fail(absl::InvalidArgumentError("keys init: give --key-file FILE"));
  if (config != nullptr) {
    control::Principal me = control::RoleMap::FromConfig(config->control).Resolve(getuid(), getgid());
    if (!control::Allowed(me.roles, "keys")) {
      return Fail(absl::PermissionDeniedError(fmt::format(
          "access denied: 'keys.init' needs the admin role; user {} (uid {}) has {}", me.user,
          me.uid, control::RolesName(me.roles))));
    }
  }
  auto id = InitKeyFile(path);
  if (!id.ok()) return Fail(id.status());
  nlohmann::json result = {{"key_file", path}, {"kek_id", *id}};
  return Print(inv, control::MakeResponse(0, result));
}

int Main(const std::vector<std::string>& argv) {
  std::optional<Config> config;
  if (std::string path = ConfigArg(argv); !path.empty()) {
    auto c = LoadConfig(path);
    if (!c.ok()) {
      // Any config problem (missing, unreadable, invalid) is exit 2; name the file once.
      std::string msg(c.status().message());
      if (msg.find(path) == std::string::npos) msg = fmt::format("config {}: {}", path, msg);
      return Fail(absl::InvalidArgumentError(msg));
    }
    config = *std::move(c);
  }
  std::string region = config ? config->agents.default_country : "US";
  auto phone = calls::PhoneNormalizer::Create(region);
  if (!phone.ok()) return Fail(phone.status());
  auto parsed = ParseCommandLine(argv, *phone);
  if (!parsed.ok()) return Fail(parsed.status());
  Invocation& inv = *parsed;
  if (inv.version) {
    std::cout << "callvault " << CALLVAULT_VERSION << "\n";
    return 0;
  }
  if (inv.help) {
    std::cout << inv.help_text;
    return 0;
  }
  if (inv.cmd == "keys" && inv.sub == "init") return KeysInit(inv, config ? &*config : nullptr);

  // Ingest paths travel to the daemon: make them absolute.
  if (inv.args.contains("files")) {
    for (auto& f : inv.args["files"]) {
      char buf[PATH_MAX];
      if (::realpath(f.get<std::string>().c_str(), buf) == nullptr) {
        // A missing input is a usage error (exit 2), not "nothing found" (exit 1).
        absl::Status err = ErrnoToStatus(errno, fmt::format("ingest: {}", f.get<std::string>()));
        if (absl::IsNotFound(err)) err = absl::InvalidArgumentError(std::string(err.message()));
        return Fail(err);
      }
      f = std::string(buf);
    }
  }
  // Export output: a temporary file (mode 0600) BESIDE the destination, so it is on the
  // destination's file system and plaintext is never staged anywhere else (not in the
  // store, not in /tmp). Export writes into it through the descriptor (here or in the
  // daemon); on success it is fsynced and renamed over the destination, on any error
  // removed — a failed export never leaves a partial file or clobbers an existing one.
  int out_fd = -1;
  std::string out_tmp;
  if (!inv.output_file.empty()) {
    std::string dest = inv.output_file;
    std::size_t slash = dest.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dest.substr(0, slash));
    std::string base = slash == std::string::npos ? dest : dest.substr(slash + 1);
    out_tmp = fmt::format("{}/.{}.callvault-XXXXXX", dir, base);
    out_fd = ::mkostemp(out_tmp.data(), O_CLOEXEC);
    if (out_fd < 0) {
      return Fail(Annotate(ErrnoToStatus(errno, inv.output_file), "export: cannot create output"));
    }
  }
  auto finish = [&](int code) {
    if (out_tmp.empty()) return code;
    if (code == 0) {
      int fd = ::open(out_tmp.c_str(), O_RDONLY | O_CLOEXEC);
      bool ok = fd >= 0 && ::fsync(fd) == 0;
      if (fd >= 0) ::close(fd);
      if (ok && ::rename(out_tmp.c_str(), inv.output_file.c_str()) == 0) {
        std::size_t slash = inv.output_file.rfind('/');
        std::string dir = slash == std::string::npos ? "." : inv.output_file.substr(0, slash + 1);
        int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
          if (::fsync(dfd) != 0) {
            // The file is complete and renamed; only the directory entry's durability is
            // in doubt, which the next sync of the file system settles.
          }
          ::close(dfd);
        }
        return code;
      }
      int err = errno;
      ::unlink(out_tmp.c_str());
      return Fail(Annotate(ErrnoToStatus(err, inv.output_file), "export: cannot finish output"));
    }
    ::unlink(out_tmp.c_str());
    return code;
  };
  ProgressBar bar;
  nlohmann::json request = control::MakeRequest(inv.cmd, inv.args);
  bool online = config && inv.global.store.empty() && !inv.global.offline;
  if (online) {
    auto resp = control::CallDaemon(config->control.socket, request, out_fd,
                                    [&bar](const nlohmann::json& p) {
                                      bar.Update(p.value("what", std::string()),
                                                 p.value("done", uint64_t{0}),
                                                 p.value("total", uint64_t{0}));
                                    });
    if (out_fd >= 0) ::close(out_fd);
    bar.Done();
    if (!resp.ok()) {
      if (resp.status().code() == absl::StatusCode::kUnavailable) {
        return finish(Fail(absl::UnavailableError(
            fmt::format("{} (or use --offline / --store to open the store directly)",
                        std::string(resp.status().message())))));
      }
      return finish(Fail(resp.status()));
    }
    return Finished(inv, *resp, finish);
  }

  // Offline.
  StoreOptions so;
  if (config) so.config = config->store;
  if (!inv.global.store.empty()) so.config.path = inv.global.store;
  if (!inv.global.key_file.empty()) so.config.key_file = inv.global.key_file;
  if (so.config.path.empty()) {
    if (out_fd >= 0) ::close(out_fd);
    return finish(Fail(absl::InvalidArgumentError(
        "no store: give --config FILE or --store DIR --key-file FILE")));
  }
  so.create = inv.cmd == "ingest";
  ServiceOptions base;
  base.mode = "offline";
  base.region = region;
  if (config) {
    base.mask_dtmf = config->media.mask_dtmf;
    base.disk_floor_bytes = config->store.disk_floor_bytes;
  }
  InstallHooks(base, config ? &*config : nullptr);
  auto session = OpenLocalSession(so, std::move(base));
  if (!session.ok()) {
    if (out_fd >= 0) ::close(out_fd);
    return finish(Fail(session.status()));
  }
  control::RoleMap roles = config ? control::RoleMap::FromConfig(config->control)
                                  : control::RoleMap::KeyHolder();
  control::Principal me = roles.Resolve(getuid(), getgid());
  control::ProgressFn progress = [&bar](const std::string& what, uint64_t done, uint64_t total) {
    bar.Update(what, done, total);
  };
  nlohmann::json resp = session->service->Handle(me, request, out_fd, progress);
  bar.Done();
  return Finished(inv, resp, finish);
}

}  // namespace
}  // namespace callvault::cli

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  try {
    return callvault::cli::Main(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "callvault: internal error: %s\n", e.what());
    return 10;
  }
}
