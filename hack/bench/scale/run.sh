#!/usr/bin/env bash
# The scale benchmark: many pods on one node. A private containerd (Debian's 1.6, CRI on,
# cgroupfs, restrict_oom_score_adj) with the csrt and the runc handlers; for each pass of the
# order (csrt, runc, csrt: A B A), N pods (pause sandbox + one `sleep` container) started one
# after another, stopped and removed, then N started 10 at a time, stopped and removed. Per pod
# the RunPodSandbox, CreateContainer and StartContainer latency; at each checkpoint the shims'
# summed Pss and VmRSS, containerd's RSS, and the latency of ListContainers, ListContainerStats
# and ListPodSandboxStats; the time to stop and remove all. See README.md here and the "Scale"
# section of docs/benchmarks.md.
#
# Usage: hack/bench/scale/run.sh [--bin DIR] [--no-publish] [scale-bench options]
#   --bin DIR      the csrt shim to measure is DIR/containerd-shim-csrt-v2 (default: publish the
#                  working tree into out/bench/scale/bin)
#   --no-publish   use the binary already in out/bench/scale/bin (or --bin) as it is
# scale-bench options: --pods N (100) --concurrency C (10) --checkpoints 10,25,50,100
#                      --order csrt,runc,csrt --list-reps N (3) --settle SECONDS (8)
#                      --phases seq,conc --network cni|host|cni,host (cni) --out DIR
# Output: out/bench/scale/<UTC time>/{summary.md,pods.csv,memory.csv,lists.csv,teardown.csv,failures.csv}.
# Root only.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$repo/hack/bench/scale"
die() { echo "scale-bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (containerd, containers, mounts)"

bin="" publish=1 out="" pass=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --bin) bin=$(cd "$2" && pwd); publish=0; shift 2 ;;
        --no-publish) publish=0; shift ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) pass+=("$1"); shift ;;
    esac
done
for tool in containerd ctr runc containerd-shim-runc-v2 dotnet; do
    command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -z $bin ]]; then
    bin="$repo/out/bench/scale/bin"
    [[ $publish -eq 1 ]] && CSRT_BIN_DIR="$bin" "$repo/hack/publish.sh" >/dev/null
fi
[[ -x $bin/containerd-shim-csrt-v2 ]] || die "no $bin/containerd-shim-csrt-v2 (drop --no-publish or publish it)"
[[ -f $repo/out/images/busybox.oci.tar && -f $repo/out/images/pause.oci.tar ]] || "$repo/hack/images/build.sh" >/dev/null

tool="$repo/out/bench/scale/tool"
build_log=$(dotnet build "$here/ScaleBench.csproj" -c Release -o "$tool" -nologo -clp:NoSummary -v:quiet 2>&1) || { echo "$build_log" >&2; die "could not build the tool"; }

[[ -n $out ]] || out="$repo/out/bench/scale/$(date -u +%Y%m%dT%H%M%SZ)"
echo "scale-bench: → $out" >&2
"$tool/scale-bench" --bin "$bin" --out "$out" "${pass[@]}"
