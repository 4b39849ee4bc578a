#include "cli/commands/export_call.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/export/call_keys.h"
#include "appliance/export/frame_source.h"
#include "appliance/export/pcap_export.h"
#include "appliance/export/srtp_decryptor.h"
#include "appliance/export/wav_export.h"
#include "appliance/media/codec.h"
#include "appliance/media/leg_events.h"

namespace callvault::cli {
namespace {

// Decrypted bytes held by all sources at once, and the progress of the whole export.
struct ExportProgress {
  uint64_t held = 0, peak = 0;
  uint64_t blocks = 0, total = 0;
  const control::ProgressFn* fn = nullptr;
};

// One stored stream (kind, leg) pulled from the store one block at a time.
class StoreStreamSource : public exporter::FrameSource {
 public:
  StoreStreamSource(Store& store, CallId id, StreamKind kind, uint16_t leg, ExportProgress* p)
      : store_(store), id_(id), kind_(kind), leg_(leg), p_(p), reader_(std::span<const uint8_t>()) {}
  ~StoreStreamSource() override { Release(); }

  std::optional<FrameRecordView> Next() override {
    for (;;) {
      if (auto v = reader_.Next()) return v;
      if (reader_.error()) error_ = true;
      if (error_ || done_ || !Fetch()) return std::nullopt;
    }
  }
  bool error() const override { return error_; }
  const absl::Status& status() const { return status_; }

 private:
  void Release() {
    sodium_memzero(buf_.data(), buf_.size());
    p_->held -= buf_.size();
    buf_.clear();
  }
  bool Fetch() {
    Release();
    reader_ = FrameRecordReader(std::span<const uint8_t>());
    BlockFilter f;
    f.kind = kind_;
    f.leg = leg_;
    f.min_seq = next_seq_;
    bool got = false;
    absl::Status s = store_.ReadBlocks(id_, f, [&](const PlainBlock& b) {
      buf_.assign(b.payload.begin(), b.payload.end());
      next_seq_ = b.info.seq + 1;
      got = true;
      return false;
    });
    if (!s.ok()) {
      status_ = s;
      error_ = true;
      return false;
    }
    if (!got || next_seq_ == 0) done_ = true;  // end, or seq wrapped (never in practice)
    if (!got) return false;
    p_->held += buf_.size();
    p_->peak = std::max(p_->peak, p_->held);
    ++p_->blocks;
    if (*p_->fn) (*p_->fn)("export: decrypt", p_->blocks, p_->total);
    reader_ = FrameRecordReader(buf_);
    return true;
  }

  Store& store_;
  CallId id_;
  StreamKind kind_;
  uint16_t leg_;
  ExportProgress* p_;
  uint32_t next_seq_ = 0;
  std::vector<uint8_t> buf_;
  FrameRecordReader reader_;
  bool error_ = false, done_ = false;
  absl::Status status_;
};

using Sources = std::vector<std::unique_ptr<StoreStreamSource>>;

absl::Status SourcesStatus(const Sources& sources, CallId id) {
  for (const auto& s : sources) {
    if (!s->status().ok()) return s->status();
    if (s->error()) {
      return IntegrityError(fmt::format("call {}: a stored block is malformed", id.ToString()));
    }
  }
  return absl::OkStatus();
}

std::string Channel(LegDirection d) {
  return exporter::ChannelFor(d) == 0 ? "channel 0 (caller / side A)" : "channel 1 (agent / side B)";
}

// Why a leg's SRTP cannot be decrypted, or "" when it has keys.
std::string NoKeyReason(const exporter::LegKeys& k, const exporter::SrtpDecryptor& d) {
  if (d.has_keys()) return "";
  if (k.dtls) return "DTLS-SRTP: the keys were negotiated on the media path, never in SIP";
  if (k.zrtp) return "ZRTP: the keys were negotiated on the media path, never in SIP";
  if (!d.unsupported().empty()) {
    return fmt::format("crypto suite {} is not supported", d.unsupported().front());
  }
  if (!k.sdp_seen) return "no SDP of its sender was recorded (SIP over TLS, or not captured)";
  return "its sender's SDP carries no usable a=crypto key";
}

absl::StatusOr<nlohmann::json> ExportFrames(Store& store, CallId id,
                                          const std::vector<StreamListing>& streams, int fd,
                                          ExportProgress& prog) {
  auto run = [&](bool pcapng) -> absl::StatusOr<exporter::PcapExportStats> {
    Sources sources;
    std::vector<exporter::FrameSource*> ptrs;
    for (const StreamListing& s : streams) {
      if (s.kind == StreamKind::kEvents) continue;
      sources.push_back(std::make_unique<StoreStreamSource>(store, id, s.kind, s.leg, &prog));
      ptrs.push_back(sources.back().get());
    }
    if (ptrs.empty()) {
      return absl::NotFoundError(fmt::format("call {} has no stored frames", id.ToString()));
    }
    absl::StatusOr<exporter::PcapExportStats> r =
        exporter::ExportPcapToFd(ptrs, fd, "export output", pcapng);
    RETURN_IF_ERROR(SourcesStatus(sources, id));
    return r;
  };
  ASSIGN_OR_RETURN(exporter::PcapExportStats st, run(false));
  if (st.restart_as_pcapng) {
    // Mixed link types: classic pcap cannot hold them; write the call again as pcapng.
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
      return ErrnoToStatus(errno, "export: rewind output for pcapng");
    }
    prog.blocks = 0;
    ASSIGN_OR_RETURN(st, run(true));
  }
  return nlohmann::json{{"frames", st.frames}, {"pcapng", st.pcapng}};
}

absl::StatusOr<nlohmann::json> ExportAudio(Store& store, const CallSummary& call,
                                           const std::vector<StreamListing>& streams, int fd,
                                           ExportProgress& prog) {
  CallId id = call.record.call_id;
  auto has = [&](StreamKind k, uint16_t leg) {
    return std::any_of(streams.begin(), streams.end(),
                       [&](const StreamListing& s) { return s.kind == k && s.leg == leg; });
  };
  // SDES keys come from the call's SIP, read block by block (only when a leg needs them).
  std::unique_ptr<exporter::CallKeys> keys;
  bool any_encrypted = std::any_of(call.record.legs.begin(), call.record.legs.end(),
                                   [](const MediaLeg& l) { return l.encrypted_media; });
  if (any_encrypted) {
    keys = std::make_unique<exporter::CallKeys>(call.record.sip_call_ids);
    Sources sip;
    for (const StreamListing& s : streams) {
      if (s.kind == StreamKind::kSignalling) {
        sip.push_back(std::make_unique<StoreStreamSource>(store, id, s.kind, s.leg, &prog));
      }
    }
    // SIP streams are few; merge them by capture time so offers precede answers.
    std::vector<std::optional<FrameRecordView>> next;
    for (auto& s : sip) next.push_back(s->Next());
    for (;;) {
      std::size_t best = sip.size();
      for (std::size_t i = 0; i < sip.size(); ++i) {
        if (next[i] && (best == sip.size() || next[i]->ts_ns < next[best]->ts_ns)) best = i;
      }
      if (best == sip.size()) break;
      keys->AddSipFrame(*next[best]);
      next[best] = sip[best]->Next();
    }
    RETURN_IF_ERROR(SourcesStatus(sip, id));
  }

  Sources sources;
  std::vector<std::unique_ptr<exporter::SrtpDecryptor>> decryptors;
  std::vector<exporter::ExportStream> out;
  nlohmann::json warnings = nlohmann::json::array();
  for (const MediaLeg& leg : call.record.legs) {
    if (!has(StreamKind::kRtp, leg.leg)) continue;
    exporter::ExportStream s;
    s.direction = leg.direction;
    s.codecs.push_back(media::CodecFromName(leg.codec));
    // Dynamic payload types (Opus, G.722 or telephone-event on 96..127) come from the
    // leg's summary, which media stores in the leg's kEvents block at close.
    if (has(StreamKind::kEvents, leg.leg)) {
      BlockFilter f;
      f.kind = StreamKind::kEvents;
      f.leg = leg.leg;
      RETURN_IF_ERROR(store.ReadBlocks(id, f, [&](const PlainBlock& b) {
        absl::StatusOr<media::LegSummary> sum = media::DecodeLegSummary(b.payload);
        if (!sum.ok()) return true;  // an unreadable summary only loses the hint
        for (const auto& [pt, name] : sum->payload_names) {
          media::Codec c = media::CodecFromName(name);
          s.payloads.Set(pt, c, c == media::Codec::kOpus ? 48000 : 8000);
          if (c != media::Codec::kTelephoneEvent && c != media::Codec::kComfortNoise) {
            s.codecs.push_back(c);
          }
        }
        return true;
      }));
    }
    s.encrypted = leg.encrypted_media;
    if (s.encrypted && keys) {
      const exporter::LegKeys& lk = keys->ForLeg(leg.leg);
      auto d = std::make_unique<exporter::SrtpDecryptor>();
      for (const exporter::AnnouncedCrypto& c : lk.cryptos) d->AddCandidate(c.ts_ns, c.crypto);
      if (std::string why = NoKeyReason(lk, *d); !why.empty()) {
        warnings.push_back(fmt::format(
            "leg {} ({}) is encrypted and cannot be decrypted: {}; {} is silent (export --pcap "
            "gives the encrypted frames as captured)",
            leg.leg, LegDirectionName(leg.direction), why, Channel(leg.direction)));
      }
      s.srtp = d.get();
      decryptors.push_back(std::move(d));
    }
    sources.push_back(std::make_unique<StoreStreamSource>(store, id, StreamKind::kRtp, leg.leg, &prog));
    s.frames = sources.back().get();
    out.push_back(std::move(s));
  }
  if (out.empty()) {
    return absl::NotFoundError(fmt::format("call {} has no stored audio", id.ToString()));
  }
  exporter::WavExportStats st;
  absl::Status ws = exporter::ExportWavToFd(out, fd, "export output", {}, &st);
  RETURN_IF_ERROR(SourcesStatus(sources, id));  // a block's own error names the block
  RETURN_IF_ERROR(ws);
  if (st.srtp_auth_failures > 0) {
    warnings.push_back(fmt::format(
        "{} SRTP packets failed authentication under every recorded key (wrong key or altered "
        "on the wire) and were left silent",
        st.srtp_auth_failures));
  }
  return nlohmann::json{{"sample_rate", st.sample_rate},
                        {"samples_per_channel", st.frames_written},
                        {"seconds", st.sample_rate ? double(st.frames_written) / st.sample_rate : 0.0},
                        {"packets_decoded", st.packets_decoded},
                        {"duplicates", st.duplicates},
                        {"not_audio", st.not_audio},
                        {"late_samples", st.late_samples},
                        {"undecodable", st.undecodable},
                        {"encrypted_packets", st.encrypted_packets},
                        {"srtp_decrypted", st.srtp_decrypted},
                        {"srtp_auth_failures", st.srtp_auth_failures},
                        {"warnings", warnings}};
}

}  // namespace

absl::StatusOr<nlohmann::json> ExportCall(Store& store, CallId id, const std::string& format,
                                          int fd, const control::ProgressFn& progress) {
  ASSIGN_OR_RETURN(CallSummary call, store.GetCall(id));
  ASSIGN_OR_RETURN(std::vector<StreamListing> streams, store.ListStreams(id));
  ExportProgress prog;
  prog.total = call.blocks;
  prog.fn = &progress;
  nlohmann::json result;
  if (format == "pcap") {
    ASSIGN_OR_RETURN(result, ExportFrames(store, id, streams, fd, prog));
  } else {
    ASSIGN_OR_RETURN(result, ExportAudio(store, call, streams, fd, prog));
  }
  struct stat sb;
  if (::fstat(fd, &sb) != 0) return ErrnoToStatus(errno, "export: stat output");
  result["bytes"] = uint64_t(sb.st_size);
  result["peak_block_bytes"] = prog.peak;
  if (progress) progress("export: write", uint64_t(sb.st_size), uint64_t(sb.st_size));
  return result;
}

}  // namespace callvault::cli
