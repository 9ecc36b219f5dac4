#!/usr/bin/env bash
# The guest half of hack/bench/vm/run.sh (run there, in the VM lane's guest, over ssh): csrt against
# runc, both with the systemd cgroup driver, on a unified cgroup v2 host with systemd as PID 1.
#
#   1. runk: sequential containers running /bin/true with `--systemd-cgroup run -d`, then
#      `delete -f` (the scenario of hack/bench/runtime, each container a transient scope);
#   2. ctr: `ctr run --rm` of the busybox image running /bin/true through a containerd of its own,
#      the csrt shim (SystemdCgroup = true in its options file) against containerd's runc shim
#      with runc (--runc-systemd-cgroup), the cgroups path "system.slice:ctrbench:<id>".
#
# Each round runs one container per runtime, the order alternating every round (A B, B A, …) so
# neither always follows the other; warm-up rounds are recorded with i < 0.
#
# Usage: guest.sh OUT TIMEIT CSRT IMAGES RUNK_CONTAINERS CTR_RUNS
#   OUT     where runk.txt, ctr.txt, machine.txt and stderr.log go (the host's share)
#   TIMEIT  hack/bench/runtime/timeit.c built on the host (same Debian release as the guest)
#   CSRT    the csrt binary; the csrt shim is beside it
#   IMAGES  out/images (busybox-rootfs, busybox.oci.tar)
set -euo pipefail
(($# == 6)) || { echo "usage: guest.sh OUT TIMEIT CSRT IMAGES RUNK_CONTAINERS CTR_RUNS" >&2; exit 2; }
out=$1 timeit=$2 csrt=$3 images=$4 containers=$5 ctr_runs=$6
die() { echo "guest.sh: $*" >&2; exit 1; }
runc=$(command -v runc) || die "no runc in the guest image"
[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] || die "/sys/fs/cgroup is not the unified cgroup v2 hierarchy"
[[ $(ps -o comm= -p 1) == systemd ]] || die "PID 1 is not systemd"

work=/var/lib/csrt-bench-vm state=/run/csrt-bench-vm
names=() bins=()
ctd_dir=$state/containerd ctd_unit=csrt-bench-vm-containerd.service
ctr="ctr --address $ctd_dir/containerd.sock --namespace bench"
log=$out/stderr.log
: >"$log"
: >"$out/runk.txt"
: >"$out/ctr.txt"

cleanup() {
    local rc=$? i id
    trap - EXIT INT TERM
    for i in "${!names[@]}"; do
        for id in $(ls "$state/${names[$i]}" 2>/dev/null); do
            "${bins[$i]}" --root "$state/${names[$i]}" --systemd-cgroup delete -f "$id" >>"$log" 2>&1 || true
        done
    done
    if systemctl is-active --quiet "$ctd_unit"; then
        for id in $($ctr tasks ls -q 2>/dev/null); do $ctr tasks kill -s KILL "$id" >>"$log" 2>&1 || true; done
        sleep 1
        for id in $($ctr tasks ls -q 2>/dev/null); do $ctr tasks delete -f "$id" >>"$log" 2>&1 || true; done
        for id in $($ctr containers ls -q 2>/dev/null); do $ctr containers delete "$id" >>"$log" 2>&1 || true; done
        systemctl stop "$ctd_unit" || true
    fi
    systemctl reset-failed "$ctd_unit" 2>/dev/null || true
    rm -rf "$work" "$state"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/bin" "$state"
# csrt and its shim run from the guest's own disk, as runc and its shim do (not from the 9p share).
cp "$csrt" "$(dirname "$csrt")/containerd-shim-csrt-v2" "$work/bin/"
csrt=$work/bin/csrt
names=(csrt runc) bins=("$csrt" "$runc")

timed() { # FILE RUNTIME OP I [timeit flags] -- command…
    local file=$1 rt=$2 op=$3 i=$4
    shift 4
    printf 'rt=%s op=%s i=%s ' "$rt" "$op" "$i" >>"$file"
    "$timeit" -o "$file" "$@" </dev/null >>"$log" 2>&1
}

# 1. runk. The bundle: runc's default spec with /bin/true, as hack/bench/runtime uses it; no
#    cgroupsPath, so each runtime puts container ID in system.slice/runc-ID.scope.
bundle=$work/bundle
mkdir -p "$bundle"
cp -a "$images/busybox-rootfs" "$bundle/rootfs"
(cd "$bundle" && runc spec)
sed -i 's/"terminal": true/"terminal": false/; s/^\(\s*\)"sh"$/\1"\/bin\/true"/' "$bundle/config.json"
grep -q '"/bin/true"' "$bundle/config.json" || die "could not set process.args in runc's default spec"
for name in "${names[@]}"; do echo "rt=$name op=declare" >>"$out/runk.txt"; done
echo "guest.sh: runk, $containers containers per runtime (+3 warm-up)" >&2
for ((r = -3; r < containers; r++)); do
    for ((k = 0; k < 2; k++)); do
        idx=$(((k + (r < 0 ? -r : r)) % 2))
        id="bench-${names[$idx]}-$((r + 3))"
        root="$state/${names[$idx]}"
        timed "$out/runk.txt" "${names[$idx]}" run "$r" -- "${bins[$idx]}" --root "$root" --systemd-cgroup run -d --bundle "$bundle" "$id"
        timed "$out/runk.txt" "${names[$idx]}" delete "$r" -- "${bins[$idx]}" --root "$root" --systemd-cgroup delete -f "$id"
    done
    if ((r == -1)) && grep -q ' rc=[1-9]' "$out/runk.txt"; then
        tail -n 5 "$log" >&2
        die "a runtime failed during the runk warm-up (all of stderr in $log)"
    fi
done
leftover=$(systemctl list-units --all --plain --no-legend 'runc-bench-*.scope' | wc -l)
((leftover == 0)) || die "$leftover runc-bench-*.scope units left after the runk scenario"

# 2. ctr run --rm through containerd (Debian's, in the image; its CRI plugin is not needed).
mkdir -p "$ctd_dir"
cat >"$ctd_dir/config.toml" <<EOF
version = 2
root = "$work/containerd"
state = "$ctd_dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$ctd_dir/containerd.sock"
[ttrpc]
  address = "$ctd_dir/containerd.sock.ttrpc"
EOF
echo 'SystemdCgroup = true' >"$ctd_dir/csrt-shim.toml"
systemd-run --quiet --unit="$ctd_unit" -p StandardOutput=append:"$ctd_dir/containerd.log" -p StandardError=append:"$ctd_dir/containerd.log" \
    --setenv=PATH="$(dirname "$csrt"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" containerd --config "$ctd_dir/config.toml"
for _ in $(seq 300); do $ctr version >/dev/null 2>&1 && break; sleep 0.2; done
$ctr version >/dev/null 2>&1 || { tail -n 20 "$ctd_dir/containerd.log" >&2; die "containerd did not start"; }
$ctr images import "$images/busybox.oci.tar" >>"$log" 2>&1
image=localhost/csrt/busybox:latest
ctr_args=(
    "--runtime io.containerd.csrt.v2 --runtime-config-path $ctd_dir/csrt-shim.toml"
    "--runtime io.containerd.runc.v2 --runc-systemd-cgroup"
)
for name in "${names[@]}"; do echo "rt=$name op=declare" >>"$out/ctr.txt"; done
echo "guest.sh: ctr run --rm, $ctr_runs runs per shim (+2 warm-up)" >&2
for ((r = -2; r < ctr_runs; r++)); do
    for ((k = 0; k < 2; k++)); do
        idx=$(((k + (r < 0 ? -r : r)) % 2))
        id="ctr-${names[$idx]}-$((r + 2))"
        # shellcheck disable=SC2086 # ctr_args holds several words on purpose
        timed "$out/ctr.txt" "${names[$idx]}" ctr "$r" -- $ctr run --rm ${ctr_args[$idx]} --cgroup "system.slice:ctrbench:$id" "$image" "$id" /bin/true
    done
    if ((r == -1)) && grep -q ' rc=[1-9]' "$out/ctr.txt"; then
        tail -n 5 "$log" >&2
        die "a shim failed during the ctr warm-up (all of stderr in $log; containerd's log in the guest)"
    fi
done
leftover=$(systemctl list-units --all --plain --no-legend 'ctrbench-*.scope' | wc -l)
((leftover == 0)) || die "$leftover ctrbench-*.scope units left after the ctr scenario"

{
    echo "guest: QEMU TCG (software emulation), $(nproc) vCPUs, $(awk '/MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo) RAM, CPU model $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel: $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME"); systemd $(systemctl --version | awk 'NR == 1 {print $2}')"
    echo "cgroups: unified ($(cat /sys/fs/cgroup/cgroup.controllers)); both runtimes with --systemd-cgroup"
    echo "csrt: $csrt, $("$csrt" --version 2>/dev/null | head -n1)"
    echo "runc: $runc, $("$runc" --version | head -n1)"
    echo "containerd: $(containerd --version)"
    echo "guest load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
