# The summary of rss.sh's raw data: per command, the median (min–max) max RSS of each runtime and
# the ratios against crun; then the smaps attribution at exit.
function field(name,   k) { for (k = 1; k <= NF; k++) if (index($k, name "=") == 1) return substr($k, length(name) + 2); return "" }
function sortv(key, c,   i, j, t) { for (i = 2; i <= c; i++) { t = v[key, i]; for (j = i - 1; j >= 1 && v[key, j] > t; j--) v[key, j + 1] = v[key, j]; v[key, j + 1] = t } }
function med(key,   c) { c = cnt[key] + 0; if (!c) return ""; if (!(key in sorted)) { sortv(key, c); sorted[key] = 1 }; return v[key, int((c + 1) / 2)] }
{
    rt = field("rt"); op = field("op")
    if (!(rt in seen)) { seen[rt] = 1; order[++nrt] = rt }
    if (op == "declare") next
    if (op ~ /^smaps-/) { smaps[rt, substr(op, 7)] = $0; next }
    if (field("i") + 0 < 0) next
    if (field("rc") + 0 != 0) { failed[rt]++; next }
    key = rt SUBSEP op; cnt[key]++; v[key, cnt[key]] = field("maxrss_kb") / 1024
}
END {
    split("create start state delete", ops, " ")
    head = "| max RSS (MiB) |"; line = "|---|"
    for (k = 1; k <= nrt; k++) { head = head " " order[k] " |"; line = line "---|" }
    for (k = 1; k <= nrt; k++) if (order[k] != "crun" && ("crun" in seen)) { head = head " " order[k] " ÷ crun |"; line = line "---|" }
    print head; print line
    for (o = 1; o <= 4; o++) {
        row = "| `" ops[o] "` |"
        for (k = 1; k <= nrt; k++) {
            key = order[k] SUBSEP ops[o]
            if (!cnt[key]) { row = row " – |"; continue }
            m = med(key); row = row sprintf(" %.2f (%.2f–%.2f) |", m, v[key, 1], v[key, cnt[key]])
        }
        for (k = 1; k <= nrt; k++) if (order[k] != "crun" && ("crun" in seen)) {
            a = med(order[k] SUBSEP ops[o]); b = med("crun" SUBSEP ops[o])
            row = row ((a == "" || b == "" || b == 0) ? " – |" : sprintf(" %.2f× |", a / b))
        }
        print row
    }
    printf "\n%d rounds per runtime; median (min–max) of the max RSS wait4 reports.\n", cnt[order[1] SUBSEP "state"]
    for (k = 1; k <= nrt; k++) if (failed[order[k]] > 0) printf "**%s: %d commands failed** (see stderr.log)\n", order[k], failed[order[k]]
    print "\n| at exit (KiB) | code | read-only data | data (written) | shared libraries | anonymous | RSS |"
    print "|---|---|---|---|---|---|---|"
    for (k = 1; k <= nrt; k++) for (o = 1; o <= 4; o++) {
        if (!((order[k], ops[o]) in smaps)) continue
        $0 = smaps[order[k], ops[o]]
        printf "| %s `%s` | %d | %d | %d (%d) | %d | %d | %d |\n", order[k], ops[o], field("code"), field("rodata"), field("data"), field("data_written"), field("libs"), field("anon"), field("total")
    }
    print "\nThe runtime's own binary by permissions (code r-x, read-only data r--, data rw-: its written"
    print "pages in parentheses; crun runs from a memfd copy of its binary); shared libraries are the *.so"
    print "files mapped; anonymous is heap, GC heap, stacks."
}
