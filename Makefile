# Rideshare - build, test, run. See README.md.
CC      ?= cc
PKGS    := libmicrohttpd librabbitmq jansson libcurl sqlite3
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes -Wno-format-nonliteral
# common/ is two layers: the generic libraries, and common/fleet/, what Rideshare's own
# programs share (the wire protocol, ZooKeeper layout, db client); code names the second
# as "fleet/<module>.h" (README "Layout").
CFLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -Icommon
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lzookeeper_mt -lpthread -lm
REL_FLAGS  := -O2 -g
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

SERVICES := users rides orchestrator worker dockerproxy
BIN      := $(SERVICES:%=build/rel/%)
ASAN_BIN := $(SERVICES:%=build/asan/%)
UNIT_SRC := $(wildcard tests/unit/*_test.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

-include $(shell find build -name '*.d' 2>/dev/null)

.PHONY: all asan unit test deps up down logs ps clean bench bench-profile fuzz memcheck soak up-swarm down-swarm
all: $(BIN)
asan: $(ASAN_BIN)
unit: $(UNIT_BIN)

# $(1)=variant (rel|asan), $(2)=extra flags. Objects live in build/$(1)/obj,
# binaries in build/$(1)/<service>; -MMD keeps header dependencies exact.
define variant
build/$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) -MMD -MP -c $$< -o $$@
build/$(1)/libcommon.a: $$(patsubst %.c,build/$(1)/obj/%.o,$$(wildcard common/*.c common/fleet/*.c))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/lib%.a: $$$$(addprefix build/$(1)/obj/,$$$$(addsuffix .o,$$$$(basename $$$$(filter-out $$$$*/main.c,$$$$(wildcard $$$$*/*.c)))))
	@rm -f $$@; ar rcs $$@ $$^
build/$(1)/%: build/$(1)/obj/%/main.o build/$(1)/lib%.a build/$(1)/libcommon.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
endef
# The dashboard page is embedded by page.c (.incbin), which -MMD cannot see.
build/rel/obj/orchestrator/page.o build/asan/obj/orchestrator/page.o: orchestrator/dashboard.html

.SECONDEXPANSION:
.SECONDARY:
$(eval $(call variant,rel,$(REL_FLAGS)))
$(eval $(call variant,asan,$(ASAN_FLAGS)))

# A unit test tests/unit/<module>_<name>_test.c links the library of <module>
# (common, users, rides, orchestrator or worker) and libcommon. The tests name the
# headers of common/fleet/ without the folder, as they did before it existed.
build/asan/tests/%: tests/unit/%.c build/asan/libcommon.a $$(if $$(filter common,$$(firstword $$(subst _, ,$$*))),,build/asan/lib$$(firstword $$(subst _, ,$$*)).a)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icommon/fleet $(ASAN_FLAGS) -o $@ $< $(filter %.a,$(filter-out build/asan/libcommon.a,$^)) build/asan/libcommon.a $(LDLIBS) -lcmocka

deps:
	@scripts/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory all asan unit
	@tests/run-all.sh

# The fault-injection suite with 100 master-freeze rounds (JEPSEN_ROUNDS_<NEMESIS> or
# JEPSEN_ROUNDS set the others; 20 by default), then a slave joining a 1 GiB store
# (RS_BIG_SNAPSHOT_MB). See tests/integration/test_faults_jepsen.py and test_ha_writes.py.
soak: deps
	@$(MAKE) --no-print-directory all asan
	JEPSEN_ROUNDS_FREEZE=$${JEPSEN_ROUNDS_FREEZE:-100} RS_BIN=$(CURDIR)/build/asan /usr/bin/python3 -m pytest \
	    tests/integration/test_faults_jepsen.py -q -rfE -s -p no:cacheprovider
	RS_BIG_SNAPSHOT_MB=$${RS_BIG_SNAPSHOT_MB:-1024} RS_BIN=$(CURDIR)/build/rel /usr/bin/python3 -m pytest \
	    tests/integration/test_ha_writes.py -k larger -q -rfE -s -p no:cacheprovider

bench: deps all
	@tests/bench/run.sh

# CPU microseconds per request in each component (docs/DESIGN.md "Cost model").
bench-profile: deps all
	@/usr/bin/python3 tests/bench/profile.py

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

# The same images as a Docker Swarm stack (docker/stack.yml; docs/DEPLOY.md): 3 ZooKeeper,
# 3 RabbitMQ, 2 users, 2 rides, workers as services; ports 18080/18001/18002/18081.
up-swarm:
	@scripts/swarm.sh up
down-swarm:
	@scripts/swarm.sh down

clean:
	@scripts/fleet.sh clean 2>/dev/null || true
	rm -rf build
