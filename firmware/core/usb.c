/* The USB transport: a printer-class interface (class 7) through libusb, with the kernel's
 * usblp detached while we hold it. Bytes go out on the bulk OUT endpoint; the status answer
 * comes back on the bulk IN endpoint of bidirectional printers (protocol 2). */
#include "transport.h"

#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK            4096  /* bytes per bulk transfer: small printers have small buffers */
#define CHUNK_TIMEOUT_MS 15000 /* a printer that takes nothing for this long is stuck */

struct usb {
    libusb_context *ctx;
    libusb_device_handle *h;
    int iface;
    uint8_t ep_out, ep_in; /* ep_in 0: no return channel */
    int detached;          /* usblp was bound: give it back at close */
};

static int usb_code(int e)
{
    switch (e) {
    case LIBUSB_ERROR_NO_DEVICE:
    case LIBUSB_ERROR_NOT_FOUND:
        return FW_ENODEV;
    case LIBUSB_ERROR_BUSY:
        return FW_EBUSY;
    case LIBUSB_ERROR_TIMEOUT:
        return FW_ETIMEDOUT;
    case LIBUSB_ERROR_NO_MEM:
        return FW_ENOMEM;
    default:
        return FW_EIO;
    }
}

static int usb_write(struct fw_printer *pr, const uint8_t *data, size_t n, char *err, size_t errlen)
{
    struct usb *u = pr->priv;
    for (size_t off = 0; off < n;) {
        int len = (int)(n - off < CHUNK ? n - off : CHUNK), done = 0;
        int r = libusb_bulk_transfer(u->h, u->ep_out, (unsigned char *)(uintptr_t)(data + off), len,
                                     &done, CHUNK_TIMEOUT_MS);
        off += (size_t)(done > 0 ? done : 0);
        if (r != 0)
            return tr_fail(err, errlen, usb_code(r),
                           "USB printer: write failed after %zu of %zu bytes: %s", off, n,
                           libusb_strerror(r));
    }
    return FW_OK;
}

static int usb_read(struct fw_printer *pr, uint8_t *buf, size_t cap, int timeout_ms, size_t *got)
{
    struct usb *u = pr->priv;
    *got = 0;
    if (!u->ep_in || timeout_ms == 0) /* no return channel; nothing stale to drop on USB */
        return FW_OK;
    int done = 0;
    int r = libusb_bulk_transfer(u->h, u->ep_in, buf, (int)cap, &done, (unsigned)timeout_ms);
    if (r == LIBUSB_ERROR_TIMEOUT || r == LIBUSB_ERROR_OVERFLOW)
        return FW_OK;
    if (r != 0)
        return usb_code(r);
    *got = (size_t)done;
    return FW_OK;
}

static void usb_close(struct fw_printer *pr)
{
    struct usb *u = pr->priv;
    if (!u)
        return;
    if (u->h) {
        libusb_release_interface(u->h, u->iface);
        if (u->detached)
            libusb_attach_kernel_driver(u->h, u->iface);
        libusb_close(u->h);
    }
    if (u->ctx)
        libusb_exit(u->ctx);
    free(u);
    pr->priv = NULL;
}

static const struct tr_ops usb_ops = {
    .name = "usb", .write = usb_write, .read = usb_read, .close = usb_close};

/* The printer interface of dev: its number, alternate setting and bulk endpoints. */
static bool printer_interface(libusb_device *dev, int *iface, int *alt, uint8_t *out, uint8_t *in)
{
    struct libusb_config_descriptor *cfg;
    if (libusb_get_active_config_descriptor(dev, &cfg) != 0 &&
        libusb_get_config_descriptor(dev, 0, &cfg) != 0)
        return false;
    bool found = false;
    for (int i = 0; i < cfg->bNumInterfaces && !found; i++) {
        const struct libusb_interface *itf = &cfg->interface[i];
        for (int a = 0; a < itf->num_altsetting && !found; a++) {
            const struct libusb_interface_descriptor *d = &itf->altsetting[a];
            if (d->bInterfaceClass != LIBUSB_CLASS_PRINTER)
                continue;
            *out = *in = 0;
            for (int e = 0; e < d->bNumEndpoints; e++) {
                const struct libusb_endpoint_descriptor *ep = &d->endpoint[e];
                if ((ep->bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK)
                    continue;
                if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) {
                    if (!*in && d->bInterfaceProtocol >= 2)
                        *in = ep->bEndpointAddress;
                } else if (!*out) {
                    *out = ep->bEndpointAddress;
                }
            }
            if (*out) {
                *iface = d->bInterfaceNumber;
                *alt = d->bAlternateSetting;
                found = true;
            }
        }
    }
    libusb_free_config_descriptor(cfg);
    return found;
}

int tr_usb_open(struct fw_printer *pr, char *err, size_t errlen)
{
    struct usb *u = calloc(1, sizeof *u);
    if (!u)
        return FW_ENOMEM;
    pr->priv = u;
    pr->ops = &usb_ops;
    int r = libusb_init(&u->ctx);
    if (r != 0)
        return tr_fail(err, errlen, FW_EIO, "libusb: %s", libusb_strerror(r));
    libusb_device **list;
    ssize_t n = libusb_get_device_list(u->ctx, &list);
    if (n < 0)
        return tr_fail(err, errlen, FW_EIO, "libusb: %s", libusb_strerror((int)n));
    int rc = FW_ENODEV, alt = 0;
    for (ssize_t i = 0; i < n && !u->h; i++) {
        struct libusb_device_descriptor dd;
        if (libusb_get_device_descriptor(list[i], &dd) != 0)
            continue;
        if (pr->uri.vid && (dd.idVendor != pr->uri.vid || dd.idProduct != pr->uri.pid))
            continue;
        if (!printer_interface(list[i], &u->iface, &alt, &u->ep_out, &u->ep_in))
            continue;
        r = libusb_open(list[i], &u->h);
        if (r != 0) {
            rc = tr_fail(err, errlen, r == LIBUSB_ERROR_ACCESS ? FW_EIO : usb_code(r),
                         "USB printer %04x:%04x: %s%s", dd.idVendor, dd.idProduct,
                         libusb_strerror(r),
                         r == LIBUSB_ERROR_ACCESS ? " (install the kit's udev rule, see hw/)" : "");
            u->h = NULL;
            continue;
        }
        if (pr->uri.serial[0]) {
            char sn[128] = "";
            if (!dd.iSerialNumber ||
                libusb_get_string_descriptor_ascii(u->h, dd.iSerialNumber, (unsigned char *)sn,
                                                   sizeof sn) < 0 ||
                strcmp(sn, pr->uri.serial) != 0) {
                libusb_close(u->h);
                u->h = NULL;
                continue;
            }
        }
        rc = FW_OK;
    }
    libusb_free_device_list(list, 1);
    if (!u->h) {
        if (rc == FW_ENODEV)
            tr_fail(err, errlen, FW_ENODEV, "no USB printer %s",
                    pr->uri.vid ? "with that id" : "found");
        return rc;
    }
    /* usblp binds to every printer: take the interface from it (and give it back at close). */
    if (libusb_kernel_driver_active(u->h, u->iface) == 1) {
        r = libusb_detach_kernel_driver(u->h, u->iface);
        if (r != 0)
            return tr_fail(err, errlen, usb_code(r), "USB printer: cannot detach usblp: %s",
                           libusb_strerror(r));
        u->detached = 1;
    }
    r = libusb_claim_interface(u->h, u->iface);
    if (r != 0) /* usb_close gives usblp back */
        return tr_fail(err, errlen, usb_code(r), "USB printer: cannot claim interface %d: %s",
                       u->iface, libusb_strerror(r));
    if (alt != 0 && (r = libusb_set_interface_alt_setting(u->h, u->iface, alt)) != 0)
        return tr_fail(err, errlen, usb_code(r), "USB printer: alternate setting %d: %s", alt,
                       libusb_strerror(r));
    return FW_OK;
}
