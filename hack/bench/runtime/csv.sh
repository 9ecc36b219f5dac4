#!/usr/bin/env bash
# Turns the raw data of hack/bench/runtime/run.sh into CSV files for charts and other tools.
# Usage: csv.sh RAW OUTDIR   (writes OUTDIR/containers.csv and OUTDIR/created.csv)
#
# containers.csv, one row per container of the runk scenario (warm-up ones left out):
#   runtime,index,run_wall_ms,delete_wall_ms,wall_ms,run_cpu_ms,delete_cpu_ms,cpu_ms,max_rss_mib,ok
#   wall_ms = `run -d` + `delete -f` wall time; cpu_ms = user+sys of both commands and of
#   everything they left behind (the init); max_rss_mib = the larger max RSS of the two commands;
#   ok = 1 when both exited 0. The same figures summarize.sh takes medians of.
# created.csv, one row per container created (not started) to read its init's memory:
#   runtime,index,vmrss_mib,rss_anon_mib,rss_file_mib
set -euo pipefail
raw=$1 dir=$2
[[ -f $raw ]] || { echo "csv: no file $raw" >&2; exit 1; }
mkdir -p "$dir"
awk -v containers="$dir/containers.csv" -v created="$dir/created.csv" '
function field(name,   k) { for (k = 1; k <= NF; k++) if (index($k, name "=") == 1) return substr($k, length(name) + 2); return "" }
BEGIN {
    print "runtime,index,run_wall_ms,delete_wall_ms,wall_ms,run_cpu_ms,delete_cpu_ms,cpu_ms,max_rss_mib,ok" > containers
    print "runtime,index,vmrss_mib,rss_anon_mib,rss_file_mib" > created
}
{
    rt = field("rt"); op = field("op"); i = field("i") + 0
    if (op == "declare" || op == "version" || i < 0) next
    if (op == "created") { printf "%s,%d,%.3f,%.3f,%.3f\n", rt, i, field("VmRSS") / 1024, field("RssAnon") / 1024, field("RssFile") / 1024 > created; next }
    key = rt SUBSEP i
    wall = field("wall_us") / 1000; cpu = (field("all_user_us") + field("all_sys_us")) / 1000; rss = field("maxrss_kb") / 1024; rc = field("rc") + 0
    if (op == "run") { rw[key] = wall; rcpu[key] = cpu; rrss[key] = rss; rrc[key] = rc; hasrun[key] = 1; next }
    if (op == "delete" && (key in hasrun) && !(key in done)) {
        done[key] = 1
        printf "%s,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%d\n", rt, i, rw[key], wall, rw[key] + wall, rcpu[key], cpu, rcpu[key] + cpu, (rrss[key] > rss ? rrss[key] : rss), (rrc[key] == 0 && rc == 0) > containers
    }
}' "$raw"
