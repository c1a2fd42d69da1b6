/* mokit firmware: an IEEE 11073-20601 ("Continua") manager for personal health devices over
 * USB PHDC, pure: APDUs in, readings and the manager's answers out. No I/O, no clock, no
 * allocation, no globals. Protocol and sources: firmware/doc/ieee11073.md; numbers and times:
 * mder.h.
 *
 * What the manager does (the agent, the device, leads):
 *   association request (AARQ)  -> answer (AARE): accepted for a standard configuration this
 *                                  manager knows (blood pressure 0x02BC, scale 0x05DC, glucose
 *                                  0x06A4) or one the agent sent before in this connection;
 *                                  accepted-unknown-config otherwise, and the agent sends its
 *                                  configuration;
 *   configuration event report  -> ConfigReportRsp accepted (or unsupported-config for one it
 *                                  cannot use), then a GET of the MDS attributes: the device's
 *                                  clock (Date-and-Time), model and specialisations;
 *   scan reports (fixed, variable, multi-person fixed and variable) -> readings, each event
 *                                  report confirmed when the agent asks for a confirmation;
 *   a configuration with PM-stores (class 61: a glucometer's memory) -> after the MDS GET, per
 *                                  PM-store: SEG_GET_INFO (the segments, their entry maps and
 *                                  usage counts), then per segment holding results mokit keeps:
 *                                  SEG_TRIG_XFER, and each SEGMENT_DATA event decoded by the
 *                                  segment's entry map into stored readings and confirmed once
 *                                  all its entries are queued; when every segment is read, the
 *                                  manager releases the association (RLRQ, answered RLRE);
 *   release request (RLRQ)      -> release response (RLRE); abort (ABRT): back to the start. */
#pragma once

#include "fw_device.h"
#include "mder.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_PHD_MAX_APDU     8192 /* the longest APDU kept (a configuration, a scan report) */
#define FW_PHD_MAX_OBJS     24   /* objects of one configuration */
#define FW_PHD_MAX_MAP      8    /* attributes of one object's value map */
#define FW_PHD_QUEUE        32   /* readings decoded and not handed out yet */
#define FW_PHD_MAX_PMSTORES 4    /* PM-stores of one configuration that are read */
#define FW_PHD_MAX_SEGS     8    /* segments of one PM-store that are read */
#define FW_PHD_MAX_ELEMS    4    /* elements of one segment's entry map */
/* Entries read from one segment; the rest are confirmed and not kept. Well above a
 * glucometer's memory (an Accu-Chek Guide keeps 720 results). */
#define FW_PHD_MAX_SEG_ENTRIES 4000

/* Nomenclature (IEEE 11073-10101) codes this manager uses. */
enum {
    FW_PHD_PROTO_ID = 20601,
    /* object classes */
    FW_MDC_MOC_VMO_METRIC_NU = 6,
    FW_MDC_MOC_VMS_MDS_SIMP = 37,
    FW_MDC_MOC_VMO_PMSTORE = 61,
    /* nomenclature partitions */
    FW_MDC_PART_SCADA = 2,
    /* attributes */
    FW_MDC_ATTR_ID_HANDLE = 2337,
    FW_MDC_ATTR_ID_MODEL = 2344,
    FW_MDC_ATTR_ID_TYPE = 2351,
    FW_MDC_ATTR_MSMT_STAT = 2375,
    FW_MDC_ATTR_NU_VAL_OBS = 2384,
    FW_MDC_ATTR_SEG_USAGE_CNT = 2427,
    FW_MDC_ATTR_SYS_ID = 2436,
    FW_MDC_ATTR_TIME_ABS = 2439,
    FW_MDC_ATTR_TIME_STAMP_ABS = 2448,
    FW_MDC_ATTR_UNIT_CODE = 2454,
    FW_MDC_ATTR_DEV_CONFIG_ID = 2628,
    FW_MDC_ATTR_NU_VAL_OBS_BASIC = 2636,
    FW_MDC_ATTR_PM_SEG_MAP = 2638,
    FW_MDC_ATTR_ATTRIBUTE_VAL_MAP = 2645,
    FW_MDC_ATTR_NU_VAL_OBS_SIMP = 2646,
    FW_MDC_ATTR_PM_SEG_LABEL_STRING = 2648,
    FW_MDC_ATTR_SYS_TYPE_SPEC_LIST = 2650,
    FW_MDC_ATTR_NU_CMPD_VAL_OBS_SIMP = 2676,
    FW_MDC_ATTR_NU_CMPD_VAL_OBS_BASIC = 2677,
    FW_MDC_ATTR_ID_PHYSIO_LIST = 2678,
    /* actions on a PM-store */
    FW_MDC_ACT_SEG_GET_INFO = 3085,
    FW_MDC_ACT_SEG_TRIG_XFER = 3100,
    /* notifications */
    FW_MDC_NOTI_CONFIG = 3356,
    FW_MDC_NOTI_SCAN_REPORT_FIXED = 3357,
    FW_MDC_NOTI_SCAN_REPORT_VAR = 3358,
    FW_MDC_NOTI_SCAN_REPORT_MP_FIXED = 3359,
    FW_MDC_NOTI_SCAN_REPORT_MP_VAR = 3360,
    FW_MDC_NOTI_SEGMENT_DATA = 3361,
    /* what is measured */
    FW_MDC_PULS_OXIM_PULS_RATE = 18458,
    FW_MDC_PULS_RATE_NON_INV = 18474,
    FW_MDC_PRESS_BLD_NONINV = 18948,
    FW_MDC_PRESS_BLD_NONINV_SYS = 18949,
    FW_MDC_PRESS_BLD_NONINV_DIA = 18950,
    FW_MDC_PRESS_BLD_NONINV_MEAN = 18951,
    FW_MDC_TEMP_BODY = 19292,
    FW_MDC_PULS_OXIM_SAT_O2 = 19384,
    FW_MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD = 29112,
    FW_MDC_CONC_GLU_CAPILLARY_PLASMA = 29116,
    FW_MDC_CONC_GLU_CONTROL = 29136, /* control solution: not a person's result */
    FW_MDC_CONC_GLU_UNDETERMINED_WHOLEBLOOD = 29292,
    FW_MDC_CONC_GLU_UNDETERMINED_PLASMA = 29296, /* the Accu-Chek Guide's results */
    FW_MDC_MASS_BODY_ACTUAL = 57664,
    FW_MDC_LEN_BODY_ACTUAL = 57668,
    /* units */
    FW_MDC_DIM_PERCENT = 544,
    FW_MDC_DIM_CENTI_M = 1297,
    FW_MDC_DIM_INCH = 1376,
    FW_MDC_DIM_KILO_G = 1731,
    FW_MDC_DIM_LB = 1760,
    FW_MDC_DIM_MILLI_G_PER_DL = 2130,
    FW_MDC_DIM_BEAT_PER_MIN = 2720,
    FW_MDC_DIM_KILO_PASCAL = 3843,
    FW_MDC_DIM_MMHG = 3872,
    FW_MDC_DIM_FAHR = 4416,
    FW_MDC_DIM_MILLI_MOLE_PER_L = 4722,
    FW_MDC_DIM_DEGC = 6048,
};

/* Association results (AARE). */
enum fw_phd_assoc {
    FW_PHD_ACCEPTED = 0,
    FW_PHD_REJECTED_PERMANENT = 1,
    FW_PHD_ACCEPTED_UNKNOWN_CONFIG = 3,
    FW_PHD_REJECTED_NO_COMMON_PROTOCOL = 4,
    FW_PHD_REJECTED_NO_COMMON_PARAMETER = 5,
    FW_PHD_REJECTED_UNSUPPORTED_ASSOC_VERSION = 8,
};

/* One object of the agent's configuration: what it measures and how a fixed report lays out
 * its values (the attribute value map). */
struct fw_phd_obj {
    uint16_t cls, handle;
    uint16_t type; /* MDC code of what it measures (partition SCADA) */
    uint16_t unit; /* 0 when the configuration gives none */
    uint16_t physio[3];
    int nphysio; /* a compound value's components (blood pressure: sys, dia, mean) */
    uint16_t map_id[FW_PHD_MAX_MAP], map_len[FW_PHD_MAX_MAP];
    int nmap;
};

struct fw_phd_config {
    uint16_t id;
    int pm_stores; /* persistent metric stores (class 61): the device's memory */
    uint16_t pm_handle[FW_PHD_MAX_PMSTORES]; /* the first ones' handles (those that are read) */
    struct fw_phd_obj objs[FW_PHD_MAX_OBJS];
    int nobjs;
};

/* SegmEntryHeader (PmSegmentEntryMap): what each entry of a segment starts with, in this
 * order. */
enum {
    FW_PHD_SEG_ABS_TIME = 0x8000,   /* AbsoluteTime, 8 bytes */
    FW_PHD_SEG_REL_TIME = 0x4000,   /* RelativeTime, 4 bytes */
    FW_PHD_SEG_HIRES_TIME = 0x2000, /* HighResRelativeTime, 8 bytes */
};

/* One element of a segment's entry map: what it measures, the configuration object it stands
 * for, and the attributes each entry carries for it, in order (SegmEntryElem). */
struct fw_phd_elem {
    uint16_t cls, type; /* type: the code when its partition is SCADA, else 0 (not kept) */
    uint16_t handle;
    uint16_t unit; /* the configuration object's unit; mg/dL for a glucose object without one */
    uint16_t map_id[FW_PHD_MAX_MAP], map_len[FW_PHD_MAX_MAP];
    int nmap;
};

/* A PM-segment to read: its instance number and how its entries are laid out. */
struct fw_phd_seg {
    uint16_t inst;
    uint16_t header; /* FW_PHD_SEG_* */
    struct fw_phd_elem elems[FW_PHD_MAX_ELEMS];
    int nelems;
    size_t entry_size;
    long usage;    /* entries it holds (MDC_ATTR_SEG_USAGE_CNT); -1 when not given */
    bool fallback; /* no entry map: read as the Accu-Chek's 12-byte entries */
    char label[24];
};

enum fw_phd_state {
    FW_PHD_UNASSOCIATED = 0,
    FW_PHD_WAIT_CONFIG, /* accepted with an unknown configuration: waiting for the agent's */
    FW_PHD_OPERATING,
    FW_PHD_RELEASING, /* the manager asked for the release (RLRQ): waiting for the RLRE */
};

/* What the manager sends at its next timeout (a message of its own). */
enum fw_phd_send {
    FW_PHD_SEND_NONE = 0,
    FW_PHD_SEND_MDS_GET,
    FW_PHD_SEND_SEG_INFO, /* SEG_GET_INFO, all segments, on the PM-store being read */
    FW_PHD_SEND_TRIG,     /* SEG_TRIG_XFER of the segment being read */
    FW_PHD_SEND_RELEASE,  /* RLRQ: the memory is read */
};

/* Where the reading of the PM-stores is. */
enum fw_phd_pm {
    FW_PHD_PM_IDLE = 0,
    FW_PHD_PM_INFO, /* SEG_GET_INFO sent, or about to be */
    FW_PHD_PM_TRIG, /* SEG_TRIG_XFER sent, or about to be */
    FW_PHD_PM_XFER, /* the transfer accepted: SEGMENT_DATA events come */
    FW_PHD_PM_DONE,
};

/* A SEGMENT_DATA event being turned into readings: its entries are decoded as the queue has
 * room, and the event is confirmed when the last is queued, so none is lost. */
struct fw_phd_event {
    uint8_t data[FW_PHD_MAX_APDU]; /* its entries */
    size_t n, off;
    int seg; /* the segment (index into segs) */
    uint16_t invoke, handle, inst, status;
    uint32_t index, count;
    bool active, confirm; /* confirm: asked for, and the association still holds */
};

struct fw_phd {
    uint8_t apdu[FW_PHD_MAX_APDU]; /* the APDU being received */
    size_t have;
    size_t skip; /* bytes left of an APDU too long to keep (it is dropped) */
    enum fw_phd_state state;
    uint8_t system_id[8];       /* the agent's EUI-64 (the first 8 bytes) */
    struct fw_phd_config cfg;   /* the configuration in use */
    struct fw_phd_config known; /* the last one the agent sent in this connection */
    bool have_known;
    uint16_t invoke;      /* the manager's next invoke id */
    uint16_t get_invoke;  /* the MDS GET awaiting its answer; 0 none */
    uint16_t act_invoke;  /* the SEG_GET_INFO or SEG_TRIG_XFER awaiting its answer; 0 none */
    enum fw_phd_send due; /* goes out at the next timeout() */
    double due_at;        /* when timeout() is due (what is sent, queued readings, an event) */
    struct fw_reading queue[FW_PHD_QUEUE]; /* decoded, handed out FW_MAX_READINGS at a time */
    int qn, qhead;
    /* the PM-stores */
    enum fw_phd_pm pm;
    int pm_store; /* index into cfg.pm_handle */
    struct fw_phd_seg segs[FW_PHD_MAX_SEGS];
    int nsegs, seg;    /* the segments to read; the one being read */
    long seg_entries;  /* entries of that segment received */
    long seg_readings; /* readings they gave */
    long pm_readings;  /* readings from the memory in this association */
    struct fw_phd_event ev;
    long ignored; /* observations of kinds mokit does not keep (by code, each told once) */
    uint16_t told[8];
    char status[200];
};

/* The driver (device manager, replays). */
extern const struct fw_driver fw_drv_ieee11073;

/* The manager's system-id in AARE (an EUI-64 of our own, not a registered one). */
extern const uint8_t fw_phd_manager_id[8];

/* Feeds bytes from the agent (bulk IN transfers; APDUs may span transfers, several may share
 * one). Fills out: readings (at most FW_MAX_READINGS per call; more wait in the queue and come
 * at the next fw_phd_timeout(), whose deadline is then now), the answer to send (out->reply),
 * the device's clock (out->device_clock, local), status news. Always FW_OK: a malformed APDU is
 * dropped with a status saying why (the agent is told nothing; it times out and aborts or
 * retries), an unknown choice byte pair resynchronises at the next APDU start. */
int fw_phd_feed(struct fw_phd *s, const uint8_t *data, size_t n, double t, struct fw_decoded *out);
/* When fw_phd_timeout() is due (queued readings, a segment-data event not all queued yet, the
 * manager's next message: the MDS GET, SEG_GET_INFO, SEG_TRIG_XFER, RLRQ): t of the frame (or
 * timeout) that made it due; -1 when nothing waits. */
double fw_phd_deadline(const struct fw_phd *s);
int fw_phd_timeout(struct fw_phd *s, double now, struct fw_decoded *out);

/* Builds the answer to an association request body (AARQ after its 4-byte header): out gets
 * the whole AARE APDU. The result chosen; *config_id the agent's dev-config-id. FW_EINVAL for
 * a body too short to be an AARQ. */
int fw_phd_associate(struct fw_phd *s, const uint8_t *body, size_t n, uint8_t *out, size_t cap,
                     size_t *out_len, enum fw_phd_assoc *result, uint16_t *config_id);
/* Parses a ConfigReport (event-info of MDC_NOTI_CONFIG) into cfg. FW_OK; FW_EINVAL with why
 * (e.g. "object 3: no type") for one this manager cannot use. */
int fw_phd_config_parse(const uint8_t *p, size_t n, struct fw_phd_config *cfg, char *why,
                        size_t whylen);
/* The standard configuration of a dev-config-id this manager knows; false for another. */
bool fw_phd_standard_config(uint16_t id, struct fw_phd_config *cfg);
/* A measurement's code as a reading kind ("bp", "glucose", ...); NULL for a code mokit does not
 * keep. */
const char *fw_phd_kind(uint16_t type);
