# softthink — build, test, demo. `make demo` and `make test` install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
CC      ?= cc
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fno-math-errno -Iinclude -Isrc -MMD -MP
LDLIBS  += -lm -lpthread
PKGS    := libpcre2-8 jansson yaml-0.1
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BUILD   ?= build

AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c -mavx2 -mprfchw

LIB_SRC  := $(shell find src -name '*.c' | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
APP_SRC  := $(wildcard app/*.c)
APP_OBJ  := $(APP_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libsoftthink.a
CLI      := $(BUILD)/softthink

.PHONY: all deps test demo asan fuzz clean bench bench-tools
all: $(LIB) $(CLI)

deps:
	@bash tools/deps.sh

$(BUILD)/src/kernels/kernels_avx2.o: override CFLAGS += $(AVX2_FLAGS)
$(BUILD)/src/kernels/kernels_avx512.o: override CFLAGS += $(AVX512_FLAGS)
# clang's pointer-overflow checks (make asan) on the unrolled panel kernels take
# this file's compile from ~30 s to over 10 min; ASan still checks every access
build-asan/src/kernels/kernels_avx512.o: override CFLAGS += -fno-sanitize=pointer-overflow
# vectorised expf (glibc libmvec needs fast-math); only this file
$(BUILD)/src/sample/softmax.o: override CFLAGS += -O3 -ffast-math

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(APP_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(APP_OBJ) $(LIB) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) tests/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN)
	@bash tests/run.sh $(BUILD) $(TEST_BIN)

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh $(BUILD)

# Address + undefined-behaviour sanitizers on the parser, tokenizer and SIMD kernel tests, then a short fuzz run of each parser.
ASAN_TESTS := test_gguf test_quant test_tokenizer test_kernels test_model
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  $(ASAN_TESTS:%=build-asan/tests/%)
	@bash tests/run.sh build-asan $(ASAN_TESTS:%=build-asan/tests/%)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-30}

FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRC := src/gguf/gguf.c src/tensor/quant.c src/core/status.c
# Fuzz the GGUF reader and the tokenizer for FUZZ_SECONDS each.
fuzz: deps
	@mkdir -p build-fuzz/corpus-gguf build-fuzz/corpus-tok
	clang $(FUZZ_CFLAGS) fuzz/fuzz_gguf.c $(FUZZ_SRC) -o build-fuzz/fuzz_gguf -lm
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) fuzz/fuzz_tokenizer.c src/tokenizer/*.c $(FUZZ_SRC) -o build-fuzz/fuzz_tokenizer $(PKG_LIBS) -lm
	build-fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 build-fuzz/corpus-gguf fuzz/seeds/gguf 2>&1 | tail -n 12
	build-fuzz/fuzz_tokenizer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 build-fuzz/corpus-tok fuzz/seeds/tokenizer 2>&1 | tail -n 12

bench: all
	$(CLI) bench -m $(MODEL) -p 128 -n 64

# Kernel and sampler micro-benchmarks (bench/*.c), used by bench/run.sh
bench-tools: $(BUILD)/bench_kernels $(BUILD)/bench_sample $(BUILD)/bench_probe
$(BUILD)/bench_%: bench/bench_%.c $(LIB)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) $(LDLIBS)

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d)
