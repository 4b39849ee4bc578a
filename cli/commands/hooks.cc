#include "cli/commands/hooks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/export/frame_source.h"
#include "appliance/export/pcap_export.h"
#include "appliance/export/wav_export.h"
#include "appliance/media/codec.h"
#include "appliance/media/leg_events.h"
#include "cli/commands/ingest.h"
#include "storage/retention/retention.h"
#include "storage/retention/retention_json.h"

namespace callvault::cli {
namespace {

// A private scratch directory (mode 0700) inside the store, removed on destruction.
// Export encoders write to a path (pcap export may rewrite its file as pcapng), so the
// result is built here and then copied into the caller's descriptor.
class Scratch {
 public:
  static absl::StatusOr<Scratch> Make(const std::string& store_dir) {
    std::string tmpl = store_dir + "/.export-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return ErrnoToStatus(errno, fmt::format("export: scratch directory in {}", store_dir));
    }
    return Scratch(tmpl);
  }
  Scratch(Scratch&& o) noexcept : dir_(std::exchange(o.dir_, "")) {}
  ~Scratch() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }

 private:
  explicit Scratch(std::string d) : dir_(std::move(d)) {}
  std::string dir_;
};

absl::StatusOr<uint64_t> CopyToFd(const std::string& path, int fd,
                                  const control::ProgressFn& progress) {
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoToStatus(errno, fmt::format("export: open {}", path));
  struct stat st;
  uint64_t total = ::fstat(in, &st) == 0 ? uint64_t(st.st_size) : 0;
  uint64_t done = 0;
  std::vector<char> buf(1 << 20);
  absl::Status s;
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = ErrnoToStatus(errno, "export: read");
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(fd, buf.data() + off, std::size_t(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        s = ErrnoToStatus(errno, "export: write output");
        break;
      }
      off += w;
    }
    if (!s.ok()) break;
    done += uint64_t(n);
    if (progress) progress("export: write", done, total);
  }
  ::close(in);
  RETURN_IF_ERROR(s);
  return done;
}

using StreamKey = std::pair<uint8_t, uint16_t>;  // (StreamKind, leg)

absl::StatusOr<nlohmann::json> ExportCall(Store& store, CallId id, const std::string& format,
                                          int fd, const control::ProgressFn& progress) {
  ASSIGN_OR_RETURN(CallSummary call, store.GetCall(id));
  // Decrypt and verify every block first: a tampered block fails the export before
  // anything is written (exit 4). Memory: the call's frames (see docs/CONTROL.md).
  std::map<StreamKey, std::vector<std::vector<uint8_t>>> blocks;
  uint64_t done = 0;
  RETURN_IF_ERROR(store.ReadBlocks(id, BlockFilter{}, [&](const PlainBlock& b) {
    blocks[{uint8_t(b.info.kind), b.info.leg}].push_back(b.payload);
    if (progress) progress("export: decrypt", ++done, call.blocks);
    return true;
  }));
  std::map<StreamKey, std::unique_ptr<exporter::BlockFrameSource>> sources;
  for (const auto& [key, payloads] : blocks) {
    std::vector<std::span<const uint8_t>> views(payloads.begin(), payloads.end());
    sources[key] = std::make_unique<exporter::BlockFrameSource>(std::move(views));
  }
  ASSIGN_OR_RETURN(Scratch scratch, Scratch::Make(store.config().path));
  std::string path = scratch.dir() + "/out." + format;
  nlohmann::json result;
  if (format == "pcap") {
    std::vector<exporter::FrameSource*> streams;
    for (auto& [key, src] : sources) {
      if (key.first != uint8_t(StreamKind::kEvents)) streams.push_back(src.get());
    }
    if (streams.empty()) {
      return absl::NotFoundError(fmt::format("call {} has no stored frames", id.ToString()));
    }
    ASSIGN_OR_RETURN(exporter::PcapExportStats st, exporter::ExportPcap(streams, path));
    result = {{"frames", st.frames}, {"pcapng", st.pcapng}};
  } else {
    std::vector<exporter::ExportStream> streams;
    for (const MediaLeg& leg : call.record.legs) {
      auto it = sources.find({uint8_t(StreamKind::kRtp), leg.leg});
      if (it == sources.end()) continue;
      exporter::ExportStream s;
      s.direction = leg.direction;
      s.codecs.push_back(media::CodecFromName(leg.codec));
      // Dynamic payload types (Opus, G.722 or telephone-event on 96..127) come from the
      // leg's summary, which media stores in the leg's kEvents block at close: the
      // payload types seen with the encoding SDP gave them.
      auto ev = blocks.find({uint8_t(StreamKind::kEvents), leg.leg});
      if (ev != blocks.end()) {
        for (const std::vector<uint8_t>& payload : ev->second) {
          absl::StatusOr<media::LegSummary> sum = media::DecodeLegSummary(payload);
          if (!sum.ok()) continue;  // an unreadable summary only loses the hint
          for (const auto& [pt, name] : sum->payload_names) {
            media::Codec c = media::CodecFromName(name);
            s.payloads.Set(pt, c, c == media::Codec::kOpus ? 48000 : 8000);
            if (c != media::Codec::kTelephoneEvent && c != media::Codec::kComfortNoise) {
              s.codecs.push_back(c);
            }
          }
        }
      }
      s.encrypted = leg.encrypted_media;
      s.frames = it->second.get();
      streams.push_back(std::move(s));
    }
    if (streams.empty()) {
      return absl::NotFoundError(fmt::format("call {} has no stored audio", id.ToString()));
    }
    exporter::WavExportStats st;
    RETURN_IF_ERROR(exporter::ExportWav(streams, path, exporter::WavExportOptions{}, &st));
    result = {{"sample_rate", st.sample_rate},
              {"samples_per_channel", st.frames_written},
              {"seconds", st.sample_rate ? double(st.frames_written) / st.sample_rate : 0.0},
              {"packets_decoded", st.packets_decoded},
              {"undecodable", st.undecodable},
              {"encrypted_packets", st.encrypted_packets}};
  }
  for (const auto& [key, src] : sources) {
    if (src->error()) {
      return IntegrityError(fmt::format("call {}: a block of stream {} leg {} is malformed",
                                        id.ToString(), key.first, key.second));
    }
  }
  ASSIGN_OR_RETURN(uint64_t bytes, CopyToFd(path, fd, progress));
  result["bytes"] = bytes;
  return result;
}

}  // namespace

void InstallHooks(ServiceOptions& options, const Config* config) {
  options.export_call = ExportCall;
  auto cfg = std::make_shared<Config>(config != nullptr ? *config : Config{});
  options.ingest = [cfg](Store& store, const std::vector<std::string>& files,
                         const control::ProgressFn& progress) {
    return IngestFiles(*cfg, store, files, progress);
  };
  options.retention = [cfg](Store& store, bool dry_run, uint64_t now_ns,
                            const control::ProgressFn& progress)
      -> absl::StatusOr<RetentionResult> {
    retention::RetentionOptions ro;
    ro.max_age_months = cfg->retention.max_age_months;
    ro.compact_threshold = cfg->retention.compact_threshold;
    ro.now_ns = now_ns;
    ro.dry_run = dry_run;
    retention::RetentionProgress rp;
    if (progress) {
      rp = [&progress](std::string_view stage, uint64_t done, uint64_t total) {
        progress(fmt::format("retention: {}", stage), done, total);
      };
    }
    ASSIGN_OR_RETURN(retention::RetentionReport report, retention::RunRetention(store, ro, rp));
    RetentionResult out;
    out.summary = retention::RetentionReportJson(report);
    for (CallId id : report.purged) out.purged.push_back(id.ToString());
    return out;
  };
}

}  // namespace callvault::cli
