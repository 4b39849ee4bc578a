#!/usr/bin/env bash
# End-to-end test of the callvault CLI, the control socket, roles and the audit log.
# Usage: cli_e2e_test.sh CALLVAULT CLI_FIXTURE CLI_TEST_DAEMON TEST_DATA_DIR
# Needs root: it creates users and groups with their own uids (useradd/groupadd) and runs
# the real CLI as each of them (runuser) against a daemon serving the real control socket
# (cli_test_daemon: the ControlServer + CommandService that callvaultd links). Everything it
# creates is removed on exit. Output: one line per check, then "N passed, M failed".
set -uo pipefail

CALLVAULT=$1
FIXTURE=$2
DAEMON=$3
DATA=$4

if [[ $(id -u) -ne 0 ]] || ! command -v useradd >/dev/null || ! command -v runuser >/dev/null; then
  echo "cli_e2e: needs root, useradd and runuser; skipping"
  exit 77
fi

PASS=0
FAIL=0
T=$(mktemp -d /tmp/cv_cli_e2e.XXXXXX)
chmod 755 "$T"
SUF=$$
G_SOCK=cvtsock$SUF
G_REV=cvtrev$SUF
U_ADM=cvtadm$SUF
U_REV=cvtrev$SUF
U_AUD=cvtaud$SUF
U_NONE=cvtnone$SUF
U_OUT=cvtout$SUF
DAEMON_PID=

cleanup() {
  [[ -n $DAEMON_PID ]] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  for u in $U_ADM $U_REV $U_AUD $U_NONE $U_OUT; do userdel "$u" 2>/dev/null; done
  for g in $G_REV $G_SOCK; do groupdel "$g" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM  # runs the EXIT trap: users, groups and the daemon never outlive us

ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }

# run USER EXPECTED_RC DESCRIPTION -- ARGS...: runs callvault as USER ("root" = directly),
# checks the exit code and, when non-zero, that stderr is exactly one line.
run() {
  local user=$1 want=$2 desc=$3
  shift 4
  local rc
  if [[ $user == root ]]; then
    "$T/bin/callvault" "$@" >"$T/out" 2>"$T/err"
  else
    runuser -u "$user" -- "$T/bin/callvault" "$@" >"$T/out" 2>"$T/err"
  fi
  rc=$?
  local lines
  lines=$(wc -l <"$T/err")
  if [[ $rc -ne $want ]]; then
    bad "$desc: exit $rc, want $want; stderr: $(head -c 300 "$T/err")"
  elif [[ $want -ne 0 && $lines -ne 1 ]]; then
    bad "$desc: exit $rc but stderr has $lines lines: $(head -c 300 "$T/err")"
  else
    ok "$desc (exit $rc)${want:+ }$( [[ $want -ne 0 ]] && head -c 160 "$T/err")"
  fi
}

# --- set-up --------------------------------------------------------------------------------
groupadd "$G_SOCK" && groupadd "$G_REV" || { echo "groupadd failed"; exit 1; }
useradd -M -N -g "$G_SOCK" "$U_ADM" &&
  useradd -M -N -g "$G_SOCK" -G "$G_REV" "$U_REV" &&
  useradd -M -N -g "$G_SOCK" "$U_AUD" &&
  useradd -M -N -g "$G_SOCK" "$U_NONE" &&
  useradd -M -N "$U_OUT" || { echo "useradd failed"; exit 1; }

mkdir -p "$T/bin"
cp "$CALLVAULT" "$T/bin/callvault"
chmod 755 "$T/bin" "$T/bin/callvault"
for u in $U_ADM $U_REV $U_AUD $U_NONE; do
  mkdir -p "$T/home/$u" && chown "$u" "$T/home/$u"
done
chmod 755 "$T/home"

FIX=$("$FIXTURE" "$T/store" "$T/master.key") || { echo "fixture failed"; exit 1; }
CALL0=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["calls"][0]["call_id"])' "$FIX")
CALL1=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["calls"][1]["call_id"])' "$FIX")

cat >"$T/callvault.toml" <<EOF
[store]
path = "$T/store"
key_file = "$T/master.key"

[control]
socket = "$T/run/control.sock"
group = "$G_SOCK"
admins = ["$U_ADM"]
reviewers = ["group:$G_REV"]
auditors = ["$U_AUD"]
EOF
chmod 644 "$T/callvault.toml"
CFG=(--config "$T/callvault.toml")

# Daemon not running yet: exit 5, for anyone.
run "$U_REV" 5 "daemon not running" -- "${CFG[@]}" status

"$DAEMON" "$T/callvault.toml" >"$T/daemon.out" 2>"$T/daemon.err" &
DAEMON_PID=$!
for _ in $(seq 100); do [[ -S $T/run/control.sock ]] && break; sleep 0.1; done
[[ -S $T/run/control.sock ]] || { echo "daemon did not start: $(cat "$T/daemon.err")"; exit 1; }
mode=$(stat -c %a "$T/run/control.sock")
grp=$(stat -c %G "$T/run/control.sock")
[[ $mode == 660 && $grp == "$G_SOCK" ]] && ok "socket mode 0660 group $grp" ||
  bad "socket mode $mode group $grp, want 660 $G_SOCK"

# --- roles: allowed and denied -------------------------------------------------------------
for u in $U_REV $U_ADM; do
  run "$u" 0 "status as $u" -- "${CFG[@]}" status
  run "$u" 0 "search by ANI as $u" -- "${CFG[@]}" search --ani "(202) 555-0143"
  run "$u" 0 "search by agent as $u" -- "${CFG[@]}" search --agent "Jane Doe" --json
  run "$u" 0 "show as $u" -- "${CFG[@]}" show "$CALL0"
done
# Search results are right: two calls from +12025550143, newest first.
run "$U_REV" 0 "search --json" -- "${CFG[@]}" search --ani +12025550143 --json
python3 - "$T/out" "$CALL0" <<'EOF' && ok "search JSON: 2 calls, newest first, contract fields" || bad "search JSON content"
import json, sys
calls = json.load(open(sys.argv[1]))
assert len(calls) == 2, calls
assert calls[0]["start"] > calls[1]["start"]
assert calls[1]["call_id"] == sys.argv[2]
for k in ["call_id", "sip_call_ids", "start", "answer", "end", "duration_s", "state",
          "sip_code", "ani", "dialled", "agent", "held", "legs", "dtmf"]:
    assert k in calls[0], k
assert calls[1]["agent"]["name"] == "Jane Doe" and calls[1]["state"] == "answered"
assert calls[1]["legs"][0]["codec"] == "PCMU" and calls[1]["legs"][0]["packets"] == 50
EOF
for u in $U_AUD $U_NONE; do
  run "$u" 3 "status denied to $u" -- "${CFG[@]}" status
  run "$u" 3 "search denied to $u" -- "${CFG[@]}" search --ani +12025550143
  run "$u" 3 "show denied to $u" -- "${CFG[@]}" show "$CALL0"
  run "$u" 3 "export denied to $u" -- "${CFG[@]}" export "$CALL0" --pcap "$T/home/$u/x.pcap"
done
run "$U_OUT" 3 "socket refuses a user outside its group" -- "${CFG[@]}" status
for u in $U_REV $U_AUD $U_NONE; do
  run "$u" 3 "hold denied to $u" -- "${CFG[@]}" hold add "$CALL0" --case C-1 --reason test
  run "$u" 3 "keys denied to $u" -- "${CFG[@]}" keys status
  run "$u" 3 "verify denied to $u" -- "${CFG[@]}" verify
  run "$u" 3 "retention denied to $u" -- "${CFG[@]}" retention run --dry-run
  run "$u" 3 "ingest denied to $u" -- "${CFG[@]}" ingest /dev/null
done
for u in $U_ADM $U_REV $U_NONE; do
  run "$u" 3 "audit denied to $u" -- "${CFG[@]}" audit list
done
run "$U_ADM" 0 "hold add as admin" -- "${CFG[@]}" hold add "$CALL0" --case GR-7 --reason grievance
run "$U_ADM" 0 "hold list as admin" -- "${CFG[@]}" hold list --json
grep -q "$CALL0" "$T/out" && ok "hold list shows the held call" || bad "hold list: $(cat "$T/out")"
run "$U_REV" 0 "show held call" -- "${CFG[@]}" show "$CALL0" --json
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["held"] and c["hold"]["case"]=="GR-7"' "$T/out" &&
  ok "show reports the hold" || bad "show hold: $(head -c 300 "$T/out")"
run "$U_ADM" 0 "hold remove as admin" -- "${CFG[@]}" hold remove "$CALL0"
run "$U_ADM" 1 "hold remove of a call not held" -- "${CFG[@]}" hold remove "$CALL0"
run "$U_ADM" 0 "keys status as admin" -- "${CFG[@]}" keys status
run "$U_ADM" 0 "keys rotate as admin" -- "${CFG[@]}" keys rotate
run "$U_REV" 0 "show after key rotation" -- "${CFG[@]}" show "$CALL0"
run "$U_ADM" 0 "verify as admin" -- "${CFG[@]}" verify
run "$U_AUD" 0 "audit verify as auditor" -- "${CFG[@]}" audit verify
run "$U_AUD" 0 "audit list as auditor" -- "${CFG[@]}" audit list --json
# Export: the CLI opens the output file itself (as the caller) and passes the descriptor
# over the socket; the daemon decrypts, verifies and encodes.
OUTD=$T/home/$U_REV
run "$U_REV" 0 "export --pcap as reviewer" -- "${CFG[@]}" export "$CALL0" --pcap "$OUTD/call.pcap"
[[ $(stat -c %U "$OUTD/call.pcap") == "$U_REV" ]] && ok "export file owned by the caller" ||
  bad "export file owner $(stat -c %U "$OUTD/call.pcap")"
if command -v tshark >/dev/null; then
  frames=$(tshark -r "$OUTD/call.pcap" 2>/dev/null | wc -l)
  rtp=$(tshark -r "$OUTD/call.pcap" -d udp.port==16384,rtp -d udp.port==20000,rtp -Y rtp 2>/dev/null | wc -l)
  [[ $frames -eq 100 && $rtp -eq 100 ]] && ok "exported pcap: 100 frames, all RTP (tshark)" ||
    bad "exported pcap: $frames frames, $rtp RTP, want 100 (tshark)"
fi
run "$U_REV" 0 "export --wav as reviewer" -- "${CFG[@]}" export "$CALL0" --wav "$OUTD/call.wav"
python3 - "$OUTD/call.wav" <<'PY' && ok "exported WAV: stereo 8 kHz, 1 kHz tone on the caller channel, agent silent" || bad "exported WAV content"
import math, struct, sys, wave
w = wave.open(sys.argv[1])
assert w.getnchannels() == 2 and w.getframerate() == 8000 and w.getsampwidth() == 2
n = w.getnframes()
data = struct.unpack("<%dh" % (2 * n), w.readframes(n))
caller, agent = data[0::2], data[1::2]
def power(x, f):  # Goertzel
    k = 2 * math.cos(2 * math.pi * f / 8000)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2
# 50 packets x 160 samples of tone: 8000 samples between the first and last non-zero one
# (a 1 kHz tone sampled at 8 kHz is exactly 0 at every 4th sample, so count the span).
nz = [i for i, v in enumerate(caller) if v != 0]
span = nz[-1] - nz[0] + 1
assert 7990 <= span <= 8000, span
seg = caller[nz[0]:nz[0] + 4000]
assert power(seg, 1000) > 100 * max(power(seg, 500), power(seg, 2000)), "no 1 kHz tone"
assert max(abs(v) for v in agent) < 200, max(abs(v) for v in agent)
PY
run "$U_REV" 1 "export of an unknown call" -- "${CFG[@]}" export 00000000000fffff --wav "$OUTD/none.wav"
[[ ! -e $OUTD/none.wav ]] && ok "failed export leaves no file" || bad "failed export left $OUTD/none.wav"
# Ingest through the daemon, then find the call.
run "$U_ADM" 0 "ingest as admin" -- "${CFG[@]}" ingest "$DATA/heplify_sip_ipv4_tcp_rtp_pcma.pcap" --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["calls"]==1 and j["frames"]==84, j' "$T/out" &&
  ok "ingest summary: 84 frames, 1 call" || bad "ingest summary: $(head -c 300 "$T/out")"
run "$U_REV" 0 "search the ingested call by time" -- "${CFG[@]}" search --from 2011-07-28 --to 2011-07-29 --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert len(j)==1 and j[0]["state"]=="answered", j' "$T/out" &&
  ok "ingested call found, answered" || bad "ingested call: $(head -c 300 "$T/out")"
# Retention: a held call survives, the others past the age are destroyed and audited.
run "$U_ADM" 0 "retention dry run as admin" -- "${CFG[@]}" retention run --dry-run --now 2030-01-01 --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["dry_run"] and j["calls"]==4, j' "$T/out" &&
  ok "dry run: 4 calls would go" || bad "dry run: $(head -c 300 "$T/out")"
run "$U_REV" 0 "dry run destroyed nothing" -- "${CFG[@]}" show "$CALL1"
run "$U_ADM" 0 "hold before retention" -- "${CFG[@]}" hold add "$CALL0" --case GR-8 --reason appeal
run "$U_ADM" 0 "retention run as admin" -- "${CFG[@]}" retention run --now 2030-01-01 --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["calls"]==3 and j["skipped_held"]==1, j' "$T/out" &&
  ok "retention: 3 purged, 1 kept by its hold" || bad "retention: $(head -c 300 "$T/out")"
run "$U_REV" 1 "purged call is gone" -- "${CFG[@]}" show "$CALL1"
run "$U_REV" 0 "held call survives retention" -- "${CFG[@]}" show "$CALL0"

# --- bad input -------------------------------------------------------------------------------
run "$U_REV" 1 "unknown call id" -- "${CFG[@]}" show 00000000000fffff
run "$U_REV" 1 "search with no match" -- "${CFG[@]}" search --ani +12025550100
run "$U_REV" 2 "malformed time" -- "${CFG[@]}" search --from 2026-02-30T25:00:00Z
run "$U_REV" 2 "malformed number" -- "${CFG[@]}" search --ani 555-CALL-NOW-X
run "$U_REV" 2 "malformed call id" -- "${CFG[@]}" show not-a-call-id
run "$U_REV" 2 "unknown command" -- "${CFG[@]}" frobnicate
run "$U_REV" 2 "missing config file" -- --config "$T/nope.toml" status
run root 5 "offline open of a store the daemon holds" -- --store "$T/store" --key-file "$T/master.key" status

# --- the audit log: a record for each action -------------------------------------------------
run "$U_AUD" 0 "audit list --json" -- "${CFG[@]}" audit list --json
python3 - "$T/out" "$U_ADM" "$U_REV" "$U_AUD" "$U_NONE" "$CALL0" "$CALL1" <<'EOF' && ok "audit records: every action with user, role, result; denials recorded" || bad "audit record content"
import json, sys
recs = json.load(open(sys.argv[1]))
adm, rev, aud, none, call0, _ = sys.argv[2:]
def has(user, action, result, call=None):
    for r in recs:
        if r["user"] == user and r["action"] == action and r["result"].startswith(result):
            if call is None or call in r["call_ids"]:
                assert r["mode"] == "online" and r["time"].endswith("Z"), r
                return
    raise AssertionError(f"no record {user} {action} {result}")
has(rev, "search", "ok")
has(rev, "show", "ok", call0)
has(adm, "hold.add", "ok", call0)
has(adm, "hold.remove", "ok", call0)
has(adm, "keys.rotate", "ok")
has(adm, "verify", "ok")
has(aud, "audit.verify", "ok")
has(none, "denied:search", "denied")
has(none, "denied:export", "denied", call0)
has(aud, "denied:show", "denied", call0)
has(rev, "denied:hold.add", "denied", call0)
has(adm, "denied:audit.list", "denied")
has(rev, "show", "not_found", "00000000000fffff")
has(rev, "export", "ok", call0)
has(adm, "ingest", "ok")
has(adm, "retention.run", "ok", sys.argv[7])
# Search criteria are blind-index values, never the number.
s = [r for r in recs if r["action"] == "search" and "ani_blind" in r["detail"]]
assert s and all(len(r["detail"]["ani_blind"]) == 32 for r in s), s[:1]
roles = {r["user"]: r["role"] for r in recs}
assert roles[rev] == "reviewer" and roles[adm] == "admin" and roles[aud] == "auditor"
assert roles[none] == "none"
EOF
if grep -qE '2025550143|Jane Doe' "$T/store/audit/audit.log"; then
  bad "audit log holds plaintext PII"
else
  ok "audit log holds no ANI or agent name in plaintext"
fi

# --- daemon gone, integrity ------------------------------------------------------------------
kill "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
[[ ! -e $T/run/control.sock ]] && ok "daemon removed its socket" || bad "socket left behind"
run "$U_REV" 5 "daemon stopped" -- "${CFG[@]}" search --ani +12025550143
OFF=(--store "$T/store" --key-file "$T/master.key")
run root 0 "offline search" -- "${OFF[@]}" search --ani +12025550143
run root 0 "offline audit verify" -- "${OFF[@]}" audit verify
run "$U_REV" 3 "offline use without read access to the key file" -- --store "$T/store" --key-file "$T/master.key" search
run root 2 "missing key file" -- --store "$T/store" --key-file "$T/nokey" status
"$T/bin/callvault" --key-file "$T/other.key" keys init >/dev/null
run root 4 "wrong key file" -- --store "$T/store" --key-file "$T/other.key" search --ani +12025550143
# Offline with a config, the local uid goes through the same role lists: root is not listed.
run root 3 "offline --config --offline maps the uid through [control]" -- "${CFG[@]}" --offline status

LOG=$T/store/audit/audit.log
HEAD=$T/store/audit/audit.head
cp "$LOG" "$T/audit.log.orig"
cp "$HEAD" "$T/audit.head.orig"
n=$(wc -l <"$LOG")
[[ $n -gt 10 ]] && ok "audit log has $n records" || bad "audit log has only $n records"
tamper() {  # DESCRIPTION EXPECTED_TEXT SED/AWK-PROGRAM
  local desc=$1 want=$2
  cp "$T/audit.log.orig" "$LOG"
  cp "$T/audit.head.orig" "$HEAD"
  eval "$3"
  run root 4 "audit verify detects $desc" -- "${OFF[@]}" audit verify
  grep -q "$want" "$T/err" && ok "... and names it: $want" || bad "$desc: message $(cat "$T/err") lacks '$want'"
}
tamper "an altered record" "record 3: MAC mismatch" "sed -i '3s/\"result\":\"[a-z_]*/\"result\":\"xx/' '$LOG'"
tamper "a removed record" "record 5:" "sed -i '5d' '$LOG'"
tamper "reordered records" "record 6:" "python3 -c 'import sys; l=open(sys.argv[1]).readlines(); l[5],l[6]=l[6],l[5]; open(sys.argv[1],\"w\").writelines(l)' '$LOG'"
tamper "truncation" "truncated" "head -n -2 '$T/audit.log.orig' >'$LOG'"
cp "$T/audit.log.orig" "$LOG"
cp "$T/audit.head.orig" "$HEAD"
run root 0 "restored audit log verifies" -- "${OFF[@]}" audit verify

# A flipped byte in a sealed segment: verify and export fail with exit 4, never garbage.
python3 - "$T/store/segments" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(".seg"):
            p = os.path.join(root, f)
            with open(p, "r+b") as fh:
                n = os.path.getsize(p)
                fh.seek(n // 2)
                b = fh.read(1)
                fh.seek(n // 2)
                fh.write(bytes([b[0] ^ 0x40]))
PY
run root 4 "verify detects a flipped byte in a segment" -- "${OFF[@]}" verify
run root 4 "export of a tampered call" -- "${OFF[@]}" export "$CALL0" --wav "$T/tampered.wav"
[[ ! -e $T/tampered.wav ]] && ok "no WAV left from a tampered call" || bad "tampered export left a file"

echo "callvault-store 99" >"$T/store/VERSION"
run root 2 "store from a newer format version" -- "${OFF[@]}" status

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
