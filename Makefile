# colo-proxy: the project's front door.  See README.md.
#
#   make demo     build the patched QEMU and run the main job
#   make check    build and run every test
#   make check-quick  build, then the unit tests and colo-proxy's qtests
#   make check-sanitize  the unit tests and colo-proxy's qtests under
#                 ASan and UBSan (a second build, build/qemu-san)
#   make demo-cluster  the demo under a two-node Pacemaker cluster
#   make check-cluster the cluster tests with e1000 and virtio-net
#   make bench    colo-proxy against upstream's chain and no filter
#   make series   export the patch series to build/series (checkpatch-clean)
#   make series-bisect  build every commit of the series and run its tests
#
# Every target takes QEMU_BASE=10.0 (default) or QEMU_BASE=10.2.
#
# QEMU's source is fetched from Debian's "qemu" source package into
# $(COLO_CACHE) and never committed; build/ holds the laid tree and the
# build directory, so rebuilds are incremental.

COLO_CACHE ?= /var/cache/colo-proxy
export COLO_CACHE

# The QEMU release the series is laid on: 10.0 (Debian 13's, the default)
# or 10.2 (Debian unstable's), e.g. `make check-quick QEMU_BASE=10.2`.
# Each base has a build directory of its own (build/ for 10.0).
QEMU_BASE ?= 10.0
export COLO_QEMU_BASE := $(QEMU_BASE)
ifeq ($(QEMU_BASE),10.0)
BUILD := build
else
BUILD := build/$(QEMU_BASE)
endif
export COLO_BUILD := $(CURDIR)/$(BUILD)

SRC   := $(BUILD)/src
BLD   := $(BUILD)/qemu
SAN   := $(BUILD)/qemu-san
QTESTS := colo-proxy-test test-filter-mirror test-filter-redirector qom-test
UNITS  := test-colo-proxy-link test-colo-proxy-packet test-colo-proxy-conn \
          test-colo-proxy-seq test-colo-proxy-rewrite test-colo-proxy-compare \
          test-colo-proxy-http

.PHONY: all deps qemu lay check check-quick check-sanitize check-cluster demo demo-cluster bench series \
	series-bisect clean

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

check-quick: qemu
	project/run-tests.py $(BLD) $(UNITS) colo-proxy-test test-filter-mirror \
		test-filter-redirector series

check-sanitize: lay
	COLO_CONFIGURE_EXTRA="--enable-asan --enable-ubsan" \
		project/build.sh $(SRC) $(SAN) tests/qtest/colo-proxy-test \
		$(addprefix tests/unit/,$(UNITS))
	project/run-tests.py --sanitize $(SAN)

demo: qemu
	project/demo.sh $(BLD)

check-cluster: qemu
	project/run-tests.py $(BLD) ocf-agent cluster cluster-virtio

demo-cluster: qemu
	project/cluster/colo_cluster.py $(BLD) --demo

bench: qemu
	project/bench/run.py $(BLD)

series: deps
	project/check-series.sh

series-bisect: deps
	project/series-bisect.sh

clean:
	rm -rf build
