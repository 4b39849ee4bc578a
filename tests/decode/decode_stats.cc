// decode_stats: runs capture files through PcapSource + Decoder and prints per-protocol
// counts and drop reasons. Used by scripts/demo until the full pipeline exists.
//
//   decode_stats [--json] [--no-l4-checksums] FILE...
//
// Exit codes follow shared/cli.md: 0 ok, 1 file not found, 2 usage, 10 internal.
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "appliance/common/status.h"
#include "tests/decode/run_capture.h"

namespace {

using callvault::decode::CaptureRun;
using callvault::decode::DecodeDrop;
using callvault::decode::DecodeStats;
using callvault::decode::DropName;
using callvault::decode::Proto;
using callvault::decode::ProtoName;

nlohmann::json ToJson(const std::string& file, const CaptureRun& r) {
  const DecodeStats& s = r.decode;
  nlohmann::json j;
  j["file"] = file;
  j["link_type"] = static_cast<int>(r.link);
  j["frames"] = s.frames;
  j["bytes"] = s.bytes;
  j["decoded"] = s.decoded;
  j["held"] = s.held;
  j["dropped"] = s.drops.Total();
  nlohmann::json protos = nlohmann::json::object();
  for (size_t i = 0; i < callvault::decode::kProtoCount; ++i) {
    if (s.proto[i].packets == 0) continue;
    protos[std::string(ProtoName(static_cast<Proto>(i)))] = {
        {"packets", s.proto[i].packets}, {"bytes", s.proto[i].bytes}};
  }
  j["protocols"] = protos;
  nlohmann::json drops = nlohmann::json::object();
  s.drops.ForEach([&](DecodeDrop d, uint64_t v) {
    if (v != 0) drops[std::string(DropName(d))] = v;
  });
  j["drops"] = drops;
  j["checksums"] = {{"bad_ipv4", s.bad_ipv4_checksum},
                    {"bad_udp", s.bad_udp_checksum},
                    {"bad_tcp", s.bad_tcp_checksum},
                    {"udp_none", s.udp_no_checksum}};
  j["reassembly"] = {{"completed", s.frag_datagrams_completed},
                     {"timed_out", s.frag_datagrams_timed_out},
                     {"evicted_full", s.frag_datagrams_evicted_full},
                     {"overlap", s.frag_datagrams_overlap},
                     {"too_many", s.frag_datagrams_too_many}};
  return j;
}

void PrintText(const std::string& file, const CaptureRun& r) {
  const DecodeStats& s = r.decode;
  fmt::print("{}\n", file);
  fmt::print("  frames {}  bytes {}  decoded {}  held {}  dropped {}\n", s.frames, s.bytes,
             s.decoded, s.held, s.drops.Total());
  fmt::print("  protocols:\n");
  for (size_t i = 0; i < callvault::decode::kProtoCount; ++i) {
    if (s.proto[i].packets == 0) continue;
    fmt::print("    {:<14} {:>10} pkts {:>12} bytes\n", ProtoName(static_cast<Proto>(i)),
               s.proto[i].packets, s.proto[i].bytes);
  }
  fmt::print("  drops:{}\n", s.drops.Total() == 0 ? " none" : "");
  s.drops.ForEach([&](DecodeDrop d, uint64_t v) {
    if (v != 0) fmt::print("    {:<24} {:>10}\n", DropName(d), v);
  });
  fmt::print("  checksums: bad ipv4 {}  bad udp {}  bad tcp {}  udp none {}\n",
             s.bad_ipv4_checksum, s.bad_udp_checksum, s.bad_tcp_checksum, s.udp_no_checksum);
  fmt::print("  reassembly: completed {}  timed out {}  evicted {}  overlap {}\n",
             s.frag_datagrams_completed, s.frag_datagrams_timed_out,
             s.frag_datagrams_evicted_full, s.frag_datagrams_overlap);
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  callvault::decode::DecoderOptions opts;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--no-l4-checksums") {
      opts.verify_l4_checksums = false;
    } else if (a == "-h" || a == "--help") {
      fmt::print("usage: decode_stats [--json] [--no-l4-checksums] FILE...\n");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      fmt::print(stderr, "decode_stats: unknown option {}\n", a);
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    fmt::print(stderr, "usage: decode_stats [--json] [--no-l4-checksums] FILE...\n");
    return 2;
  }
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& f : files) {
    absl::StatusOr<CaptureRun> r = callvault::decode::RunCapture(f, {}, opts);
    if (!r.ok()) {
      fmt::print(stderr, "decode_stats: {}\n", std::string(r.status().message()));
      return static_cast<int>(callvault::ExitCodeFor(r.status()));
    }
    if (json) {
      all.push_back(ToJson(f, *r));
    } else {
      PrintText(f, *r);
    }
  }
  if (json) fmt::print("{}\n", all.dump(2));
  return 0;
}
