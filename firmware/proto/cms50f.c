/* Contec CMS50 pulse oximeters, newer command protocol (115200 8N1): commands, packet decoding,
 * the live-data stream, protocol detection, the model probe and stored-data downloads. Pure.
 * Facts and sources: firmware/doc/cms50.md. */
#include "cms50f.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Packet lengths by type (byte 0 & 0x1f), from OSCAR's cms50f37 loader; live data (0x01, which
 * OSCAR's import does not take) is 9 bytes by every live-data source. 0: not known. */
static const uint8_t lengths[32] = {
    [FW_CMS50F_LIVE] = 9,         [FW_CMS50F_MODEL] = 9,
    [FW_CMS50F_VENDOR] = 9,       [FW_CMS50F_DEVICE_ID] = 9,
    [FW_CMS50F_USER_INFO] = 9,    [FW_CMS50F_VERSION] = 4,
    [FW_CMS50F_SESSION_DATE] = 8, [FW_CMS50F_SESSION_DURATION] = 8,
    [FW_CMS50F_STORED_PI] = 6,    [FW_CMS50F_SESSION_COUNT] = 4,
    [FW_CMS50F_SET_ACK] = 4,      [FW_CMS50F_STOP_ACK] = 2,
    [FW_CMS50F_PI_SUPPORT] = 3,   [FW_CMS50F_STORED] = 8,
    [FW_CMS50F_USER_COUNT] = 3,   [FW_CMS50F_INFO] = 9,
    [FW_CMS50F_SESSION_TIME] = 8, [FW_CMS50F_UNKNOWN_13] = 9,
    [FW_CMS50F_UNKNOWN_14] = 9,
};

size_t fw_cms50f_packet_len(uint8_t type_byte)
{
    return type_byte & 0x80 ? 0 : lengths[type_byte & 0x1f];
}

size_t fw_cms50f_encode(uint8_t type, const uint8_t *payload, size_t n, uint8_t *out, size_t cap)
{
    if ((type & 0x80) || n > 7 || n + 2 > cap || !out || (n && !payload))
        return 0;
    uint8_t high = 0x80;
    out[0] = type;
    for (size_t i = 0; i < n; i++) {
        if (payload[i] & 0x80)
            high |= (uint8_t)(1u << i);
        out[2 + i] = payload[i] | 0x80;
    }
    out[1] = high;
    return n + 2;
}

size_t fw_cms50f_command_args(uint8_t cmd, const uint8_t args[6], uint8_t out[FW_CMS50F_CMD_LEN])
{
    if (!(cmd & 0x80))
        return 0;
    uint8_t payload[7] = {cmd};
    if (args)
        memcpy(payload + 1, args, 6);
    return fw_cms50f_encode(0x7d, payload, sizeof payload, out, FW_CMS50F_CMD_LEN);
}

size_t fw_cms50f_command(uint8_t cmd, uint8_t out[FW_CMS50F_CMD_LEN])
{
    return fw_cms50f_command_args(cmd, NULL, out);
}

int fw_cms50f_command_parse(const uint8_t *p, size_t n, uint8_t *cmd, uint8_t args[6])
{
    if (!p || n < FW_CMS50F_CMD_LEN || p[0] != 0x7d || !(p[1] & 0x80))
        return FW_EINVAL;
    for (size_t i = 2; i < FW_CMS50F_CMD_LEN; i++)
        if (!(p[i] & 0x80))
            return FW_EINVAL;
    if (!(p[1] & 1)) /* a command has bit 7 set */
        return FW_EINVAL;
    if (cmd)
        *cmd = p[2];
    for (int k = 0; args && k < 6; k++)
        args[k] = (uint8_t)((p[3 + k] & 0x7f) | ((p[1] >> (k + 1)) & 1) << 7);
    return FW_CMS50F_CMD_LEN;
}

/* count characters from s: stops at a NUL, '?' for what is not printable ASCII, trailing
 * spaces removed. */
static void text(char *out, const uint8_t *s, size_t count)
{
    size_t n = 0;
    for (; n < count && s[n]; n++)
        out[n] = s[n] >= 0x20 && s[n] < 0x7f ? (char)s[n] : '?';
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static bool sample_valid(int spo2, int pulse)
{
    return pulse != 0 && pulse != 255 && spo2 >= 1 && spo2 <= 100;
}

int fw_cms50f_parse(const uint8_t *p, size_t n, struct fw_cms50f_packet *out)
{
    if (!p || n < 1 || !out)
        return FW_EINVAL;
    size_t len = fw_cms50f_packet_len(p[0]);
    if (len == 0 || n < len)
        return FW_EINVAL;
    for (size_t i = 1; i < len; i++)
        if (!(p[i] & 0x80))
            return FW_EINVAL;
    memset(out, 0, sizeof *out);
    out->type = p[0] & 0x1f;
    out->len = len;
    uint8_t *b = out->raw;
    b[0] = p[0];
    b[1] = p[1];
    for (size_t i = 2; i < len; i++) /* bit i - 2 of byte 1 is bit 7 of byte i */
        b[i] = (uint8_t)((p[i] & 0x7f) | ((p[1] >> (i - 2)) & 1) << 7);
    switch (out->type) {
    case FW_CMS50F_LIVE:
        out->live.signal = b[2] & 0x0f;
        out->live.search_long = b[2] & 0x10;
        out->live.dropping = b[2] & 0x20;
        out->live.beep = b[2] & 0x40;
        out->live.finger_out = b[2] & 0x80;
        out->live.pleth = b[3] & 0x7f;
        out->live.searching = b[3] & 0x80;
        out->live.bar = b[4] & 0x0f;
        out->live.pi_valid = !(b[4] & 0x10);
        out->live.pulse = b[5];
        out->live.spo2 = b[6];
        out->live.pi = b[7] | b[8] << 8;
        break;
    case FW_CMS50F_MODEL:
        out->segment = b[2];
        text(out->text, b + 3, 6);
        break;
    case FW_CMS50F_VENDOR:
    case FW_CMS50F_DEVICE_ID:
        text(out->text, b + 2, 7);
        break;
    case FW_CMS50F_USER_INFO:
        out->user = b[2];
        text(out->text, b + 3, 6);
        break;
    case FW_CMS50F_VERSION:
        out->version = b[2] << 8 | b[3];
        break;
    case FW_CMS50F_SESSION_DATE:
        out->year = b[4] * 100 + b[5];
        out->month = b[6];
        out->day = b[7];
        break;
    case FW_CMS50F_SESSION_TIME:
        out->hour = b[4];
        out->minute = b[5];
        out->second = b[6];
        break;
    case FW_CMS50F_SESSION_DURATION:
        out->duration =
            (long long)b[4] | (long long)b[5] << 8 | (long long)b[6] << 16 | (long long)b[7] << 24;
        break;
    case FW_CMS50F_SESSION_COUNT:
        out->user = b[2];
        out->count = b[3];
        break;
    case FW_CMS50F_PI_SUPPORT:
    case FW_CMS50F_USER_COUNT:
        out->count = b[2];
        break;
    case FW_CMS50F_INFO:
        out->info = b[3];
        break;
    case FW_CMS50F_STORED:
        out->nsamples = 3;
        for (int i = 0; i < 3; i++) {
            out->samples[i].spo2 = b[2 + 2 * i];
            out->samples[i].pulse = b[3 + 2 * i];
            out->samples[i].pi = -1;
            out->samples[i].valid = sample_valid(b[2 + 2 * i], b[3 + 2 * i]);
        }
        break;
    case FW_CMS50F_STORED_PI:
        out->nsamples = 1;
        out->samples[0].spo2 = b[2];
        out->samples[0].pulse = b[3];
        out->samples[0].pi = b[4] | b[5] << 8;
        out->samples[0].valid = sample_valid(b[2], b[3]);
        break;
    default: /* acknowledgements and packets whose fields are not known: raw only */
        break;
    }
    return (int)len;
}

/* Frames one byte: 1 with *k decoded when it completed a packet. */
static int frame(struct fw_cms50f *s, uint8_t byte, struct fw_cms50f_packet *k)
{
    s->cut_type = 0;
    if (!(byte & 0x80)) { /* a packet starts here */
        s->orphans = 0;
        if (s->have > 0) { /* the one before was cut short */
            s->dropped += (long)s->have;
            s->cut_type = s->buf[0] & 0x1f;
        }
        s->have = 0;
        size_t len = fw_cms50f_packet_len(byte);
        if (len == 0) { /* not a type we know: skip to the next start */
            s->dropped++;
            return 0;
        }
        s->buf[0] = byte;
        s->have = 1;
        s->need = len;
        return 0;
    }
    if (s->have == 0 || s->need > sizeof s->buf) { /* no start seen yet */
        s->dropped++;
        s->orphans++;
        return 0;
    }
    s->buf[s->have++] = byte;
    if (s->have < s->need)
        return 0;
    s->have = 0;
    if (fw_cms50f_parse(s->buf, s->need, k) < 0)
        return 0; /* cannot happen: the framing is the parser's rule */
    s->packets++;
    return 1;
}

static bool live_valid(const struct fw_cms50f_packet *k)
{
    return !k->live.finger_out && !k->live.searching && !k->live.search_long &&
           k->live.spo2 >= 35 && k->live.spo2 <= 100 && k->live.pulse >= 25 && k->live.pulse <= 250;
}

static void pair(struct fw_reading out[2], int spo2, int pulse, long long device_time)
{
    out[0] = (struct fw_reading){.kind = "spo2", .unit = "%", .value = spo2};
    out[1] = (struct fw_reading){.kind = "pulse", .unit = "/min", .value = pulse};
    for (int i = 0; i < 2; i++) {
        out[i].value2 = out[i].value3 = NAN;
        out[i].device_time = device_time;
    }
}

int fw_cms50f_feed(struct fw_cms50f *s, uint8_t byte, struct fw_reading out[2],
                   struct fw_cms50f_packet *packet, bool *complete)
{
    struct fw_cms50f_packet k;
    if (complete)
        *complete = false;
    if (!frame(s, byte, &k))
        return 0;
    if (packet)
        *packet = k;
    if (complete)
        *complete = true;
    if (k.type != FW_CMS50F_LIVE)
        return 0;
    if (k.live.finger_out) { /* the next finger is a new measurement */
        s->given = false;
        s->run = 0;
        return 0;
    }
    if (!live_valid(&k)) {
        s->run = 0;
        return 0;
    }
    if (s->run > 0 && abs(k.live.spo2 - s->run_spo2) <= 1 &&
        abs(k.live.pulse - s->run_pulse) <= 3) {
        s->run++;
    } else {
        s->run = 1;
        s->run_spo2 = k.live.spo2;
        s->run_pulse = k.live.pulse;
    }
    if (s->given || s->run < FW_CMS50F_STABLE_PACKETS)
        return 0;
    s->given = true;
    pair(out, k.live.spo2, k.live.pulse, 0);
    return 2;
}

/* The longest run of consistent older-protocol packets: a byte with bit 7 set, four with it
 * clear, then the next start (or the end). Starts are unambiguous, so a greedy scan is exact. */
static long old_run(const uint8_t *d, size_t n)
{
    long run = 0, best = 0;
    size_t i = 0;
    while (i < n) {
        bool ok = (d[i] & 0x80) && i + 5 <= n && (i + 5 == n || (d[i + 5] & 0x80));
        for (size_t j = 1; ok && j < 5; j++)
            ok = !(d[i + j] & 0x80);
        if (ok) {
            if (++run > best)
                best = run;
            i += 5;
        } else {
            run = 0;
            i++;
        }
    }
    return best;
}

/* The same for the newer protocol: a known type, its following bytes with bit 7 set, then the
 * next start (or the end). */
static long new_run(const uint8_t *d, size_t n)
{
    long run = 0, best = 0;
    size_t i = 0;
    while (i < n) {
        size_t len = fw_cms50f_packet_len(d[i]);
        bool ok = len > 0 && i + len <= n && (i + len == n || !(d[i + len] & 0x80));
        for (size_t j = 1; ok && j < len; j++)
            ok = d[i + j] & 0x80;
        if (ok) {
            if (++run > best)
                best = run;
            i += len;
        } else {
            run = 0;
            i++;
        }
    }
    return best;
}

int fw_cms50_detect(const uint8_t *data, size_t n)
{
    if (!data)
        return 0;
    long o = old_run(data, n), w = new_run(data, n);
    if (o >= FW_CMS50_DETECT_PACKETS && o > w)
        return 1;
    if (w >= FW_CMS50_DETECT_PACKETS && w > o)
        return 2;
    return 0;
}

int fw_cms50f_probe_reply(const uint8_t *data, size_t n, char *model, size_t modellen)
{
    struct fw_cms50f s = {0};
    struct fw_cms50f_packet k;
    char name[64] = "";
    size_t len = 0;
    int found = 0;
    for (size_t i = 0; data && i < n; i++) {
        if (!frame(&s, data[i], &k) || k.type != FW_CMS50F_MODEL)
            continue;
        bool printable = true;
        for (int j = 3; j < 9; j++)
            printable = printable && (k.raw[j] == 0 || (k.raw[j] >= 0x20 && k.raw[j] < 0x7f));
        if (!printable)
            continue;
        if (k.segment == 0) { /* the first segment: its six characters as sent */
            len = 0;
            for (int j = 3; j < 9 && k.raw[j]; j++)
                name[len++] = (char)k.raw[j];
        } else { /* a continuation: appended, trimmed (as OSCAR does) */
            const char *t = k.text;
            while (*t == ' ')
                t++;
            while (*t && len + 1 < sizeof name)
                name[len++] = *t++;
        }
        name[len] = '\0';
        found = 1;
    }
    /* trimmed both ends */
    size_t start = 0;
    while (name[start] == ' ')
        start++;
    while (len > start && name[len - 1] == ' ')
        len--;
    if (model && modellen > 0) {
        size_t m = len - start < modellen - 1 ? len - start : modellen - 1;
        memcpy(model, name + start, m);
        model[m] = '\0';
    }
    return found;
}

int fw_cms50f_stored_feed(struct fw_cms50f_stored *s, uint8_t byte, struct fw_cms50f_sample out[3])
{
    struct fw_cms50f_session *se = &s->session;
    /* a sample packet whose type byte was lost: exactly its following bytes with no start */
    if (!(byte & 0x80) && se->sample_type && s->framer.have == 0 &&
        (size_t)s->framer.orphans + 1 == lengths[se->sample_type]) {
        int lost = se->sample_type == FW_CMS50F_STORED ? 3 : 1;
        s->next_index += lost;
        se->lost += lost;
    }
    struct fw_cms50f_packet k;
    int got = frame(&s->framer, byte, &k);
    if (s->framer.cut_type == FW_CMS50F_STORED || s->framer.cut_type == FW_CMS50F_STORED_PI) {
        int lost = s->framer.cut_type == FW_CMS50F_STORED ? 3 : 1;
        s->next_index += lost; /* the later samples keep their time */
        se->lost += lost;
    }
    if (!got)
        return 0;
    switch (k.type) {
    case FW_CMS50F_SESSION_DATE:
        se->have_date = true;
        se->year = k.year;
        se->month = k.month;
        se->day = k.day;
        return 0;
    case FW_CMS50F_SESSION_TIME:
        se->have_time = true;
        se->hour = k.hour;
        se->minute = k.minute;
        se->second = k.second;
        return 0;
    case FW_CMS50F_SESSION_DURATION:
        se->have_duration = true;
        se->duration = k.duration;
        return 0;
    case FW_CMS50F_SESSION_COUNT:
        se->have_count = true;
        se->user = k.user;
        se->sessions = k.count;
        return 0;
    case FW_CMS50F_STORED:
    case FW_CMS50F_STORED_PI:
        if (!se->sample_type)
            se->sample_type = k.type;
        for (int i = 0; i < k.nsamples; i++) {
            long index = s->next_index++;
            out[i] = (struct fw_cms50f_sample){.index = index,
                                               .seconds = index * FW_CMS50F_STORED_SECONDS,
                                               .spo2 = k.samples[i].spo2,
                                               .pulse = k.samples[i].pulse,
                                               .pi = k.samples[i].pi,
                                               .valid = k.samples[i].valid};
            se->samples++;
            se->invalid += !k.samples[i].valid;
        }
        return k.nsamples;
    default:
        return 0;
    }
}

long fw_cms50f_stored_decode(const uint8_t *data, size_t n, struct fw_cms50f_session *session,
                             struct fw_cms50f_sample *out, size_t max)
{
    struct fw_cms50f_stored s = {0};
    struct fw_cms50f_sample got[3];
    long total = 0;
    for (size_t i = 0; data && i < n; i++) {
        int k = fw_cms50f_stored_feed(&s, data[i], got);
        for (int j = 0; j < k; j++, total++)
            if (out && (size_t)total < max)
                out[total] = got[j];
    }
    if (session)
        *session = s.session;
    return total;
}

void fw_cms50f_summary_add(struct fw_cms50f_summary *summary, const struct fw_cms50f_sample *x)
{
    struct fw_cms50f_summary *s = summary;
    s->samples++;
    if (!x->valid || x->spo2 < 35 || x->spo2 > 100 || x->pulse < 25 || x->pulse > 250) {
        s->run = 0;
        return;
    }
    if (s->valid == 0 || x->spo2 < s->spo2_min)
        s->spo2_min = x->spo2;
    if (s->valid == 0 || x->spo2 > s->spo2_max)
        s->spo2_max = x->spo2;
    if (s->valid == 0 || x->pulse < s->pulse_min)
        s->pulse_min = x->pulse;
    if (s->valid == 0 || x->pulse > s->pulse_max)
        s->pulse_max = x->pulse;
    s->valid++;
    s->spo2_sum += x->spo2;
    s->pulse_sum += x->pulse;
    if (s->run > 0 && x->index == s->last + 1 && abs(x->spo2 - s->run_spo2) <= 1 &&
        abs(x->pulse - s->run_pulse) <= 3) {
        s->run++;
    } else {
        s->run = 1;
        s->run_spo2 = x->spo2;
        s->run_pulse = x->pulse;
    }
    s->last = x->index;
    if (!s->settled && s->run >= FW_CMS50F_STORED_STABLE_SAMPLES) {
        s->settled = true;
        s->settled_index = x->index;
        s->settled_spo2 = x->spo2;
        s->settled_pulse = x->pulse;
    }
}

int fw_cms50f_summary_end(struct fw_cms50f_summary *summary,
                          const struct fw_cms50f_session *session, struct fw_reading readings[2])
{
    if (!summary)
        return FW_EINVAL;
    if (summary->valid > 0) {
        summary->spo2_mean = summary->spo2_sum / (double)summary->valid;
        summary->pulse_mean = summary->pulse_sum / (double)summary->valid;
    }
    const struct fw_cms50f_session *se = session;
    summary->timed = se && se->have_date && se->have_time && se->year >= 1970 && se->month >= 1 &&
                     se->month <= 12 && se->day >= 1 && se->day <= 31 && se->hour < 24 &&
                     se->minute < 60 && se->second < 60;
    if (!summary->settled)
        return 0;
    if (readings) {
        long long t = 0;
        if (summary->timed)
            t = fw_civil_seconds(se->year, se->month, se->day, se->hour, se->minute, se->second) +
                (long long)summary->settled_index * FW_CMS50F_STORED_SECONDS;
        pair(readings, summary->settled_spo2, summary->settled_pulse, t);
        for (int i = 0; i < 2; i++) {
            readings[i].stored = true;
            readings[i].clock_local = t != 0;
        }
    }
    return 2;
}

int fw_cms50f_stored_summary(const struct fw_cms50f_sample *samples, size_t n,
                             const struct fw_cms50f_session *session,
                             struct fw_cms50f_summary *summary, struct fw_reading readings[2])
{
    if (!summary || (n > 0 && !samples))
        return FW_EINVAL;
    memset(summary, 0, sizeof *summary);
    for (size_t i = 0; i < n; i++)
        fw_cms50f_summary_add(summary, &samples[i]);
    return fw_cms50f_summary_end(summary, session, readings);
}
