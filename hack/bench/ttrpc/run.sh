#!/bin/sh
# Publishes ttrpc-bench as NativeAOT (Release) and runs it.
#   hack/bench/ttrpc/run.sh self [--seconds N]
#   hack/bench/ttrpc/run.sh shim-state --address unix:///run/containerd/s/<hash> --id <task id>
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../../out/bench/ttrpc"
dotnet publish "$here/TtrpcBench.csproj" -c Release -o "$out" >/dev/null
exec "$out/ttrpc-bench" "$@"
