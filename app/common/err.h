/* Error codes of app/: 0 is success, failures are negative. mk_strerror() gives the words. */
#pragma once

enum mk_err {
    MK_OK = 0,
    MK_ENOMEM = -1,    /* out of memory */
    MK_EINVAL = -2,    /* invalid input */
    MK_ENOTFOUND = -3, /* no such record */
    MK_EEXIST = -4,    /* exact duplicate exists */
    MK_ELIKELY = -5,   /* likely duplicates exist; confirmation needed */
    MK_EDB = -6,       /* database error */
    MK_EIO = -7,       /* file or system error */
    MK_EAUTH = -8,     /* wrong PIN or token */
    MK_EPERM = -9,     /* role not allowed */
    MK_ECHECK = -10,   /* check character wrong */
    MK_EBUSY = -11,    /* resource in use */
    MK_ERANGE = -12,   /* value outside the plausible range */
    MK_ESCHEMA = -13,  /* database is from a newer mokit */
    MK_ENOSPC = -14,   /* disk full */
};

const char *mk_strerror(int err);
