# colo-proxy: the project's front door.  See README.md.
#
#   make demo     build the patched QEMU and run the main job
#   make check    build and run every test
#   make bench    colo-proxy against upstream's chain and no filter
#   make series   export the patch series to build/series (checkpatch-clean)
#
# QEMU's source is fetched from Debian's "qemu" source package into
# $(COLO_CACHE) and never committed; build/ holds the laid tree and the
# build directory, so rebuilds are incremental.

COLO_CACHE ?= /var/cache/colo-proxy
export COLO_CACHE

SRC   := build/src
BLD   := build/qemu
QTESTS := colo-proxy-test test-filter-mirror test-filter-redirector qom-test
UNITS  := test-colo-proxy-link test-colo-proxy-packet test-colo-proxy-conn \
          test-colo-proxy-seq test-colo-proxy-rewrite test-colo-proxy-compare

.PHONY: all deps qemu lay check demo bench series series-bisect clean

all: qemu

deps:
	project/install-deps.sh

lay: deps
	project/lay.sh "$$(project/fetch-qemu.sh)" $(SRC)

qemu: lay
	project/build.sh $(SRC) $(BLD) $(addprefix tests/qtest/,$(QTESTS)) \
		$(addprefix tests/unit/,$(UNITS))

check: qemu
	project/run-tests.py $(BLD)

demo: qemu
	project/demo.sh $(BLD)

bench: qemu
	project/bench/run.py $(BLD)

series: deps
	project/check-series.sh

series-bisect: deps
	project/series-bisect.sh

clean:
	rm -rf build
