#!/usr/bin/env bash
# The main job: a pod and two containers on csrt through a private containerd that this script
# starts itself (own root, state, socket and CNI bridge; no system changes), over CRI with the
# runtime handler "csrt"; it shows their output, an exec and their stats, then removes everything.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[[ $(id -u) -eq 0 ]] || { echo "main.sh: run as root (containerd, namespaces, mounts, cgroups)" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
hack/install-deps.sh
hack/images/build.sh >/dev/null
hack/publish.sh >/dev/null
export CSRT_BIN_DIR="$repo/out/bin"
dotnet build hack/demo -c Release -nologo -v:quiet -clp:NoSummary
exec dotnet run --project hack/demo -c Release --no-build
