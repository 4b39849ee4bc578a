// Dialog tracking benchmarks: calls/s (items/s) and SIP bytes/s through DialogTracker for
// complete INVITE..BYE sequences (INVITE+SDP, 100, 180, 200+SDP, ACK, BYE, 200). The SIP
// messages are parsed once up front, so only tracking is measured (parsing: sip_bench).
// Every call has its own caller number (ANI) and the same dialled extension, as in a
// contact centre's inbound traffic.
// Figures are quoted from release builds only (docs/BENCHMARKS.md):
//   meson setup build-calls-rel --buildtype=release -Ddpdk=disabled
//   ninja -C build-calls-rel appliance/calls/calls_bench
//   taskset -c 0 build-calls-rel/appliance/calls/calls_bench
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "appliance/calls/dialog_tracker.h"
#include "appliance/common/time_util.h"

namespace callvault::calls {
namespace {

struct NullSink : CallEventSink {
  uint64_t events = 0;
  void OnCallStarted(const CallRecord&) override { ++events; }
  void OnCallUpdated(const CallRecord&) override { ++events; }
  void OnMediaChanged(const MediaSession&) override { ++events; }
  void OnSipFrame(CallId, const Frame&) override { ++events; }
  void OnCallEnded(const CallRecord&) override { ++events; }
};

std::string Sdp(const char* ip, int port) {
  return fmt::format(
      "v=0\r\no=- 1 1 IN IP4 {0}\r\ns=-\r\nc=IN IP4 {0}\r\nt=0 0\r\n"
      "m=audio {1} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
      ip, port);
}

std::string Msg(const std::string& start, int call, const char* to_tag, int cseq,
                const char* method, const std::string& body) {
  std::string to = "<sip:2001@pbx.example.com>";
  if (*to_tag) to += fmt::format(";tag={}", to_tag);
  std::string s = fmt::format(
      "{}\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{}-{}\r\n"
      "From: \"Caller\" <sip:+1202555{:04d}@carrier.example.com>;tag=f{}\r\n"
      "To: {}\r\nCall-ID: bench-{}@192.0.2.10\r\nCSeq: {} {}\r\nMax-Forwards: 70\r\n"
      "Contact: <sip:caller@192.0.2.10:5060>\r\nUser-Agent: bench\r\n",
      start, call, cseq, call % 10000, call, to, call, cseq, method);
  if (!body.empty()) s += "Content-Type: application/sdp\r\n";
  return s + fmt::format("Content-Length: {}\r\n\r\n", body.size()) + body;
}

struct Prepared {
  std::vector<std::string> texts;
  std::vector<std::unique_ptr<sip::Message>> messages;
  std::vector<bool> from_caller;
  uint64_t bytes_per_round = 0;
};

// `calls` distinct Call-IDs, 7 messages each, parsed once.
Prepared Prepare(int calls) {
  Prepared p;
  for (int c = 0; c < calls; ++c) {
    const std::string req = "INVITE sip:2001@pbx.example.com SIP/2.0";
    p.texts.push_back(Msg(req, c, "", 1, "INVITE", Sdp("192.0.2.10", 16384 + 2 * (c % 8000))));
    p.texts.push_back(Msg("SIP/2.0 100 Trying", c, "", 1, "INVITE", ""));
    p.texts.push_back(Msg("SIP/2.0 180 Ringing", c, "b", 1, "INVITE", ""));
    p.texts.push_back(Msg("SIP/2.0 200 OK", c, "b", 1, "INVITE",
                          Sdp("10.20.0.50", 20000 + 2 * (c % 8000))));
    p.texts.push_back(Msg("ACK sip:2001@10.20.0.50 SIP/2.0", c, "b", 1, "ACK", ""));
    p.texts.push_back(Msg("BYE sip:2001@10.20.0.50 SIP/2.0", c, "b", 2, "BYE", ""));
    p.texts.push_back(Msg("SIP/2.0 200 OK", c, "b", 2, "BYE", ""));
    for (bool b : {true, false, false, false, true, true, false}) p.from_caller.push_back(b);
  }
  for (const std::string& t : p.texts) {
    auto m = std::make_unique<sip::Message>();
    sip::ParseResult r = sip::ParseMessage(
        {reinterpret_cast<const uint8_t*>(t.data()), t.size()}, sip::Limits{}, m.get());
    if (!r.ok()) std::abort();
    p.messages.push_back(std::move(m));
    p.bytes_per_round += t.size();
  }
  return p;
}

// range(0): distinct calls (Call-IDs and caller numbers) cycled; range(1): E.164 cache
// entries. 64 < 256 callers: every caller number misses the cache (unique ANIs) while the
// dialled extension hits; 0: every lookup goes to libphonenumber (worst case).
void BM_Calls_InviteToBye(benchmark::State& state) {
  const int calls = static_cast<int>(state.range(0));
  Prepared p = Prepare(calls);
  Config cfg;
  NullSink sink;
  auto opt = TrackerOptions::FromConfig(cfg, nullptr);
  if (!opt.ok()) std::abort();
  opt->e164_cache_entries = static_cast<size_t>(state.range(1));
  DialogTracker tracker(*std::move(opt), &sink);
  const Endpoint caller{*IpAddress::Parse("192.0.2.10"), 5060};
  const Endpoint pbx{*IpAddress::Parse("10.20.0.1"), 5060};
  // One call per second of capture time: a Call-ID comes back after `calls` seconds, long
  // after its linger (32 s) ended, so the table stays at a steady ~33 dialogs.
  uint64_t ts = 1700000000ull * kNsPerSec;
  uint64_t done = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < p.messages.size(); ++i) {
      if (i % 7 == 0) ts += kNsPerSec;
      Frame f;
      f.data = reinterpret_cast<const uint8_t*>(p.texts[i].data());
      f.caplen = f.wirelen = static_cast<uint32_t>(p.texts[i].size());
      f.ts_ns = ts;
      SipEvent e{p.messages[i].get(), ts + i % 7, p.from_caller[i] ? caller : pbx,
                 p.from_caller[i] ? pbx : caller, {&f, 1}};
      tracker.OnMessage(e);
    }
    done += calls;
  }
  benchmark::DoNotOptimize(sink.events);
  if (tracker.calls_started() < done) state.SkipWithError("calls not tracked");
  state.SetItemsProcessed(int64_t(done));
  state.SetBytesProcessed(int64_t(p.bytes_per_round) * state.iterations());
  state.counters["dialogs"] = double(tracker.dialogs());
}
BENCHMARK(BM_Calls_InviteToBye)->Args({256, 64})->Args({256, 0});

}  // namespace
}  // namespace callvault::calls
