# The ResourceList function of the csrt test image: reads a kpt ResourceList (YAML, block style)
# on stdin and writes it back with the annotation fn.csrt.io/processed: "true" added to every item
# of `items:`; anything else (no `kind: ResourceList`, no `items:`, tabs in indentation, an item
# that is not a mapping) is malformed: a message on stderr and exit status 1.
function sp(k,   r) { r = ""; while (k-- > 0) r = r " "; return r }
# Output is held until the end, so malformed input writes nothing on stdout.
function out(s) { buf = buf s "\n" }
function indent(s) { match(s, /^ */); return RLENGTH }
function fail(msg) { print "annotate: malformed ResourceList: " msg > "/dev/stderr"; failed = 1; exit 1 }
# The line with a list item's "- " turned into spaces, so its first key shows its indentation.
function keyview(s,   d) { d = indent(s); if (substr(s, d + 1, 2) == "- ") return substr(s, 1, d) "  " substr(s, d + 3); return s }
function emit_item(   i, k, m, a, line, v, found_meta, meta_end, child, ann) {
    if (n == 0) return
    k = indent(keyview(item[1]))
    found_meta = 0
    for (i = 1; i <= n; i++) {
        v = keyview(item[i])
        if (indent(v) == k && v ~ /^ *metadata: *$/) { found_meta = i; break }
    }
    if (!found_meta) {
        for (i = 1; i <= n; i++) out(item[i])
        out(sp(k) "metadata:"); out(sp(k + 2) "annotations:")
        out(sp(k + 4) ANNOTATION)
        n = 0; return
    }
    # metadata's block: the lines after it indented deeper than k.
    child = -1; ann = 0
    for (i = found_meta + 1; i <= n && (item[i] ~ /^ *$/ || indent(item[i]) > k); i++) {
        if (item[i] ~ /^ *$/ || item[i] ~ /^ *#/) continue
        if (child < 0) child = indent(item[i])
        if (indent(item[i]) == child && item[i] ~ /^ *annotations: *$/) ann = i
    }
    meta_end = i - 1
    if (child < 0) child = k + 2
    for (i = 1; i <= n; i++) {
        out(item[i])
        if (ann && i == ann) out(sp(child + 2) ANNOTATION)
        if (!ann && i == found_meta) { out(sp(child) "annotations:"); out(sp(child + 2) ANNOTATION) }
    }
    n = 0
}
BEGIN { ANNOTATION = "fn.csrt.io/processed: \"true\""; in_items = 0; dash = -1; n = 0; kind = 0; items = 0 }
{
    if ($0 ~ /^\t/ || $0 ~ /^ *\t/) fail("line " NR ": a tab in the indentation")
    if ($0 ~ /^kind: *ResourceList *$/) kind = 1
    if (in_items) {
        if ($0 ~ /^[^ #-]/ || $0 == "---") { emit_item(); in_items = 0 }
        else if ($0 ~ /^ *$/ || $0 ~ /^ *#/) { if (n > 0) item[++n] = $0; else out($0); next }
        else {
            d = indent($0)
            if (dash < 0) {
                if (substr($0, d + 1, 2) != "- " && $0 !~ /^ *-$/) fail("line " NR ": items: holds something that is not a list")
                dash = d
            }
            if (d == dash && substr($0, d + 1, 1) == "-") {
                emit_item()
                if ($0 !~ /^ *- +[^ :]+:/) fail("line " NR ": an item of items: is not a mapping")
            } else if (d <= dash) fail("line " NR ": bad indentation in items:")
            item[++n] = $0
            next
        }
    }
    if ($0 ~ /^items: *$/) { items = 1; in_items = 1; out($0); next }
    if ($0 ~ /^items: *\[\] *$/) items = 1
    out($0)
}
END {
    if (failed) exit 1
    emit_item()
    if (!kind) fail("no top-level \"kind: ResourceList\"")
    if (!items) fail("no top-level \"items:\"")
    printf "%s", buf
}
