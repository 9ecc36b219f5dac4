#!/usr/bin/env bash
# The markdown table of hack/bench/fn/run.sh's raw data: per case, the median (10th–90th
# percentile) wall time per call and CPU time (user+sys of the command and everything it left,
# as timeit counts it), and both as ratios to crun's medians. Warm-up calls (i < 0) are left out.
# Usage: summarize.sh RAW
set -euo pipefail
raw=$1
[[ -f $raw ]] || { echo "summarize: no file $raw" >&2; exit 1; }
awk '
function field(name,   k) { for (k = 1; k <= NF; k++) if (index($k, name "=") == 1) return substr($k, length(name) + 2); return "" }
function q(m, rt, p,   c, i, j, t) {
    c = n[rt]
    if (!((m, rt) in sorted)) { for (i = 2; i <= c; i++) { t = v[m, rt, i]; for (j = i - 1; j >= 1 && v[m, rt, j] > t; j--) v[m, rt, j + 1] = v[m, rt, j]; v[m, rt, j + 1] = t } sorted[m, rt] = 1 }
    return v[m, rt, int(p * (c - 1) + 0.5) + 1]
}
field("op") == "declare" { order[++cases] = field("rt"); next }
field("op") == "call" && field("i") >= 0 {
    rt = field("rt"); k = ++n[rt]
    if (field("rc") != "0") bad[rt]++
    v["wall", rt, k] = field("wall_us") / 1000
    v["cpu", rt, k] = (field("all_user_us") + field("all_sys_us")) / 1000
}
END {
    print "| case | wall per call (ms) | ÷ crun | CPU per call (ms) | ÷ crun |"
    print "|---|---|---|---|---|"
    for (k = 1; k <= cases; k++) {
        rt = order[k]
        if (!n[rt]) continue
        w = n["crun"] ? sprintf("%.2f×", q("wall", rt, 0.5) / q("wall", "crun", 0.5)) : "–"
        c = n["crun"] ? sprintf("%.2f×", q("cpu", rt, 0.5) / q("cpu", "crun", 0.5)) : "–"
        printf "| %s | %.1f (%.1f–%.1f)%s | %s | %.1f (%.1f–%.1f) | %s |\n", rt, q("wall", rt, 0.5), q("wall", rt, 0.1), q("wall", rt, 0.9), bad[rt] ? " (" bad[rt] " failed)" : "", w, q("cpu", rt, 0.5), q("cpu", rt, 0.1), q("cpu", rt, 0.9), c
    }
    if (n["csrt-image"] && n["csrt-rootfs"])
        printf "\ncsrt, image ÷ rootfs: wall %.2f×, CPU %.2f×\n", q("wall", "csrt-image", 0.5) / q("wall", "csrt-rootfs", 0.5), q("cpu", "csrt-image", 0.5) / q("cpu", "csrt-rootfs", 0.5)
}' "$raw"
