#!/usr/bin/env bash
# The runtime benchmark: the runk scenario (sequential containers running /bin/true with
# `run -d`, then `delete -f`) for csrt, runc and crun interleaved in one run, plus the container
# init's RSS while `created` and the `--version` start-up of the binaries. See README.md here and
# docs/benchmarks.md for what is measured and how to read it.
#
# Usage: hack/bench/runtime/run.sh [-n CONTAINERS] [-s SAMPLES] [-v VERSION_RUNS] [-o DIR]
#                                  [--mounts N] [--floor] [--runtime NAME=PATH]... [--no-build]
#   -n  containers per runtime in the runk scenario (default 100, plus 3 warm-up ones)
#   -s  containers per runtime created (not started) to read the init's RSS (default 20)
#   -v  runs of `<binary> --version` per binary (default 20)
#   -o  where the raw data and summary.md go (default out/bench/runtime/<UTC time>)
#   --mounts N  add N tmpfs mounts to the benchmark's mount namespace first, as the pods of a busy
#       node add theirs (every process that reads /proc/self/mountinfo pays for each line);
#       default 0
#   --floor  add two programs that return at once to the start-up table: nativeaot-empty (built
#       from floor/ with csrt's settings and link) and c-empty (static C), the floor of a process
#       start of each kind
#   --runtime NAME=PATH  the runtimes to compare (default csrt=out/bin/csrt runc=runc crun=crun);
#       repeat it to add more, e.g. a second csrt build: --runtime csrt-old=/tmp/old/csrt
#   --no-build  use out/bin and out/images as they are (default: build them when missing)
#
# Root only. Runs in a private mount namespace in which an empty file hides the cgroup2
# controllers list (crun 1.8.1 refuses hybrid hosts whose cgroup2 mount lists a controller), for
# every runtime alike. Idempotent: containers left by an interrupted run are deleted first, and
# everything this run creates is deleted on exit, failure or Ctrl-C.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$repo/hack/bench/runtime"

die() { echo "bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (containers, mounts, cgroups)"

containers=100 samples=20 version_runs=20 out="" build=1 mounts=0 floor=0
runtimes=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) containers=$2; shift 2 ;;
        -s) samples=$2; shift 2 ;;
        -v) version_runs=$2; shift 2 ;;
        -o) out=$2; shift 2 ;;
        --mounts) mounts=$2; shift 2 ;;
        --floor) floor=1; shift ;;
        --runtime) [[ $2 == *=* ]] || die "--runtime takes NAME=PATH"; runtimes+=("$2"); shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ $containers =~ ^[0-9]+$ && $samples =~ ^[0-9]+$ && $version_runs =~ ^[0-9]+$ && $mounts =~ ^[0-9]+$ ]] || die "-n, -s, -v and --mounts take numbers"
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=("csrt=$repo/out/bin/csrt" "runc=runc" "crun=crun")

# Into a private mount namespace, once; the mounts made below vanish with it.
if [[ -z ${CSRT_BENCH_IN_NAMESPACE:-} ]]; then
    command -v unshare >/dev/null || die "unshare (util-linux) is missing: run hack/install-deps.sh"
    args=(-n "$containers" -s "$samples" -v "$version_runs" --mounts "$mounts")
    [[ -n $out ]] && args+=(-o "$out")
    [[ $build -eq 0 ]] && args+=(--no-build)
    [[ $floor -eq 1 ]] && args+=(--floor)
    for r in "${runtimes[@]}"; do args+=(--runtime "$r"); done
    CSRT_BENCH_IN_NAMESPACE=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "${args[@]}"
fi

# What the benchmark needs, built when missing (a fresh machine after hack/install-deps.sh).
for tool in runc crun gcc /usr/bin/time awk sort; do
    command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"
done
rootfs="$repo/out/images/busybox-rootfs"
if [[ $build -eq 1 ]]; then
    [[ -x $rootfs/bin/true ]] || "$repo/hack/images/build.sh" >/dev/null
    [[ -x $repo/out/bin/csrt ]] || "$repo/hack/publish.sh" >/dev/null
fi
[[ -x $rootfs/bin/true ]] || die "no busybox rootfs in $rootfs (hack/images/build.sh)"
names=() bins=()
for r in "${runtimes[@]}"; do
    name=${r%%=*} bin=${r#*=}
    [[ $name =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "runtime name '$name': lower-case letters, digits, . _ -"
    bin=$(command -v "$bin") || die "runtime $name: ${r#*=} is not an executable"
    names+=("$name") bins+=("$bin")
done

# One benchmark at a time; leftovers of an interrupted one are swept (common.sh).
cmds=("${bins[@]}")
source "$here/common.sh"
bench_start "$repo/out/bench/runtime/$(date -u +%Y%m%dT%H%M%SZ)" ""

# The extra mounts, under one tmpfs unmounted with them before the work directory is removed.
if [[ $mounts -gt 0 ]]; then
    mkdir "$work/mounts"
    mount -t tmpfs -o size=1m none "$work/mounts"
    for ((m = 0; m < mounts; m++)); do
        mkdir "$work/mounts/$m"
        mount -t tmpfs -o size=4k none "$work/mounts/$m"
    done
    bench_before_cleanup() { umount -R "$work/mounts"; }
fi

timeit="$work/timeit"
gcc -O2 -Wall -Wextra -Werror -o "$timeit" "$here/timeit.c"

# The bundle: runc's default spec with /bin/true instead of an interactive sh.
bench_bundle '"/bin/true"'

# One timed runtime command: appends "rt=… op=… i=… <timeit figures>" to the raw data.
timed() {
    local idx=$1 op=$2 i=$3 flags=$4
    shift 4
    printf 'rt=%s op=%s i=%s ' "${names[$idx]}" "$op" "$i" >>"$raw"
    "$timeit" -o "$raw" $flags -- "${bins[$idx]}" --root "$state/${names[$idx]}" "$@" </dev/null >>"$log" 2>&1
}

n=${#names[@]}
for name in "${names[@]}"; do echo "rt=$name op=declare" >>"$raw"; done # the column order
echo "bench: ${names[*]}; $containers containers each (+3 warm-up), interleaved; data in $out" >&2

# 1. The runk scenario. Round r runs one container per runtime, the order rotated every round
#    (A B C, B C A, C A B …) so that no runtime always follows the same one.
for ((r = -3; r < containers; r++)); do
    for ((k = 0; k < n; k++)); do
        idx=$(((k + (r < 0 ? -r : r)) % n))
        id="bench-${names[$idx]}-$((r + 3))"
        timed "$idx" run "$r" "" run -d --bundle "$bundle" "$id"
        timed "$idx" delete "$r" "" delete -f "$id"
    done
    if ((r == -1)) && grep -q ' rc=[1-9]' "$raw"; then
        tail -n 5 "$log" >&2
        die "a runtime failed during the warm-up: $(grep ' rc=[1-9]' "$raw" | cut -d' ' -f1-2 | sort -u | tr '\n' ' ')(stderr above, all of it in $log)"
    fi
    ((r < 0 || (r + 1) % 25 != 0)) || echo "bench: $((r + 1))/$containers" >&2
done

# 2. The init's RSS while `created`: VmRSS of the pid from --pid-file, after `create` returns and
#    before anything else touches the container.
for ((r = 0; r < samples; r++)); do
    for ((k = 0; k < n; k++)); do
        idx=$(((k + r) % n))
        id="rss-${names[$idx]}-$r"
        timed "$idx" create "$r" -d create --bundle "$bundle" --pid-file "$work/pid" "$id"
        [[ -s $work/pid ]] || { tail -n 5 "$log" >&2; die "${names[$idx]} create wrote no --pid-file"; }
        pid=$(<"$work/pid")
        printf 'rt=%s op=created i=%s %s\n' "${names[$idx]}" "$r" \
            "$(awk '/^(VmRSS|RssAnon|RssFile|RssShmem|Threads):/ {printf "%s=%s ", $1, $2}' "/proc/$pid/status" | tr -d ':')" >>"$raw"
        timed "$idx" delete "$r" "" delete -f "$id"
        rm -f "$work/pid"
    done
done

# 3. Start-up: `<binary> --version` (the shim: -v), wall and max RSS. timeit reads them as
#    /usr/bin/time does (wait4) but with µs wall resolution; one `/usr/bin/time -v` run of each
#    is kept in time-v.txt.
versions=()
for idx in "${!names[@]}"; do versions+=("${names[$idx]}|${bins[$idx]}|--version"); done
shim="$(dirname "${bins[0]}")/containerd-shim-csrt-v2"
[[ -x $shim ]] && versions+=("containerd-shim-csrt-v2|$shim|-v")
if [[ $floor -eq 1 ]]; then
    dotnet publish "$here/floor" -c Release -o "$work/floor" -nologo -v:quiet >>"$log" 2>&1 \
        || die "could not build $here/floor (see $log)"
    printf 'int main(void) { return 0; }\n' >"$work/empty.c"
    gcc -O2 -static -o "$work/floor/c-empty" "$work/empty.c"
    versions+=("nativeaot-empty|$work/floor/nativeaot-empty|--version" "c-empty|$work/floor/c-empty|--version")
fi
: >"$out/time-v.txt"
for v in "${versions[@]}"; do
    IFS='|' read -r name bin flag <<<"$v"
    echo "== $name: /usr/bin/time -v $bin $flag" >>"$out/time-v.txt"
    /usr/bin/time -v "$bin" "$flag" >/dev/null 2>>"$out/time-v.txt"
done
for ((r = 0; r < version_runs; r++)); do
    for v in "${versions[@]}"; do
        IFS='|' read -r name bin flag <<<"$v"
        printf 'rt=%s op=version i=%s ' "$name" "$r" >>"$raw"
        "$timeit" -o "$raw" -- "$bin" "$flag" >/dev/null 2>>"$log"
    done
done

# The machine and the versions, then the summary.
{
    echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM"
    echo "kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "mount table: $(wc -l </proc/self/mountinfo) lines ($mounts added by --mounts)"
    echo "cgroups: $(stat -fc %T /sys/fs/cgroup) on /sys/fs/cgroup$([[ -d /sys/fs/cgroup/unified ]] && echo ", hybrid (cgroup2 on /sys/fs/cgroup/unified)")"
    for idx in "${!names[@]}"; do
        echo "${names[$idx]}: ${bins[$idx]}, $(stat -c %s "${bins[$idx]}") bytes, $("${bins[$idx]}" --version 2>/dev/null | head -n1)"
    done
    [[ -x $shim ]] && echo "containerd-shim-csrt-v2: $shim, $(stat -c %s "$shim") bytes"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
bash "$here/summarize.sh" "$raw" "$out/machine.txt" | tee "$out/summary.md"
# The same data as CSV (containers.csv, created.csv: columns in csv.sh), for hack/bench/charts.
bash "$here/csv.sh" "$raw" "$out"
