# libFuzzer targets for every parser of outside input. `make fuzz` builds them with clang
# (ASan + UBSan) and runs each for FUZZ_SECONDS on a copy of its seed corpus.
PKGS := sqlite3 libmicrohttpd jansson libsodium libutf8proc libqrencode libpng freetype2 \
        libusb-1.0 libgpiod libcurl
FUZZ_SECONDS ?= 20
B := build/fuzz
CC := clang
# The project's sources are compiled once (instrumented, without libFuzzer's main) into
# objects that every target links: each target then costs one compile and one link.
COMMON := -std=c11 -D_GNU_SOURCE -g -O1 -fno-sanitize-recover=all -DMOKIT_VERSION=\"fuzz\" \
          $(shell pkg-config --cflags $(PKGS)) -Iapp/store -Ifirmware/include
OBJ_FLAGS := $(COMMON) -fsanitize=fuzzer-no-link,address,undefined
FLAGS := $(COMMON) -fsanitize=fuzzer,address,undefined
LIBS := $(shell pkg-config --libs $(PKGS)) -lm
SRC := $(wildcard app/common/*.c app/domain/*.c app/store/*.c app/api/body.c app/print/*.c \
         firmware/proto/*.c firmware/core/*.c firmware/gpio/*.c) \
       $(filter-out app/export/pg%.c,$(wildcard app/export/*.c)) build/gen/migrations.c
TARGETS := cccd code body font sim zpl layout status devices cms50f scanner rules keyfile package fhir_response ieee11073 contour omron790 omron7322 wifi

.PHONY: run
run: $(TARGETS:%=$(B)/fuzz_%)
	@for t in $(TARGETS); do \
	    rm -rf $(B)/corpus-$$t && cp -r tests/fuzz/corpus/$$t $(B)/corpus-$$t && \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s" && \
	    $(B)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	        -artifact_prefix=$(B)/ $(B)/corpus-$$t 2>$(B)/fuzz_$$t.log || \
	        { tail -50 $(B)/fuzz_$$t.log; exit 1; }; \
	    grep -E 'stat::number_of_executed_units|stat::new_units_added' $(B)/fuzz_$$t.log; \
	done

build/gen/migrations.c: $(sort $(wildcard app/sql/*.sql))
	@mkdir -p $(dir $@)
	app/store/embed-sql.sh $^ > $@

OBJ := $(SRC:%.c=$(B)/obj/%.o)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(OBJ_FLAGS) -c $< -o $@

$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(OBJ)
	@mkdir -p $(B)
	@echo "  FUZZ    $@"
	@$(CC) $(FLAGS) -o $@ $^ $(LIBS)
