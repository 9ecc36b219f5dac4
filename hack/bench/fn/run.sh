#!/usr/bin/env bash
# The function-call benchmark: one short program (/bin/true) per call in a fresh container that is
# gone when the call returns, timed from fork to exit:
#   csrt-rootfs  csrt fn run --rootfs DIR -- /bin/true
#   csrt-image   csrt fn run --image oci-archive:busybox.oci.tar -- /bin/true (cache warm)
#   crun, runc   <runtime> run of the equivalent bundle: the config.json `csrt fn spec` prints for
#                the same call (same namespaces, read-only rootfs, tmpfs /tmp, no capabilities,
#                containerd's seccomp profile), in the foreground; `run` deletes the container
#   podman       podman run --rm --network none --read-only --runtime crun of the same image
# All interleaved, the order rotated every round. See docs/benchmarks.md.
#
# Usage: hack/bench/fn/run.sh [-n CALLS] [-o DIR] [--no-podman]
#   -n  calls per case (default 50, plus 3 warm-up ones)
#   -o  where raw.txt and summary.md go (default out/bench/fn/<UTC time>)
#   --no-podman  leave podman out (its calls take most of the run's time)
#
# Root only. Runs in a private mount namespace in which an empty file hides the cgroup2
# controllers list (crun 1.8.1 refuses hybrid hosts otherwise), for every case alike.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"

die() { echo "bench-fn: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"

calls=50 out="" podman=1
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) calls=$2; shift 2 ;;
        -o) out=$2; shift 2 ;;
        --no-podman) podman=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ $calls =~ ^[0-9]+$ ]] || die "-n takes a number"

if [[ -z ${CSRT_BENCH_IN_NAMESPACE:-} ]]; then
    args=(-n "$calls")
    [[ -n $out ]] && args+=(-o "$out")
    [[ $podman -eq 0 ]] && args+=(--no-podman)
    CSRT_BENCH_IN_NAMESPACE=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "${args[@]}"
fi

csrt="$repo/out/bin/csrt"
rootfs="$repo/out/images/busybox-rootfs"
archive="$repo/out/images/busybox.oci.tar"
[[ -x $rootfs/bin/true && -s $archive ]] || "$repo/hack/images/build.sh" >/dev/null
[[ -x $csrt ]] || "$repo/hack/publish.sh" >/dev/null
for tool in runc crun gcc; do command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"; done
[[ $podman -eq 0 ]] || command -v podman >/dev/null || die "podman is missing (or use --no-podman)"

[[ -n $out ]] || out="$repo/out/bench/fn/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/csrt-bench-fn.XXXXXX)
raw="$out/raw.txt" log="$out/stderr.log"
: >"$raw"
: >"$log"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

controllers=/sys/fs/cgroup/unified/cgroup.controllers
if [[ -f $controllers && -n $(<"$controllers") ]]; then
    : >"$work/empty"
    mount --bind "$work/empty" "$controllers"
fi
gcc -O2 -Wall -Wextra -Werror -o "$work/timeit" "$repo/hack/bench/runtime/timeit.c"

# The equivalent bundle, from csrt itself; ociVersion lowered to one crun 1.8.1 and runc 1.1.5 know.
bundle="$work/bundle"
mkdir -p "$bundle"
(cd "$bundle" && "$csrt" fn spec --rootfs "$rootfs" -- /bin/true >config.json)
sed -i 's/"ociVersion": "[^"]*"/"ociVersion": "1.0.2"/' "$bundle/config.json"

cache="$work/cache"
podman_args=(--cgroup-manager cgroupfs run --rm --network none --read-only --runtime crun
             --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/csrt/busybox:latest /bin/true)
cases=(csrt-rootfs csrt-image crun runc)
if [[ $podman -eq 1 ]]; then
    podman image exists localhost/csrt/busybox:latest || podman load -i "$archive" >>"$log" 2>&1
    cases+=(podman)
fi

call() {
    local name=$1 i=$2
    printf 'rt=%s op=call i=%s ' "$name" "$i" >>"$raw"
    case $name in
        csrt-rootfs) "$work/timeit" -o "$raw" -- "$csrt" --root "$work/state-csrt" fn run --image-cache "$cache" --rootfs "$rootfs" -- /bin/true ;;
        csrt-image) "$work/timeit" -o "$raw" -- "$csrt" --root "$work/state-csrt" fn run --image-cache "$cache" --image "oci-archive:$archive" -- /bin/true ;;
        crun) "$work/timeit" -o "$raw" -- crun --root "$work/state-crun" run --bundle "$bundle" "fn-$i" ;;
        runc) "$work/timeit" -o "$raw" -- runc --root "$work/state-runc" run --bundle "$bundle" "fn-$i" ;;
        podman) "$work/timeit" -o "$raw" -- podman "${podman_args[@]}" ;;
    esac </dev/null >>"$log" 2>&1
}

n=${#cases[@]}
for name in "${cases[@]}"; do echo "rt=$name op=declare" >>"$raw"; done
echo "bench-fn: ${cases[*]}; $calls calls each (+3 warm-up), interleaved; data in $out" >&2
for ((r = -3; r < calls; r++)); do
    for ((k = 0; k < n; k++)); do
        call "${cases[$(((k + (r < 0 ? -r : r)) % n))]}" "$r"
    done
    if ((r == -1)) && grep -q ' rc=[1-9]' "$raw"; then
        tail -n 5 "$log" >&2
        die "a case failed during the warm-up: $(grep ' rc=[1-9]' "$raw" | cut -d' ' -f1 | sort -u | tr '\n' ' ')"
    fi
done

{
    echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "versions: $("$csrt" --version | head -n1); $(crun --version | head -n1); $(runc --version | head -n1)$([[ $podman -eq 1 ]] && echo "; $(podman --version)")"
    echo
    "$repo/hack/bench/fn/summarize.sh" "$raw"
} | tee "$out/summary.md"
