#!/usr/bin/env bash
# Renders the benchmarks' charts (PNG) from their CSV output into docs/charts:
#   scale-podstart-seq.png, scale-podstart-conc.png, scale-shim-memory.png,
#   scale-containerd-memory.png, scale-list-calls.png   from hack/bench/scale (pods.csv, memory.csv, lists.csv)
#   runtime-wall-cpu.png                                 from hack/bench/runtime (containers.csv)
#
# Usage: hack/bench/charts/run.sh [--scale DIR] [--runtime DIR] [--out DIR]
#   --scale DIR    a hack/bench/scale output directory (default: the newest under out/bench/scale
#                  that holds pods.csv, else docs/data/scale: the run docs/benchmarks.md shows)
#   --runtime DIR  a hack/bench/runtime output directory (default: the newest under
#                  out/bench/runtime that holds containers.csv, else docs/data/runtime; an older
#                  run's raw.txt can be converted with hack/bench/runtime/csv.sh RAW DIR)
#   --out DIR      where the PNGs go (default docs/charts)
# A benchmark without output is skipped with a note; with neither, nothing is drawn (exit 1).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
here="$repo/hack/bench/charts"
die() { echo "charts: $*" >&2; exit 1; }

scale="" runtime="" out="$repo/docs/charts"
while [[ $# -gt 0 ]]; do
    case $1 in
        --scale) scale=$2; shift 2 ;;
        --runtime) runtime=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
# The newest output directory (by modification time) of a benchmark that holds FILE.
# None (no such directory) is an empty answer, not a failure of the pipeline under pipefail.
newest() { ls -1dt "$repo/out/bench/$1"/*/ 2>/dev/null | while read -r d; do [[ -f $d/$2 ]] && { echo "${d%/}"; break; }; done; return 0; }
# Without a run of its own here, the run docs/benchmarks.md shows (its CSVs are kept in docs/data).
[[ -n $scale ]] || scale=$(newest scale pods.csv)
[[ -n $scale || ! -f $repo/docs/data/scale/pods.csv ]] || scale="$repo/docs/data/scale"
[[ -n $runtime ]] || runtime=$(newest runtime containers.csv)
[[ -n $runtime || ! -f $repo/docs/data/runtime/containers.csv ]] || runtime="$repo/docs/data/runtime"
args=(--out "$out")
if [[ -n $scale ]]; then args+=(--scale "$scale"); echo "charts: scale from $scale" >&2; else echo "charts: no hack/bench/scale output under out/bench/scale: skipped" >&2; fi
if [[ -n $runtime ]]; then args+=(--runtime "$runtime"); echo "charts: runtime from $runtime" >&2; else echo "charts: no hack/bench/runtime CSV under out/bench/runtime: skipped" >&2; fi
[[ -n $scale || -n $runtime ]] || die "no benchmark output to draw (run hack/bench/scale/run.sh or hack/bench/runtime/run.sh first)"

command -v dotnet >/dev/null || die "dotnet is missing: run hack/install-deps.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
tool="$repo/out/bench/charts/tool"
build_log=$(dotnet build "$here/Charts.csproj" -c Release -o "$tool" -nologo -clp:NoSummary -v:quiet 2>&1) || { echo "$build_log" >&2; die "could not build the tool"; }
"$tool/bench-charts" "${args[@]}"
