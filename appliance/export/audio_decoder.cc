#include "appliance/export/audio_decoder.h"

#include <opus/opus.h>
#include <spandsp.h>

extern "C" {
#include <bcg729/decoder.h>
}

#include "appliance/export/g711.h"

namespace callvault::exporter {

using media::Codec;

uint32_t NativeRate(Codec c) {
  switch (c) {
    case Codec::kPcmu:
    case Codec::kPcma:
    case Codec::kG729: return 8000;
    case Codec::kG722: return 16000;
    case Codec::kOpus: return 48000;
    default: return 0;
  }
}

bool Decodable(Codec c) { return NativeRate(c) != 0; }

struct AudioDecoder::State {
  g722_decode_state_t* g722 = nullptr;
  bcg729DecoderChannelContextStruct* g729 = nullptr;
  OpusDecoder* opus = nullptr;
  uint32_t opus_rate = 0;
  ~State() {
    if (g722) g722_decode_free(g722);
    if (g729) closeBcg729DecoderChannel(g729);
    if (opus) opus_decoder_destroy(opus);
  }
};

AudioDecoder::AudioDecoder(uint32_t out_rate) : out_rate_(out_rate), st_(new State) {}
AudioDecoder::~AudioDecoder() = default;

namespace {

// Linear interpolation by an integer factor (the last sample is held for the tail).
void Upsample(const std::vector<int16_t>& in, uint32_t factor, std::vector<int16_t>* out) {
  out->clear();
  out->reserve(in.size() * factor);
  for (std::size_t i = 0; i < in.size(); ++i) {
    int a = in[i];
    int b = i + 1 < in.size() ? in[i + 1] : in[i];
    for (uint32_t k = 0; k < factor; ++k) {
      out->push_back(int16_t(a + (b - a) * int(k) / int(factor)));
    }
  }
}

}  // namespace

bool AudioDecoder::Decode(Codec codec, std::span<const uint8_t> p, std::vector<int16_t>* out) {
  out->clear();
  tmp_.clear();
  uint32_t native = NativeRate(codec);
  switch (codec) {
    case Codec::kPcmu:
      for (uint8_t b : p) tmp_.push_back(MulawToLinear(b));
      break;
    case Codec::kPcma:
      for (uint8_t b : p) tmp_.push_back(AlawToLinear(b));
      break;
    case Codec::kG722: {
      if (!st_->g722) st_->g722 = g722_decode_init(nullptr, 64000, 0);
      if (!st_->g722) return false;
      tmp_.resize(p.size() * 2);
      int n = g722_decode(st_->g722, tmp_.data(), p.data(), int(p.size()));
      tmp_.resize(n > 0 ? std::size_t(n) : 0);
      break;
    }
    case Codec::kG729: {
      if (!st_->g729) st_->g729 = initBcg729DecoderChannel();
      if (!st_->g729) return false;
      std::size_t off = 0;
      int16_t frame[80];
      while (p.size() - off >= 10) {
        bcg729Decoder(st_->g729, p.data() + off, 10, 0, 0, 0, frame);
        tmp_.insert(tmp_.end(), frame, frame + 80);
        off += 10;
      }
      if (p.size() - off == 2) {  // Annex B SID frame: comfort noise
        bcg729Decoder(st_->g729, p.data() + off, 2, 0, 1, 0, frame);
        tmp_.insert(tmp_.end(), frame, frame + 80);
        off += 2;
      }
      if (off != p.size()) return false;
      break;
    }
    case Codec::kOpus: {
      uint32_t rate = out_rate_;
      if (rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000) {
        rate = 48000;
      }
      if (!st_->opus) {
        int err = 0;
        st_->opus = opus_decoder_create(opus_int32(rate), 1, &err);
        if (err != OPUS_OK) {
          st_->opus = nullptr;
          return false;
        }
        st_->opus_rate = rate;
      }
      tmp_.resize(std::size_t(st_->opus_rate) * 120 / 1000);  // max 120 ms per packet
      int n = opus_decode(st_->opus, p.data(), opus_int32(p.size()), tmp_.data(),
                          int(tmp_.size()), 0);
      if (n < 0) return false;
      tmp_.resize(std::size_t(n));
      native = st_->opus_rate;
      break;
    }
    default:
      return false;
  }
  if (native == out_rate_ || native == 0) {
    out->swap(tmp_);
  } else if (native < out_rate_ && out_rate_ % native == 0) {
    Upsample(tmp_, out_rate_ / native, out);
  } else if (native > out_rate_ && native % out_rate_ == 0) {
    uint32_t f = native / out_rate_;  // decimate with a box filter
    for (std::size_t i = 0; i + f <= tmp_.size(); i += f) {
      int sum = 0;
      for (uint32_t k = 0; k < f; ++k) sum += tmp_[i + k];
      out->push_back(int16_t(sum / int(f)));
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace callvault::exporter
