#!/usr/bin/env python3
"""Turns steptrace outputs into csrt's method order file.

Usage: order.py SYMBOLS LO HI OUT TRACE...
  SYMBOLS  `nm -n --defined-only` of the traced binary's symbol file
  LO HI    the __managedcode section's address range (hex): only managed methods are ordered
  OUT      the order file: one mangled method name per line, in first-execution order over the
           traces, taken in the order given
"""
import bisect
import sys

symbols_file, lo, hi, out, traces = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16), sys.argv[4], sys.argv[5:]
symbols = []
with open(symbols_file) as f:
    for line in f:
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in "tTwW" and lo <= int(parts[0], 16) < hi:
            symbols.append((int(parts[0], 16), parts[2].strip()))
# Identical method bodies are folded into one, which then has several names: all of them go
# into the order (the compiler places the body under one of them). Section bounds are not methods.
by_address = {}
for address, name in symbols:
    if not name.startswith(("__start_", "__stop_")):
        by_address.setdefault(address, []).append(name)
addresses = sorted(by_address)
names, seen = [], set()
for trace in traces:
    with open(trace) as f:
        for line in f:
            address = int(line, 16)
            i = bisect.bisect_right(addresses, address) - 1
            if i < 0 or not (lo <= address < hi):
                continue
            for name in by_address[addresses[i]]:
                if name not in seen:
                    seen.add(name)
                    names.append(name)
with open(out, "w") as f:
    f.write("".join(n + "\n" for n in names))
print(f"order.py: {len(names)} methods from {len(traces)} traces", file=sys.stderr)
