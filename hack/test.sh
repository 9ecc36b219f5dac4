#!/usr/bin/env bash
# Runs every test of csrt on this machine, as root: installs what is missing (apt), builds the
# test images, publishes the two NativeAOT binaries into out/bin, runs the unit and integration
# test projects, and ends with one line of totals over all of them: "N passed, N failed, N skipped".
# Usage: hack/test.sh [extra dotnet test arguments, e.g. --filter ...]
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export CSRT_BIN_DIR="$repo/out/bin"

fail() { echo "test.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "must run as root (containers, mounts, cgroups)"
hack/install-deps.sh || fail "installing dependencies failed"
hack/images/build.sh >/dev/null || fail "building the test images failed"
hack/publish.sh >/dev/null || fail "publishing csrt and containerd-shim-csrt-v2 failed"

results="$repo/out/test-results"
rm -rf "$results"
mkdir -p "$results"
projects=(
    tests/unit/Csrt.Linux.Tests
    tests/unit/Csrt.Ttrpc.Tests
    tests/unit/Csrt.Runtime.Tests
    tests/unit/Csrt.Shim.Tests
    tests/integration/Csrt.IntegrationTests
    # The VM lane last: it builds (cached) and boots a QEMU guest with systemd and cgroup v2 (hack/vm/).
    tests/vm/Csrt.VmTests
)
dotnet build Shim.sln -c Debug -nologo -v:quiet -clp:NoSummary || fail "dotnet build Shim.sln failed"
status=0
for p in "${projects[@]}"; do
    name=$(basename "$p")
    echo "== $name"
    if ! dotnet test "$p" --no-build -nologo --logger "trx;LogFileName=$name.trx" --results-directory "$results" "$@"; then
        status=1
    fi
done

passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
    [[ -f $trx ]] || continue
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
    get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
    p=$(get passed); f=$(get failed); t=$(get total); e=$(get executed)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    skipped=$((skipped + ${t:-0} - ${e:-0}))
done
# A project that could not run at all (no results) counts as a failure.
runs=$(ls "$results"/*.trx 2>/dev/null | wc -l)
if (( runs < ${#projects[@]} )); then
    failed=$((failed + ${#projects[@]} - runs))
fi
echo "$passed passed, $failed failed, $skipped skipped"
(( failed == 0 && status == 0 ))
