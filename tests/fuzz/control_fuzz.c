/*
 * control_fuzz.c - libFuzzer target for the control API's whole request
 * path: one input is one request line, answered by swimd's real command
 * table (control.c) over a real runtime, exactly as the socket answers it
 * (control_answer_line(): the line protocol, JSON parsing, dispatch, every
 * command's checks and effects).
 *
 * The parts of swimd a command reaches are built once, as agent.c builds
 * them: an event loop, the event bus, a runtime on 127.0.0.1:0 with a
 * started core, the streams, the bridge and the control socket (in a
 * temporary folder, removed at exit); no handlers, no snapshot.  State
 * carries over between inputs (tags set, events broadcast, members forced
 * to leave), as it would on a running node; the loop runs one non-blocking
 * pass after each input so the bus's subscribers read what was published.
 *
 * Two requests are not sent: "leave" (it would end every later input's
 * chance to do anything) and a "join" naming anything but numeric
 * addresses (a name would be looked up in the real DNS); numeric joins go
 * out from a socket bound to loopback.
 *
 * Contract: every answer is one line of JSON, an object with "ok" or
 * "error".
 */
#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "bridge.h"
#include "cfg.h"
#include "clock.h"
#include "control.h"
#include "events.h"
#include "fuzz.h"
#include "rt.h"
#include "stream.h"
#include "tags.h"

/* The one node every input talks to. */
static struct {
    struct cfg cfg;
    struct swim_config scfg;
    struct event_base *base;
    struct ev_bus *bus;
    struct tags *tags;
    struct rt *rt;
    struct streams *streams;
    struct bridge *bridge;
    struct control *control;
    struct control_env env;
    char dir[64];
} fz;

static void control_fuzz_stop(void)
{
    control_delete(fz.control);
    ev_bus_end(fz.bus);
    streams_delete(fz.streams);
    bridge_delete(fz.bridge);
    rt_delete(fz.rt);
    ev_bus_delete(fz.bus);
    tags_delete(fz.tags);
    event_base_free(fz.base);
    rmdir(fz.dir);
}

static void control_fuzz_start(void)
{
    char err[CFG_ERR_MAX];
    signal(SIGPIPE, SIG_IGN);
    cfg_defaults(&fz.cfg);
    snprintf(fz.cfg.name, sizeof(fz.cfg.name), "fuzz-node");
    snprintf(fz.cfg.bind, sizeof(fz.cfg.bind), "127.0.0.1:0");
    snprintf(fz.cfg.profile, sizeof(fz.cfg.profile), "local");
    snprintf(fz.dir, sizeof(fz.dir), "/tmp/control_fuzz_XXXXXX");
    FUZZ_CHECK(mkdtemp(fz.dir) != NULL);
    snprintf(fz.cfg.socket_path, sizeof(fz.cfg.socket_path), "%s/s.sock", fz.dir);
    FUZZ_CHECK(cfg_protocol(&fz.cfg, &fz.scfg, err, sizeof(err)) == 0);
    fz.base = event_base_new();
    fz.bus = ev_bus_new(NULL);
    fz.tags = tags_new();
    FUZZ_CHECK(fz.base != NULL && fz.bus != NULL && fz.tags != NULL);
    struct rt_config rc = {
        .base = fz.base,
        .bus = fz.bus,
        .label = "",
        .name = fz.cfg.name,
        .bind = fz.cfg.bind,
        .scfg = &fz.scfg,
        .generation = 1,
    };
    fz.rt = rt_new(&rc, err, sizeof(err));
    FUZZ_CHECK(fz.rt != NULL);
    struct streams_config sc = {fz.base, fz.bus, NULL, fz.cfg.watch_queue};
    fz.streams = streams_new(&sc);
    struct bridge_config bc = {fz.base,           fz.bus,    rt_core(fz.rt), NULL,
                               monitor_on_report, fz.streams};
    fz.bridge = fz.streams != NULL ? bridge_new(&bc, err, sizeof(err)) : NULL;
    FUZZ_CHECK(fz.bridge != NULL);
    fz.env = (struct control_env){
        .rt = fz.rt,
        .tags = fz.tags,
        .bus = fz.bus,
        .streams = fz.streams,
        .bridge = fz.bridge,
        .cfg = &fz.cfg,
    };
    fz.control = control_new(fz.base, &fz.env, err, sizeof(err));
    FUZZ_CHECK(fz.control != NULL);
    FUZZ_CHECK(swim_start(rt_core(fz.rt), clock_mono_ms()) == 0);
    atexit(control_fuzz_stop);
}

/* 1 when join would look text up as a name: it is HOST[:PORT] and not
 * numeric.  (Text that is neither counts as unreachable, with no lookup.) */
static int control_fuzz_is_name(const char *text)
{
    struct sockaddr_storage ss[2];
    char host[ADDR_HOST_MAX];
    uint16_t port;
    size_t n = 0;
    return addr_resolve(text, CFG_DEFAULT_PORT, 1, ss, 2, &n) != 0 &&
           addr_split(text, CFG_DEFAULT_PORT, host, &port) == 0;
}

/* 0 for the requests this target does not send (see the model). */
static int control_fuzz_allowed(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size, 0, NULL);
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    int ok = 1;
    if (cmd != NULL && strcmp(cmd, "leave") == 0)
        ok = 0;
    if (cmd != NULL && strcmp(cmd, "join") == 0) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(req, "addrs"), i, a)
        {
            const char *text = json_string_value(a);
            if (text != NULL && control_fuzz_is_name(text))
                ok = 0;
        }
    }
    json_decref(req);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fz.control == NULL)
        control_fuzz_start();
    if (!control_fuzz_allowed(data, size))
        return 0;
    char *out = control_answer_line(fz.control, (const char *)data, size);
    if (out != NULL) {
        size_t n = strlen(out);
        FUZZ_CHECK(n > 0 && out[n - 1] == '\n' && memchr(out, '\n', n - 1) == NULL);
        json_t *o = json_loadb(out, n - 1, 0, NULL);
        FUZZ_CHECK(json_is_object(o));
        FUZZ_CHECK(json_is_true(json_object_get(o, "ok")) ||
                   json_is_string(json_object_get(o, "error")));
        json_decref(o);
        free(out);
    }
    event_base_loop(fz.base, EVLOOP_NONBLOCK);
    return 0;
}
