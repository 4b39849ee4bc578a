// FrameSource: the frames of one stored stream (a leg's RTP, a call's SIP ...) in the
// order they were stored (capture order), as export reads them back from decrypted
// blocks. BlockFrameSource walks a list of FrameRecord block payloads (views: the caller
// keeps them alive); a malformed payload ends the stream and sets error().
// Contract for consumers: a view returned by Next() is valid only until the next Next() on
// the same source — streaming sources (cli/commands/export_call.cc) reuse and wipe their
// one decrypted block — so process a frame before fetching its successor.
#ifndef CALLVAULT_APPLIANCE_EXPORT_FRAME_SOURCE_H_
#define CALLVAULT_APPLIANCE_EXPORT_FRAME_SOURCE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "appliance/common/frame_record.h"

namespace callvault::exporter {

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual std::optional<FrameRecordView> Next() = 0;
  virtual bool error() const { return false; }
};

class BlockFrameSource : public FrameSource {
 public:
  explicit BlockFrameSource(std::vector<std::span<const uint8_t>> payloads)
      : payloads_(std::move(payloads)), reader_(std::span<const uint8_t>()) {}
  std::optional<FrameRecordView> Next() override {
    for (;;) {
      if (auto v = reader_.Next()) return v;
      if (reader_.error()) error_ = true;
      if (error_ || next_ >= payloads_.size()) return std::nullopt;
      reader_ = FrameRecordReader(payloads_[next_++]);
    }
  }
  bool error() const override { return error_; }

 private:
  std::vector<std::span<const uint8_t>> payloads_;
  std::size_t next_ = 0;
  FrameRecordReader reader_;
  bool error_ = false;
};

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_FRAME_SOURCE_H_
