# PGXS build of the projection_offset extension, for PostgreSQL 15 to 18.
#   make && make install     build and install into pg_config's tree
#   make installcheck        regression (sql/) then isolation (test/isolation/)
#                            tests against a running server, as any OS user
#                            who can connect as a superuser (PGHOST, PGPORT,
#                            PGUSER select the server)
#   make PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config ...   another version
# Builds out of the source tree too (VPATH), as Debian's pg_buildext does:
#   make -C build-17 -f ../Makefile VPATH=.. PG_CONFIG=...
# The unit tests of the pure core build with CMake (see CMakeLists.txt).

EXTENSION = projection_offset
MODULE_big = projection_offset

# The source directory, in the tree or out of it (PGXS sets srcdir only
# after its include, and the lists below need it first).
po_src := $(if $(VPATH),$(VPATH),$(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST)))))
po_files = $(patsubst $(po_src)/%,%,$(sort $(wildcard $(addprefix $(po_src)/,$(1)))))

DATA = $(call po_files,projection_offset--*.sql)

CORE_SRCS = $(call po_files,src/core/*.cpp)
PG_SRCS = $(call po_files,src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

REGRESS = $(patsubst sql/%.sql,%,$(call po_files,sql/*.sql))
REGRESS_OPTS = --load-extension=projection_offset

# Concurrency specs, run by pg_isolation_regress after the regression tests.
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(call po_files,test/isolation/specs/*.spec))
ISOLATION_OPTS = --inputdir=$(po_src)/test/isolation --load-extension=projection_offset

PG_CONFIG ?= pg_config

# -Wno-register: PostgreSQL's own headers (s_lock.h, atomics) use the C
# "register" keyword, which C++17 removed; our code does not use it.
CXX_LANG = -std=c++17 -Wno-register
PG_CXXFLAGS = $(CXX_LANG) -fno-omit-frame-pointer -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = -lstdc++

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Out of the tree, the objects go to subdirectories of the build directory.
ifneq ($(po_src),.)
$(shell mkdir -p src/core src/pg)
endif

# PGXS tracks no header dependencies (Debian builds without autodepend):
# every object depends on every header, which is cheap at this size.
HEADERS = $(wildcard $(po_src)/src/core/*.hpp $(po_src)/src/pg/*.hpp)
$(OBJS) $(OBJS:.o=.bc): $(HEADERS)

# PGXS also compiles every object to LLVM bitcode with clang for JIT inlining,
# using BITCODE_CXXFLAGS rather than CXXFLAGS. Give that step the same
# language settings, so the bitcode is built from the same code as the object.
override BITCODE_CXXFLAGS += $(CXX_LANG)
