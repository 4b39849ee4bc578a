#!/usr/bin/env bash
# `callvault export` output handling (cli/main.cc + cli/commands/export_call.cc): the
# result appears only complete (temporary file beside the destination, fsync, rename),
# mode 0600, nothing is staged inside the store, and a failed export leaves no partial
# file and does not clobber an existing destination. Also: the public SDES-SRTP capture
# decrypts (every SRTP packet authenticates under the keys its SIP carried).
# Usage: export_output_test.sh CALLVAULT TEST_DATA_DIR
set -euo pipefail
CV=$(readlink -f "$1")
DATA=$(readlink -f "$2")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CV" keys init --key-file k.key >/dev/null
"$CV" --store st --key-file k.key ingest "$DATA/voipshark_SIP-SRTP-Normal_Call_two_parties.pcap" >/dev/null
ids=$("$CV" --store st --key-file k.key search --json |
      python3 -c 'import json,sys; print(" ".join(c["call_id"] for c in json.load(sys.stdin)))')
[ -n "$ids" ] || fail "no calls ingested"
# RocksDB starts a new WAL file each time the store is opened: compare the rest.
find st -type f -not -path 'st/index/*' | sort > store_before
mkdir out
for id in $ids; do
  "$CV" --store st --key-file k.key export "$id" --wav "out/$id.wav" --json > "out/$id.json"
  [ -f "out/$id.wav" ] || fail "out/$id.wav missing"
  [ "$(stat -c %a "out/$id.wav")" = 600 ] || fail "mode $(stat -c %a "out/$id.wav"), want 600"
  python3 - "out/$id.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["srtp_decrypted"] > 0 and r["srtp_auth_failures"] == 0 and r["encrypted_packets"] == 0, r
assert r["packets_decoded"] == r["srtp_decrypted"], r
assert not r["warnings"], r
PY
done
# Nothing staged or left in the store; no temporary file left beside the outputs.
find st -type f -not -path 'st/index/*' | sort > store_after
diff store_before store_after || fail "export created files in the store directory"
[ -z "$(find st -newer store_before -type f -not -path 'st/index/*' -not -path 'st/audit/*')" ] ||
  fail "export wrote inside the store: $(find st -newer store_before -type f -not -path 'st/index/*' -not -path 'st/audit/*')"
[ -z "$(find out -name '.*')" ] || fail "temporary file left: $(find out -name '.*')"
# A failed export: existing destination untouched, nothing left over.
echo keep > out/existing.wav
if "$CV" --store st --key-file k.key export 00000000000000ff --wav out/existing.wav 2>/dev/null; then
  fail "export of an unknown call succeeded"
fi
[ "$(cat out/existing.wav)" = keep ] || fail "failed export clobbered the destination"
[ -z "$(find out -name '.*')" ] || fail "temporary file left after failure"
echo PASS
