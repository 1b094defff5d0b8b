# Builds the C library of tallyfy-files in release mode and installs it the
# way C and C++ projects expect: a shared library with a SONAME and the usual
# symlinks, the static library, the C and C++ headers, a pkg-config file and
# a CMake package.
#
#     make
#     make install PREFIX=/usr/local
#     make uninstall PREFIX=/usr/local
#
# Variables, set on the command line (folders must be absolute paths without
# spaces):
#   PREFIX            installation prefix (default /usr/local)
#   LIBDIR            libraries (default $(PREFIX)/lib)
#   INCLUDEDIR        headers (default $(PREFIX)/include)
#   PKGCONFIGDIR      tallyfy_files.pc (default $(LIBDIR)/pkgconfig)
#   CMAKEDIR          the CMake package (default $(LIBDIR)/cmake/tallyfy_files)
#   DESTDIR           a staging folder put before every installed path, for
#                     building packages; the files still refer to PREFIX
#   CARGO             the cargo command (default cargo)
#   CARGOFLAGS        extra cargo options, such as --locked or --offline
#   CAPI_TARGET_DIR   the release build's folder (default ./target/capi), kept
#                     apart from target/release so that `make install` never
#                     replaces the library that `cargo build --release` made
#
# Linux and other ELF platforms only: the SONAME is set with the -soname
# linker option of GNU ld, gold, lld and mold.

SHELL = /bin/bash

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/tallyfy_files
DESTDIR ?=
CARGO ?= cargo
CARGOFLAGS ?=
CAPI_TARGET_DIR ?= $(CURDIR)/target/capi
INSTALL ?= install

# The version of the [package] table of Cargo.toml, such as 0.1.0, without
# any pre-release or build suffix for the file names.
VERSION := $(shell sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
VERSION_NUMBERS := $(subst ., ,$(firstword $(subst -, ,$(subst +, ,$(VERSION)))))
MAJOR := $(word 1,$(VERSION_NUMBERS))
MINOR := $(word 2,$(VERSION_NUMBERS))
PATCH := $(word 3,$(VERSION_NUMBERS))

# The SONAME carries the part of the version that changes with every
# incompatible release under Cargo's semver rules: MAJOR from 1.0 on, and
# 0.MINOR before (0.0.PATCH for 0.0 versions). cargo-c applies the same rule
# by default, so both install the same file names.
ifeq ($(MAJOR),0)
ifeq ($(MINOR),0)
SOVERSION := 0.0.$(PATCH)
else
SOVERSION := 0.$(MINOR)
endif
else
SOVERSION := $(MAJOR)
endif

LIBRARY := libtallyfy_files
SONAME := $(LIBRARY).so.$(SOVERSION)
REALNAME := $(LIBRARY).so.$(MAJOR).$(MINOR).$(PATCH)

RELEASE_DIR := $(CAPI_TARGET_DIR)/release
CAPI_DIR := $(RELEASE_DIR)/capi
NATIVE_STATIC_LIBS_FILE := $(CAPI_DIR)/native-static-libs.txt

# The .pc file names its folders relative to ${prefix} where it can, so that
# pkg-config --define-prefix can move it. The CMake package finds its files
# relative to its own folder, so that a moved prefix still works.
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
CMAKE_LIBDIR = $(shell realpath -m --relative-to=$(CMAKEDIR) $(LIBDIR))
CMAKE_INCLUDEDIR = $(shell realpath -m --relative-to=$(CMAKEDIR) $(INCLUDEDIR))
POINTER_SIZE = $(shell echo $$(( $$(getconf LONG_BIT) / 8 )))

INSTALL_DIRS = PREFIX LIBDIR INCLUDEDIR PKGCONFIGDIR CMAKEDIR

all: build

# Builds the cdylib and the staticlib in one rustc run. rustc prints the
# system libraries that the static library needs, which go into the .pc
# file's Libs.private and the CMake static target; cargo repeats the note
# when the build was already fresh. The capi feature compiles TRACE log
# records out of the library.
build:
	@test -n "$(VERSION)" || { echo "make: no version in the [package] table of Cargo.toml" >&2; exit 1; }
	@mkdir -p $(CAPI_DIR)
	set -o pipefail; \
	$(CARGO) rustc --release --lib --features capi --target-dir $(CAPI_TARGET_DIR) $(CARGOFLAGS) \
	    -- -C link-arg=-Wl,-soname,$(SONAME) --print native-static-libs 2>&1 \
	    | tee $(CAPI_DIR)/build.log
	sed -n 's/^note: native-static-libs: //p' $(CAPI_DIR)/build.log | tail -n 1 > $(NATIVE_STATIC_LIBS_FILE)
	@test -s $(NATIVE_STATIC_LIBS_FILE) || { \
	    echo "make: rustc printed no native-static-libs line; see $(CAPI_DIR)/build.log" >&2; exit 1; }

check-dirs:
	@for setting in $(foreach name,$(INSTALL_DIRS),$(name)=$($(name))); do \
	    case "$${setting#*=}" in \
	        /*) ;; \
	        *) echo "make: $${setting%%=*} must be an absolute path, not '$${setting#*=}'" >&2; exit 1 ;; \
	    esac; \
	done

install: check-dirs build
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	$(INSTALL) -m 755 $(RELEASE_DIR)/$(LIBRARY).so $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/$(LIBRARY).so
	$(INSTALL) -m 644 $(RELEASE_DIR)/$(LIBRARY).a $(DESTDIR)$(LIBDIR)/$(LIBRARY).a
	$(INSTALL) -m 644 include/tallyfy_files.h include/tallyfy_files.hpp $(DESTDIR)$(INCLUDEDIR)/
	native="$$(cat $(NATIVE_STATIC_LIBS_FILE))"; \
	cmake_native=""; \
	for flag in $$native; do \
	    case "$$flag" in -l*) flag="$${flag#-l}" ;; esac; \
	    cmake_native="$${cmake_native:+$$cmake_native;}$$flag"; \
	done; \
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(PC_LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' \
	    -e "s|@NATIVE_STATIC_LIBS@|$$native|g" \
	    packaging/tallyfy_files.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/tallyfy_files.pc && \
	sed -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@LIBDIR_FROM_CMAKEDIR@|$(CMAKE_LIBDIR)|g' \
	    -e 's|@INCLUDEDIR_FROM_CMAKEDIR@|$(CMAKE_INCLUDEDIR)|g' \
	    -e 's|@REALNAME@|$(REALNAME)|g' \
	    -e 's|@SONAME@|$(SONAME)|g' \
	    -e 's|@STATIC_LIBRARY@|$(LIBRARY).a|g' \
	    -e "s|@NATIVE_STATIC_LIBS@|$$cmake_native|g" \
	    packaging/tallyfy_filesConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/tallyfy_filesConfig.cmake && \
	sed -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@MAJOR@|$(MAJOR)|g' \
	    -e 's|@MINOR@|$(MINOR)|g' \
	    -e 's|@POINTER_SIZE@|$(POINTER_SIZE)|g' \
	    packaging/tallyfy_filesConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/tallyfy_filesConfigVersion.cmake

# Removes the files that `make install` of this version put there, and the
# CMake package's folder when it is left empty.
uninstall: check-dirs
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBRARY).so $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBRARY).a
	rm -f $(DESTDIR)$(INCLUDEDIR)/tallyfy_files.h $(DESTDIR)$(INCLUDEDIR)/tallyfy_files.hpp
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/tallyfy_files.pc
	rm -f $(DESTDIR)$(CMAKEDIR)/tallyfy_filesConfig.cmake $(DESTDIR)$(CMAKEDIR)/tallyfy_filesConfigVersion.cmake
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true

# Prints the names and folders that `make install` uses.
print-install:
	@echo "version    $(VERSION)"
	@echo "soname     $(SONAME)"
	@echo "library    $(LIBDIR)/$(REALNAME)"
	@echo "headers    $(INCLUDEDIR)"
	@echo "pkg-config $(PKGCONFIGDIR)/tallyfy_files.pc"
	@echo "cmake      $(CMAKEDIR)"

.PHONY: all build check-dirs install uninstall print-install
