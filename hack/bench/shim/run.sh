#!/usr/bin/env bash
# The shim benchmark: containerd-shim-csrt-v2 against the stock containerd-shim-runc-v2 on one
# private containerd (the integration tests' fixture: own root, state, sockets, CNI network),
# interleaved. Measures `ctr run --rm … /bin/true`, `ctr task exec … /bin/true` on a running
# task, a CRI pod cycle (RunPodSandbox, CreateContainer, StartContainer, StopContainer,
# RemoveContainer, StopPodSandbox, RemovePodSandbox), the VmRSS/Pss of every shim with N pods
# alive (one shim per pod), and the cost of one Stats per task per second (containerd 2.x's
# polling) with N pods per runtime. See README.md here and the "Shim" section of docs/benchmarks.md.
#
# Usage: hack/bench/shim/run.sh [--repeat R] [--bin DIR] [--no-publish] [shim-bench options]
#   --repeat R     run the whole benchmark R times (default 1); each run has its own summary
#   --bin DIR      the csrt shim to measure is DIR/containerd-shim-csrt-v2 (default: publish the
#                  working tree into out/bench/shim/bin, so concurrent publishes into out/bin
#                  cannot swap the binary in the middle of a run)
#   --no-publish   use the binary already in out/bench/shim/bin (or --bin) as it is
# shim-bench options: --runs N (30) --exec-runs N (30) --cycles N (20) --pods N (20)
#                     --mem-rounds N (2) --warmup N (3) --only run,exec,direct,cri,mem,stats
#                     --stats-tasks N (20) --stats-rounds N (30) --stats-idle SECONDS (10)
#                     --direct-gap MS (20: pause before each direct sequence, as ctr's own
#                                    work leaves one before the shim's first call)
#                     --stats-via ttrpc|cri (ttrpc: Stats straight to each shim's socket; cri:
#                                    CRI ContainerStats through containerd)
#                     --hold (keep the private containerd up until stdin closes, for profiling)
#                     --debug (containerd at log level debug, which passes -debug to the shims)
#                     --compare DIR (a second build, DIR/containerd-shim-csrt-v2, measured as
#                                    "csrt-b" in the same interleaved run: before/after a change)
# Output: out/bench/shim/<UTC time>[-<k>]/{summary.md,samples.csv,memory.csv}. Root only.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$repo/hack/bench/shim"
die() { echo "shim-bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (containerd, containers, mounts)"

repeat=1 bin="" publish=1 pass=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --repeat) repeat=$2; shift 2 ;;
        --bin) bin=$(cd "$2" && pwd); publish=0; shift 2 ;;
        --no-publish) publish=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) pass+=("$1"); shift ;;
    esac
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "--repeat takes a positive number"
for tool in containerd ctr runc containerd-shim-runc-v2 dotnet; do
    command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -z $bin ]]; then
    bin="$repo/out/bench/shim/bin"
    if [[ $publish -eq 1 ]]; then
        CSRT_BIN_DIR="$bin" "$repo/hack/publish.sh" >/dev/null
    fi
fi
[[ -x $bin/containerd-shim-csrt-v2 ]] || die "no $bin/containerd-shim-csrt-v2 (drop --no-publish or publish it)"
[[ -f $repo/out/images/busybox.oci.tar ]] || "$repo/hack/images/build.sh" >/dev/null

tool="$repo/out/bench/shim/tool"
dotnet build "$here/ShimBench.csproj" -c Release -o "$tool" -nologo -clp:NoSummary -v:quiet >/dev/null

stamp=$(date -u +%Y%m%dT%H%M%SZ)
for ((k = 1; k <= repeat; k++)); do
    out="$repo/out/bench/shim/$stamp"
    [[ $repeat -gt 1 ]] && out="$out-$k"
    echo "shim-bench: run $k/$repeat → $out" >&2
    "$tool/shim-bench" --bin "$bin" --out "$out" "${pass[@]}"
done
