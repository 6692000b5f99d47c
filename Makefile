# SPDX-License-Identifier: MIT
# A thin wrapper around Meson: `make`, `make run`, `make test`, `make bench`.

BUILD      ?= build
TESTBUILD  ?= build-test
FUZZBUILD  ?= build-fuzz
DEBBUILD   ?= build-deb
RUN_DIR    ?= $(BUILD)/run
FUZZ_SECONDS ?= 10
# Debian's interpreter, where python3-pytest is installed (a pyenv one may come first on PATH).
PYTHON     ?= /usr/bin/python3

# what `make test` runs again with two workers: every protocol's own suite
WORKERS_SUITES = test_http.py test_https.py test_ftp.py test_tftp_protocol.py test_sip.py

.PHONY: all deps run test unit integration fuzz bench deb format clean

# The default build needs only `scripts/deps build`; scripts/check-build-deps keeps it so.
all: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD)
	ninja -C $(BUILD)

deps:
	@scripts/deps build

run: all
	@scripts/deps run
	@scripts/run-example $(BUILD)/autoprov examples/site $(RUN_DIR)

# The test build carries ASan and UBSan; the integration tests run its binary.
test:
	@scripts/deps build test fuzz deb
	@scripts/check-build-deps
	@test -f $(TESTBUILD)/build.ninja || meson setup $(TESTBUILD) -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(TESTBUILD)
	meson test -C $(TESTBUILD) --print-errorlogs
	AUTOPROV_BIN=$(CURDIR)/$(TESTBUILD)/autoprov AUTOPROV_FETCH_TOOL=$(CURDIR)/$(TESTBUILD)/tests/tools/fetch_tool \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(PYTHON) -m pytest -q tests/integration
	# the protocol suites once more with two workers ([server] workers, tests/integration/harness.py)
	AUTOPROV_TEST_WORKERS=2 AUTOPROV_BIN=$(CURDIR)/$(TESTBUILD)/autoprov AUTOPROV_FETCH_TOOL=$(CURDIR)/$(TESTBUILD)/tests/tools/fetch_tool \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(PYTHON) -m pytest -q $(addprefix tests/integration/,$(WORKERS_SUITES))
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

fuzz:
	@scripts/deps build fuzz
	@test -f $(FUZZBUILD)/build.ninja || CC=clang meson setup $(FUZZBUILD) -Dfuzz=true -Dtests=false
	ninja -C $(FUZZBUILD)
	@scripts/fuzz-run $(FUZZBUILD) $(FUZZ_SECONDS)

# The Debian packages autoprov, libautoprov0, libautoprov-dev in $(DEBBUILD)/, lintian-checked.
deb:
	@scripts/deps build deb
	@scripts/make-deb $(DEBBUILD)

bench: all
	@scripts/deps bench
	bench/tftp/run

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(FUZZBUILD) $(DEBBUILD)
