/* A minimal HTTP/1.1 load client for the benchmarks: sends requests one at a time on one
 * keep-alive connection to 127.0.0.1 and records each one's latency, so that the numbers are
 * the daemon's and not an interpreter's.
 *
 * usage: loadgen PORT TOKEN REQUESTS OUT [MAX_SECONDS]
 *   REQUESTS  lines "METHOD<TAB>PATH<TAB>BODY" (BODY may be empty; PATH already URL-encoded)
 *   OUT       lines "STATUS<TAB>MICROSECONDS<TAB>BODY_BYTES<TAB>COUNT", one per request sent,
 *             COUNT the "count" of a JSON answer that starts with it, else -1; a request that
 *             failed at the transport level gets status 0
 *   MAX_SECONDS  stop sending after this long (default 300)
 * Exit status 0 when every request got an answer, 1 otherwise. Only talks to 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE     (128 * 1024)
#define MAX_RESPONSE (4 * 1024 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Response buffer: bytes [0, len) received, of which [0, used) belong to earlier responses. */
static char resp[MAX_RESPONSE + 1];
static size_t len;

static int fill(int fd)
{
    if (len >= MAX_RESPONSE)
        return -1;
    ssize_t r;
    do
        r = recv(fd, resp + len, MAX_RESPONSE - len, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    len += (size_t)r;
    resp[len] = '\0';
    return 0;
}

/* Reads one response: returns the status (or -1), sets *body_bytes and *close_after. */
static int read_response(int fd, size_t *body_bytes, int *close_after, long *count)
{
    char *end;
    while (!(end = strstr(resp, "\r\n\r\n")))
        if (fill(fd) != 0)
            return -1;
    size_t head = (size_t)(end - resp) + 4;
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    long content_length = -1;
    int chunked = 0;
    *close_after = 0;
    for (char *h = strstr(resp, "\r\n") + 2; h < end; h = strstr(h, "\r\n") + 2) {
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            content_length = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 && strstr(h, "chunked") &&
                 strstr(h, "chunked") < strstr(h, "\r\n"))
            chunked = 1;
        else if (strncasecmp(h, "Connection:", 11) == 0 && strcasestr(h, "close") &&
                 strcasestr(h, "close") < strstr(h, "\r\n"))
            *close_after = 1;
    }
    size_t total;
    if (chunked) {
        /* Walk the chunks, reading more as needed. */
        size_t pos = head, body = 0;
        for (;;) {
            char *crlf;
            while (!(crlf = strstr(resp + pos, "\r\n")))
                if (fill(fd) != 0)
                    return -1;
            size_t n = strtoul(resp + pos, NULL, 16);
            pos = (size_t)(crlf - resp) + 2;
            while (len < pos + n + 2)
                if (fill(fd) != 0)
                    return -1;
            pos += n + 2;
            body += n;
            if (n == 0)
                break;
        }
        total = pos;
        *body_bytes = body;
    } else {
        if (content_length < 0) { /* body runs to the end of the connection */
            while (fill(fd) == 0)
                ;
            content_length = (long)(len - head);
            *close_after = 1;
        }
        total = head + (size_t)content_length;
        while (len < total)
            if (fill(fd) != 0)
                return -1;
        *body_bytes = (size_t)content_length;
        /* A search answer's "count", when it comes first: what the query found. */
        if (content_length > 10 && strncmp(resp + head, "{\"count\":", 9) == 0)
            *count = strtol(resp + head + 9, NULL, 10);
    }
    /* Keep any bytes past this response (there should be none: one request at a time). */
    memmove(resp, resp + total, len - total);
    len -= total;
    resp[len] = '\0';
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: loadgen PORT TOKEN REQUESTS OUT [MAX_SECONDS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *token = argv[2];
    double max_seconds = argc == 6 ? atof(argv[5]) : 300;
    FILE *in = fopen(argv[3], "r"), *out = fopen(argv[4], "w");
    if (!in || !out || port <= 0 || port > 65535) {
        fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }
    static char line[MAX_LINE], req[MAX_LINE + 1024];
    int fd = connect_local(port), failures = 0, reconnects = 0;
    long sent = 0;
    double t_start = now();
    while (fgets(line, sizeof line, in) && now() - t_start < max_seconds) {
        line[strcspn(line, "\r\n")] = '\0';
        char *path = strchr(line, '\t');
        if (!path)
            continue;
        *path++ = '\0';
        char *body = strchr(path, '\t');
        if (body)
            *body++ = '\0';
        else
            body = "";
        size_t blen = strlen(body);
        int n;
        if (blen)
            n = snprintf(req, sizeof req,
                         "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         line, path, port, token, blen, body);
        else
            n = snprintf(req, sizeof req,
                         "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n",
                         line, path, port, token);
        if ((size_t)n >= sizeof req) {
            fprintf(stderr, "loadgen: request too long\n");
            return 2;
        }

        double t0 = now();
        int status = -1, close_after = 0;
        size_t body_bytes = 0;
        long count = -1;
        for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
            if (fd < 0 || attempt > 0) {
                if (fd >= 0)
                    close(fd);
                len = 0;
                fd = connect_local(port);
                reconnects += attempt > 0;
                if (fd < 0)
                    break;
                t0 = now(); /* a reconnect is not the request's latency */
            }
            if (send_all(fd, req, (size_t)n) == 0)
                status = read_response(fd, &body_bytes, &close_after, &count);
        }
        double us = (now() - t0) * 1e6;
        if (status < 0) {
            failures++;
            status = 0;
        }
        fprintf(out, "%d\t%.1f\t%zu\t%ld\n", status, us, body_bytes, count);
        sent++;
        if (close_after && fd >= 0) {
            close(fd);
            fd = -1;
            len = 0;
        }
    }
    if (fd >= 0)
        close(fd);
    fclose(in);
    if (fclose(out) != 0)
        return 1;
    fprintf(stderr, "loadgen: %ld requests, %d failed, %d reconnects, %.4f s\n", sent, failures,
            reconnects, now() - t_start);
    return failures ? 1 : 0;
}
