// Fragment reassembly through the Decoder: order, duplicates, overlaps, bounds, timeouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "appliance/decode/decoder.h"
#include "appliance/decode/test_frames.h"

namespace callvault::decode {
namespace {

using namespace callvault::decode::testing;  // NOLINT

constexpr uint64_t kSec = 1000000000ull;

// The UDP datagram (header + payload) that gets fragmented, and its IPv4 fragments as
// Ethernet frames: `sizes` are the fragment data lengths (multiples of 8 but the last).
struct Fragmented {
  Bytes udp;
  std::vector<Bytes> frames;
};

Fragmented Fragment4(size_t payload_len, std::vector<uint32_t> sizes, uint16_t id = 77) {
  Fragmented f;
  f.udp = Udp4(5060, 5060, Pattern(payload_len, 3));
  uint32_t off = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    uint32_t n = i + 1 == sizes.size() ? uint32_t(f.udp.size() - off) : sizes[i];
    Bytes data(f.udp.begin() + off, f.udp.begin() + off + n);
    V4Opts o;
    o.id = id;
    o.frag_offset = off;
    o.more = i + 1 < sizes.size();
    f.frames.push_back(Cat(Ether(0x0800), Ipv4(17, data, o)));
    off += n;
  }
  return f;
}

class ReassemblyTest : public ::testing::Test {
 protected:
  void Make(DecodeConfig cfg) { dec_ = std::make_unique<Decoder>(cfg); }
  DecodeDrop Run(const Bytes& b, uint64_t ts = kSec) {
    frame_ = Frame{};
    frame_.data = b.data();
    frame_.caplen = frame_.wirelen = static_cast<uint32_t>(b.size());
    frame_.ts_ns = ts;
    return dec_->Decode(frame_, &pkt_);
  }
  void ExpectWhole(const Fragmented& f) {
    EXPECT_TRUE(pkt_.reassembled);
    EXPECT_EQ(pkt_.l4, L4Proto::kUdp);
    ASSERT_EQ(pkt_.payload.size(), f.udp.size() - 8);
    EXPECT_TRUE(std::equal(pkt_.payload.begin(), pkt_.payload.end(), f.udp.begin() + 8));
    EXPECT_EQ(pkt_.l3.size(), 20 + f.udp.size());
    EXPECT_FALSE(pkt_.bad_checksum);  // rebuilt IPv4 header and UDP checksum verify
  }

  std::unique_ptr<Decoder> dec_ = std::make_unique<Decoder>(DecodeConfig{});
  Frame frame_;
  DecodedPacket pkt_;
};

TEST_F(ReassemblyTest, InOrder) {
  Fragmented f = Fragment4(3000, {1480, 1480, 0});
  ASSERT_EQ(f.frames.size(), 3u);
  EXPECT_EQ(Run(f.frames[0]), DecodeDrop::kHeld);
  EXPECT_EQ(Run(f.frames[1]), DecodeDrop::kHeld);
  ASSERT_EQ(Run(f.frames[2]), DecodeDrop::kOk);
  ExpectWhole(f);
  EXPECT_EQ(dec_->stats().frag_datagrams_completed, 1u);
  EXPECT_EQ(dec_->stats()[Proto::kFragment].packets, 3u);
  EXPECT_EQ(dec_->stats()[Proto::kReassembled].packets, 1u);
  EXPECT_EQ(dec_->stats()[Proto::kUdp].packets, 1u);
  EXPECT_EQ(dec_->reassembler().active_datagrams(), 0u);
  EXPECT_EQ(dec_->reassembler().bytes_held(), 0u);
}

// Evidence: a reassembled datagram names every fragment's captured frame, in arrival
// order, byte for byte with its capture time; duplicates are not repeated.
TEST_F(ReassemblyTest, KeepsEveryFragmentFrameAsEvidence) {
  Fragmented f = Fragment4(3000, {1480, 1480, 0});
  const std::vector<size_t> order = {2, 0, 0, 1};  // out of order, one duplicate
  const std::vector<uint64_t> ts = {kSec + 1, kSec + 2, kSec + 3, kSec + 4};
  for (size_t i = 0; i + 1 < order.size(); ++i) Run(f.frames[order[i]], ts[i]);
  ASSERT_EQ(Run(f.frames[order.back()], ts.back()), DecodeDrop::kOk);
  ExpectWhole(f);
  ASSERT_EQ(pkt_.fragment_frames.size(), 3u);
  const std::vector<size_t> kept = {2, 0, 1};
  const std::vector<uint64_t> kept_ts = {ts[0], ts[1], ts[3]};
  for (size_t i = 0; i < kept.size(); ++i) {
    const Frame& got = pkt_.fragment_frames[i];
    const Bytes& want = f.frames[kept[i]];
    EXPECT_EQ(got.ts_ns, kept_ts[i]) << i;
    ASSERT_EQ(got.caplen, want.size()) << i;
    EXPECT_EQ(got.wirelen, want.size()) << i;
    EXPECT_EQ(got.link, LinkType::kEthernet);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), got.data)) << i;
  }
  EXPECT_EQ(pkt_.fragment_frames.back().data, frame_.data);  // the completing frame itself
  EXPECT_EQ(dec_->stats().frag_evidence_incomplete, 0u);
  // The next datagram starts a fresh list.
  Fragmented g = Fragment4(2000, {1480, 0}, 78);
  Run(g.frames[0]);
  ASSERT_EQ(Run(g.frames[1]), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.fragment_frames.size(), 2u);
  // A frame that is not a fragment carries no list.
  Run(Cat(Ether(0x0800), Ipv4(17, Udp4(5060, 5060, Pattern(100, 1)))));
  EXPECT_TRUE(pkt_.fragment_frames.empty());
}

// The evidence pool is bounded (twice frag_max_bytes): when it is used up the datagram
// still completes, its missing frames are counted, and no datagram is evicted for it.
TEST_F(ReassemblyTest, EvidencePoolExhaustedIsCountedNotEvicting) {
  DecodeConfig cfg;
  cfg.frag_max_bytes = 2048;  // one data chunk, two evidence chunks (4,096 bytes)
  Make(cfg);
  // 64 fragments of 8 data bytes: 520 bytes of data fit one chunk, but the 63 held frames
  // (42 bytes each + a 24-byte record header: 4,158 bytes) do not fit the evidence pool.
  Fragmented f = Fragment4(512, std::vector<uint32_t>(64, 8));
  ASSERT_EQ(f.frames.size(), 64u);
  for (size_t i = 0; i + 1 < f.frames.size(); ++i) {
    ASSERT_EQ(Run(f.frames[i]), DecodeDrop::kHeld) << i;
  }
  ASSERT_EQ(Run(f.frames.back()), DecodeDrop::kOk);
  ExpectWhole(f);
  EXPECT_EQ(pkt_.fragment_frames.size(), 4096u / 66u + 1u);  // what fitted + the last
  EXPECT_EQ(pkt_.fragment_frames.back().data, frame_.data);
  EXPECT_EQ(dec_->stats().frag_evidence_incomplete, 1u);
  EXPECT_EQ(dec_->stats().frag_datagrams_evicted_full, 0u);
  // The pool is whole again for the next datagram.
  Fragmented g = Fragment4(2000, {1480, 0}, 78);
  Run(g.frames[0]);
  ASSERT_EQ(Run(g.frames[1]), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.fragment_frames.size(), 2u);
  EXPECT_EQ(dec_->stats().frag_evidence_incomplete, 1u);
}

TEST_F(ReassemblyTest, ReversedAndShuffled) {
  Fragmented f = Fragment4(5000, {1000, 1200, 808, 1000, 0});
  for (size_t i = f.frames.size(); i-- > 1;) EXPECT_EQ(Run(f.frames[i]), DecodeDrop::kHeld);
  ASSERT_EQ(Run(f.frames[0]), DecodeDrop::kOk);
  ExpectWhole(f);
  for (size_t i : {2, 0, 4, 1}) EXPECT_EQ(Run(f.frames[i]), DecodeDrop::kHeld);
  ASSERT_EQ(Run(f.frames[3]), DecodeDrop::kOk);
  ExpectWhole(f);
}

TEST_F(ReassemblyTest, DuplicateIsDroppedAloneOverlapDropsDatagram) {
  Fragmented f = Fragment4(3000, {1480, 1480, 0});
  EXPECT_EQ(Run(f.frames[0]), DecodeDrop::kHeld);
  EXPECT_EQ(Run(f.frames[0]), DecodeDrop::kFragDuplicate);
  EXPECT_EQ(Run(f.frames[1]), DecodeDrop::kHeld);
  ASSERT_EQ(Run(f.frames[2]), DecodeDrop::kOk);
  ExpectWhole(f);

  // A fragment covering bytes 8..1488 overlaps the held 0..1480: datagram dropped.
  Fragmented g = Fragment4(3000, {1480, 1480, 0}, 78);
  Fragmented shifted = Fragment4(3000, {8, 1480, 0}, 78);
  EXPECT_EQ(Run(g.frames[0]), DecodeDrop::kHeld);
  EXPECT_EQ(Run(shifted.frames[1]), DecodeDrop::kFragOverlap);
  EXPECT_EQ(dec_->stats().drops[DecodeDrop::kFragOverlap], 2u);  // held one + this one
  EXPECT_EQ(dec_->stats().frag_datagrams_overlap, 1u);
  EXPECT_EQ(dec_->reassembler().active_datagrams(), 0u);
  // The rest start a new, incomplete datagram.
  EXPECT_EQ(Run(g.frames[1]), DecodeDrop::kHeld);
  EXPECT_EQ(Run(g.frames[2]), DecodeDrop::kHeld);

  // Conflicting ends of datagram.
  Fragmented h = Fragment4(100, {48, 0}, 79);
  Fragmented h2 = Fragment4(60, {48, 0}, 79);
  EXPECT_EQ(Run(h.frames[1]), DecodeDrop::kHeld);
  EXPECT_EQ(Run(h2.frames[1]), DecodeDrop::kFragOverlap);
  const DecodeStats& s = dec_->stats();
  EXPECT_EQ(s.decoded + s.held + s.drops.Total() - s.frag_held_dropped, s.frames);
}

TEST_F(ReassemblyTest, TimeoutByFrameTimestamps) {
  DecodeConfig cfg;
  cfg.frag_timeout_ms = 30000;
  Make(cfg);
  Fragmented f = Fragment4(2000, {1480, 0});
  EXPECT_EQ(Run(f.frames[0], 100 * kSec), DecodeDrop::kHeld);
  // 29.9 s later it still completes.
  ASSERT_EQ(Run(f.frames[1], 129 * kSec + kSec / 2), DecodeDrop::kOk);
  ExpectWhole(f);
  EXPECT_EQ(Run(f.frames[0], 200 * kSec), DecodeDrop::kHeld);
  // 30 s later the first fragment has expired: the last one starts a new datagram.
  EXPECT_EQ(Run(f.frames[1], 230 * kSec), DecodeDrop::kHeld);
  EXPECT_EQ(dec_->stats().drops[DecodeDrop::kFragTimeout], 1u);
  EXPECT_EQ(dec_->stats().frag_datagrams_timed_out, 1u);
  dec_->Expire(259 * kSec);
  EXPECT_EQ(dec_->reassembler().active_datagrams(), 1u);
  dec_->Expire(260 * kSec);
  EXPECT_EQ(dec_->reassembler().active_datagrams(), 0u);
  EXPECT_EQ(dec_->stats().drops[DecodeDrop::kFragTimeout], 2u);
}

TEST_F(ReassemblyTest, TableFullEvictsOldest) {
  DecodeConfig cfg;
  cfg.frag_max_datagrams = 2;
  Make(cfg);
  Fragmented a = Fragment4(2000, {1480, 0}, 1);
  Fragmented b = Fragment4(2000, {1480, 0}, 2);
  Fragmented c = Fragment4(2000, {1480, 0}, 3);
  EXPECT_EQ(Run(a.frames[0], 1 * kSec), DecodeDrop::kHeld);
  EXPECT_EQ(Run(b.frames[0], 2 * kSec), DecodeDrop::kHeld);
  EXPECT_EQ(Run(c.frames[0], 3 * kSec), DecodeDrop::kHeld);  // evicts a
  EXPECT_EQ(dec_->stats().drops[DecodeDrop::kFragTableFull], 1u);
  EXPECT_EQ(dec_->stats().frag_datagrams_evicted_full, 1u);
  ASSERT_EQ(Run(b.frames[1], 4 * kSec), DecodeDrop::kOk);
  ExpectWhole(b);
  ASSERT_EQ(Run(c.frames[1], 4 * kSec), DecodeDrop::kOk);
  ExpectWhole(c);
  EXPECT_EQ(Run(a.frames[1], 4 * kSec), DecodeDrop::kHeld);  // a's first part is gone
}

TEST_F(ReassemblyTest, ByteBudget) {
  DecodeConfig cfg;
  cfg.frag_max_bytes = 4096;  // two 2 KiB chunks
  Make(cfg);
  Fragmented small = Fragment4(1000, {504, 0}, 1);
  Fragmented big = Fragment4(6000, {2000, 2000, 0}, 2);
  EXPECT_EQ(Run(small.frames[0]), DecodeDrop::kHeld);
  EXPECT_EQ(Run(big.frames[0]), DecodeDrop::kHeld);   // one chunk each
  EXPECT_EQ(Run(big.frames[1]), DecodeDrop::kHeld);   // needs a 2nd chunk: evicts `small`
  EXPECT_EQ(dec_->stats().drops[DecodeDrop::kFragTableFull], 1u);
  EXPECT_EQ(Run(big.frames[2]), DecodeDrop::kFragTableFull);  // cannot fit even alone
  EXPECT_EQ(dec_->stats().drops[DecodeDrop::kFragTableFull], 4u);
  EXPECT_EQ(dec_->reassembler().bytes_held(), 0u);
}

TEST_F(ReassemblyTest, BadFragments) {
  // Non-last fragment length not a multiple of 8.
  Bytes data = Pattern(100);
  V4Opts o;
  o.more = true;
  EXPECT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, data, o))), DecodeDrop::kFragBad);
  // Ping of death: data beyond 65535.
  o.more = false;
  o.frag_offset = 65528;
  EXPECT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, Pattern(16), o))), DecodeDrop::kFragBad);
  // Too many fragments.
  o = {};
  o.id = 9;
  o.more = true;
  DecodeDrop last = DecodeDrop::kOk;
  for (uint32_t i = 0; i <= Reassembler::kMaxFragments; ++i) {
    o.frag_offset = 8 + i * 8;
    last = Run(Cat(Ether(0x0800), Ipv4(17, Pattern(8), o)));
  }
  EXPECT_EQ(last, DecodeDrop::kFragTooMany);
  EXPECT_EQ(dec_->stats().drops[DecodeDrop::kFragTooMany], Reassembler::kMaxFragments + 1);
  EXPECT_EQ(dec_->stats().frag_datagrams_too_many, 1u);
}

TEST_F(ReassemblyTest, Ipv6WithExtensionHeaderBeforeFragment) {
  Bytes udp = Udp6(5060, 5062, Pattern(2500, 9));
  const uint32_t first = 1448;
  auto frag = [&](uint32_t off, uint32_t n, bool more) {
    Bytes fh = {17, 0, uint8_t((off | (more ? 1 : 0)) >> 8), uint8_t(off | (more ? 1 : 0)),
                0xde, 0xad, 0xbe, 0xef};
    Bytes part(udp.begin() + off, udp.begin() + off + n);
    // Destination options (unfragmentable here) then the Fragment header.
    return Cat(Ether(0x86dd), Ipv6(60, Cat(Cat(Ext8(44), fh), part)));
  };
  EXPECT_EQ(Run(frag(first, uint32_t(udp.size()) - first, false)), DecodeDrop::kHeld);
  ASSERT_EQ(Run(frag(0, first, true)), DecodeDrop::kOk);
  EXPECT_TRUE(pkt_.reassembled);
  EXPECT_EQ(pkt_.ip_version, 6);
  EXPECT_EQ(pkt_.l4, L4Proto::kUdp);
  EXPECT_EQ(pkt_.dst.port, 5062);
  ASSERT_EQ(pkt_.payload.size(), 2500u);
  EXPECT_TRUE(std::equal(pkt_.payload.begin(), pkt_.payload.end(), udp.begin() + 8));
  EXPECT_FALSE(pkt_.bad_checksum);
  EXPECT_EQ(pkt_.l3.size(), 40u + 8u + udp.size());  // base + dest opts + UDP
}

TEST_F(ReassemblyTest, FragmentedTunnelInner) {
  // An inner IPv4 datagram fragmented inside GRE: reassembled from the inner fragments.
  Fragmented f = Fragment4(2000, {1480, 0});
  const uint8_t a[4] = {172, 16, 0, 1}, b[4] = {172, 16, 0, 2};
  for (size_t i = 0; i < 2; ++i) {
    Bytes inner(f.frames[i].begin() + 14, f.frames[i].end());
    Bytes gre = {0, 0, 0x08, 0x00};
    Bytes outer = Cat(Ether(0x0800), Ipv4(47, Cat(gre, inner), {}, a, b));
    EXPECT_EQ(Run(outer), i == 0 ? DecodeDrop::kHeld : DecodeDrop::kOk);
  }
  ExpectWhole(f);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kGre);
}

// An IPv6 datagram whose reassembled payload is again a fragment, `levels` deep: the
// second half of every level is sent (and held) first, then one frame completes them all.
std::vector<Bytes> NestedFragments(int levels, Bytes* udp_out) {
  Bytes p = Udp6(5060, 5060, Pattern(40, 5));
  *udp_out = p;
  std::vector<Bytes> frames;
  uint8_t nh = 17;
  for (int k = 0; k < levels; ++k) {
    const uint32_t id = 0x100u + uint32_t(k);
    Bytes second = {nh, 0, 0, 8};  // offset 8, M clear
    Put32(second, id);
    frames.push_back(Cat(Ether(0x86dd), Ipv6(44, Cat(second, Bytes(p.begin() + 8, p.end())))));
    Bytes first = {nh, 0, 0, 1};   // offset 0, M set
    Put32(first, id);
    p = Cat(first, Bytes(p.begin(), p.begin() + 8));
    nh = 44;
  }
  // `p` now starts with the outermost level's first Fragment header.
  Bytes last(p.begin() + 8, p.end());
  Bytes fh(p.begin(), p.begin() + 8);
  frames.push_back(Cat(Ether(0x86dd), Ipv6(44, Cat(fh, last))));
  return frames;
}

TEST_F(ReassemblyTest, NestedIpv6FragmentsAreBounded) {
  Bytes udp;
  std::vector<Bytes> two = NestedFragments(2, &udp);
  for (size_t i = 0; i + 1 < two.size(); ++i) EXPECT_EQ(Run(two[i]), DecodeDrop::kHeld);
  ASSERT_EQ(Run(two.back()), DecodeDrop::kOk);
  EXPECT_TRUE(pkt_.reassembled);
  ASSERT_EQ(pkt_.payload.size(), udp.size() - 8);
  EXPECT_TRUE(std::equal(pkt_.payload.begin(), pkt_.payload.end(), udp.begin() + 8));
  EXPECT_FALSE(pkt_.bad_checksum);
  EXPECT_EQ(dec_->stats().frag_datagrams_completed, 2u);

  std::vector<Bytes> three = NestedFragments(Decoder::kMaxNestedReassembly + 1, &udp);
  for (size_t i = 0; i + 1 < three.size(); ++i) EXPECT_EQ(Run(three[i]), DecodeDrop::kHeld);
  EXPECT_EQ(Run(three.back()), DecodeDrop::kFragNested);
  const DecodeStats& s = dec_->stats();
  EXPECT_EQ(s.decoded + s.held + s.drops.Total() - s.frag_held_dropped, s.frames);
}

}  // namespace
}  // namespace callvault::decode
