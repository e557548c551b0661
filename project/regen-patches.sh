#!/usr/bin/env bash
# Regenerate every patches/NN-*.diff from the edited work tree build/src.
#
# Each commit's diff is taken against pristine plus the earlier commits'
# patches.  Files that several commits edit (MAINTAINERS,
# tests/unit/meson.build) are rebuilt step by step from the tables below,
# so that each commit carries only its own part: extend them when a commit
# starts editing such a file.  Run it after editing build/src, before the
# next `make`, which lays the tree anew from the patches.
set -euo pipefail
cd "$(dirname "$0")/.."
P=$(project/fetch-qemu.sh)
W=build/src
export P W
cp "$W/tests/unit/meson.build" build/.unit-meson-final
cp "$W/net/meson.build" build/.net-meson-final
cp "$W/migration/colo.c" build/.colo-final

# step FILE...: write the multi-step files as of commit STEP, then diff
step() {
    local n=$1 diff=$2
    shift 2
    /usr/bin/python3 - "$n" <<'PY'
import os, sys
step = int(sys.argv[1])
P, W = os.environ["P"], os.environ["W"]

maint = {
    2: ["net/colo-proxy-link.*", "tests/unit/test-colo-proxy-link.c"],
    3: ["net/colo-proxy-packet.*", "net/colo-proxy-conn.*",
        "net/colo-proxy-seq.*", "net/colo-proxy-rewrite.*",
        "tests/unit/test-colo-proxy-packet.c",
        "tests/unit/test-colo-proxy-conn.c",
        "tests/unit/test-colo-proxy-seq.c",
        "tests/unit/test-colo-proxy-rewrite.c",
        "tests/qtest/colo-proxy-frames.*"],
    4: ["net/colo-proxy-compare.*", "tests/unit/test-colo-proxy-compare.c",
        "net/colo-proxy-http.*", "tests/unit/test-colo-proxy-http.c"],
    5: ["net/colo-proxy.c", "net/colo-proxy.h", "net/colo-proxy-io.*",
        "net/colo-proxy-notify.*",
        "docs/colo-proxy.txt"],
    6: ["tests/qtest/colo-proxy-harness.*", "tests/qtest/colo-proxy-test.c"],
    8: ["net/colo-proxy-stubs.c"],
}
units = {
    2: ["test-colo-proxy-link"],
    3: ["test-colo-proxy-packet", "test-colo-proxy-conn", "test-colo-proxy-seq",
        "test-colo-proxy-rewrite"],
    4: ["test-colo-proxy-http", "test-colo-proxy-compare"],
}

s = open(P + "/MAINTAINERS").read()
files = [f for k in sorted(maint) if k <= step for f in maint[k]]
if files:
    anchor = "F: tests/qtest/test-filter*\n"
    sec = ("\nCOLO network proxy object\n"
           "M: colo-proxy developers <colo-proxy@invalid>\n"
           "S: Maintained\n" + "".join("F: %s\n" % f for f in files))
    s = s.replace(anchor, anchor + sec, 1)
open(W + "/MAINTAINERS", "w").write(s)

# tests/unit/meson.build: the final file without the entries of later steps
s = open("build/.unit-meson-final").read()
for k, names in units.items():
    if k <= step:
        continue
    for name in names:
        a = s.index("    '%s':" % name)
        b = s.index("\n    '", a + 1) + 1
        s = s[:a] + s[b:]
open(W + "/tests/unit/meson.build", "w").write(s)

# net/meson.build: the stubs' else branch comes with the COLO hooks (8)
s = open("build/.net-meson-final").read()
if step < 8:
    s = s.replace("else\n  system_ss.add(files('colo-proxy-stubs.c'))\n", "")
open(W + "/net/meson.build", "w").write(s)

# migration/colo.c: the hooks (8), then the restart fix (9), which
# earlier steps take back out of the final file (the TCG fix, 7, is in
# migration/ram.c)
unfix = [
    ("    bool was_running = false;\n", ""),
    ("    /*\n     * Only a VM that is running is stopped for the checkpoint, "
     "and only a\n     * VM that this checkpoint stopped is started again "
     "after it.  A\n     * shutdown may be pausing the vCPUs right now (it "
     "waits for them\n     * without the BQL): moving its RUN_STATE_SHUTDOWN "
     "to COLO would make\n     * the migration thread start the VM when COLO "
     "ends, and starting it\n     * here would clear the vCPUs' stop "
     "requests; either way they never\n     * pause.  A VM the user stopped "
     "stays stopped.\n     */\n    was_running = runstate_is_running();\n"
     "    if (was_running) {\n        vm_stop_force_state(RUN_STATE_COLO);\n"
     "    }\n",
     "    vm_stop_force_state(RUN_STATE_COLO);\n"),
    ("    if (was_running) {\n        vm_start();\n    }\n",
     "    vm_start();\n"),
]
if step == 7:
    s = open(P + "/migration/colo.c").read()
else:
    s = open("build/.colo-final").read()
    if step < 9:
        for fixed, orig in unfix:
            assert s.count(fixed) == 1, fixed
            s = s.replace(fixed, orig)
open(W + "/migration/colo.c", "w").write(s)
PY
    project/mkdiff.sh "$P" "$W" "$diff" "$@" > /dev/null
}

step 0 patches/00-system-cpu-timers-load.diff system/cpu-timers.c
step 1 patches/01-jhash-jhash2.diff include/qemu/jhash.h
step 2 patches/02-net-colo-proxy-link-codec.diff tests/unit/meson.build MAINTAINERS
step 3 patches/03-net-colo-proxy-core.diff tests/unit/meson.build MAINTAINERS
step 4 patches/04-net-colo-proxy-compare.diff tests/unit/meson.build MAINTAINERS
step 5 patches/05-net-colo-proxy.diff net/meson.build net/trace-events \
    qapi/qom.json qapi/net.json qemu-options.hx MAINTAINERS system/vl.c \
    monitor/monitor.c net/filter.c include/net/filter.h \
    meson.build
step 6 patches/06-tests-qtest-colo-proxy.diff tests/qtest/meson.build MAINTAINERS
step 7 patches/07-migration-colo-tcg-bql.diff migration/ram.c
step 8 patches/08-migration-colo-proxy-hooks.diff migration/colo.c net/meson.build \
    MAINTAINERS
step 9 patches/09-migration-colo-restart.diff migration/colo.c
rm -f build/.unit-meson-final build/.net-meson-final build/.colo-final
echo "regenerated patches/*.diff"
