#!/usr/bin/env bash
# The markdown summary (stdout) of a hack/bench/vm/run.sh result directory.
# Usage: summarize.sh DIR   (DIR holds runk.txt, ctr.txt and machine.txt)
# runk: hack/bench/runtime/summarize.sh's table. ctr: median (10th–90th percentile) of the wall time of
# `ctr run --rm`, the ratio of medians. Warm-up runs (i < 0) are left out.
set -euo pipefail
dir=$1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for f in runk.txt ctr.txt; do [[ -f $dir/$f ]] || { echo "summarize: no $dir/$f" >&2; exit 1; }; done

echo "### runk with the systemd driver (each container a transient scope)"
echo
bash "$here/../runtime/summarize.sh" "$dir/runk.txt"
echo
echo "### \`ctr run --rm\` with the systemd driver (the shim, the runtime and containerd)"
echo
awk '
function field(name,   k) { for (k = 1; k <= NF; k++) if (index($k, name "=") == 1) return substr($k, length(name) + 2); return "" }
function q(rt, p,   c, i, j, t) {
    c = n[rt] + 0
    if (c == 0) return ""
    if (!(rt in sorted)) {
        for (i = 2; i <= c; i++) { t = v[rt, i]; for (j = i - 1; j >= 1 && v[rt, j] > t; j--) v[rt, j + 1] = v[rt, j]; v[rt, j + 1] = t }
        sorted[rt] = 1
    }
    return v[rt, int(p * (c - 1) + 0.5) + 1]
}
{
    rt = field("rt")
    if (!(rt in seen)) { seen[rt] = 1; order[++nrt] = rt }
    if (field("op") != "ctr" || field("i") + 0 < 0) next
    if (field("rc") + 0 != 0) failures[rt]++
    n[rt]++; v[rt, n[rt]] = field("wall_us") / 1000
}
END {
    head = "| per container |"; line = "|---|"
    for (k = 1; k <= nrt; k++) { head = head " " order[k] " |"; line = line "---|" }
    if (("csrt" in seen) && ("runc" in seen)) { head = head " csrt ÷ runc |"; line = line "---|" }
    print head; print line
    row = "| wall, `ctr run --rm … /bin/true` (ms) |"
    for (k = 1; k <= nrt; k++) row = row sprintf(" %.0f (%.0f–%.0f) |", q(order[k], 0.5), q(order[k], 0.1), q(order[k], 0.9))
    if (("csrt" in seen) && ("runc" in seen) && q("runc", 0.5) > 0) row = row sprintf(" %.2f× |", q("csrt", 0.5) / q("runc", 0.5))
    print row
    printf "\n%d runs per shim; median (10th–90th percentile).\n", n[order[1]]
    for (k = 1; k <= nrt; k++) if (failures[order[k]] > 0) printf "**%s: %d runs failed** (see stderr.log)\n", order[k], failures[order[k]]
}' "$dir/ctr.txt"
if [[ -f $dir/machine.txt ]]; then
    echo
    sed 's/^/    /' "$dir/machine.txt"
fi
