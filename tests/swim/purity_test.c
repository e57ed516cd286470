/*
 * purity_test.c - the core's purity as a build fact.
 *
 * DESIGN.md: swim/ reads no clock, does no I/O and draws no randomness of
 * its own.  This suite runs `nm -u` on the built libswim.a (meson passes its
 * path in $SWIM_LIB) and fails if any undefined symbol is a clock, time,
 * sleep, random, socket, file or stdio function, or anything from libevent,
 * libsodium or jansson.  Names are normalised before the lookup so fortified
 * and versioned variants are caught too: `__printf_chk`, `__read_chk`,
 * `__open64_2`, `clock_gettime@GLIBC_2.17`, `__clock_gettime64`.
 * snprintf and friends stay allowed: formatting into memory is no I/O.
 *
 * The checker is tested on a synthetic listing first, and the archive is
 * shown to be the real one (it defines swim_new and the wire decoders) and
 * to produce output at all, so an empty or wrong listing cannot pass.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest symbol name kept; longer ones are compared truncated (none of the
 * forbidden names comes close). */
#define PT_SYM_MAX 256

static const char *const pt_forbidden[] = {
    /* clocks, time, sleeping */
    "clock",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "gettimeofday",
    "time",
    "timespec_get",
    "ftime",
    "times",
    "localtime",
    "localtime_r",
    "gmtime",
    "gmtime_r",
    "mktime",
    "strftime",
    "nanosleep",
    "usleep",
    "sleep",
    "alarm",
    "setitimer",
    "timer_create",
    "timerfd_create",
    /* randomness */
    "rand",
    "rand_r",
    "random",
    "random_r",
    "srand",
    "srandom",
    "initstate",
    "setstate",
    "drand48",
    "erand48",
    "lrand48",
    "nrand48",
    "mrand48",
    "jrand48",
    "srand48",
    "seed48",
    "lcong48",
    "arc4random",
    "arc4random_buf",
    "arc4random_uniform",
    "getrandom",
    "getentropy",
    /* sockets and polling */
    "socket",
    "socketpair",
    "bind",
    "connect",
    "listen",
    "accept",
    "accept4",
    "send",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "recv",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "getsockopt",
    "setsockopt",
    "shutdown",
    "getaddrinfo",
    "getnameinfo",
    "gethostbyname",
    "poll",
    "ppoll",
    "select",
    "pselect",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    /* files and descriptors */
    "read",
    "write",
    "pread",
    "pwrite",
    "readv",
    "writev",
    "open",
    "openat",
    "creat",
    "close",
    "lseek",
    "fsync",
    "ioctl",
    "fcntl",
    "dup",
    "dup2",
    "pipe",
    "pipe2",
    /* stdio */
    "fopen",
    "fdopen",
    "freopen",
    "fclose",
    "fread",
    "fwrite",
    "fgets",
    "fputs",
    "puts",
    "putchar",
    "putc",
    "fputc",
    "getc",
    "fgetc",
    "getchar",
    "fflush",
    "printf",
    "fprintf",
    "vprintf",
    "vfprintf",
    "dprintf",
    "vdprintf",
    "perror",
    "scanf",
    "fscanf",
    "vscanf",
    "vfscanf",
    "IO_putc",
    "IO_getc",
    "stdin",
    "stdout",
    "stderr",
    "syslog",
    "vsyslog",
    /* the process and its environment */
    "getenv",
    "secure_getenv",
    "system",
    "popen",
    "fork",
    "execve",
    "kill",
    "signal",
    "sigaction",
    "getpid",
    "pthread_create",
};

/* Whole families the core must never reference. */
static const char *const pt_forbidden_prefix[] = {
    "event_",  "evtimer_", "evutil_",      "evbuffer_", "bufferevent_", /* libevent */
    "sodium_", "crypto_",  "randombytes_",                              /* libsodium */
    "json_",                                                            /* jansson */
};

#define PT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int pt_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* "__open64_2@GLIBC_2.7" -> "open"; "__printf_chk" -> "printf". */
static void pt_normalise(const char *sym, char *out, size_t size)
{
    char *at;
    size_t n;

    while (*sym == '_')
        sym++;
    if (strncmp(sym, "isoc99_", 7) == 0 || strncmp(sym, "isoc23_", 7) == 0)
        sym += 7;
    snprintf(out, size, "%s", sym);
    if ((at = strchr(out, '@')) != NULL)
        *at = '\0';
    if (pt_ends_with(out, "_chk"))
        out[strlen(out) - 4] = '\0';
    if (pt_ends_with(out, "_2"))
        out[strlen(out) - 2] = '\0';
    n = strlen(out);
    if (n > 2 && strcmp(out + n - 2, "64") == 0)
        out[n - 2] = '\0';
}

static int pt_is_forbidden(const char *sym)
{
    char norm[PT_SYM_MAX];
    size_t i;

    pt_normalise(sym, norm, sizeof(norm));
    for (i = 0; i < PT_COUNT(pt_forbidden); i++)
        if (strcmp(norm, pt_forbidden[i]) == 0)
            return 1;
    for (i = 0; i < PT_COUNT(pt_forbidden_prefix); i++)
        if (strncmp(norm, pt_forbidden_prefix[i], strlen(pt_forbidden_prefix[i])) == 0)
            return 1;
    return 0;
}

struct pt_scan {
    int undefined;    /* "U sym" lines seen */
    int forbidden;    /* of which forbidden */
    char found[1024]; /* the forbidden names, space-separated (truncated) */
};

/* Read `nm -u` output: member headers ("x.o:"), blank lines, "U sym". */
static void pt_scan(FILE *f, struct pt_scan *out)
{
    char line[PT_SYM_MAX + 64];
    int lines;

    memset(out, 0, sizeof(*out));
    /* Bounded: a libswim.a listing has a few hundred lines at most. */
    for (lines = 0; lines < 100000 && fgets(line, sizeof(line), f) != NULL; lines++) {
        char kind[8], sym[PT_SYM_MAX];
        if (sscanf(line, " %7s %255s", kind, sym) != 2 || strcmp(kind, "U") != 0)
            continue;
        out->undefined++;
        if (pt_is_forbidden(sym)) {
            size_t used = strlen(out->found);
            out->forbidden++;
            snprintf(out->found + used, sizeof(out->found) - used, " %s", sym);
        }
    }
}

static const char *pt_lib(void)
{
    const char *lib = getenv("SWIM_LIB");
    ck_assert_msg(lib != NULL && *lib != '\0', "SWIM_LIB is not set (run through meson test)");
    return lib;
}

/* Run `nm <args> <lib>`, returning its output as one string (caller frees). */
static char *pt_nm(const char *args, const char *lib, int *status)
{
    char cmd[4096];
    size_t len = 0, cap = 4096, got;
    char *buf = malloc(cap);
    FILE *p;

    ck_assert_ptr_nonnull(buf);
    snprintf(cmd, sizeof(cmd), "nm %s '%s' 2>&1", args, lib);
    p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen(%s) failed", cmd);
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            char *b = realloc(buf, cap * 2);
            ck_assert_ptr_nonnull(b);
            buf = b;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    *status = pclose(p);
    return buf;
}

START_TEST(swim_test_purity)
{
    const char *lib = pt_lib();
    struct pt_scan scan;
    int status;
    char *out = pt_nm("-u", lib, &status);
    FILE *f;

    ck_assert_msg(status == 0, "nm -u %s failed (%d): %s", lib, status, out);
    ck_assert_msg(strlen(out) > 0, "nm -u %s printed nothing", lib);
    f = fmemopen(out, strlen(out), "r");
    ck_assert_ptr_nonnull(f);
    pt_scan(f, &scan);
    fclose(f);
    /* Every real object references at least memcpy/memset (or the
     * sanitizers' versions): no "U" line means the listing is wrong. */
    ck_assert_msg(scan.undefined > 0, "no undefined symbol in: %s", out);
    ck_assert_msg(scan.forbidden == 0, "libswim.a references forbidden functions:%s", scan.found);
    free(out);
}
END_TEST

/* The archive is the core: it defines the entry points. */
START_TEST(swim_test_purity_archive_is_core)
{
    static const char *const want[] = {"swim_new", "swim_handle_packet", "swim_handle_timer",
                                       "wire_decode_header", "wire_encode_member"};
    int status;
    char *out = pt_nm("-g --defined-only", pt_lib(), &status);
    size_t i;

    ck_assert_msg(status == 0, "nm failed (%d): %s", status, out);
    for (i = 0; i < PT_COUNT(want); i++) {
        char pat[128];
        snprintf(pat, sizeof(pat), " T %s\n", want[i]);
        ck_assert_msg(strstr(out, pat) != NULL, "%s is not defined in %s", want[i], pt_lib());
    }
    free(out);
}
END_TEST

/* The checker itself catches what it must, in every spelling, and lets
 * harmless symbols through. */
START_TEST(swim_test_purity_checker_catches)
{
    static const char listing[] = "\n"
                                  "swim.o:\n"
                                  "                 U memcpy\n"
                                  "                 U clock_gettime@GLIBC_2.17\n"
                                  "                 U __printf_chk\n"
                                  "                 U __open64_2\n"
                                  "                 U random\n"
                                  "                 U event_base_new\n"
                                  "                 U sendto\n"
                                  "                 U stderr\n"
                                  "wire.o:\n"
                                  "                 U __snprintf_chk\n"
                                  "                 U memchr\n"
                                  "                 U __asan_report_load8\n"
                                  "0000000000000000 T wire_decode_header\n";
    struct pt_scan scan;
    FILE *f = fmemopen((void *)listing, sizeof(listing) - 1, "r");

    ck_assert_ptr_nonnull(f);
    pt_scan(f, &scan);
    fclose(f);
    ck_assert_int_eq(scan.undefined, 11);
    ck_assert_msg(scan.forbidden == 7, "flagged %d:%s", scan.forbidden, scan.found);
    ck_assert(!pt_is_forbidden("memcpy"));
    ck_assert(!pt_is_forbidden("log10"));
    ck_assert(!pt_is_forbidden("timeout_ms"));
    ck_assert(pt_is_forbidden("__read_chk"));
    ck_assert(pt_is_forbidden("time"));
    ck_assert(pt_is_forbidden("getrandom@GLIBC_2.25"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("purity");
    TCase *tc = tcase_create("nm");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, swim_test_purity_checker_catches);
    tcase_add_test(tc, swim_test_purity_archive_is_core);
    tcase_add_test(tc, swim_test_purity);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
