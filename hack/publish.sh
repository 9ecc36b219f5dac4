#!/usr/bin/env bash
# Publishes the two NativeAOT executables, csrt and containerd-shim-csrt-v2, into out/bin.
# Zero warnings is the rule: any trim/AOT warning fails the build (warnings are errors).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${CSRT_BIN_DIR:-$repo/out/bin}"
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
for project in src/runtime/Csrt.Cli src/shim/Csrt.Shim; do
    dotnet publish "$repo/$project" -c Release -r linux-x64 -o "$out" -p:TreatWarningsAsErrors=true -nologo -clp:NoSummary -v:quiet
done
# The debug symbols stay beside the obj folders; the shipped folder holds the two binaries only.
rm -f "$out"/*.dbg "$out"/*.pdb "$out"/libcsrt_native.so
ls -l "$out"/csrt "$out"/containerd-shim-csrt-v2
