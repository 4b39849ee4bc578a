// Helpers for kill -9 tests that re-execute their own binary as a child
// ("SELF --child DIR KILL_AT"; a fresh exec, because RocksDB's threads do not survive
// fork()): a fresh copy of a template store directory, and running the child with a
// SIGKILL either raised by the child itself at its KILL_AT-th durable step or sent by the
// parent after a delay. Used by storage/retention/retention_crash_test.cc and
// storage/maintenance/segment_merge_crash_test.cc.
#ifndef CALLVAULT_STORAGE_TESTING_KILL_CHILD_H_
#define CALLVAULT_STORAGE_TESTING_KILL_CHILD_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "storage/testing/store_test_util.h"

namespace callvault::testing {

// A new temporary directory holding a recursive copy of `from`.
inline std::unique_ptr<TempDir> CopyOf(const std::string& from) {
  auto d = std::make_unique<TempDir>();
  std::filesystem::copy(from, d->path(), std::filesystem::copy_options::recursive);
  return d;
}

// Runs `self --child dir kill_at`; delay_us > 0: the parent SIGKILLs it after that long.
// A child that exits must exit 0. Returns true when the child was killed.
inline bool RunChildKilled(const std::string& self, const std::string& dir, int kill_at,
                           int delay_us) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string k = std::to_string(kill_at);
    ::execl(self.c_str(), self.c_str(), "--child", dir.c_str(), k.c_str(), nullptr);
    ::_exit(5);
  }
  if (delay_us > 0) {
    ::usleep(useconds_t(delay_us));
    ::kill(pid, SIGKILL);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (WIFEXITED(st)) {
    EXPECT_EQ(WEXITSTATUS(st), 0);
  }
  return WIFSIGNALED(st);
}

}  // namespace callvault::testing

#endif  // CALLVAULT_STORAGE_TESTING_KILL_CHILD_H_
