// Process signals for callvaultd: SIGTERM/SIGINT request a clean stop (workers finish
// their burst, end every call, the writer drains and seals); SIGHUP requests a reload of
// the agent directory. The handlers only set flags; the engine and the daemon's main
// loop poll them (one relaxed atomic load per loop, no syscall).
#ifndef CALLVAULT_DPDK_APP_SIGNALS_H_
#define CALLVAULT_DPDK_APP_SIGNALS_H_

namespace callvault::dpdk {

// Installs the handlers (sigaction, SA_RESTART). Call once from main().
void InstallSignalHandlers();
bool StopRequested();
void RequestStop();            // same as receiving SIGTERM (tests, control socket)
bool TakeReloadRequest();      // true once per SIGHUP received

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_SIGNALS_H_
