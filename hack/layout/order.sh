#!/usr/bin/env bash
# Regenerates src/runtime/Csrt.Cli/csrt.order and csrt.native-order.ld: the managed methods and the
# native functions that `csrt --version`,
# `create`, `start`, `state` and `delete` execute, grouped by the commands that use them (order.py). The build lays these
# methods out first and together (ilc --order, --method-layout:explicit), and the linker the native
# functions (the linker script, through Csrt.NativeAot.targets), so a short command
# touches few pages of the binary's code: the kernel maps file pages 64 KiB around each page
# fault (fault-around), and scattered methods made every short command map nearly all of it.
# See docs/benchmarks.md, "csrt's own memory".
#
# Usage: hack/layout/order.sh [BUILD_DIR [MAP]]
#   BUILD_DIR  where the unstripped build is: csrt and csrt.dbg of one build (default
#              src/runtime/Csrt.Cli/bin/Release/net10.0/linux-x64/native, what hack/publish.sh
#              leaves). Method names, not addresses, go into the order, so any recent build will
#              do; rerun after large changes to the commands' paths.
#   MAP        the link map of that build (default csrt.map in the matching obj/ folder, which
#              Csrt.NativeAot.targets has the linker write)
#
# Root only (containers, a loop mount). Slow: every instruction of five commands is single-stepped
# (minutes).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/hack/layout"
die() { echo "order: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (containers)"
# In a private mount namespace: the loop mount below is then not copied into the mount namespaces
# that other programs create meanwhile (containers, unshare), where it would stay busy.
if [[ -z ${CSRT_ORDER_IN_NAMESPACE:-} ]]; then
    CSRT_ORDER_IN_NAMESPACE=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "$@"
fi
build=$(realpath "${1:-$repo/src/runtime/Csrt.Cli/bin/Release/net10.0/linux-x64/native}")
map=${2:-$repo/src/runtime/Csrt.Cli/obj/Release/net10.0/linux-x64/native/csrt.map}
bin="$build/csrt" dbg="$build/csrt.dbg"
[[ -x $bin && -f $dbg ]] || die "no csrt and csrt.dbg in $build (run hack/publish.sh)"
[[ $(readelf -n "$bin" | grep 'Build ID') == $(readelf -n "$dbg" | grep 'Build ID') ]] || die "$dbg is not the symbol file of $bin"
[[ -f $map ]] || die "no link map $map (run hack/publish.sh)"
# The map has no build id: its .text must be where the binary's is, with the same size.
text=$(readelf -SW "$bin" | awk '{ for (i = 1; i < NF; i++) if ($i == ".text") print $(i + 2), $(i + 4) }')
[[ -n $text ]] || die "no .text section in $bin"
read -r text_address text_size <<<"$text"
text=$(printf '0x%016x +0x%x' $((16#$text_address)) $((16#$text_size)))
grep -qE "^\.text +$text\$" "$map" || die "$map is not the link map of $bin (its .text is not at 0x$text_address, size 0x$text_size)"
rootfs="$repo/out/images/busybox-rootfs"
[[ -x $rootfs/bin/sleep ]] || die "no busybox rootfs in $rootfs (hack/images/build.sh)"

work=$(mktemp -d /tmp/csrt-order.XXXXXX)
root="$work/state" id=order
cleanup() {
    "$bin" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
    umount "$work/copy" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -Wall -Wextra -Werror -o "$work/steptrace" "$here/steptrace.c"

# The managed code's address range, from the section table; the traces cover the whole code
# segment (native code too).
range=$(readelf -SW "$bin" | awk '{ for (i = 1; i < NF; i++) if ($i == "__managedcode") print $(i + 2), $(i + 4) }')
[[ -n $range ]] || die "no __managedcode section in $bin"
read -r lo size <<<"$range"
hi=$(printf '%x' $((16#$lo + 16#$size)))
code=$(readelf -lW "$bin" | awk '$1 == "LOAD" && ($7 ~ /E/ || $8 ~ /E/) { print $3, $6 }')
[[ -n $code ]] || die "no executable LOAD segment in $bin"
read -r code_lo code_size <<<"$code"
code_hi=$(printf '%x' $((code_lo + code_size)))
code_lo=$(printf '%x' $((code_lo)))

# A bundle whose process stays up, so `state` reports a running container as it usually does.
mkdir -p "$work/bundle"
cp -a "$rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && "$bin" spec)
sed -i 's/"terminal": true/"terminal": false/; s/^\(\s*\)"sh"$/\1"\/bin\/sleep", "60"/' "$work/bundle/config.json"
grep -q '"/bin/sleep"' "$work/bundle/config.json" || die "could not set process.args in the default spec"

trace() {
    local name=$1
    shift
    echo "order: tracing csrt $*" >&2
    "$work/steptrace" "$work/$name.trace" "$code_lo" "$code_hi" -- "$bin" "$@" </dev/null >/dev/null 2>>"$work/stderr" \
        || { cat "$work/stderr" >&2; die "csrt $* failed under the tracer"; }
}
trace version --version
trace create --root "$root" create --bundle "$work/bundle" "$id"
trace start --root "$root" start "$id"
trace state --root "$root" state "$id"
trace delete --root "$root" delete -f "$id"

# The same commands at full speed, from a copy of the binary on a file system of its own whose
# readahead is 0, dropped from the page cache before each command: the pages then cached are the
# ones the command touched (resident.c), including paths the slow traces miss.
gcc -O2 -Wall -Wextra -Werror -o "$work/resident" "$here/resident.c"
truncate -s 64M "$work/copy.img"
mkfs.ext4 -q "$work/copy.img"
mkdir "$work/copy"
mount -o loop "$work/copy.img" "$work/copy"
blockdev --setra 0 "$(findmnt -no SOURCE "$work/copy")"
cp "$bin" "$work/copy/csrt"
sync "$work/copy/csrt" # written back, or the page cache could not drop it
touched() {
    local name=$1
    shift
    dd if="$work/copy/csrt" iflag=nocache count=0 status=none
    "$work/copy/csrt" "$@" </dev/null >/dev/null 2>>"$work/stderr" || { cat "$work/stderr" >&2; die "csrt $* failed"; }
    "$work/resident" "$work/copy/csrt" >"$work/$name.pages"
}
touched version --version
touched create --root "$root" create --bundle "$work/bundle" "$id"
touched start --root "$root" start "$id"
touched state --root "$root" state "$id"
touched delete --root "$root" delete -f "$id"
umount "$work/copy"
# The code segment's address minus its file offset: page index * 4096 + delta is an address.
segment=$(readelf -lW "$bin" | awk '$1 == "LOAD" && ($7 ~ /E/ || $8 ~ /E/) { print $2, $3 }')
[[ -n $segment ]] || die "no executable LOAD segment in $bin"
read -r offset vaddr <<<"$segment"
delta=$(printf '%x' $((vaddr - offset)))

nm -n --defined-only "$dbg" >"$work/symbols"
python3 "$here/order.py" "$work/symbols" "$lo" "$hi" "$repo/src/runtime/Csrt.Cli/csrt.order" \
    "$work/version.trace" "$work/state.trace" "$work/create.trace" "$work/start.trace" "$work/delete.trace" \
    --native "$map" "$bin" "$repo/src/runtime/Csrt.Cli/csrt.native-order.ld" \
    --pages "$delta" "$work/version.pages" "$work/state.pages" "$work/create.pages" "$work/start.pages" "$work/delete.pages"
