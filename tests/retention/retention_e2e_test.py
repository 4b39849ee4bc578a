#!/usr/bin/env python3
"""End-to-end retention test through the real CLI binary (issue 7).

Usage: retention_e2e_test.py CALLVAULT CALLGEN
Generates old (2024-05-01) and young (2025-12-01) calls with callgen, ingests them, holds
one old call, then: `retention run --dry-run --now 2026-03-01 --json` (lists exactly the
two unheld old calls, changes nothing), a real run (purges them), `search`/`show`/`export`
(purged: "not found"; held and young: intact and exportable), `verify`, a second run
(purges nothing), the audit log (one retention record naming the purged ids), and a byte
search of the store directory for the purged calls' ANIs.
"""
import json
import os
import subprocess
import sys
import tempfile

CV, CG = sys.argv[1], sys.argv[2]
NOW = "2026-03-01T00:00:00Z"  # cutoff (18 months) = 2024-09-01T00:00:00Z


def run(tmp, *args, ok=True):
    cmd = [CV, "--store", f"{tmp}/store", "--key-file", f"{tmp}/master.key", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} -> {p.returncode}: {p.stderr}")
    return p


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("USER", "root")
        run(tmp, "keys", "init")
        for name, start, n in (("old", "2024-05-01T08:00:00Z", 3),
                               ("new", "2025-12-01T08:00:00Z", 2)):
            subprocess.run([CG, "-o", f"{tmp}/{name}.pcap", "--start", start, "--calls",
                            str(n), "--duration", "5"], check=True, capture_output=True)
        run(tmp, "ingest", f"{tmp}/old.pcap", f"{tmp}/new.pcap", "--json")
        calls = json.loads(run(tmp, "search", "--json").stdout)
        check(len(calls) == 5, "5 calls ingested")
        old = sorted([c for c in calls if c["start"].startswith("2024-05-01")],
                     key=lambda c: c["start"])
        new = [c for c in calls if c["start"].startswith("2025-12-01")]
        check(len(old) == 3 and len(new) == 2, "3 old and 2 young calls")
        held = old[0]["call_id"]
        doomed = sorted(c["call_id"] for c in old[1:])
        run(tmp, "hold", "add", held, "--case", "CASE-7", "--reason", "inquiry")

        dry = json.loads(run(tmp, "retention", "run", "--dry-run", "--now", NOW,
                             "--json").stdout)
        check(dry["dry_run"] is True and dry["calls"] == 2, "dry run counts 2 calls")
        check(sorted(dry["ids"]) == doomed, "dry run lists exactly the unheld old calls")
        check(dry["skipped_held"] == 1, "dry run reports the held call kept")
        check(dry["cutoff"] == "2024-09-01T00:00:00.000Z", "cutoff is now - 18 months")
        check(dry["oldest_start"] == old[1]["start"] and
              dry["newest_start"] == old[2]["start"], "dry run oldest/newest start")
        check(len(json.loads(run(tmp, "search", "--json").stdout)) == 5,
              "dry run changed nothing")

        # A run of a purged call's captured frames (mostly RTP audio), taken before the purge.
        run(tmp, "export", doomed[0], "--pcap", f"{tmp}/doomed.pcap")
        frames = open(f"{tmp}/doomed.pcap", "rb").read()
        audio_run = frames[len(frames) // 2:len(frames) // 2 + 32]

        real = json.loads(run(tmp, "retention", "run", "--now", NOW, "--json").stdout)
        check(real["dry_run"] is False and sorted(real["ids"]) == doomed,
              "real run purged exactly the unheld old calls")
        check(real["bytes"] == dry["bytes"] and real["bytes"] > 0, "purged bytes as listed")

        left = sorted(c["call_id"] for c in json.loads(run(tmp, "search", "--json").stdout))
        check(left == sorted([held] + [c["call_id"] for c in new]),
              "search shows only the held and the young calls")
        for cid in doomed:
            p = run(tmp, "show", cid, ok=False)
            check(p.returncode == 1 and "not found" in p.stderr.lower(),
                  f"show {cid} (purged) -> exit 1, not found")
            p = run(tmp, "export", cid, "--wav", f"{tmp}/{cid}.wav", ok=False)
            check(p.returncode != 0 and "not found" in p.stderr.lower(),
                  f"export {cid} (purged) -> not found")
        shown = json.loads(run(tmp, "show", held, "--json").stdout)
        check(shown["held"] is True, "held call intact and shows held: true")
        for cid in [held] + [c["call_id"] for c in new]:
            run(tmp, "export", cid, "--wav", f"{tmp}/{cid}.wav")
            check(os.path.getsize(f"{tmp}/{cid}.wav") > 44, f"export {cid} (kept) works")
        for c in old[1:]:
            if c["ani"] not in (o["ani"] for o in [old[0]] + new):
                p = run(tmp, "search", "--ani", c["ani"], "--json", ok=False)
                check(p.returncode == 1 or json.loads(p.stdout or "[]") == [],
                      f"search by purged ANI {c['ani']} finds nothing")
        run(tmp, "verify")
        check(True, "verify clean after the purge")

        again = json.loads(run(tmp, "retention", "run", "--now", NOW, "--json").stdout)
        check(again["calls"] == 0 and again["segments_deleted"] == 0, "second run is a no-op")

        audit = run(tmp, "audit", "list", "--json").stdout
        check(all(cid in audit for cid in doomed), "audit log names the purged call ids")

        needles = [audio_run]
        for c in old[1:]:
            ani = c["ani"]
            needles += [ani.encode(), ani[1:].encode(), ani.encode("utf-16-le")]
        for root, _, files in os.walk(f"{tmp}/store"):
            for f in files:
                data = open(os.path.join(root, f), "rb").read()
                for n in needles:
                    if n in data:
                        check(False, f"no {n!r} in {f}")
        check(True, "no purged ANI (ASCII, digits, UTF-16) or audio run in any store file")
    print("PASS")


if __name__ == "__main__":
    main()
