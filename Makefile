# Rideshare - build, test, run. See README.md.
CC      ?= cc
PKGS    := libmicrohttpd librabbitmq jansson libcurl sqlite3
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes -Wno-format-nonliteral
CFLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -Icommon
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lzookeeper_mt -lpthread -lm
REL_FLAGS  := -O2 -g
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

SERVICES := users rides orchestrator worker
BIN      := $(SERVICES:%=build/rel/%)
ASAN_BIN := $(SERVICES:%=build/asan/%)
UNIT_SRC := $(wildcard tests/unit/*_test.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

-include $(shell find build -name '*.d' 2>/dev/null)

.PHONY: all asan unit test deps up down logs ps clean bench fuzz memcheck
all: $(BIN)
asan: $(ASAN_BIN)
unit: $(UNIT_BIN)

# $(1)=variant (rel|asan), $(2)=extra flags. Objects live in build/$(1)/obj,
# binaries in build/$(1)/<service>; -MMD keeps header dependencies exact.
define variant
build/$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) -MMD -MP -c $$< -o $$@
build/$(1)/libcommon.a: $$(patsubst %.c,build/$(1)/obj/%.o,$$(wildcard common/*.c))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/lib%.a: $$$$(addprefix build/$(1)/obj/,$$$$(addsuffix .o,$$$$(basename $$$$(filter-out $$$$*/main.c,$$$$(wildcard $$$$*/*.c)))))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/%: build/$(1)/obj/%/main.o build/$(1)/lib%.a build/$(1)/libcommon.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
endef
.SECONDEXPANSION:
.SECONDARY:
$(eval $(call variant,rel,$(REL_FLAGS)))
$(eval $(call variant,asan,$(ASAN_FLAGS)))

# A unit test tests/unit/<module>_<name>_test.c links the library of <module>
# (common, users, rides, orchestrator or worker) and libcommon.
build/asan/tests/%: tests/unit/%.c build/asan/libcommon.a $$(if $$(filter common,$$(firstword $$(subst _, ,$$*))),,build/asan/lib$$(firstword $$(subst _, ,$$*)).a)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(filter %.a,$(filter-out build/asan/libcommon.a,$^)) build/asan/libcommon.a $(LDLIBS) -lcmocka

deps:
	@scripts/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory all asan unit
	@tests/run-all.sh

bench: deps all
	@tests/bench/run.sh

# libFuzzer targets (clang), each for FUZZ_SECONDS; see tests/fuzz/README.md.
fuzz: deps
	@tests/fuzz/run.sh

# The black-box DBaaS and API suites with every service under valgrind.
memcheck: deps all
	@tests/memcheck.sh

# The container fleet (docker/, docker-compose.yml); see README.md.
up:
	@scripts/fleet.sh up
down:
	@scripts/fleet.sh down
logs:
	@scripts/fleet.sh logs
ps:
	@scripts/fleet.sh ps

clean:
	@scripts/fleet.sh clean 2>/dev/null || true
	rm -rf build
