#!/bin/bash
# Regenerate every patches/NN-*.diff from the edited work tree build/src.
# Files that several commits of the series edit (MAINTAINERS,
# tests/unit/meson.build) are rebuilt here step by step, so that each
# commit carries only its own part; extend the step tables when a commit
# starts editing a file another commit edits too.
set -e
cd "$(dirname "$0")/.."
P=$(project/fetch-qemu.sh); W=build/src
cp $W/tests/unit/meson.build /tmp/unit-final
maint() {  # write MAINTAINERS as of series step $1
python3 - "$1" "$P" <<'PY'
import sys
step = int(sys.argv[1])
lines = {
    2: ["F: net/colo-proxy-link.*", "F: tests/unit/test-colo-proxy-link.c"],
    3: ["F: net/colo-proxy-packet.*", "F: net/colo-proxy-conn.*",
        "F: net/colo-proxy-seq.*", "F: tests/unit/test-colo-proxy-packet.c",
        "F: tests/unit/test-colo-proxy-conn.c",
        "F: tests/unit/test-colo-proxy-seq.c",
        "F: tests/qtest/colo-proxy-frames.*"],
    4: ["F: net/colo-proxy.c", "F: net/colo-proxy.h", "F: net/colo-proxy-io.*",
        "F: docs/colo-proxy.txt"],
    5: ["F: tests/qtest/colo-proxy-harness.*",
        "F: tests/qtest/colo-proxy-test.c"],
}
s = open(sys.argv[2] + '/MAINTAINERS').read()
anchor = "F: tests/qtest/test-filter*\n"
files = [l for k in sorted(lines) if k <= step for l in lines[k]]
sec = ("\nCOLO network proxy object\nM: colo-proxy developers <colo-proxy@invalid>\n"
       "S: Maintained\n" + "\n".join(files) + "\n")
if step >= 2:
    s = s.replace(anchor, anchor + sec, 1)
open('build/src/MAINTAINERS', 'w').write(s)
PY
}
python3 - <<'PY'
p='build/src/tests/unit/meson.build'
s=open(p).read()
a=s.index("    'test-colo-proxy-packet':")
b=s.index("    'test-bufferiszero'")
open(p,'w').write(s[:a]+s[b:])
PY
project/mkdiff.sh $P $W patches/01-jhash-jhash2.diff include/qemu/jhash.h >/dev/null
maint 2
project/mkdiff.sh $P $W patches/02-net-colo-proxy-link-codec.diff tests/unit/meson.build MAINTAINERS >/dev/null
cp /tmp/unit-final $W/tests/unit/meson.build
maint 3
project/mkdiff.sh $P $W patches/03-net-colo-proxy-core.diff tests/unit/meson.build MAINTAINERS >/dev/null
maint 4
project/mkdiff.sh $P $W patches/04-net-colo-proxy.diff net/meson.build net/trace-events qapi/qom.json qapi/net.json qemu-options.hx MAINTAINERS system/vl.c meson.build ${EXTRA04:-} >/dev/null
maint 5
project/mkdiff.sh $P $W patches/05-tests-qtest-colo-proxy.diff tests/qtest/meson.build MAINTAINERS >/dev/null
echo regenerated
