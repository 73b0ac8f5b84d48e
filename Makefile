# PGXS build of the projection_offset extension.
#   make && make install            build and install into pg_config's tree
#   make installcheck               pg_regress against a running server
# The unit tests of the pure core build with CMake (see CMakeLists.txt).

EXTENSION = projection_offset
MODULE_big = projection_offset
DATA = $(wildcard projection_offset--*.sql)

CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=projection_offset

PG_CONFIG ?= pg_config

# -Wno-register: PostgreSQL's own headers (s_lock.h, atomics) use the C
# "register" keyword, which C++17 removed; our code does not use it.
CXX_LANG = -std=c++17 -Wno-register
PG_CXXFLAGS = $(CXX_LANG) -fno-omit-frame-pointer -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = -lstdc++

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (Debian builds without autodepend):
# every object depends on every header, which is cheap at this size.
HEADERS = $(wildcard src/core/*.hpp src/pg/*.hpp)
$(OBJS) $(OBJS:.o=.bc): $(HEADERS)

# PGXS also compiles every object to LLVM bitcode with clang for JIT inlining,
# using BITCODE_CXXFLAGS rather than CXXFLAGS. Give that step the same
# language settings, so the bitcode is built from the same code as the object.
override BITCODE_CXXFLAGS += $(CXX_LANG)
