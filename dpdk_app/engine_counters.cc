#include "dpdk_app/engine_counters.h"

#include <fmt/format.h>

namespace callvault::dpdk {

std::string_view SourceDropName(SourceDrop d) {
  switch (d) {
    case SourceDrop::kScratchFull: return "scratch_full";
    case SourceDrop::kTooLong: return "too_long";
    case SourceDrop::kCount: break;
  }
  return "unknown";
}

namespace {

using Flat = std::vector<std::pair<std::string, uint64_t>>;

void AddPortDrops(const PortCounters& p, Flat* out) {
  out->emplace_back(fmt::format("port.{}.imissed", p.port), p.imissed);
  out->emplace_back(fmt::format("port.{}.ierrors", p.port), p.ierrors);
  out->emplace_back(fmt::format("port.{}.rx_nombuf", p.port), p.rx_nombuf);
}

void AddQueueDrops(const QueueCounters& q, Flat* out) {
  for (size_t i = 0; i < static_cast<size_t>(SourceDrop::kCount); ++i) {
    out->emplace_back(fmt::format("queue.{}.{}.{}", q.port, q.queue,
                                  SourceDropName(static_cast<SourceDrop>(i))),
                      q.drops[i]);
  }
}

// Prometheus label values escape backslash, double quote and newline.
std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '"') {
      out += "\\\"";
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

void Header(std::string* out, std::string_view name, std::string_view type,
            std::string_view help) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

Flat Flatten(const EngineCounters& c) {
  Flat out;
  for (const PortCounters& p : c.ports) {
    out.emplace_back(fmt::format("port.{}.ipackets", p.port), p.ipackets);
    out.emplace_back(fmt::format("port.{}.ibytes", p.port), p.ibytes);
    AddPortDrops(p, &out);
  }
  for (const QueueCounters& q : c.queues) {
    out.emplace_back(fmt::format("queue.{}.{}.q_ipackets", q.port, q.queue), q.q_ipackets);
    out.emplace_back(fmt::format("queue.{}.{}.q_errors", q.port, q.queue), q.q_errors);
    out.emplace_back(fmt::format("queue.{}.{}.frames", q.port, q.queue), q.frames);
    out.emplace_back(fmt::format("queue.{}.{}.bytes", q.port, q.queue), q.bytes);
    out.emplace_back(fmt::format("queue.{}.{}.linearised", q.port, q.queue), q.linearised);
    AddQueueDrops(q, &out);
    out.emplace_back(fmt::format("queue.{}.{}.at_eof", q.port, q.queue), q.at_eof ? 1 : 0);
  }
  for (const RingCounters& r : c.rings) {
    out.emplace_back(fmt::format("ring.{}.enqueued", r.name), r.enqueued);
    out.emplace_back(fmt::format("ring.{}.full_drops", r.name), r.full_drops);
    out.emplace_back(fmt::format("ring.{}.in_use", r.name), r.in_use);
    out.emplace_back(fmt::format("ring.{}.bytes_peak", r.name), r.bytes_peak);
  }
  for (const auto& [name, v] : c.pipeline) out.emplace_back("pipeline." + name, v);
  out.emplace_back("engine.active_calls", c.active_calls);
  out.emplace_back("engine.workers", c.workers);
  out.emplace_back("engine.workers_finished", c.workers_finished);
  return out;
}

Flat Drops(const EngineCounters& c) {
  Flat out;
  for (const PortCounters& p : c.ports) AddPortDrops(p, &out);
  for (const QueueCounters& q : c.queues) AddQueueDrops(q, &out);
  for (const RingCounters& r : c.rings) {
    out.emplace_back(fmt::format("ring_full:{}", r.name), r.full_drops);
  }
  for (const auto& [name, v] : c.pipeline) {
    if (name.find("drop") != std::string::npos) out.emplace_back("pipeline." + name, v);
  }
  return out;
}

std::string RenderPrometheus(const EngineCounters& c) {
  std::string out;
  struct PortMetric {
    const char* name;
    const char* help;
    uint64_t PortCounters::*field;
  };
  static constexpr PortMetric kPort[] = {
      {"callvault_port_ipackets_total", "Packets received by the port (NIC/PMD).",
       &PortCounters::ipackets},
      {"callvault_port_ibytes_total", "Bytes received by the port.", &PortCounters::ibytes},
      {"callvault_port_imissed_total",
       "Packets the NIC dropped because the RX ring was full (capture too slow).",
       &PortCounters::imissed},
      {"callvault_port_ierrors_total", "Erroneous frames received (CRC, length).",
       &PortCounters::ierrors},
      {"callvault_port_rx_nombuf_total", "Receive failures for lack of an mbuf.",
       &PortCounters::rx_nombuf},
  };
  for (const PortMetric& m : kPort) {
    Header(&out, m.name, "counter", m.help);
    for (const PortCounters& p : c.ports) {
      out += fmt::format("{}{{port=\"{}\",name=\"{}\",driver=\"{}\"}} {}\n", m.name, p.port,
                         Esc(p.name), Esc(p.driver), p.*m.field);
    }
  }
  struct QueueMetric {
    const char* name;
    const char* help;
    uint64_t QueueCounters::*field;
  };
  static constexpr QueueMetric kQueue[] = {
      {"callvault_queue_ipackets_total", "Packets received on the RX queue (PMD count).",
       &QueueCounters::q_ipackets},
      {"callvault_queue_errors_total", "Errors on the RX queue (PMD count).",
       &QueueCounters::q_errors},
      {"callvault_queue_frames_total", "Frames delivered from the queue to the pipeline.",
       &QueueCounters::frames},
      {"callvault_queue_bytes_total", "Bytes delivered from the queue to the pipeline.",
       &QueueCounters::bytes},
      {"callvault_queue_linearised_total",
       "Multi-segment frames copied into the queue's scratch buffer (not a drop).",
       &QueueCounters::linearised},
  };
  for (const QueueMetric& m : kQueue) {
    Header(&out, m.name, "counter", m.help);
    for (const QueueCounters& q : c.queues) {
      out += fmt::format("{}{{port=\"{}\",queue=\"{}\",lcore=\"{}\"}} {}\n", m.name, q.port,
                         q.queue, q.lcore, q.*m.field);
    }
  }
  Header(&out, "callvault_queue_drops_total", "counter",
         "Frames the DPDK source could not deliver, by reason.");
  for (const QueueCounters& q : c.queues) {
    for (size_t i = 0; i < static_cast<size_t>(SourceDrop::kCount); ++i) {
      out += fmt::format("callvault_queue_drops_total{{port=\"{}\",queue=\"{}\",reason=\"{}\"}} {}\n",
                         q.port, q.queue, SourceDropName(static_cast<SourceDrop>(i)), q.drops[i]);
    }
  }
  Header(&out, "callvault_queue_at_eof", "gauge", "1 when a file-replay queue reached its end.");
  for (const QueueCounters& q : c.queues) {
    out += fmt::format("callvault_queue_at_eof{{port=\"{}\",queue=\"{}\"}} {}\n", q.port,
                       q.queue, q.at_eof ? 1 : 0);
  }
  Header(&out, "callvault_ring_enqueued_total", "counter", "Items handed to the writer ring.");
  for (const RingCounters& r : c.rings) {
    out += fmt::format("callvault_ring_enqueued_total{{ring=\"{}\"}} {}\n", Esc(r.name), r.enqueued);
  }
  Header(&out, "callvault_ring_full_drops_total", "counter",
         "Items dropped because the worker-to-writer ring was full (ring_full:<ring>).");
  for (const RingCounters& r : c.rings) {
    out += fmt::format("callvault_ring_full_drops_total{{ring=\"{}\"}} {}\n", Esc(r.name),
                       r.full_drops);
  }
  Header(&out, "callvault_ring_in_use", "gauge", "Entries waiting in the ring now.");
  for (const RingCounters& r : c.rings) {
    out += fmt::format("callvault_ring_in_use{{ring=\"{}\"}} {}\n", Esc(r.name), r.in_use);
  }
  Header(&out, "callvault_ring_bytes_peak", "gauge",
         "Most block payload bytes ever in flight to the writer (bounded by dpdk.ring_bytes).");
  for (const RingCounters& r : c.rings) {
    out += fmt::format("callvault_ring_bytes_peak{{ring=\"{}\"}} {}\n", Esc(r.name), r.bytes_peak);
  }
  Header(&out, "callvault_pipeline_total", "counter",
         "Pipeline counters (decode, SIP, media, drops by reason), summed over workers.");
  for (const auto& [name, v] : c.pipeline) {
    out += fmt::format("callvault_pipeline_total{{counter=\"{}\"}} {}\n", Esc(name), v);
  }
  Header(&out, "callvault_active_calls", "gauge", "Calls in progress.");
  out += fmt::format("callvault_active_calls {}\n", c.active_calls);
  Header(&out, "callvault_workers", "gauge", "Worker lcores running / finished.");
  out += fmt::format("callvault_workers{{state=\"started\"}} {}\n", c.workers);
  out += fmt::format("callvault_workers{{state=\"finished\"}} {}\n", c.workers_finished);
  return out;
}

}  // namespace callvault::dpdk
