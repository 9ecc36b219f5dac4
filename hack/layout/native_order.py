"""The native half of order.py: which input sections of `.text` the traced commands executed, and a
GNU ld script that lays them out first, grouped as the managed methods are.

The native code (the .NET runtime's static libraries, glibc's and libseccomp's archive members,
ilc's own object) is placed by the linker, in link order, where ilc's method order does not reach.
The runtime's libraries have one section per function; glibc's members one `.text` each. The link
map (ld -Map) of the traced binary names the input section at every address, so the script can
name each one as `*ARCHIVE:MEMBER(SECTION)` or `*OBJECT(SECTION)`, which stays valid across builds
as long as the archives keep their member and function names (a pattern that matches nothing is
ignored by ld).
"""
import bisect
import os
import re
import subprocess
import sys

HEADER = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
NAME_ONLY = re.compile(r"^ ([^\s*]\S*)$")
HOT = ".text.csrt_hot"
REST = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def read_map(path, outputs):
    """The input sections of the named output sections: sorted (address, size, section, file)."""
    sections, inside, pending = [], False, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line[0].isspace():
                # An output section starts: its name, address and size, or the name alone.
                inside = line.split(" ", 1)[0] in outputs
                pending = None
                continue
            if not inside:
                continue
            if pending is not None:
                m = REST.match(line)
                if m:
                    sections.append((int(m.group(1), 16), int(m.group(2), 16), pending, m.group(3).strip()))
                pending = None
                continue
            m = HEADER.match(line)
            if m and not m.group(1).startswith("*"):
                sections.append((int(m.group(2), 16), int(m.group(3), 16), m.group(1), m.group(4).strip()))
                continue
            m = NAME_ONLY.match(line)
            if m:
                pending = m.group(1)
    if not sections:
        raise SystemExit(f"order.py: no input sections of {' or '.join(outputs)} in {path} (not a GNU ld map?)")
    return sorted(s for s in sections if s[1] > 0)


def pattern(section, file):
    """An ld input-section description for one input section: archive members by member name."""
    m = re.match(r"^(.*)\((.*)\)$", file)
    if m:
        archive, member = m.group(1), m.group(2)
        return f"*{os.path.basename(archive)}:{member}({section})"
    return f"*{os.path.basename(file)}({section})"


def segments(binary):
    """(file offset, address, size) of the binary's LOAD segments, to turn file pages into addresses."""
    out = subprocess.run(["readelf", "-lW", binary], check=True, capture_output=True, text=True).stdout
    loads = [line.split() for line in out.splitlines() if line.split()[:1] == ["LOAD"]]
    return [(int(f[1], 16), int(f[2], 16), int(f[4], 16)) for f in loads]


def hot_sections(sections, traces, pages, loads):
    """Indexes into sections, hot first: those executed or on pages that no executed section
    explains, grouped by the set of commands that use them as order.py groups methods."""
    starts = [s[0] for s in sections]
    lo, hi = sections[0][0], sections[-1][0] + sections[-1][1]

    def at(address):
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and address < sections[i][0] + sections[i][1]:
            return i
        return None

    first, users = {}, {}

    def add(i, command):
        first.setdefault(i, len(first))
        users[i] = users.get(i, 0) | (1 << command)

    executed = []
    for command, trace in enumerate(traces):
        mine = set()
        with open(trace) as f:
            for line in f:
                address = int(line, 16)
                if lo <= address < hi:
                    i = at(address)
                    if i is not None:
                        add(i, command)
                        mine.add(i)
        executed.append(mine)
    traced = len(first)
    # A page the command touched at full speed but on which its trace executed nothing holds code
    # the slow trace missed (timing-dependent paths): every section on it is taken. Pages that
    # hold an executed section are explained by it; their other sections stay where they are.
    for command, path in enumerate(pages):
        mine = executed[command] if command < len(executed) else set()
        with open(path) as f:
            for line in f:
                offset = int(line) * 4096
                # A page can hold the end of one segment and the start of the next.
                for file_offset, address, size in loads:
                    if offset + 4096 <= file_offset or offset >= file_offset + size:
                        continue
                    start = address + offset - file_offset
                    if start + 4096 <= lo or start >= hi:
                        continue
                    low = max(bisect.bisect_right(starts, start) - 1, 0)
                    on_page = [i for i in range(low, bisect.bisect_left(starts, start + 4096))
                               if sections[i][0] + sections[i][1] > start]
                    if not any(i in mine for i in on_page):
                        for i in on_page:
                            add(i, command)
    order = sorted(first, key=lambda i: (-bin(users[i]).count("1"), users[i], first[i]))
    return order, traced


def write(map_path, binary, out, traces, pages):
    # The hot output section too: the traced binary may be laid out by an earlier script.
    sections = read_map(map_path, (HOT, ".text"))
    order, traced = hot_sections(sections, traces, pages, segments(binary))
    lines, seen = [], set()
    for i in order:
        p = pattern(sections[i][2], sections[i][3])
        if p not in seen:
            seen.add(p)
            lines.append(p)
    size = sum(sections[i][1] for i in order)
    total = sum(s[1] for s in sections)
    with open(out, "w") as f:
        f.write("/* Generated by hack/layout/order.sh from traces of csrt's short commands: the native\n"
                "   functions they run, laid out first and together, then ilc's managed code, whose\n"
                "   order is csrt.order (docs/benchmarks.md, \"csrt's own memory\"). Each line names\n"
                "   one input section of .text; ld ignores those that no longer exist. */\n"
                f"SECTIONS\n{{\n  {HOT} :\n  {{\n")
        f.write("".join(f"    {p}\n" for p in lines))
        # ilc's managed code right after it: the managed methods of these commands come first there
        # (csrt.order), so the two hot parts are one run of pages.
        f.write("  }\n  __managedcode : { *(__managedcode) }\n}\nINSERT BEFORE .text;\n")
    print(f"order.py: {traced} native sections from the traces, {len(order) - traced} more from touched pages, "
          f"{size} of {total} bytes of .text", file=sys.stderr)
