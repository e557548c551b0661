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
cp "$W/net/filter.c" build/.filter-c-final
cp "$W/include/net/filter.h" build/.filter-h-final
cp "$W/net/trace-events" build/.trace-final
cp "$W/qapi/net.json" build/.netjson-final

# step FILE...: write the multi-step files as of commit STEP, then diff
step() {
    local n=$1 diff=$2
    shift 2
    /usr/bin/python3 - "$n" <<'PY'
import os, sys
step = int(sys.argv[1])
P, W = os.environ["P"], os.environ["W"]

maint = {
    11: ["net/colo-proxy-link.*", "tests/unit/test-colo-proxy-link.c"],
    12: ["net/colo-proxy-packet.*", "tests/unit/test-colo-proxy-packet.c",
         "tests/qtest/colo-proxy-frames.*"],
    13: ["net/colo-proxy-seq.*", "tests/unit/test-colo-proxy-seq.c"],
    14: ["net/colo-proxy-conn.*", "tests/unit/test-colo-proxy-conn.c"],
    15: ["net/colo-proxy-rewrite.*", "tests/unit/test-colo-proxy-rewrite.c"],
    16: ["net/colo-proxy-http.*", "tests/unit/test-colo-proxy-http.c"],
    17: ["net/colo-proxy-compare.*", "tests/unit/test-colo-proxy-compare.c"],
    22: ["net/colo-proxy-io.*"],
    23: ["net/colo-proxy-notify.*"],
    24: ["net/colo-proxy.c", "net/colo-proxy.h"],
    28: ["docs/colo-proxy.txt"],
    29: ["net/colo-proxy-stubs.c"],
    30: ["tests/qtest/colo-proxy-harness.*", "tests/qtest/colo-proxy-test.c"],
}
units = {
    11: ["test-colo-proxy-link"],
    12: ["test-colo-proxy-packet"],
    13: ["test-colo-proxy-seq"],
    14: ["test-colo-proxy-conn"],
    15: ["test-colo-proxy-rewrite"],
    16: ["test-colo-proxy-http"],
    17: ["test-colo-proxy-compare"],
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

# net/meson.build: the link I/O (22), notify-dev (23), the object (24);
# the stubs' else branch comes with the COLO hooks (29)
s = open("build/.net-meson-final").read()
meson_steps = [
    (22, "  system_ss.add(files('colo-proxy-link.c', 'colo-proxy-io.c'))\n"),
    (23, "  system_ss.add(files('colo-proxy-notify.c'))\n"),
    (24, "  system_ss.add(files('colo-proxy.c', 'colo-proxy-packet.c',\n"
         "                      'colo-proxy-conn.c', 'colo-proxy-seq.c',\n"
         "                      'colo-proxy-rewrite.c', 'colo-proxy-compare.c',\n"
         "                      'colo-proxy-http.c'))\n"),
    (29, "else\n  system_ss.add(files('colo-proxy-stubs.c'))\n"),
]
for k, text in meson_steps:
    assert s.count(text) == 1, text
    if step < k:
        s = s.replace(text, "")
open(W + "/net/meson.build", "w").write(s)

# net/trace-events: one block per file, with the step that adds it
s = open("build/.trace-final").read()
for k, name in [(22, "colo-proxy-io.c"), (23, "colo-proxy-notify.c"),
                (24, "colo-proxy.c")]:
    a = s.index("# %s\n" % name)
    b = s.index("\n\n", a) + 2
    if step < k:
        s = s[:a] + s[b:]
open(W + "/net/trace-events", "w").write(s)

# qapi/net.json: the object's types (24), then its query, events and
# commands (27), which end the file
s = open("build/.netjson-final").read()
if step < 27:
    s = s[:s.index("##\n# @ColoProxyInfo:\n")].rstrip("\n") + "\n"
open(W + "/qapi/net.json", "w").write(s)

# net/filter.c, include/net/filter.h: passing on with a callback (20),
# then what cannot change once a filter is attached (21)
attached_c = [
    ("/*\n * The netdev, the place in its chain and, for filters that say "
     "so, the\n", None),
    ("    if (!netfilter_check_detached(obj, \"netdev\", errp)) {\n"
     "        return;\n    }\n    g_free(nf->netdev_id);\n", ""),
    ("\n    if (NETFILTER_GET_CLASS(obj)->fixed_direction &&\n"
     "        !netfilter_check_detached(obj, \"queue\", errp)) {\n"
     "        return;\n    }\n", ""),
    ("    if (!netfilter_check_detached(obj, \"position\", errp)) {\n"
     "        return;\n    }\n    g_free(nf->position);\n", ""),
    ("    if (!netfilter_check_detached(obj, \"insert\", errp)) {\n"
     "        return;\n    }\n", ""),
]
attached_h = [
    ("    /* The direction (\"queue\") cannot change once the filter is "
     "attached. */\n    bool fixed_direction;\n", ""),
]
c = open("build/.filter-c-final").read()
h = open("build/.filter-h-final").read()
if step < 21:
    for text, repl in attached_c:
        if repl is None:
            a = c.index(text)
            b = c.index("\n}\n\n", a) + 4
            c = c[:a] + c[b:]
            continue
        assert c.count(text) == 1, text
        c = c.replace(text, repl)
    for text, repl in attached_h:
        assert h.count(text) == 1, text
        h = h.replace(text, repl)
if step < 20:
    c = open(P + "/net/filter.c").read()
    h = open(P + "/include/net/filter.h").read()
open(W + "/net/filter.c", "w").write(c)
open(W + "/include/net/filter.h", "w").write(h)

# migration/colo.c: the restart fix (2) on pristine, then the hooks (29):
# the final file
restart = [
    ("    Error *local_err = NULL;\n    int ret = -1;\n\n"
     "    colo_send_message(s->to_dst_file, COLO_MESSAGE_CHECKPOINT_REQUEST,",
     "    Error *local_err = NULL;\n    bool was_running = false;\n"
     "    int ret = -1;\n\n"
     "    colo_send_message(s->to_dst_file, COLO_MESSAGE_CHECKPOINT_REQUEST,"),
    ("        goto out;\n    }\n    vm_stop_force_state(RUN_STATE_COLO);\n"
     "    bql_unlock();\n",
     "        goto out;\n    }\n"
     "    /*\n     * Only a VM that is running is stopped for the checkpoint, "
     "and only a\n     * VM that this checkpoint stopped is started again "
     "after it.  A\n     * shutdown may be pausing the vCPUs right now (it "
     "waits for them\n     * without the BQL): moving its RUN_STATE_SHUTDOWN "
     "to COLO would make\n     * the migration thread start the VM when COLO "
     "ends, and starting it\n     * here would clear the vCPUs' stop "
     "requests; either way they never\n     * pause.  A VM the user stopped "
     "stays stopped.\n     */\n    was_running = runstate_is_running();\n"
     "    if (was_running) {\n        vm_stop_force_state(RUN_STATE_COLO);\n"
     "    }\n    bql_unlock();\n"),
    ("    ret = 0;\n\n    bql_lock();\n    vm_start();\n    bql_unlock();\n",
     "    ret = 0;\n\n    bql_lock();\n    if (was_running) {\n"
     "        vm_start();\n    }\n    bql_unlock();\n"),
]
if step == 2:
    s = open(P + "/migration/colo.c").read()
    for orig, fixed in restart:
        assert s.count(orig) == 1, orig
        s = s.replace(orig, fixed)
else:
    s = open("build/.colo-final").read()
open(W + "/migration/colo.c", "w").write(s)
PY
    project/mkdiff.sh "$P" "$W" "$diff" "$@" > /dev/null
}

step 0 patches/00-system-cpu-timers-load.diff system/cpu-timers.c
step 1 patches/01-migration-colo-tcg-bql.diff migration/ram.c
step 2 patches/02-migration-colo-restart.diff migration/colo.c
step 10 patches/10-jhash-jhash2.diff include/qemu/jhash.h
step 11 patches/11-net-colo-proxy-link-codec.diff tests/unit/meson.build MAINTAINERS
step 12 patches/12-net-colo-proxy-packet.diff tests/unit/meson.build MAINTAINERS
step 13 patches/13-net-colo-proxy-seq.diff tests/unit/meson.build MAINTAINERS
step 14 patches/14-net-colo-proxy-conn.diff tests/unit/meson.build MAINTAINERS
step 15 patches/15-net-colo-proxy-rewrite.diff tests/unit/meson.build MAINTAINERS
step 16 patches/16-net-colo-proxy-http.diff tests/unit/meson.build MAINTAINERS
step 17 patches/17-net-colo-proxy-compare.diff tests/unit/meson.build MAINTAINERS
step 20 patches/20-net-filter-pass-async.diff net/filter.c include/net/filter.h
step 21 patches/21-net-filter-attached.diff net/filter.c include/net/filter.h
step 22 patches/22-net-colo-proxy-io.diff net/meson.build net/trace-events \
    MAINTAINERS
step 23 patches/23-net-colo-proxy-notify.diff net/meson.build net/trace-events \
    MAINTAINERS
step 24 patches/24-net-colo-proxy.diff net/meson.build net/trace-events \
    qapi/qom.json qapi/net.json qemu-options.hx MAINTAINERS system/vl.c \
    meson.build
step 27 patches/27-net-colo-proxy-qmp.diff qapi/net.json monitor/monitor.c
step 28 patches/28-docs-colo-proxy.diff MAINTAINERS
step 29 patches/29-migration-colo-proxy-hooks.diff migration/colo.c net/meson.build \
    MAINTAINERS
step 30 patches/30-tests-qtest-colo-proxy.diff tests/qtest/meson.build MAINTAINERS
rm -f build/.unit-meson-final build/.net-meson-final build/.colo-final \
    build/.filter-c-final build/.filter-h-final build/.trace-final \
    build/.netjson-final
echo "regenerated patches/*.diff"
