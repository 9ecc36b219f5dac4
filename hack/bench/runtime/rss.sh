#!/usr/bin/env bash
# The runtime's own memory: max RSS of `create`, `start`, `state` and `delete -f`, for csrt and
# crun (and any runtime given) interleaved in one run, then where it goes: each command's
# /proc/<pid>/smaps read at its exit (atexit.c: ptrace stop at PTRACE_EVENT_EXIT, before the
# kernel releases the address space), summed by kind of mapping. See README.md here and
# docs/benchmarks.md ("csrt's own memory").
#
# Usage: hack/bench/runtime/rss.sh [-n ROUNDS] [-o DIR] [--runtime NAME=COMMAND]... [--touched NAME]
#                                  [--no-build]
#   -n  rounds: one container per runtime per round, the order rotated (default 10, plus 1 warm-up)
#   -o  where the raw data and summary.md go (default out/bench/rss/<UTC time>)
#   --runtime NAME=COMMAND  the runtimes to compare (default csrt=out/bin/csrt crun=crun); COMMAND
#       may carry a prefix that execs it, e.g. --runtime 'csrt-gen0=env DOTNET_GCgen0size=20000 out/bin/csrt'
#       (env execs the runtime in the same process, whose max RSS is then the runtime's)
#   --touched NAME  also run runtime NAME (as NAME-touched) from a copy of its binary on a
#       loop-mounted ext4 whose readahead is 0, dropped from the page cache before every command:
#       only the pages a command touches are then cached, so the kernel's fault-around (which maps
#       the cached pages up to 64 KiB around each fault) adds none, and its max RSS is what the
#       command touches rather than what the kernel maps around it
#   --no-build  use out/bin and out/images as they are (default: build them when missing)
#
# Root only. Runs in a private mount namespace in which an empty file hides the cgroup2
# controllers list (crun 1.8.1 refuses hybrid hosts otherwise), for every runtime alike.
# Containers left by an interrupted run are deleted first, and this run's on exit.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$repo/hack/bench/runtime"

die() { echo "rss: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (containers, mounts, cgroups)"

rounds=10 out="" build=1 touched=""
runtimes=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) rounds=$2; shift 2 ;;
        -o) out=$2; shift 2 ;;
        --runtime) [[ $2 == *=* ]] || die "--runtime takes NAME=COMMAND"; runtimes+=("$2"); shift 2 ;;
        --touched) touched=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ $rounds =~ ^[0-9]+$ && $rounds -gt 0 ]] || die "-n takes a number above 0"
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=("csrt=$repo/out/bin/csrt" "crun=crun")

if [[ -z ${CSRT_BENCH_IN_NAMESPACE:-} ]]; then
    command -v unshare >/dev/null || die "unshare (util-linux) is missing: run hack/install-deps.sh"
    args=(-n "$rounds")
    [[ -n $out ]] && args+=(-o "$out")
    [[ $build -eq 0 ]] && args+=(--no-build)
    [[ -n $touched ]] && args+=(--touched "$touched")
    for r in "${runtimes[@]}"; do args+=(--runtime "$r"); done
    CSRT_BENCH_IN_NAMESPACE=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "${args[@]}"
fi

for tool in crun gcc awk; do
    command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"
done
rootfs="$repo/out/images/busybox-rootfs"
if [[ $build -eq 1 ]]; then
    [[ -x $rootfs/bin/sleep ]] || "$repo/hack/images/build.sh" >/dev/null
    [[ -x $repo/out/bin/csrt ]] || "$repo/hack/publish.sh" >/dev/null
fi
[[ -x $rootfs/bin/sleep ]] || die "no busybox rootfs in $rootfs (hack/images/build.sh)"
names=() cmds=() bins=()
for r in "${runtimes[@]}"; do
    name=${r%%=*} cmd=${r#*=}
    [[ $name =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "runtime name '$name': lower-case letters, digits, . _ -"
    read -ra words <<<"$cmd"
    bin=$(command -v "${words[-1]}") || die "runtime $name: ${words[-1]} is not an executable"
    words[-1]=$bin
    names+=("$name") cmds+=("${words[*]}") bins+=("$(readlink -f "$bin")")
done

if [[ -n $touched ]]; then
    found=""
    for idx in "${!names[@]}"; do [[ ${names[$idx]} == "$touched" ]] && found=$idx; done
    [[ -n $found ]] || die "--touched $touched: no such runtime"
    command -v mkfs.ext4 >/dev/null && command -v blockdev >/dev/null || die "--touched needs mkfs.ext4 and blockdev"
fi

source "$here/common.sh"
# --touched mounts its copy under $work: unmounted before the work directory goes.
bench_before_cleanup() { umount "$work/touched" 2>/dev/null || true; }
bench_start "$repo/out/bench/rss/$(date -u +%Y%m%dT%H%M%SZ)" rss-
mkdir -p "$out/smaps"

gcc -O2 -Wall -Wextra -Werror -o "$work/timeit" "$here/timeit.c"
# --touched: the copy on its own small file system (readahead 0 on its loop device only); the
# private mount namespace unmounts it on exit, and the loop device goes with its last reference.
drop=()
if [[ -n $touched ]]; then
    truncate -s 64M "$work/touched.img"
    mkfs.ext4 -q "$work/touched.img"
    mkdir "$work/touched"
    mount -o loop "$work/touched.img" "$work/touched"
    blockdev --setra 0 "$(findmnt -no SOURCE "$work/touched")"
    cp "${bins[$found]}" "$work/touched/${bins[$found]##*/}"
    sync "$work/touched/${bins[$found]##*/}" # written back, or the page cache could not drop it
    read -ra words <<<"${cmds[$found]}"
    words[-1]="$work/touched/${bins[$found]##*/}"
    names+=("$touched-touched") cmds+=("${words[*]}") bins+=("${words[-1]}")
    drop=("${words[-1]}")
fi
gcc -O2 -Wall -Wextra -Werror -o "$work/atexit" "$here/atexit.c"

# runc's default spec, with a process that stays up: `start`, `state` and `delete -f` act on a
# running container, as they usually do.
bench_bundle '"/bin/sleep", "600"'

ops=(create start state delete)
op_args() { # op id -> the runtime's arguments
    case $1 in
        create) echo "create --bundle $bundle $2" ;;
        start) echo "start $2" ;;
        state) echo "state $2" ;;
        delete) echo "delete -f $2" ;;
    esac
}

n=${#names[@]}
for name in "${names[@]}"; do echo "rt=$name op=declare" >>"$raw"; done
echo "rss: ${names[*]}; $rounds rounds (+1 warm-up), interleaved; data in $out" >&2
# -d: the container's init is not waited for (it runs on after create and start).
for ((r = -1; r < rounds; r++)); do
    for ((k = 0; k < n; k++)); do
        idx=$(((k + r + 1) % n))
        id="rss-${names[$idx]}-$((r + 1))"
        for op in "${ops[@]}"; do
            # dd's nocache with count=0 drops the whole file from the page cache (pages still
            # mapped, e.g. by a created container's init, stay)
            [[ ${names[$idx]} == *-touched ]] && dd if="${drop[0]}" iflag=nocache count=0 status=none
            printf 'rt=%s op=%s i=%s ' "${names[$idx]}" "$op" "$r" >>"$raw"
            # shellcheck disable=SC2046 # the arguments are words by design
            "$work/timeit" -o "$raw" -d -- ${cmds[$idx]} --root "$state/rss-${names[$idx]}" $(op_args "$op" "$id") \
                </dev/null >>"$log" 2>&1
        done
    done
    if ((r == -1)) && grep -q ' rc=[1-9]' "$raw"; then
        tail -n 5 "$log" >&2
        die "a runtime failed during the warm-up (stderr above, all of it in $log)"
    fi
done

# Where the memory goes: one more container per runtime, each command stopped at its exit and its
# smaps kept, then summed by kind of mapping (smaps.awk).
for idx in "${!names[@]}"; do
    id="rss-${names[$idx]}-smaps"
    for op in "${ops[@]}"; do
        [[ ${names[$idx]} == *-touched ]] && dd if="${drop[0]}" iflag=nocache count=0 status=none
        # shellcheck disable=SC2046
        "$work/atexit" -s "$out/smaps/${names[$idx]}.$op" -- ${cmds[$idx]} --root "$state/rss-${names[$idx]}" $(op_args "$op" "$id") \
            </dev/null >>"$log" 2>&1 || die "${names[$idx]} $op failed under atexit (see $log)"
        printf 'rt=%s op=smaps-%s %s\n' "${names[$idx]}" "$op" "$(awk -f "$here/smaps.awk" "$out/smaps/${names[$idx]}.$op")" >>"$raw"
    done
done

{
    echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) CPUs; kernel $(uname -r)"
    for idx in "${!names[@]}"; do
        echo "${names[$idx]}: ${cmds[$idx]}, $(stat -c %s "${bins[$idx]}") bytes"
    done
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
awk -f "$here/rss-summary.awk" "$raw" | tee "$out/summary.md"
sed 's/^/    /' "$out/machine.txt" | tee -a "$out/summary.md"
