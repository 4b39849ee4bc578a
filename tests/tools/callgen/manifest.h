// Manifest: the JSON record of what callgen wrote, the ground truth tests compare the
// appliance's output with.
//
// Layout (one object): "generator" (tool, version, seed, options), "calls" (array in call
// index order; per call the SIP Call-ID, ANI, dialled number, agent, codecs, times as RFC
// 3339 with ms plus exact ns, endpoints, tones and packet counts per direction, DTMF
// digits with their offsets), "totals" (frames, bytes). Field names are documented in
// tests/tools/README.md. Control path, single thread.
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_MANIFEST_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_MANIFEST_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "tests/tools/callgen/call_plan.h"
#include "tests/tools/callgen/generator.h"
#include "tests/tools/callgen/options.h"
#include "tests/tools/callgen/pcap_writer.h"

namespace callvault::callgen {

nlohmann::ordered_json BuildManifest(const Options& o, const std::vector<Agent>& agents,
                                     const std::vector<CallPlan>& plans,
                                     const std::vector<CallResult>& results, const PcapWriter& w);

[[nodiscard]] absl::Status WriteJsonFile(const std::string& path, const nlohmann::ordered_json& j);

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_MANIFEST_H_
