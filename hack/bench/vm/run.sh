#!/usr/bin/env bash
# The guest benchmark: csrt against runc with the systemd cgroup driver on a Kubernetes-node-like
# host (unified cgroup v2, systemd as PID 1): the VM lane's guest (hack/vm), booted for the run.
# Two scenarios, each interleaved csrt/runc in one run (see guest.sh): runk (`run -d` + `delete -f`
# of /bin/true containers, as hack/bench/runtime) and `ctr run --rm` through the csrt shim against
# containerd's runc shim with runc. The guest runs under TCG (software emulation): absolute times
# are many times the host's; only the ratios mean anything. See README.md here.
#
# Usage: hack/bench/vm/run.sh [-n RUNK_CONTAINERS] [-c CTR_RUNS] [-o DIR] [--no-build]
#   -n  containers per runtime in the runk scenario (default 30, plus 3 warm-up ones)
#   -c  `ctr run --rm` per shim (default 20, plus 2 warm-up ones)
#   -o  where the results go (default out/bench/vm/<UTC time>): summary.md, samples.csv, the raw
#       data (runk.txt, ctr.txt), machine.txt and stderr.log
#   --no-build  use out/bin and out/images as they are (default: build them when missing)
#
# Root only. One command does it all: builds (or finds) the guest image, boots the guest, runs
# guest.sh in it, copies the results back, powers the guest off (also on failure or Ctrl-C).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$repo/hack/bench/vm"
die() { echo "vm-bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (QEMU, the guest's image)"

containers=30 ctr_runs=20 out="" build=1
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) containers=$2; shift 2 ;;
        -c) ctr_runs=$2; shift 2 ;;
        -o) out=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ $containers =~ ^[1-9][0-9]*$ && $ctr_runs =~ ^[1-9][0-9]*$ ]] || die "-n and -c take positive numbers"
command -v gcc >/dev/null || die "gcc is missing: run hack/install-deps.sh"
if [[ $build -eq 1 ]]; then
    [[ -f $repo/out/images/busybox.oci.tar ]] || "$repo/hack/images/build.sh" >/dev/null
    [[ -x $repo/out/bin/csrt ]] || "$repo/hack/publish.sh" >/dev/null
fi
[[ -x $repo/out/bin/csrt && -x $repo/out/bin/containerd-shim-csrt-v2 ]] || die "no out/bin/csrt and its shim (hack/publish.sh)"
[[ -f $repo/out/images/busybox.oci.tar ]] || die "no out/images/busybox.oci.tar (hack/images/build.sh)"

[[ -n $out ]] || out="$repo/out/bench/vm/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
state=/run/csrt-vm/bench-$$
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    "$repo/hack/vm/boot.sh" down "$state" || true
    rm -rf "$state"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$state"
echo "vm-bench: booting the guest (TCG; minutes on a loaded host)" >&2
# The watchdog of boot.sh powers the guest off should this script be killed.
CSRT_VM_OWNER_PID=$$ "$repo/hack/vm/boot.sh" up "$state"
share=$state/share
# The guest has no compiler; it has the host's Debian release, so a binary built here runs there.
gcc -O2 -Wall -Wextra -Werror -o "$share/timeit" "$repo/hack/bench/runtime/timeit.c"
ssh -F "$state/ssh_config" guest \
    "bash $repo/hack/bench/vm/guest.sh $share $share/timeit $repo/out/bin/csrt $repo/out/images $containers $ctr_runs"
cp "$share"/{runk.txt,ctr.txt,machine.txt,stderr.log} "$out/"
echo "host load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (QEMU's TCG threads share them)" >>"$out/machine.txt"

# samples.csv: one line per timed command.
awk 'BEGIN { print "scenario,runtime,op,i,wall_ms,cpu_ms,maxrss_kb,rc" }
function field(name,   k) { for (k = 1; k <= NF; k++) if (index($k, name "=") == 1) return substr($k, length(name) + 2); return "" }
field("op") != "declare" {
    printf "%s,%s,%s,%s,%.3f,%.3f,%s,%s\n", FILENAME ~ /runk/ ? "runk" : "ctr", field("rt"), field("op"), field("i"),
        field("wall_us") / 1000, (field("all_user_us") + field("all_sys_us")) / 1000, field("maxrss_kb"), field("rc")
}' "$out/runk.txt" "$out/ctr.txt" >"$out/samples.csv"
bash "$here/summarize.sh" "$out" | tee "$out/summary.md"
