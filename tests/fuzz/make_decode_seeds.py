#!/usr/bin/env python3
"""Seed corpus for tests/fuzz/decode_fuzz.cc from the captures in tests/data.

Usage: make_decode_seeds.py DATA_DIR OUT_DIR
Each seed is: link selector byte, then frames each prefixed by a 2-byte length. One seed
per frame (first 40 frames of each classic pcap file), plus one seed per file holding
consecutive frames (so IP fragments meet). pcapng files are read through editcap.
"""
import os
import struct
import subprocess
import sys
import tempfile

LINKS = {1: 0, 113: 1, 276: 2, 0: 3, 108: 4, 101: 5, 228: 6, 229: 7}


def frames(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        endian = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        endian = '>'
    else:
        return None, []
    link = struct.unpack(endian + 'I', data[20:24])[0] & 0xffff
    out, pos = [], 24
    while pos + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + 'IIII', data[pos:pos + 16])
        out.append(data[pos + 16:pos + 16 + caplen])
        pos += 16 + caplen
    return link, out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name.endswith('.pcapng'):
            tmp = tempfile.NamedTemporaryFile(suffix='.pcap', delete=False)
            tmp.close()
            subprocess.run(['editcap', '-F', 'pcap', path, tmp.name], check=True)
            link, fr = frames(tmp.name)
            os.unlink(tmp.name)
        elif name.endswith('.pcap'):
            link, fr = frames(path)
        else:
            continue
        if link not in LINKS:
            continue
        sel = bytes([LINKS[link]])
        for i, f in enumerate(fr[:40]):
            with open(os.path.join(dst, f'{name}.{i}'), 'wb') as o:
                o.write(sel + struct.pack('>H', len(f)) + f)
            n += 1
        run = b''.join(struct.pack('>H', len(f)) + f for f in fr[:12] if len(f) < 4096)
        with open(os.path.join(dst, f'{name}.run'), 'wb') as o:
            o.write(sel + run)
        n += 1
    print(f'{n} seeds in {dst}')


if __name__ == '__main__':
    main()
