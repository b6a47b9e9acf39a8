#!/usr/bin/env python3
"""The 1 MiB disk image the guest probe's blk checks expect: 4 KiB block k holds byte k
(blk.fill=1 checks every read of the loop), except sector 0, all 0xa5 (blk.expect).
One process: in the nested test host every fork+exec of a shell loop costs a lot.

usage: probe-image.py PATH"""
import sys

with open(sys.argv[1], "wb") as f:
    f.write(b"\xa5" * 512 + bytes(3584) + b"".join(bytes([k]) * 4096 for k in range(1, 256)))
