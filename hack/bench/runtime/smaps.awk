# Sums one /proc/<pid>/smaps by kind of mapping, in KiB, on one line of key=value:
#   code, rodata, data: the runtime's own binary, by permissions (r-x, r--, rw-): every file
#   mapped that is not a shared library (crun runs from a memfd copy of its binary);
#   data_written: of `data`, the pages the process wrote (copied on write: Anonymous);
#   libs: shared libraries (*.so*); anon: memory of no file (heap, GC heap, stacks);
#   total: all of them (the process's RSS at that moment).
/^[0-9a-f]+-[0-9a-f]+ / {
    perms = $2; path = (NF >= 6) ? $6 : ""
    if (path ~ /\.so(\.[0-9.]+)?$/) kind = "libs"
    else if (path ~ /^\// && $5 != 0) kind = (perms ~ /x/) ? "code" : (perms ~ /w/) ? "data" : "rodata"
    else kind = "anon"
    next
}
/^Rss:/ { sum[kind] += $2; total += $2; next }
/^Anonymous:/ { if (kind == "data") written += $2; next }
END {
    printf "code=%d rodata=%d data=%d data_written=%d libs=%d anon=%d total=%d\n", sum["code"], sum["rodata"], sum["data"], written, sum["libs"], sum["anon"], total
}
