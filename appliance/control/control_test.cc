#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "appliance/common/status.h"
#include "appliance/control/client.h"
#include "appliance/control/protocol.h"
#include "appliance/control/roles.h"
#include "appliance/control/server.h"

namespace callvault::control {
namespace {

TEST(RolesTest, RequiredRolesFollowTheContract) {
  for (const char* c : {"status", "metrics", "search", "show", "export"}) {
    EXPECT_TRUE(Allowed(kRoleReviewer, c)) << c;
    EXPECT_TRUE(Allowed(kRoleAdmin, c)) << c;
    EXPECT_FALSE(Allowed(kRoleAuditor, c)) << c;
  }
  for (const char* c : {"ingest", "hold", "retention", "keys", "verify"}) {
    EXPECT_FALSE(Allowed(kRoleReviewer, c)) << c;
    EXPECT_TRUE(Allowed(kRoleAdmin, c)) << c;
    EXPECT_FALSE(Allowed(kRoleAuditor, c)) << c;
  }
  EXPECT_TRUE(Allowed(kRoleAuditor, "audit"));
  EXPECT_FALSE(Allowed(kRoleAdmin, "audit"));
  EXPECT_FALSE(Allowed(kRoleReviewer, "audit"));
  EXPECT_FALSE(Allowed(kRoleAll, "frobnicate"));
  EXPECT_FALSE(Allowed(kRoleNone, "status"));
}

TEST(RolesTest, MapsUsersGroupsAndUids) {
  ControlConfig c;
  c.admins = {"root", "uid:4242"};
  c.reviewers = {"group:review", "carol"};
  c.auditors = {"group:audit", "carol"};
  RoleMap m = RoleMap::FromConfig(c);
  EXPECT_EQ(m.RolesFor("root", 0, {}), kRoleAdmin);
  EXPECT_EQ(m.RolesFor("x", 4242, {}), kRoleAdmin);
  EXPECT_EQ(m.RolesFor("bob", 1000, {"users", "review"}), kRoleReviewer);
  EXPECT_EQ(m.RolesFor("carol", 1001, {}), kRoleReviewer | kRoleAuditor);
  EXPECT_EQ(m.RolesFor("dave", 1002, {"audit"}), kRoleAuditor);
  EXPECT_EQ(m.RolesFor("eve", 1003, {"users"}), kRoleNone);
  // A group entry does not match a user of the same name, nor a prefix.
  EXPECT_EQ(m.RolesFor("review", 1004, {}), kRoleNone);
  EXPECT_EQ(m.RolesFor("eve", 1005, {"reviewers"}), kRoleNone);
  EXPECT_EQ(RolesName(kRoleReviewer | kRoleAuditor), "reviewer+auditor");
  EXPECT_EQ(RolesName(kRoleNone), "none");
  EXPECT_EQ(RoleMap::KeyHolder().RolesFor("anyone", 1, {}), kRoleAll);
}

TEST(RolesTest, ResolveRootFromSystemDatabase) {
  ControlConfig c;
  c.admins = {"root"};
  Principal p = RoleMap::FromConfig(c).Resolve(0, 0);
  EXPECT_EQ(p.user, "root");
  EXPECT_EQ(p.roles, kRoleAdmin);
  // A uid without a passwd entry gets a synthetic name and no role.
  Principal q = RoleMap::FromConfig(c).Resolve(3999999, 3999999);
  EXPECT_EQ(q.user, "uid:3999999");
  EXPECT_EQ(q.roles, kRoleNone);
}

TEST(ProtocolTest, FrameRoundTripWithDescriptor) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  nlohmann::json req = MakeRequest("export", {{"call_id", "0123456789abcdef"}});
  ASSERT_TRUE(WriteFrame(sv[0], req, pipefd[1]).ok());
  int got = -1;
  auto back = ReadFrame(sv[1], &got);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, req);
  ASSERT_GE(got, 0);
  // The passed descriptor is the pipe's write end: bytes written to it arrive.
  ASSERT_EQ(write(got, "hi", 2), 2);
  char buf[2];
  ASSERT_EQ(read(pipefd[0], buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  close(got);
  close(pipefd[0]);
  close(pipefd[1]);
  // Clean end of stream.
  close(sv[0]);
  EXPECT_EQ(ReadFrame(sv[1]).status().code(), absl::StatusCode::kOutOfRange);
  close(sv[1]);
}

TEST(ProtocolTest, RejectsBadFrames) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  const unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(write(sv[0], huge, 4), 4);
  EXPECT_EQ(ReadFrame(sv[1]).status().code(), absl::StatusCode::kInvalidArgument);
  const unsigned char notjson[7] = {0, 0, 0, 3, 'a', 'b', 'c'};
  ASSERT_EQ(write(sv[0], notjson, 7), 7);
  EXPECT_EQ(ReadFrame(sv[1]).status().code(), absl::StatusCode::kInvalidArgument);
  // Truncated: header says 10 bytes, 2 arrive, then the peer closes.
  const unsigned char cut[6] = {0, 0, 0, 10, '{', '}'};
  ASSERT_EQ(write(sv[0], cut, 6), 6);
  close(sv[0]);
  EXPECT_EQ(ReadFrame(sv[1]).status().code(), absl::StatusCode::kUnavailable);
  close(sv[1]);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv_control_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.socket = dir_ + "/run/control.sock";
    group* g = getgrgid(getgid());
    ASSERT_NE(g, nullptr);
    config_.group = g->gr_name;
    config_.admins = {"uid:" + std::to_string(getuid())};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  ControlConfig config_;
};

TEST_F(ServerTest, ServesPeerCredentialsAndProgress) {
  Handler h = [](const Principal& p, const nlohmann::json& req, int fd,
                 const ProgressFn& progress) {
    if (fd >= 0) close(fd);
    progress("test", 1, 2);
    return MakeResponse(0, {{"uid", p.uid},
                            {"roles", RolesName(p.roles)},
                            {"cmd", req["cmd"]},
                            {"had_fd", fd >= 0}});
  };
  auto server = ControlServer::Listen(config_, RoleMap::FromConfig(config_), h);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st;
  ASSERT_EQ(stat(config_.socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, getgid());

  // A second server on the same path is refused while the first listens.
  auto second = ControlServer::Listen(config_, RoleMap::FromConfig(config_), h);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);

  std::atomic<bool> stop{false};
  std::thread t([&] { (*server)->Serve(stop); });
  int progress_frames = 0;
  int devnull = open("/dev/null", O_WRONLY);
  auto resp = CallDaemon(config_.socket, MakeRequest("status", nlohmann::json::object()),
                         devnull, [&](const nlohmann::json& p) {
                           EXPECT_EQ(p["done"], 1);
                           ++progress_frames;
                         });
  close(devnull);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ((*resp)["exit"], 0);
  EXPECT_EQ((*resp)["result"]["uid"], getuid());
  EXPECT_EQ((*resp)["result"]["roles"], "admin");
  EXPECT_EQ((*resp)["result"]["cmd"], "status");
  EXPECT_EQ((*resp)["result"]["had_fd"], true);
  EXPECT_EQ(progress_frames, 1);

  // A request of another protocol version is answered with exit 2.
  nlohmann::json v2 = MakeRequest("status", nlohmann::json::object());
  v2["v"] = 2;
  resp = CallDaemon(config_.socket, v2);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ((*resp)["exit"], 2);
  EXPECT_NE((*resp)["error"].get<std::string>().find("version"), std::string::npos);
  stop = true;
  t.join();
}

TEST_F(ServerTest, DaemonNotRunningIsUnavailable) {
  auto resp = CallDaemon(config_.socket, MakeRequest("status", nlohmann::json::object()));
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ExitCodeFor(resp.status()), ExitCode::kUnavailable);
  EXPECT_NE(std::string(resp.status().message()).find("daemon not running"), std::string::npos);
}

TEST_F(ServerTest, UnknownGroupIsAConfigError) {
  config_.group = "no-such-group-cv";
  auto server = ControlServer::Listen(config_, RoleMap::FromConfig(config_), {});
  EXPECT_EQ(ExitCodeFor(server.status()), ExitCode::kUsage);
}

}  // namespace
}  // namespace callvault::control
