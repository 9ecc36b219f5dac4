#!/usr/bin/env python3
"""Turns steptrace outputs (and resident page lists) into csrt's method order file.

Usage: order.py SYMBOLS LO HI OUT TRACE... [--native MAP BINARY NATIVE_OUT] [--pages DELTA PAGES...]
  SYMBOLS  `nm -n --defined-only` of the traced binary's symbol file
  LO HI    the __managedcode section's address range (hex): only managed methods go into OUT
  OUT      the order file: one mangled method name per line
  TRACE    steptrace output of one command: the methods it executed
  --native the native code's order too: MAP is the link map of the traced BINARY (ld -Map), and
           NATIVE_OUT a linker script that places the input sections of `.text` (the .NET
           runtime's functions, glibc's and libseccomp's archive members, ilc's object) that the
           commands executed first, in one output section before `.text` (native_order.py)
  --pages  every method on the pages listed in each PAGES file (file page indexes, from
           resident.c; DELTA: the code segment's address minus its file offset, hex), one file per
           command in the order of the traces: what the commands touched when run at full speed,
           which the single-stepped traces can miss (paths that depend on timing, such as waiting
           for a killed container to exit)

The methods used by more commands come first (the start-up and what every command does), then
each set of commands' own methods together, each group in first-execution order: a command then
touches the shared block and its own blocks, not the other commands' methods between them.
"""
import bisect
import sys

args = sys.argv[1:]
pages_args = []
if "--pages" in args:
    k = args.index("--pages")
    args, pages_args = args[:k], args[k + 1:]
native_args = []
if "--native" in args:
    k = args.index("--native")
    args, native_args = args[:k] + args[k + 4:], args[k + 1:k + 4]
symbols_file, lo, hi, out, traces = args[0], int(args[1], 16), int(args[2], 16), args[3], args[4:]

# Identical method bodies are folded into one, which then has several names: all of them go
# into the order (the compiler places the body under one of them). Section bounds are not methods.
by_address = {}
with open(symbols_file) as f:
    for line in f:
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in "tTwW" and lo <= int(parts[0], 16) < hi:
            name = parts[2].strip()
            if not name.startswith(("__start_", "__stop_")):
                by_address.setdefault(int(parts[0], 16), []).append(name)
addresses = sorted(by_address)
first, users = {}, {}


def add(i, command):
    for name in by_address[addresses[i]]:
        first.setdefault(name, len(first))
        users[name] = users.get(name, 0) | (1 << command)


for command, trace in enumerate(traces):
    with open(trace) as f:
        for line in f:
            address = int(line, 16)
            i = bisect.bisect_right(addresses, address) - 1
            if i >= 0 and lo <= address < hi:
                add(i, command)
traced = len(first)
if pages_args:
    delta, files = int(pages_args[0], 16), pages_args[1:]
    for command, pages in enumerate(files):
        with open(pages) as f:
            for line in f:
                start = int(line) * 4096 + delta
                if start + 4096 <= lo or start >= hi:
                    continue
                low = max(bisect.bisect_right(addresses, start) - 1, 0)
                for i in range(low, bisect.bisect_left(addresses, start + 4096)):
                    add(i, command)
names = sorted(first, key=lambda n: (-bin(users[n]).count("1"), users[n], first[n]))
with open(out, "w") as f:
    f.write("".join(n + "\n" for n in names))
print(f"order.py: {traced} methods from {len(traces)} traces, {len(names) - traced} more from resident pages",
      file=sys.stderr)
if native_args:
    import native_order
    native_order.write(native_args[0], native_args[1], native_args[2], traces, pages_args[1:])
