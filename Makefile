# Convenience wrapper around CMake:
#   make                      configure and build into $(BUILD_DIR)
#   make test                 build, then run the unit and CLI tests (ctest -L 'unit|cli')
#   make check                build, then run every test that needs no extra tools
#   make install PREFIX=DIR   install programs, library, headers, igtcloud.pc, man pages
#                             and bash completion under DIR (default /usr/local);
#                             DESTDIR=... stages the install for packaging
#   make clean                remove $(BUILD_DIR)
# CMake options pass through CMAKE_FLAGS, e.g.
#   make CMAKE_FLAGS='-DIGTCLOUD_UPGRADE_FEED_URL=https://example.com/feed.json'

BUILD_DIR ?= build
PREFIX ?= /usr/local
BUILD_TYPE ?= RelWithDebInfo
CMAKE ?= cmake
CTEST ?= ctest
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build configure test check install uninstall clean

all: build

configure: $(BUILD_DIR)/CMakeCache.txt

$(BUILD_DIR)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: configure
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)

test: build
	cd $(BUILD_DIR) && $(CTEST) --output-on-failure -j$(JOBS) -L 'unit|cli'

check: build
	cd $(BUILD_DIR) && $(CTEST) --output-on-failure -j$(JOBS) -L 'unit|cli|integration'

install: build
	$(CMAKE) --install $(BUILD_DIR) --prefix $(PREFIX)

# Removes what the last install put in place (CMake records it in install_manifest.txt).
uninstall:
	@test -f $(BUILD_DIR)/install_manifest.txt || { echo "nothing installed from $(BUILD_DIR)"; exit 1; }
	xargs -d '\n' rm -f -- <$(BUILD_DIR)/install_manifest.txt

clean:
	rm -rf $(BUILD_DIR)
