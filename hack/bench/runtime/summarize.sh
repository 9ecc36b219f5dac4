#!/usr/bin/env bash
# Turns the raw data of hack/bench/runtime/run.sh into the markdown summary (stdout).
# Usage: summarize.sh RAW [MACHINE]
# Figures: median over the containers, with the 10th–90th percentile range in parentheses;
# ratios are of medians. Warm-up containers (i < 0) are left out.
set -euo pipefail
raw=$1
machine=${2:-}
[[ -f $raw ]] || { echo "summarize: no file $raw" >&2; exit 1; }

awk '
function field(name,   k) { for (k = 1; k <= NF; k++) if (index($k, name "=") == 1) return substr($k, length(name) + 2); return "" }
function add(metric, rt, v) { n[metric, rt]++; val[metric, rt, n[metric, rt]] = v + 0 }
# The q-quantile (nearest rank) of metric for rt; sorts its values once.
function q(metric, rt, p,   c, i, j, t, r) {
    c = n[metric, rt] + 0
    if (c == 0) return ""
    if (!((metric, rt) in sorted)) {
        for (i = 2; i <= c; i++) { t = val[metric, rt, i]; for (j = i - 1; j >= 1 && val[metric, rt, j] > t; j--) val[metric, rt, j + 1] = val[metric, rt, j]; val[metric, rt, j + 1] = t }
        sorted[metric, rt] = 1
    }
    r = int(p * (c - 1) + 0.5) + 1
    return val[metric, rt, r]
}
function fmt(v, d) { return v == "" ? "–" : sprintf("%." d "f", v) }
function cell(metric, rt, d) {
    if (n[metric, rt] + 0 == 0) return "–"
    return fmt(q(metric, rt, 0.5), d) " (" fmt(q(metric, rt, 0.1), d) "–" fmt(q(metric, rt, 0.9), d) ")"
}
function ratio(metric, a, b,   x, y) {
    x = q(metric, a, 0.5); y = q(metric, b, 0.5)
    if (x == "" || y == "" || y == 0) return "–"
    return sprintf("%.2f×", x / y)
}
{
    rt = field("rt"); op = field("op"); i = field("i") + 0
    if (!(rt in seen)) { seen[rt] = 1; order[++nrt] = rt }
    if (op == "declare") next
    if (op == "version") { add("vwall", rt, field("wall_us") / 1000); add("vrss", rt, field("maxrss_kb") / 1024); next }
    if (i < 0) next
    if (op == "created") { add("init", rt, field("VmRSS") / 1024); add("initanon", rt, field("RssAnon") / 1024); add("initfile", rt, field("RssFile") / 1024); next }
    rc = field("rc") + 0
    if (rc != 0) failures[rt]++
    wall = field("wall_us") / 1000; cpu = (field("all_user_us") + field("all_sys_us")) / 1000; rss = field("maxrss_kb") / 1024
    if (op == "create") { add("createwall", rt, wall); add("creatersss", rt, rss); next }
    key = rt SUBSEP i
    if (op == "run") { add("runwall", rt, wall); add("runcpu", rt, cpu); runwall[key] = wall; runcpu[key] = cpu; runrss[key] = rss; hasrun[key] = 1 }
    if (op == "delete" && (key in hasrun) && !(key in done)) {
        done[key] = 1
        add("delwall", rt, wall)
        add("wall", rt, runwall[key] + wall)
        add("cpu", rt, runcpu[key] + cpu)
        add("rss", rt, runrss[key] > rss ? runrss[key] : rss)
    }
}
END {
    # Columns: every runtime, then each runtime but crun against crun, then each but runc and crun against runc.
    head = "| per container |"; line = "|---|"
    for (k = 1; k <= nrt; k++) if (n["wall", order[k]] + n["init", order[k]] > 0) { cols[++nc] = order[k]; head = head " " order[k] " |"; line = line "---|" }
    for (k = 1; k <= nc; k++) if (cols[k] != "crun" && ("crun" in seen)) { head = head " " cols[k] " ÷ crun |"; line = line "---|" }
    for (k = 1; k <= nc; k++) if (cols[k] != "runc" && cols[k] != "crun" && ("runc" in seen)) { head = head " " cols[k] " ÷ runc |"; line = line "---|" }
    print head; print line
    split("wall|cpu|runwall|delwall|runcpu|rss|init|initanon|initfile|createwall", metrics, "|")
    label["wall"] = "wall, `run -d` + `delete -f` (ms)"
    label["cpu"] = "CPU, user+sys of the runtime processes and the init (ms)"
    label["runwall"] = "wall, `run -d` (ms)"
    label["delwall"] = "wall, `delete -f` (ms)"
    label["runcpu"] = "CPU, `run -d` (ms)"
    label["rss"] = "runtime max RSS (MiB)"
    label["init"] = "init RSS while created (MiB)"
    label["initanon"] = "… of which anonymous (MiB)"
    label["initfile"] = "… of which file-backed (MiB)"
    label["createwall"] = "wall, `create` (ms)"
    for (m = 1; m <= 10; m++) {
        metric = metrics[m]; row = "| " label[metric] " |"; any = 0
        d = (metric ~ /wall|cpu/) ? 1 : 2
        for (k = 1; k <= nc; k++) { row = row " " cell(metric, cols[k], d) " |"; any += n[metric, cols[k]] }
        if (!any) continue
        for (k = 1; k <= nc; k++) if (cols[k] != "crun" && ("crun" in seen)) row = row " " ratio(metric, cols[k], "crun") " |"
        for (k = 1; k <= nc; k++) if (cols[k] != "runc" && cols[k] != "crun" && ("runc" in seen)) row = row " " ratio(metric, cols[k], "runc") " |"
        print row
    }
    c = n["wall", cols[1]] + 0
    printf "\n%d containers per runtime (runk), %d created for the init RSS; median (10th–90th percentile).\n", c, n["init", cols[1]] + 0
    for (k = 1; k <= nrt; k++) if (failures[order[k]] > 0) printf "**%s: %d commands failed** (see stderr.log)\n", order[k], failures[order[k]]
    if (n["vwall", order[1]] + 0 > 0) {
        print "\n| binary | `--version` wall (ms) | `--version` max RSS (MiB) |"
        print "|---|---|---|"
        for (k = 1; k <= nrt; k++) if (n["vwall", order[k]] > 0)
            printf "| %s | %s | %s |\n", order[k], cell("vwall", order[k], 1), cell("vrss", order[k], 2)
        printf "\n%d runs each (the shim: -v); max RSS as /usr/bin/time reports it (wait4).\n", n["vwall", order[1]]
    }
}' "$raw"

if [[ -n $machine && -f $machine ]]; then
    echo
    sed 's/^/    /' "$machine"
fi
