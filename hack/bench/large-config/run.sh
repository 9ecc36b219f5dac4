#!/usr/bin/env bash
# Peak memory of `create` for a large config.json: csrt, runc and crun side by side on one
# generated bundle whose config.json carries about SIZE MB of annotations (valid for every
# runtime, so each creates the container), then `delete -f`. Max RSS as /usr/bin/time -v reports
# it, one line per runtime and run, and the ratios to crun and runc.
#
# Usage: hack/bench/large-config/run.sh [-m SIZE_MB] [-r RUNS]   (defaults: 50 MB, 3 runs)
# Root only; runs in a private mount namespace (crun 1.8.1 needs the hybrid host's cgroup2
# controllers list hidden, as in hack/bench/runtime).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
die() { echo "bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"
size=50 runs=3
while [[ $# -gt 0 ]]; do
    case $1 in
        -m) size=$2; shift 2 ;;
        -r) runs=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
if [[ -z ${CSRT_BENCH_IN_NAMESPACE:-} ]]; then
    CSRT_BENCH_IN_NAMESPACE=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" -m "$size" -r "$runs"
fi
[[ -x $repo/out/bin/csrt && -d $repo/out/images/busybox-rootfs ]] || die "run hack/publish.sh and hack/images/build.sh first"
work=$(mktemp -d /tmp/csrt-bench-large.XXXXXX)
trap 'for r in csrt runc crun; do $r --root "$work/root-$r" delete -f big >/dev/null 2>&1 || true; done; umount "$work/bundle/rootfs" 2>/dev/null || true; rm -rf "$work"' EXIT
controllers=/sys/fs/cgroup/unified/cgroup.controllers
if [[ -f $controllers && -n $(<"$controllers") ]]; then
    : >"$work/empty"
    mount --bind "$work/empty" "$controllers"
fi
mkdir -p "$work/bundle/rootfs"
mount --bind -o ro "$repo/out/images/busybox-rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && "$repo/out/bin/csrt" spec)
python3 - "$work/bundle/config.json" "$size" <<'PY'
import json, sys
path, mb = sys.argv[1], int(sys.argv[2])
spec = json.load(open(path))
spec["ociVersion"] = "1.0.2"  # the newest every compared runtime accepts
spec["process"]["args"] = ["sleep", "60"]
spec["process"]["terminal"] = False
value = "x" * 1000
spec["annotations"] = {f"bench.csrt/a{i}": value for i in range(mb * 1000)}
json.dump(spec, open(path, "w"))
PY
printf 'config.json: %s bytes\n' "$(stat -c %s "$work/bundle/config.json")"
declare -A best
for ((i = 1; i <= runs; i++)); do
    for r in csrt runc crun; do
        bin=$r; [[ $r == csrt ]] && bin=$repo/out/bin/csrt
        status=0
        /usr/bin/time -o "$work/time" -f '%M' "$bin" --root "$work/root-$r" create --bundle "$work/bundle" big >/dev/null 2>"$work/err" || status=$?
        kb=$(tail -n1 "$work/time")
        [[ $status -eq 0 ]] || { echo "$r run $i: create failed ($status): $(head -c 300 "$work/err")"; }
        "$bin" --root "$work/root-$r" delete -f big >/dev/null 2>&1 || true
        echo "$r run $i: max RSS $((kb / 1024)) MiB"
        if [[ -z ${best[$r]:-} || $kb -lt ${best[$r]} ]]; then best[$r]=$kb; fi
    done
done
awk -v c="${best[csrt]}" -v u="${best[runc]}" -v n="${best[crun]}" 'BEGIN {
    printf "best of runs: csrt %.0f MiB, runc %.0f MiB, crun %.0f MiB; csrt/runc %.2f, csrt/crun %.2f\n",
        c/1024, u/1024, n/1024, c/u, c/n }'
