#include "err.h"

const char *mk_strerror(int err)
{
    switch (err) {
    case MK_OK:
        return "success";
    case MK_ENOMEM:
        return "out of memory";
    case MK_EINVAL:
        return "invalid input";
    case MK_ENOTFOUND:
        return "not found";
    case MK_EEXIST:
        return "already exists";
    case MK_ELIKELY:
        return "likely duplicate; confirm to create a new record";
    case MK_EDB:
        return "database error";
    case MK_EIO:
        return "input/output error";
    case MK_EAUTH:
        return "authentication failed";
    case MK_EPERM:
        return "not allowed for this role";
    case MK_ECHECK:
        return "check character is wrong";
    case MK_EBUSY:
        return "busy";
    case MK_ERANGE:
        return "value out of range";
    case MK_ESCHEMA:
        return "database was written by a newer mokit";
    case MK_ENOSPC:
        return "disk full";
    }
    return "unknown error";
}
