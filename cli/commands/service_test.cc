// CommandService against a real store in a temporary directory: role checks, the audit
// record each command leaves, exit codes, and no plaintext PII in the audit log. (The
// end-to-end test runs the same through the socket with real users; this one needs no
// root.)
#include "cli/commands/service.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "appliance/common/time_util.h"
#include "appliance/control/protocol.h"
#include "cli/commands/session.h"
#include "storage/testing/store_test_util.h"

namespace callvault::cli {
namespace {

using control::Principal;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o = testing::MakeOptions(dir_);
    ASSERT_TRUE(InitKeyFile(o.config.key_file).ok());
    {
      auto store = Store::Open(o);
      ASSERT_TRUE(store.ok()) << store.status();
      std::mt19937_64 rng(42);
      rec_ = testing::RandomRecord(rng, 1795824000ull * kNsPerSec);
      rec_.state = CallState::kAnswered;
      (*store)->writer()->OnCallStarted(rec_);
      (*store)->writer()->OnCallEnded(rec_);
      ASSERT_TRUE((*store)->writer()->Sync().ok());
    }
    o.create = false;
    ServiceOptions base;
    base.mode = "offline";
    auto s = OpenLocalSession(o, std::move(base));
    ASSERT_TRUE(s.ok()) << s.status();
    session_ = std::move(*s);
  }

  nlohmann::json Run(const Principal& p, const std::string& cmd, nlohmann::json args,
                     int fd = -1) {
    return session_.service->Handle(p, control::MakeRequest(cmd, std::move(args)), fd, {});
  }
  audit::AuditRecord Last() {
    auto recs = session_.audit->List(0, 0);
    EXPECT_TRUE(recs.ok());
    return recs->back();
  }

  testing::TempDir dir_;
  CallRecord rec_;
  LocalSession session_;
  Principal reviewer_{1000, 1000, "rita", control::kRoleReviewer};
  Principal admin_{1001, 1001, "adam", control::kRoleAdmin};
  Principal auditor_{1002, 1002, "audrey", control::kRoleAuditor};
  Principal nobody_{1003, 1003, "nemo", control::kRoleNone};
};

TEST_F(ServiceTest, SearchFindsAndAuditsBlindCriteria) {
  auto r = Run(reviewer_, "search", {{"ani", rec_.ani}});
  ASSERT_EQ(r["exit"], 0) << r.dump();
  ASSERT_EQ(r["result"].size(), 1u);
  EXPECT_EQ(r["result"][0]["call_id"], rec_.call_id.ToString());
  EXPECT_EQ(r["result"][0]["ani"], rec_.ani);
  EXPECT_EQ(r["result"][0]["dtmf"][0]["digit"], "x");  // masked by default
  audit::AuditRecord a = Last();
  EXPECT_EQ(a.action, "search");
  EXPECT_EQ(a.user, "rita");
  EXPECT_EQ(a.uid, 1000u);
  EXPECT_EQ(a.role, "reviewer");
  EXPECT_EQ(a.result, "ok");
  EXPECT_EQ(a.call_ids, std::vector<std::string>{rec_.call_id.ToString()});
  EXPECT_EQ(a.detail["ani_blind"], session_.store->BlindHex("ani", rec_.ani));
  // Nothing in the audit files names the number or the agent.
  std::ifstream in(session_.audit->log_path());
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str().find(rec_.ani.substr(1)), std::string::npos);
  EXPECT_EQ(ss.str().find(rec_.agent.name), std::string::npos);
}

TEST_F(ServiceTest, MetricsFromTheDaemonHookRoleCheckedAndAudited) {
  // Offline (no capture in this process): unavailable, and still audited.
  auto r = Run(reviewer_, "metrics", nlohmann::json::object());
  EXPECT_EQ(r["exit"], 5) << r.dump();
  EXPECT_EQ(Last().action, "metrics");
  // As the daemon wires it: the hook's text, verbatim.
  const std::string text =
      "# HELP callvault_queue_frames_total Frames.\n# TYPE callvault_queue_frames_total "
      "counter\ncallvault_queue_frames_total{port=\"0\",queue=\"0\",lcore=\"1\"} 42\n";
  ServiceOptions o;
  o.store = session_.store.get();
  o.audit = session_.audit.get();
  o.mode = "online";
  o.capture_metrics = [&text] { return text; };
  auto online = CommandService::Create(std::move(o));
  ASSERT_TRUE(online.ok()) << online.status();
  for (const Principal* p : {&reviewer_, &admin_}) {
    r = online->Handle(*p, control::MakeRequest("metrics", nlohmann::json::object()), -1, {});
    EXPECT_EQ(r["exit"], 0) << r.dump();
    EXPECT_EQ(r["result"]["text"], text);
    EXPECT_EQ(r["result"]["format"], "prometheus-text-0.0.4");
    EXPECT_EQ(Last().action, "metrics");
    EXPECT_EQ(Last().result, "ok");
    EXPECT_EQ(Last().user, p->user);
  }
  for (const Principal* p : {&auditor_, &nobody_}) {
    r = online->Handle(*p, control::MakeRequest("metrics", nlohmann::json::object()), -1, {});
    EXPECT_EQ(r["exit"], 3) << r.dump();
    EXPECT_FALSE(r["result"].is_object() && r["result"].contains("text")) << r.dump();
    EXPECT_EQ(Last().action, "denied:metrics");
    EXPECT_EQ(Last().user, p->user);
  }
  // Arguments are refused like for every command.
  r = online->Handle(reviewer_, control::MakeRequest("metrics", {{"path", "/etc/shadow"}}),
                     -1, {});
  EXPECT_EQ(r["exit"], 2) << r.dump();
}

TEST_F(ServiceTest, NothingFoundIsExitOne) {
  auto r = Run(reviewer_, "search", {{"ani", "+12025550100"}});
  EXPECT_EQ(r["exit"], 1);
  EXPECT_TRUE(r["result"].empty());
  EXPECT_EQ(Last().result, "not_found");
  r = Run(reviewer_, "show", {{"call_ids", {"00000000000fffff"}}});
  EXPECT_EQ(r["exit"], 1);
  EXPECT_NE(r["error"].get<std::string>().find("00000000000fffff"), std::string::npos);
  EXPECT_EQ(Last().call_ids, std::vector<std::string>{"00000000000fffff"});
}

TEST_F(ServiceTest, RolesAreEnforcedAndDenialsAudited) {
  struct Case {
    const Principal* who;
    std::string cmd;
    nlohmann::json args;
    bool allowed;
  };
  std::string id = rec_.call_id.ToString();
  std::vector<Case> cases = {
      {&reviewer_, "show", {{"call_ids", {id}}}, true},
      {&admin_, "show", {{"call_ids", {id}}}, true},
      {&auditor_, "show", {{"call_ids", {id}}}, false},
      {&nobody_, "status", nlohmann::json::object(), false},
      {&reviewer_, "hold", {{"sub", "list"}}, false},
      {&admin_, "hold", {{"sub", "list"}}, true},
      {&reviewer_, "verify", nlohmann::json::object(), false},
      {&admin_, "verify", nlohmann::json::object(), true},
      {&admin_, "audit", {{"sub", "verify"}}, false},
      {&auditor_, "audit", {{"sub", "verify"}}, true},
      {&reviewer_, "keys", {{"sub", "status"}}, false},
      {&admin_, "keys", {{"sub", "status"}}, true},
  };
  for (const Case& c : cases) {
    auto r = Run(*c.who, c.cmd, c.args);
    audit::AuditRecord a = Last();
    if (c.allowed) {
      EXPECT_EQ(r["exit"], 0) << c.cmd << " " << c.who->user << " " << r.dump();
      EXPECT_EQ(a.result, "ok");
    } else {
      EXPECT_EQ(r["exit"], 3) << c.cmd << " " << c.who->user;
      EXPECT_EQ(a.result, "denied");
      EXPECT_EQ(a.action.rfind("denied:", 0), 0u) << a.action;
      EXPECT_NE(r["error"].get<std::string>().find(c.who->user), std::string::npos);
    }
    EXPECT_EQ(a.user, c.who->user);
  }
  auto v = session_.audit->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->records, cases.size());
}

TEST_F(ServiceTest, HoldLifecycle) {
  std::string id = rec_.call_id.ToString();
  auto r = Run(admin_, "hold", {{"sub", "add"}, {"call_ids", {id}}, {"case", "GR-7"},
                                {"reason", "grievance"}});
  ASSERT_EQ(r["exit"], 0) << r.dump();
  EXPECT_EQ(Last().action, "hold.add");
  EXPECT_EQ(Last().detail["case"], "GR-7");
  r = Run(reviewer_, "show", {{"call_ids", {id}}});
  EXPECT_EQ(r["result"]["held"], true);
  EXPECT_EQ(r["result"]["hold"]["case"], "GR-7");
  EXPECT_NE(r["result"]["hold"]["who"].get<std::string>().find("adam"), std::string::npos);
  r = Run(admin_, "hold", {{"sub", "remove"}, {"call_ids", {id}}});
  EXPECT_EQ(r["exit"], 0);
  r = Run(admin_, "hold", {{"sub", "remove"}, {"call_ids", {id}}});
  EXPECT_EQ(r["exit"], 1);
}

TEST_F(ServiceTest, BadRequestsAreUsageErrors) {
  EXPECT_EQ(Run(admin_, "search", {{"from", "2026-11-28"}})["exit"], 2);
  EXPECT_EQ(Run(admin_, "search", {{"ani", "call me"}})["exit"], 2);
  EXPECT_EQ(Run(admin_, "show", {{"call_ids", {"xyz"}}})["exit"], 2);
  EXPECT_EQ(Run(admin_, "rm", nlohmann::json::object())["exit"], 2);
  // export without a descriptor (a client that did not pass one)
  auto r = Run(reviewer_, "export", {{"call_ids", {rec_.call_id.ToString()}}, {"format", "wav"}});
  EXPECT_EQ(r["exit"], 2);
  EXPECT_EQ(Last().result.rfind("error 2", 0), 0u) << Last().result;
}

TEST_F(ServiceTest, VerifyReportsCleanStore) {
  auto r = Run(admin_, "verify", nlohmann::json::object());
  ASSERT_EQ(r["exit"], 0) << r.dump();
  EXPECT_EQ(r["result"]["calls"], 1);
  EXPECT_EQ(r["result"]["audit_ok"], true);
}

}  // namespace
}  // namespace callvault::cli
