/* Logging for mokitd and mokit: one macro, levels, stderr (journald picks it up).
 * The level is checked before the message is formatted. Never log names or ID numbers:
 * log record ids and patient codes instead. */
#pragma once

enum log_level { LOG_ERROR, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG, LOG_IO };

extern enum log_level log_threshold;

/* Parses "error".."io"; returns 0, or -1 for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG(level, ...)                                          \
    do {                                                         \
        if ((level) <= log_threshold)                            \
            log_write((level), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
