# The Debian package, built with dpkg-deb from a staged tree (images/deb/build.sh; what it
# installs and how it upgrades: images/deb/README.md). Included by the Makefile.
#   make deb                   $(B)/mokit_$(VERSION)_<native arch>.deb (build/mokit_..._amd64.deb)
#   make deb ARCH=arm64        build/arm64/mokit_$(VERSION)_arm64.deb, the Pi's
#   make deb VERSION=0.1.0+t1  another version from the same tree (tests/deb upgrades with it)
#   make deb-check [ARCH=arm64]  the package's contents: architecture, ELF machine, file list,
#                              every shared library resolved by dpkg-shlibdeps
#   make deb-test              installs, runs, upgrades and removes the package on this machine
#                              (root, no other mokit installed; for CI, not part of `make test`)
ifeq ($(ARCH),arm64)
DEB_ARCH := arm64
DEB_CROSS := aarch64-linux-gnu-
else
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_CROSS :=
endif
DEB := $(B)/mokit_$(VERSION)_$(DEB_ARCH).deb
DEB_MAINTAINER ?= mokit maintainers <maintainers@mokit.invalid>
DEB_INPUTS := images/deb/build.sh images/deb/control images/deb/postinst images/deb/prerm \
              images/deb/postrm images/deb/mokit.service images/deb/README.md images/package.mk \
              app/mokitd.conf README.md LICENSE $(wildcard hw/udev/6*-mokit-*.rules) \
              $(wildcard hw/*.md hw/*.svg hw/*.csv hw/*.txt app/doc/*.md) \
              $(shell find app/web -type f 2>/dev/null)

.PHONY: deb deb-check deb-test
deb:
	@[ "$(SANITIZE)" != 1 ] || { echo "make deb: not with SANITIZE=1 (a package of sanitizer builds is of no use)" >&2; exit 1; }
	@images/deps.sh $(DEPS_PROFILE) package
	@$(MAKE) --no-print-directory $(DEB)

$(DEB): $(B)/mokitd $(B)/mokit $(DEB_INPUTS)
	@CROSS=$(DEB_CROSS) DEB_MAINTAINER='$(DEB_MAINTAINER)' images/deb/build.sh $(B) $(DEB_ARCH) $(VERSION) $@

deb-check: deb
	@tests/deb/check.sh $(DEB) $(DEB_ARCH)

deb-test:
	@[ -z "$(ARCH)$(filter 1,$(SANITIZE))" ] || { echo "make deb-test: native builds only (it installs the package here)" >&2; exit 1; }
	@images/deps.sh build test package
	@tests/deb/run.sh $(B) $(VERSION)
