#include "appliance/export/wav_export.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/export/audio_decoder.h"
#include "appliance/export/udp_frame.h"
#include "appliance/export/wav_writer.h"
#include "appliance/media/rtp.h"

namespace callvault::exporter {

int ChannelFor(LegDirection d) {
  return (d == LegDirection::kCallerToAgent || d == LegDirection::kAToB) ? 0 : 1;
}

namespace {

using media::Codec;

struct Channel {
  std::vector<int16_t> buf;  // samples from absolute index `base`
  uint64_t base = 0;
  uint64_t end = 0;          // one past the last sample ever written
};

struct StreamState {
  const ExportStream* s = nullptr;
  std::optional<FrameRecordView> next;
  bool anchored = false;
  uint32_t ssrc = 0;
  uint32_t clock = 0;
  uint32_t last_rtp = 0;
  int64_t last_pos = 0;
  std::array<uint64_t, 128> recent{};  // (ssrc, seq) + 1 of recent packets
  std::size_t recent_next = 0;
  std::unique_ptr<AudioDecoder> dec;
};

void Put(Channel& c, int64_t pos, const std::vector<int16_t>& pcm, WavExportStats* st) {
  int64_t n = int64_t(pcm.size());
  int64_t skip = pos < int64_t(c.base) ? int64_t(c.base) - pos : 0;
  if (skip >= n) {
    st->late_samples += uint64_t(n);
    return;
  }
  st->late_samples += uint64_t(skip);
  uint64_t at = uint64_t(pos + skip) - c.base;
  uint64_t need = at + uint64_t(n - skip);
  if (c.buf.size() < need) c.buf.resize(need, 0);
  std::copy(pcm.begin() + skip, pcm.end(), c.buf.begin() + int64_t(at));
  c.end = std::max(c.end, c.base + need);
}

absl::Status FlushTo(std::array<Channel, 2>& ch, uint64_t* written, uint64_t target,
                     WavWriter& w, std::vector<int16_t>& scratch) {
  if (target <= *written) return absl::OkStatus();
  scratch.clear();
  scratch.reserve((target - *written) * 2);
  for (uint64_t i = *written; i < target; ++i) {
    for (Channel& c : ch) {
      scratch.push_back(i >= c.base && i - c.base < c.buf.size() ? c.buf[i - c.base] : 0);
    }
  }
  RETURN_IF_ERROR(w.Write(scratch));
  for (Channel& c : ch) {
    if (target > c.base) {
      uint64_t k = std::min<uint64_t>(target - c.base, c.buf.size());
      c.buf.erase(c.buf.begin(), c.buf.begin() + int64_t(k));
      c.base = target;
    }
  }
  *written = target;
  return absl::OkStatus();
}

absl::Status Export(const std::vector<ExportStream>& streams, const std::string& path,
                    const std::function<absl::Status(WavWriter&, uint32_t)>& open,
                    const WavExportOptions& opt, WavExportStats* stats) {
  WavExportStats local;
  WavExportStats* st = stats ? stats : &local;
  *st = WavExportStats{};
  uint32_t rate = opt.sample_rate;
  if (rate == 0) {
    rate = 8000;
    for (const ExportStream& s : streams) {
      for (Codec c : s.codecs) rate = std::max(rate, NativeRate(c));
    }
  }
  st->sample_rate = rate;
  std::vector<StreamState> ss(streams.size());
  uint64_t t0 = UINT64_MAX;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    ss[i].s = &streams[i];
    ss[i].dec = std::make_unique<AudioDecoder>(rate);
    if (streams[i].frames) ss[i].next = streams[i].frames->Next();
    if (ss[i].next) t0 = std::min(t0, ss[i].next->ts_ns);
  }
  WavWriter w;
  RETURN_IF_ERROR(Annotate(open(w, rate), "export wav"));
  if (t0 == UINT64_MAX) return w.Close();  // no media: a valid, empty WAV
  st->first_ns = t0;
  std::array<Channel, 2> ch;
  uint64_t written = 0;
  std::vector<int16_t> pcm, scratch;
  std::vector<uint8_t> plain;  // a decrypted SRTP packet
  const int64_t lag = int64_t(opt.flush_lag_ns / 1000 * rate / 1000000);
  const int64_t max_drift = 2 * int64_t(rate);
  // One frame. The next frame of its stream is fetched only after this one is processed:
  // a streaming source may reuse (and wipe) the block that `v` points into.
  auto process = [&](StreamState* cur, const FrameRecordView& v) -> absl::Status {
    int64_t cap = int64_t((v.ts_ns - t0) / 1000 * rate / 1000000);
    UdpView u;
    media::RtpHeader h;
    if (!ExtractUdp(v.link, v.bytes, &u) ||
        media::ClassifyMediaPacket(u.payload) != media::MediaPacketKind::kRtp ||
        media::ParseRtp(u.payload, &h) != media::RtpError::kOk) {
      ++st->not_audio;
      return absl::OkStatus();
    }
    const media::PayloadEntry& pe = cur->s->payloads.Get(h.payload_type);
    if (pe.codec == Codec::kTelephoneEvent || pe.codec == Codec::kComfortNoise) {
      ++st->not_audio;
      return absl::OkStatus();
    }
    uint64_t key = (uint64_t(h.ssrc) << 16 | h.seq) + 1;
    if (std::find(cur->recent.begin(), cur->recent.end(), key) != cur->recent.end()) {
      ++st->duplicates;
      return absl::OkStatus();
    }
    cur->recent[cur->recent_next++ % cur->recent.size()] = key;
    if (cur->s->encrypted) {
      if (cur->s->srtp == nullptr || !cur->s->srtp->has_keys()) {
        ++st->encrypted_packets;
        return absl::OkStatus();
      }
      SrtpResult r = cur->s->srtp->Unprotect(v.ts_ns, u.payload, &plain);
      if (r == SrtpResult::kReplay) {
        ++st->duplicates;
        return absl::OkStatus();
      }
      if (r != SrtpResult::kOk || media::ParseRtp(plain, &h) != media::RtpError::kOk) {
        ++st->srtp_auth_failures;
        return absl::OkStatus();
      }
      ++st->srtp_decrypted;
    }
    if (!Decodable(pe.codec) || pe.clock_rate == 0 ||
        !cur->dec->Decode(pe.codec, h.payload, &pcm)) {
      ++st->undecodable;
      return absl::OkStatus();
    }
    int64_t pos;
    if (!cur->anchored || h.ssrc != cur->ssrc || pe.clock_rate != cur->clock) {
      if (cur->anchored) ++st->reanchors;
      pos = cap;
    } else {
      int64_t d = int32_t(h.timestamp - cur->last_rtp);
      pos = cur->last_pos + d * int64_t(rate) / int64_t(pe.clock_rate);
      if (std::llabs(pos - cap) > max_drift) {
        ++st->reanchors;
        pos = cap;
      }
    }
    cur->anchored = true;
    cur->ssrc = h.ssrc;
    cur->clock = pe.clock_rate;
    cur->last_rtp = h.timestamp;
    cur->last_pos = pos;
    ++st->packets_decoded;
    Put(ch[ChannelFor(cur->s->direction)], pos, pcm, st);
    if (cap - lag > int64_t(written) + int64_t(rate) / 2) {
      RETURN_IF_ERROR(FlushTo(ch, &written, uint64_t(cap - lag), w, scratch));
    }
    return absl::OkStatus();
  };
  for (;;) {
    StreamState* cur = nullptr;
    for (StreamState& s : ss) {
      if (s.next && (!cur || s.next->ts_ns < cur->next->ts_ns)) cur = &s;
    }
    if (!cur) break;
    FrameRecordView v = *cur->next;
    RETURN_IF_ERROR(process(cur, v));
    cur->next = cur->s->frames->Next();
  }
  for (const StreamState& s : ss) {
    if (s.s->frames && s.s->frames->error()) {
      return IntegrityError(fmt::format("export wav {}: malformed frame block", path));
    }
  }
  RETURN_IF_ERROR(FlushTo(ch, &written, std::max(ch[0].end, ch[1].end), w, scratch));
  st->frames_written = w.frames();
  return w.Close();
}

}  // namespace

absl::Status ExportWav(const std::vector<ExportStream>& streams, const std::string& path,
                       const WavExportOptions& opt, WavExportStats* stats) {
  return Export(
      streams, path, [&](WavWriter& w, uint32_t rate) { return w.Open(path, 2, rate); }, opt,
      stats);
}

absl::Status ExportWavToFd(const std::vector<ExportStream>& streams, int fd,
                           const std::string& name, const WavExportOptions& opt,
                           WavExportStats* stats) {
  return Export(
      streams, name, [&](WavWriter& w, uint32_t rate) { return w.OpenFd(fd, name, 2, rate); },
      opt, stats);
}

}  // namespace callvault::exporter
