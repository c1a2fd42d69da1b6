# The Raspberry Pi SD-card image (images/README.md), built as root from Debian packages:
#   make image        build/image/mokit-$(VERSION)-arm64.img and .img.bmap (XZ=1: and .img.xz)
#   make image-test   the image's root file system alone, then its checks (TAP)
# Options: DEB=FILE the arm64 package to install (default: the one `make deb ARCH=arm64` builds,
# built first); MIRROR, SECURITY_MIRROR the Debian mirrors (default: the bookworm ones this
# machine's apt uses); SSH_KEY=FILE an image with an SSH
# server for that public key only; IMAGE_DIR where it all goes.
IMAGE_DIR ?= build/image
IMAGE_CACHE ?= build/image-cache
MIRROR ?=
SECURITY_MIRROR ?=
SSH_KEY ?=
XZ ?= 0
IMAGE := $(IMAGE_DIR)/mokit-$(VERSION)-arm64.img
# DEB only when given on the command line or in the environment (package.mk may use the name).
IMAGE_DEB_GIVEN := $(filter command line environment,$(origin DEB))
IMAGE_DEB = $(if $(IMAGE_DEB_GIVEN),$(DEB),build/arm64/mokit_$(VERSION)_arm64.deb)
IMAGE_ARGS = --deb $(IMAGE_DEB) $(if $(MIRROR),--mirror $(MIRROR)) \
             $(if $(SECURITY_MIRROR),--security-mirror $(SECURITY_MIRROR)) \
             --cache $(IMAGE_CACHE) $(if $(SSH_KEY),--ssh-key $(SSH_KEY))

.PHONY: image image-test image-deb
image-deb:
ifeq ($(IMAGE_DEB_GIVEN),)
	@$(MAKE) --no-print-directory ARCH=arm64 deb
endif

image: image-deb
	@images/image/host.sh image
	@start=$$(date +%s) && \
	images/image/rootfs.sh $(IMAGE_ARGS) --out $(IMAGE_DIR)/rootfs && \
	images/image/assemble.sh $(IMAGE_DIR)/rootfs $(IMAGE) && \
	images/image/test.sh --image $(IMAGE) && \
	rm -rf $(IMAGE_DIR)/rootfs && \
	if [ "$(XZ)" = 1 ]; then xz -T0 -6 -k -f $(IMAGE); fi && \
	echo "image: $(IMAGE) in $$(( $$(date +%s) - start )) s"

image-test: image-deb
	@images/image/host.sh rootfs
	@start=$$(date +%s) && \
	images/image/rootfs.sh $(IMAGE_ARGS) --out $(IMAGE_DIR)/test-rootfs && \
	images/image/test.sh --rootfs $(IMAGE_DIR)/test-rootfs && \
	echo "image-test: $$(( $$(date +%s) - start )) s"
