/*
 * sim.c - the deterministic simulated world; the model is in sim.h.
 *
 * Layout: the world owns an array of node pointers (a node never moves, so
 * its address can be the runtime ctx of its instance), a binary heap of
 * events stored by value, a name -> index hash table, a table of the timer
 * values queued (so a cancelled timer, which stays in the heap, is dropped
 * unseen when it comes due), and, only once a test
 * sets a per-link value, an n x n matrix of link overrides (a 1,000-node
 * benchmark that never touches a link pays nothing for it).
 *
 * Determinism: every random draw comes from one xoshiro256** stream
 * (common/prng.h) seeded through splitmix64 from the world seed, and draws
 * happen in event order (loss, then jitter, per datagram at send time).  Instance seeds mix the
 * world seed with the node index and generation, so adding a node does not
 * shift another node's randomness.
 */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "prng.h"

enum sim_ev_kind {
    SIM_EV_TIMER = 1,
    SIM_EV_PACKET,
    SIM_EV_CALL,
};

struct sim_ev {
    uint64_t deadline;
    uint64_t seq; /* insertion number: breaks ties in creation order */
    uint8_t kind;
    uint8_t arrived; /* PACKET: crossed the network, held by a delay or pause */
    int32_t node;    /* TIMER: owner; PACKET: addressee (-1: nobody) */
    union {
        struct {
            uint64_t life; /* the owner's life id when it was submitted */
            struct swim_timer t;
        } timer;
        struct {
            int32_t from;
            uint32_t len;
            uint8_t *data;
        } pkt;
        struct {
            sim_call_f fn;
            void *ctx;
        } call;
    } u;
};

/* Timers queued with one value by one instance life, and how many of them
 * were cancelled: the heap is not searched, a cancelled timer stays in it and
 * is dropped when it comes due. */
struct sim_pending {
    uint64_t life; /* 0: the slot is empty (lives start at 1) */
    struct swim_timer t;
    uint32_t queued, cancelled;
};

/* Per-link override; loss < 0 and !has_delay mean "use the default". */
struct sim_link {
    int16_t loss;
    uint8_t cut;
    uint8_t has_delay;
    uint32_t delay;
    uint32_t jitter;
};

struct sim_node {
    struct sim *world;
    int index;
    char name[SWIM_NAME_MAX + 1];
    struct swim_config cfg;
    struct swim *swim; /* NULL while killed */
    uint64_t life;     /* changes on every kill and restart */
    uint64_t generation;
    int blocked;
    int group;
    unsigned loss_in, loss_out;       /* node-level loss, percent */
    uint32_t slow_delay, slow_jitter; /* processing delay of arrived datagrams */
    uint64_t slow_last;               /* when the last held datagram is handled (FIFO) */
    uint64_t paused_until;            /* stop-the-world pause: nothing runs before */
    uint64_t pause_ms, pause_every;   /* sim_pause_every's schedule: */
    uint64_t pause_end, pause_next;   /* until when, and its next pause */
    struct sim_net_stats net;
    uint64_t counts[SWIM_EV_LAST + 1];
    uint64_t timers[SIM_TIMER_KINDS]; /* submitted, by kind (0: any other) */
    uint64_t fired[SIM_TIMER_KINDS];  /* handed back to the instance, by kind */
    struct sim_log_entry *log;
    size_t log_len, log_alloc;
};

struct sim_hint {
    size_t pair; /* observer * n_nodes + subject */
};

struct sim {
    uint64_t seed;
    struct prng prng;
    uint64_t now;
    uint64_t next_seq;
    uint64_t next_generation;
    uint64_t next_life;
    uint64_t events_processed;
    uint64_t event_limit;
    size_t log_cap;

    struct sim_ev *heap;
    size_t heap_len, heap_alloc;
    int no_cancel;               /* instances booted from now on get no cancel hook */
    struct sim_pending *pending; /* open addressing, size pending_size (power of 2) */
    size_t pending_size, pending_len;

    struct sim_node **nodes;
    int n_nodes, nodes_alloc;
    int32_t *names; /* open addressing, -1 = empty; size names_size (power of 2) */
    size_t names_size;

    struct sim_link *links; /* links_dim x links_dim, or NULL */
    int links_dim;
    unsigned loss_default;
    uint32_t delay_default, jitter_default;
    int partitioned;

    /* Where sim_all_see_all() last found a pair that did not hold; the
     * next check starts there.  While a cluster converges, that pair
     * usually still fails, so a check costs O(1) lookups instead of N^2.
     * Behind a pointer so the const queries may update it. */
    struct sim_hint *hint;

    /* The nodes' members' names and addresses, each stored once for the
     * whole world instead of once per node that knows it. */
    struct swim_idpool *ids;

    sim_observer_f observer;
    void *observer_ctx;
    sim_tap_f tap;
    void *tap_ctx;
};

/* --- PRNG -------------------------------------------------------------- */

uint64_t sim_rand(struct sim *w)
{
    return prng_next(&w->prng);
}

/* --- event heap ------------------------------------------------------------ */

static int sim_ev_less(const struct sim_ev *a, const struct sim_ev *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static int sim_heap_push(struct sim *w, struct sim_ev *ev)
{
    size_t i;
    if (w->heap_len == w->heap_alloc) {
        size_t n = w->heap_alloc ? w->heap_alloc * 2 : 256;
        struct sim_ev *h = realloc(w->heap, n * sizeof(*h));
        if (h == NULL)
            return ERR_NOMEM;
        w->heap = h;
        w->heap_alloc = n;
    }
    ev->seq = w->next_seq++;
    i = w->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sim_ev_less(ev, &w->heap[parent]))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = *ev;
    return 0;
}

/* Remove the minimum into *out; the heap must not be empty. */
static void sim_heap_pop(struct sim *w, struct sim_ev *out)
{
    struct sim_ev last;
    size_t i = 0, n;

    *out = w->heap[0];
    n = --w->heap_len;
    if (n == 0)
        return;
    last = w->heap[n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct sim_ev *best = &last;
        if (l < n && sim_ev_less(&w->heap[l], best)) {
            m = l;
            best = &w->heap[l];
        }
        if (r < n && sim_ev_less(&w->heap[r], best))
            m = r;
        if (m == i)
            break;
        w->heap[i] = w->heap[m];
        i = m;
    }
    w->heap[i] = last;
}

static void sim_ev_free(struct sim_ev *ev)
{
    if (ev->kind == SIM_EV_PACKET)
        free(ev->u.pkt.data);
}

/* --- queued timer values ------------------------------------------------ */

static int sim_timer_same(const struct swim_timer *a, const struct swim_timer *b)
{
    return a->kind == b->kind && a->arg32 == b->arg32 && a->token == b->token &&
           a->hint == b->hint && a->reserved == b->reserved;
}

/* Where the probe sequence of (life, t) starts. */
static size_t sim_pending_home(const struct sim *w, uint64_t life, const struct swim_timer *t)
{
    uint64_t key[4] = {life, t->kind | (uint64_t)t->arg32 << 32, t->token,
                       t->hint | (uint64_t)t->reserved << 32};
    return (size_t)hash_fnv1a(key, sizeof(key)) & (w->pending_size - 1);
}

/* The slot holding (life, t), or the empty slot where it would go. */
static size_t sim_pending_slot(const struct sim *w, uint64_t life, const struct swim_timer *t)
{
    size_t mask = w->pending_size - 1;
    size_t i = sim_pending_home(w, life, t);
    while (w->pending[i].life != 0 &&
           !(w->pending[i].life == life && sim_timer_same(&w->pending[i].t, t)))
        i = (i + 1) & mask; /* bounded: the table is at most half full */
    return i;
}

/* Keep the table at most half full with one more entry. */
static int sim_pending_reserve(struct sim *w)
{
    size_t size = w->pending_size ? w->pending_size : 256;
    while (size < (w->pending_len + 1) * 2)
        size *= 2;
    if (size == w->pending_size)
        return 0;
    struct sim_pending *old = w->pending;
    size_t old_size = w->pending_size;
    w->pending = calloc(size, sizeof(*w->pending));
    if (w->pending == NULL) {
        w->pending = old;
        return ERR_NOMEM;
    }
    w->pending_size = size;
    for (size_t i = 0; i < old_size; i++)
        if (old[i].life != 0)
            w->pending[sim_pending_slot(w, old[i].life, &old[i].t)] = old[i];
    free(old);
    return 0;
}

static int sim_pending_add(struct sim *w, uint64_t life, const struct swim_timer *t)
{
    if (sim_pending_reserve(w) != 0)
        return ERR_NOMEM;
    struct sim_pending *e = &w->pending[sim_pending_slot(w, life, t)];
    if (e->life == 0) {
        *e = (struct sim_pending){.life = life, .t = *t};
        w->pending_len++;
    }
    e->queued++;
    return 0;
}

/* A queued timer came due: 1 when it was cancelled (drop it), else 0. */
static int sim_pending_take(struct sim *w, uint64_t life, const struct swim_timer *t)
{
    size_t mask = w->pending_size - 1;
    size_t i = sim_pending_slot(w, life, t);
    struct sim_pending *e = &w->pending[i];
    int cancelled = e->cancelled > 0;
    e->cancelled -= cancelled ? 1 : 0;
    if (--e->queued > 0)
        return cancelled;
    /* Remove it: an entry further along the run whose home is not
     * cyclically in (hole, its slot] moves into the hole (linear probing's
     * deletion, which leaves no tombstones). */
    w->pending_len--;
    for (size_t j = (i + 1) & mask; w->pending[j].life != 0; j = (j + 1) & mask) {
        size_t k = sim_pending_home(w, w->pending[j].life, &w->pending[j].t);
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        w->pending[i] = w->pending[j];
        i = j;
    }
    memset(&w->pending[i], 0, sizeof(w->pending[i]));
    return cancelled;
}

/* --- names ------------------------------------------------------------- */

/* Names longer than SWIM_NAME_MAX never match a node: hashing a prefix of
 * them is enough. */
static uint64_t sim_hash_name(const char *s)
{
    return hash_fnv1a(s, strnlen(s, SWIM_NAME_MAX + 1));
}

static void sim_names_insert(struct sim *w, int index)
{
    size_t mask = w->names_size - 1;
    size_t i = (size_t)sim_hash_name(w->nodes[index]->name) & mask;
    while (w->names[i] >= 0)
        i = (i + 1) & mask; /* bounded: the table is at most half full */
    w->names[i] = index;
}

/* Keep the table at most half full, so every probe sequence ends. */
static int sim_names_reserve(struct sim *w, int count)
{
    size_t size = w->names_size ? w->names_size : 64;
    int32_t *t;
    int i;

    while (size < (size_t)count * 2)
        size *= 2;
    if (size == w->names_size)
        return 0;
    t = malloc(size * sizeof(*t));
    if (t == NULL)
        return ERR_NOMEM;
    free(w->names);
    w->names = t;
    w->names_size = size;
    memset(t, 0xff, size * sizeof(*t));
    for (i = 0; i < w->n_nodes; i++)
        sim_names_insert(w, i);
    return 0;
}

int sim_node_by_name(const struct sim *w, const char *name)
{
    size_t mask, i, probes;
    if (w->names_size == 0 || name == NULL)
        return -1;
    mask = w->names_size - 1;
    i = (size_t)sim_hash_name(name) & mask;
    for (probes = 0; probes < w->names_size && w->names[i] >= 0; probes++) {
        if (strcmp(w->nodes[w->names[i]]->name, name) == 0)
            return w->names[i];
        i = (i + 1) & mask;
    }
    return -1;
}

/* --- world ------------------------------------------------------------- */

struct sim *sim_new(uint64_t seed)
{
    struct sim *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->hint = calloc(1, sizeof(*w->hint));
    w->ids = swim_idpool_new();
    if (w->hint == NULL || w->ids == NULL) {
        swim_idpool_delete(w->ids);
        free(w->hint);
        free(w);
        return NULL;
    }
    w->seed = seed;
    prng_seed(&w->prng, seed);
    w->next_generation = 1;
    w->next_life = 1;
    w->event_limit = SIM_DEFAULT_EVENT_LIMIT;
    w->log_cap = SIM_DEFAULT_LOG_CAP;
    w->delay_default = SIM_DEFAULT_DELAY_MS;
    return w;
}

void sim_delete(struct sim *w)
{
    size_t i;
    int n;

    if (w == NULL)
        return;
    for (n = 0; n < w->n_nodes; n++) {
        swim_delete(w->nodes[n]->swim);
        free(w->nodes[n]->log);
        free(w->nodes[n]);
    }
    for (i = 0; i < w->heap_len; i++)
        sim_ev_free(&w->heap[i]);
    free(w->heap);
    free(w->pending);
    free(w->nodes);
    free(w->names);
    free(w->links);
    free(w->hint);
    swim_idpool_delete(w->ids); /* after every instance */
    free(w);
}

uint64_t sim_seed(const struct sim *w)
{
    return w->seed;
}

uint64_t sim_seed_from_env(uint64_t dflt)
{
    const char *s = getenv("SIM_SEED");
    char *end;
    unsigned long long v;

    if (s == NULL || *s == '\0')
        return dflt;
    v = strtoull(s, &end, 0);
    return *end == '\0' ? (uint64_t)v : dflt;
}

void sim_set_observer(struct sim *w, sim_observer_f fn, void *ctx)
{
    w->observer = fn;
    w->observer_ctx = ctx;
}

void sim_set_tap(struct sim *w, sim_tap_f fn, void *ctx)
{
    w->tap = fn;
    w->tap_ctx = ctx;
}

void sim_set_event_limit(struct sim *w, uint64_t limit)
{
    w->event_limit = limit ? limit : SIM_DEFAULT_EVENT_LIMIT;
}

void sim_set_log_cap(struct sim *w, size_t cap)
{
    w->log_cap = cap;
}

uint64_t sim_now(const struct sim *w)
{
    return w->now;
}

uint64_t sim_events_processed(const struct sim *w)
{
    return w->events_processed;
}

size_t sim_events_pending(const struct sim *w)
{
    return w->heap_len;
}

static struct sim_node *sim_node(const struct sim *w, int node)
{
    return node >= 0 && node < w->n_nodes ? w->nodes[node] : NULL;
}

void sim_addr(int node, struct swim_addr *out)
{
    memset(out, 0, sizeof(*out));
    out->len = 2;
    out->bytes[0] = (uint8_t)((unsigned)node >> 8);
    out->bytes[1] = (uint8_t)node;
}

static int sim_addr_node(const struct sim *w, const struct swim_addr *a)
{
    int n;
    if (a == NULL || a->len != 2)
        return -1;
    n = a->bytes[0] << 8 | a->bytes[1];
    return n < w->n_nodes ? n : -1;
}

int sim_node_of_member(const struct sim *w, const struct swim_member_info *m)
{
    int k = sim_addr_node(w, &m->addr);
    if (k >= 0 && m->name != NULL && strcmp(w->nodes[k]->name, m->name) == 0)
        return k;
    return sim_node_by_name(w, m->name);
}

/* --- the network --------------------------------------------------------- */

static const struct sim_link *sim_link_get(const struct sim *w, int from, int to)
{
    if (w->links == NULL || from >= w->links_dim || to >= w->links_dim)
        return NULL;
    return &w->links[(size_t)from * (size_t)w->links_dim + (size_t)to];
}

/* Make the override matrix cover every node (grows by doubling). */
static int sim_links_reserve(struct sim *w)
{
    int dim = w->links_dim ? w->links_dim : 16;
    struct sim_link *m;
    int i, j;

    while (dim < w->n_nodes)
        dim *= 2;
    if (w->links != NULL && dim == w->links_dim)
        return 0;
    m = malloc((size_t)dim * (size_t)dim * sizeof(*m));
    if (m == NULL)
        return ERR_NOMEM;
    for (i = 0; i < dim; i++) {
        for (j = 0; j < dim; j++) {
            struct sim_link *l = &m[(size_t)i * (size_t)dim + (size_t)j];
            const struct sim_link *old = sim_link_get(w, i, j);
            if (old != NULL) {
                *l = *old;
            } else {
                memset(l, 0, sizeof(*l));
                l->loss = -1;
            }
        }
    }
    free(w->links);
    w->links = m;
    w->links_dim = dim;
    return 0;
}

int sim_link_is_down(const struct sim *w, int from, int to)
{
    const struct sim_node *a = sim_node(w, from), *b = sim_node(w, to);
    const struct sim_link *l;

    if (a == NULL || b == NULL)
        return 1;
    if (a->blocked || b->blocked)
        return 1;
    if (w->partitioned && a->group != b->group)
        return 1;
    l = sim_link_get(w, from, to);
    return l != NULL && l->cut;
}

static void sim_count_drop(struct sim *w, int from, int to, size_t len)
{
    struct sim_node *a = sim_node(w, from), *b = sim_node(w, to);
    if (a != NULL) {
        a->net.dropped_out_packets++;
        a->net.dropped_out_bytes += len;
    }
    if (b != NULL) {
        b->net.dropped_in_packets++;
        b->net.dropped_in_bytes += len;
    }
}

/* Send from -> to (to may be -1): count, decide loss, enqueue a copy. */
static void sim_send(struct sim *w, int from, int to, const uint8_t *data, size_t len)
{
    struct sim_node *a = sim_node(w, from);
    const struct sim_link *l;
    unsigned loss = w->loss_default;
    uint32_t delay = w->delay_default, jitter = w->jitter_default;
    struct sim_ev ev;

    a->net.sent_packets++;
    a->net.sent_bytes += len;
    if (to < 0 || sim_link_is_down(w, from, to)) {
        sim_count_drop(w, from, to, len);
        if (w->tap != NULL)
            w->tap(w->tap_ctx, w, from, to, data, len, 0);
        return;
    }
    l = sim_link_get(w, from, to);
    if (l != NULL && l->loss >= 0)
        loss = (unsigned)l->loss;
    if (l != NULL && l->has_delay) {
        delay = l->delay;
        jitter = l->jitter;
    }
    /* Draw order is fixed (sender's loss, link loss, addressee's loss, then
     * jitter), and a draw is made only for a loss that is set, so runs
     * replay exactly and worlds without node faults draw as before. */
    if ((a->loss_out > 0 && prng_below(&w->prng, 100) < a->loss_out) ||
        (loss > 0 && prng_below(&w->prng, 100) < loss) ||
        (w->nodes[to]->loss_in > 0 && prng_below(&w->prng, 100) < w->nodes[to]->loss_in)) {
        sim_count_drop(w, from, to, len);
        if (w->tap != NULL)
            w->tap(w->tap_ctx, w, from, to, data, len, 0);
        return;
    }
    if (jitter > 0)
        delay += (uint32_t)prng_below(&w->prng, (uint64_t)jitter + 1);
    memset(&ev, 0, sizeof(ev));
    ev.kind = SIM_EV_PACKET;
    ev.deadline = w->now + delay;
    ev.node = to;
    ev.u.pkt.from = from;
    ev.u.pkt.len = (uint32_t)len;
    ev.u.pkt.data = malloc(len ? len : 1);
    if (ev.u.pkt.data == NULL || sim_heap_push(w, &ev) != 0) {
        /* Out of memory in a test world: losing the datagram is the only
         * honest outcome, and it is counted. */
        free(ev.u.pkt.data);
        sim_count_drop(w, from, to, len);
        return;
    }
    memcpy(ev.u.pkt.data, data, len);
}

int sim_inject(struct sim *w, int from, int to, const uint8_t *data, size_t len)
{
    if (sim_node(w, from) == NULL || sim_node(w, to) == NULL || len > UINT16_MAX ||
        (len > 0 && data == NULL))
        return ERR_INVAL;
    sim_send(w, from, to, data, len);
    return 0;
}

int sim_set_loss(struct sim *w, int from, int to, unsigned pct)
{
    int i, j, rc;
    if (pct > 100 || from < -1 || to < -1 || from >= w->n_nodes || to >= w->n_nodes)
        return ERR_INVAL;
    if ((rc = sim_links_reserve(w)) != 0)
        return rc;
    for (i = (from < 0 ? 0 : from); i < (from < 0 ? w->n_nodes : from + 1); i++)
        for (j = (to < 0 ? 0 : to); j < (to < 0 ? w->n_nodes : to + 1); j++)
            w->links[(size_t)i * (size_t)w->links_dim + (size_t)j].loss = (int16_t)pct;
    return 0;
}

int sim_set_loss_default(struct sim *w, unsigned pct)
{
    if (pct > 100)
        return ERR_INVAL;
    w->loss_default = pct;
    return 0;
}

int sim_set_delay(struct sim *w, int from, int to, uint32_t delay_ms, uint32_t jitter_ms)
{
    int i, j, rc;
    if (from < -1 || to < -1 || from >= w->n_nodes || to >= w->n_nodes)
        return ERR_INVAL;
    if ((rc = sim_links_reserve(w)) != 0)
        return rc;
    for (i = (from < 0 ? 0 : from); i < (from < 0 ? w->n_nodes : from + 1); i++) {
        for (j = (to < 0 ? 0 : to); j < (to < 0 ? w->n_nodes : to + 1); j++) {
            struct sim_link *l = &w->links[(size_t)i * (size_t)w->links_dim + (size_t)j];
            l->has_delay = 1;
            l->delay = delay_ms;
            l->jitter = jitter_ms;
        }
    }
    return 0;
}

uint32_t sim_delay(const struct sim *w, int from, int to)
{
    const struct sim_link *l = sim_link_get(w, from, to);
    return l != NULL && l->has_delay ? l->delay : w->delay_default;
}

void sim_set_delay_default(struct sim *w, uint32_t delay_ms, uint32_t jitter_ms)
{
    w->delay_default = delay_ms;
    w->jitter_default = jitter_ms;
}

static int sim_set_cut(struct sim *w, int from, int to, uint8_t cut)
{
    int i, j, rc;
    if (from < -1 || to < -1 || from >= w->n_nodes || to >= w->n_nodes)
        return ERR_INVAL;
    if ((rc = sim_links_reserve(w)) != 0)
        return rc;
    for (i = (from < 0 ? 0 : from); i < (from < 0 ? w->n_nodes : from + 1); i++)
        for (j = (to < 0 ? 0 : to); j < (to < 0 ? w->n_nodes : to + 1); j++)
            w->links[(size_t)i * (size_t)w->links_dim + (size_t)j].cut = cut;
    return 0;
}

int sim_cut(struct sim *w, int from, int to)
{
    return sim_set_cut(w, from, to, 1);
}

int sim_uncut(struct sim *w, int from, int to)
{
    return sim_set_cut(w, from, to, 0);
}

int sim_block(struct sim *w, int node)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL)
        return ERR_INVAL;
    n->blocked = 1;
    return 0;
}

int sim_unblock(struct sim *w, int node)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL)
        return ERR_INVAL;
    n->blocked = 0;
    return 0;
}

int sim_partition(struct sim *w, const int *group, int n)
{
    int i;
    if (n < 0 || n > w->n_nodes || (n > 0 && group == NULL))
        return ERR_INVAL;
    for (i = 0; i < w->n_nodes; i++)
        w->nodes[i]->group = i < n ? group[i] : 0;
    w->partitioned = 1;
    return 0;
}

int sim_split(struct sim *w, int at)
{
    int i;
    if (at < 0 || at > w->n_nodes)
        return ERR_INVAL;
    for (i = 0; i < w->n_nodes; i++)
        w->nodes[i]->group = i < at ? 0 : 1;
    w->partitioned = 1;
    return 0;
}

void sim_heal(struct sim *w)
{
    size_t i, n = (size_t)w->links_dim * (size_t)w->links_dim;
    int k;
    for (k = 0; k < w->n_nodes; k++)
        w->nodes[k]->group = 0;
    w->partitioned = 0;
    for (i = 0; w->links != NULL && i < n; i++)
        w->links[i].cut = 0;
}

/* --- faults of one node ---------------------------------------------------- */

int sim_set_node_loss(struct sim *w, int node, unsigned in_pct, unsigned out_pct)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL || in_pct > 100 || out_pct > 100)
        return ERR_INVAL;
    n->loss_in = in_pct;
    n->loss_out = out_pct;
    return 0;
}

int sim_set_slow(struct sim *w, int node, uint32_t delay_ms, uint32_t jitter_ms)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL)
        return ERR_INVAL;
    n->slow_delay = delay_ms;
    n->slow_jitter = jitter_ms;
    return 0;
}

int sim_pause(struct sim *w, int node, uint64_t ms)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL)
        return ERR_INVAL;
    uint64_t until = ms > UINT64_MAX - w->now ? UINT64_MAX : w->now + ms;
    if (until > n->paused_until)
        n->paused_until = until;
    return 0;
}

/* One step of a node's pause schedule (ctx: the node).  A step that is not
 * the one the current schedule expects now is left over from an older
 * schedule, and does nothing. */
static void sim_pause_step(struct sim *w, void *ctx)
{
    struct sim_node *n = ctx;
    if (w->now != n->pause_next || w->now >= n->pause_end)
        return;
    sim_pause(w, n->index, n->pause_ms);
    n->pause_next = w->now + n->pause_every;
    if (sim_call_at(w, n->pause_next, sim_pause_step, n) != 0)
        n->pause_end = 0; /* out of memory: the schedule ends */
}

int sim_pause_every(struct sim *w, int node, uint64_t pause_ms, uint64_t every_ms, uint64_t for_ms)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL || pause_ms >= every_ms)
        return ERR_INVAL;
    n->pause_ms = pause_ms;
    n->pause_every = every_ms;
    n->pause_end = for_ms > UINT64_MAX - w->now ? UINT64_MAX : w->now + for_ms;
    n->pause_next = w->now;
    sim_pause_step(w, n);
    return 0;
}

int sim_paused(const struct sim *w, int node)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL && n->paused_until > w->now;
}

int sim_reachable_only_from(struct sim *w, int node, const int *peers, int n)
{
    int i, rc;
    if (sim_node(w, node) == NULL || n < 0 || (n > 0 && peers == NULL))
        return ERR_INVAL;
    for (i = 0; i < n; i++)
        if (sim_node(w, peers[i]) == NULL)
            return ERR_INVAL;
    if ((rc = sim_cut(w, -1, node)) != 0)
        return rc;
    for (i = 0; i < n; i++)
        sim_uncut(w, peers[i], node);
    return 0;
}

void sim_net_stats(const struct sim *w, int node, struct sim_net_stats *out)
{
    const struct sim_node *n = sim_node(w, node);
    if (n == NULL)
        memset(out, 0, sizeof(*out));
    else
        *out = n->net;
}

void sim_net_total(const struct sim *w, struct sim_net_stats *out)
{
    int i;
    memset(out, 0, sizeof(*out));
    for (i = 0; i < w->n_nodes; i++) {
        const struct sim_net_stats *s = &w->nodes[i]->net;
        out->sent_packets += s->sent_packets;
        out->sent_bytes += s->sent_bytes;
        out->recv_packets += s->recv_packets;
        out->recv_bytes += s->recv_bytes;
        out->dropped_out_packets += s->dropped_out_packets;
        out->dropped_out_bytes += s->dropped_out_bytes;
        out->dropped_in_packets += s->dropped_in_packets;
        out->dropped_in_bytes += s->dropped_in_bytes;
    }
}

/* --- the runtime each instance is given ----------------------------------- */

static void sim_rt_send_to(void *ctx, const struct swim_addr *to, const uint8_t *data, size_t len)
{
    struct sim_node *n = ctx;
    sim_send(n->world, n->index, sim_addr_node(n->world, to), data, len);
}

static void sim_rt_submit_after(void *ctx, const struct swim_timer *t, uint64_t delay_ms)
{
    struct sim_node *n = ctx;
    struct sim *w = n->world;
    struct sim_ev ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = SIM_EV_TIMER;
    ev.deadline = delay_ms > UINT64_MAX - w->now ? UINT64_MAX : w->now + delay_ms;
    ev.node = n->index;
    ev.u.timer.life = n->life;
    ev.u.timer.t = *t;
    n->timers[t->kind < SIM_TIMER_KINDS ? t->kind : 0]++;
    if (sim_pending_add(w, n->life, t) != 0 || sim_heap_push(w, &ev) != 0) {
        /* A lost timer would silently stall the instance: fail loudly. */
        fprintf(stderr, "sim: out of memory queueing a timer (seed=%" PRIu64 ")\n", w->seed);
        abort();
    }
}

static void sim_rt_cancel(void *ctx, const struct swim_timer *t)
{
    struct sim_node *n = ctx;
    struct sim *w = n->world;
    if (w->pending_size == 0)
        return;
    struct sim_pending *e = &w->pending[sim_pending_slot(w, n->life, t)];
    if (e->life != 0)
        e->cancelled = e->queued;
}

static void sim_rt_notify(void *ctx, const struct swim_notification *nt)
{
    struct sim_node *n = ctx;
    struct sim *w = n->world;

    if ((unsigned)nt->type <= SWIM_EV_LAST)
        n->counts[nt->type]++;
    if (n->log_len < w->log_cap) {
        struct sim_log_entry *e;
        if (n->log_len == n->log_alloc) {
            size_t cap = n->log_alloc ? n->log_alloc * 2 : 64;
            struct sim_log_entry *l;
            if (cap > w->log_cap)
                cap = w->log_cap;
            l = realloc(n->log, cap * sizeof(*l));
            if (l == NULL)
                goto observe; /* the log is best effort; counters are exact */
            n->log = l;
            n->log_alloc = cap;
        }
        e = &n->log[n->log_len++];
        memset(e, 0, sizeof(*e));
        e->at = w->now;
        e->type = (uint8_t)nt->type;
        if (nt->type == SWIM_EV_USER) {
            e->subject = sim_node_by_name(w, nt->user.origin);
            e->generation = nt->user.origin_generation;
            e->user_id = nt->user.id;
        } else {
            e->subject = sim_node_by_name(w, nt->member.name);
            e->generation = nt->member.generation;
            e->incarnation = nt->member.incarnation;
            e->status = (uint8_t)nt->member.status;
        }
    }
observe:
    if (w->observer != NULL)
        w->observer(w->observer_ctx, w, n->index, nt, w->now);
}

/* --- nodes ------------------------------------------------------------- */

static uint64_t sim_node_seed(const struct sim *w, int index, uint64_t generation)
{
    uint64_t x = w->seed ^ ((uint64_t)(unsigned)index << 32) ^ generation * 0xD1B54A32D192ED03ULL;
    return prng_splitmix64(&x);
}

/* Create and start a fresh instance for n (which must not have one). */
static int sim_node_boot(struct sim *w, struct sim_node *n)
{
    struct swim_runtime rt = {n,
                              sim_rt_notify,
                              sim_rt_send_to,
                              sim_rt_submit_after,
                              w->no_cancel ? NULL : sim_rt_cancel,
                              w->ids};
    struct swim_addr addr;
    int rc;

    sim_addr(n->index, &addr);
    n->generation = w->next_generation++;
    n->life = w->next_life++;
    n->swim = swim_new(&n->cfg, n->name, &addr, n->generation,
                       sim_node_seed(w, n->index, n->generation), &rt);
    if (n->swim == NULL)
        return ERR_INVAL;
    if ((rc = swim_start(n->swim, w->now)) != 0) {
        swim_delete(n->swim);
        n->swim = NULL;
        return rc;
    }
    return 0;
}

int sim_add_node(struct sim *w, const char *name, const struct swim_config *cfg)
{
    struct sim_node *n;
    size_t len;
    int rc;

    if (name == NULL || cfg == NULL)
        return ERR_INVAL;
    len = strlen(name);
    if (len == 0 || len > SWIM_NAME_MAX)
        return ERR_INVAL;
    if (sim_node_by_name(w, name) >= 0)
        return ERR_EXISTS;
    if (w->n_nodes >= SIM_MAX_NODES)
        return ERR_LIMIT;
    if (w->n_nodes == w->nodes_alloc) {
        int cap = w->nodes_alloc ? w->nodes_alloc * 2 : 16;
        struct sim_node **a = realloc(w->nodes, (size_t)cap * sizeof(*a));
        if (a == NULL)
            return ERR_NOMEM;
        w->nodes = a;
        w->nodes_alloc = cap;
    }
    /* Reserve everything before the node becomes visible. */
    if ((rc = sim_names_reserve(w, w->n_nodes + 1)) != 0)
        return rc;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return ERR_NOMEM;
    n->world = w;
    n->index = w->n_nodes;
    memcpy(n->name, name, len + 1);
    n->cfg = *cfg;
    w->nodes[w->n_nodes++] = n;
    if (w->links != NULL && (rc = sim_links_reserve(w)) != 0)
        goto fail;
    sim_names_insert(w, n->index);
    if ((rc = sim_node_boot(w, n)) != 0) {
        /* Undo: the node was the last one added; rebuild the name table. */
        size_t i;
        for (i = 0; i < w->names_size; i++)
            if (w->names[i] == n->index)
                w->names[i] = -1;
        w->n_nodes--;
        free(n);
        i = w->names_size;
        w->names_size = 0;
        free(w->names);
        w->names = NULL;
        if (sim_names_reserve(w, (int)(i / 2)) != 0)
            abort(); /* cannot leave the world without a name table */
        return rc;
    }
    return n->index;
fail:
    w->n_nodes--;
    free(n);
    return rc;
}

int sim_add_nodes(struct sim *w, int count, const char *prefix, const struct swim_config *cfg)
{
    int i, first = w->n_nodes;
    char name[SWIM_NAME_MAX + 16];

    if (count <= 0 || prefix == NULL)
        return ERR_INVAL;
    for (i = 0; i < count; i++) {
        int rc;
        snprintf(name, sizeof(name), "%s%d", prefix, first + i);
        if ((rc = sim_add_node(w, name, cfg)) < 0)
            return rc;
    }
    return first;
}

int sim_node_count(const struct sim *w)
{
    return w->n_nodes;
}

int sim_announce(struct sim *w, int node, int seed_node)
{
    struct sim_node *n = sim_node(w, node);
    struct swim_addr addr;

    if (n == NULL || sim_node(w, seed_node) == NULL)
        return ERR_INVAL;
    if (n->swim == NULL)
        return ERR_STATE;
    sim_addr(seed_node, &addr);
    return swim_announce(n->swim, &addr, w->now);
}

int sim_announce_all(struct sim *w, int seed_node)
{
    int i, rc;
    if (sim_node(w, seed_node) == NULL)
        return ERR_INVAL;
    for (i = 0; i < w->n_nodes; i++) {
        if (i == seed_node || w->nodes[i]->swim == NULL)
            continue;
        if ((rc = sim_announce(w, i, seed_node)) != 0)
            return rc;
    }
    return 0;
}

int sim_leave(struct sim *w, int node)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL)
        return ERR_INVAL;
    if (n->swim == NULL)
        return ERR_STATE;
    return swim_leave(n->swim, w->now);
}

int sim_kill(struct sim *w, int node)
{
    struct sim_node *n = sim_node(w, node);
    if (n == NULL)
        return ERR_INVAL;
    if (n->swim == NULL)
        return ERR_STATE;
    swim_delete(n->swim);
    n->swim = NULL;
    n->life = w->next_life++;
    return 0;
}

int sim_restart(struct sim *w, int node, int seed_node)
{
    struct sim_node *n = sim_node(w, node);
    int rc;

    if (n == NULL || (seed_node >= 0 && sim_node(w, seed_node) == NULL))
        return ERR_INVAL;
    if (n->swim != NULL)
        sim_kill(w, node);
    if ((rc = sim_node_boot(w, n)) != 0)
        return rc;
    return seed_node >= 0 ? sim_announce(w, node, seed_node) : 0;
}

struct swim *sim_swim(const struct sim *w, int node)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL ? n->swim : NULL;
}

const char *sim_name(const struct sim *w, int node)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL ? n->name : NULL;
}

int sim_running(const struct sim *w, int node)
{
    return sim_swim(w, node) != NULL;
}

uint64_t sim_generation(const struct sim *w, int node)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL ? n->generation : 0;
}

/* --- running ----------------------------------------------------------- */

int sim_call_at(struct sim *w, uint64_t t, sim_call_f fn, void *ctx)
{
    struct sim_ev ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = SIM_EV_CALL;
    ev.deadline = t < w->now ? w->now : t;
    ev.node = -1;
    ev.u.call.fn = fn;
    ev.u.call.ctx = ctx;
    return sim_heap_push(w, &ev);
}

/* Put an event back in the queue at `at` (a pause or a processing delay
 * holds it); it keeps its payload and goes after everything already due
 * then, so held events keep their order. */
static void sim_hold(struct sim *w, struct sim_ev *ev, uint64_t at)
{
    ev->deadline = at;
    if (sim_heap_push(w, ev) != 0) {
        fprintf(stderr, "sim: out of memory holding an event (seed=%" PRIu64 ")\n", w->seed);
        abort();
    }
}

/* A datagram has just crossed the network to a slow node: when it is
 * handled (after the delay, and not before the one that came before). */
static uint64_t sim_slow_until(struct sim *w, struct sim_node *n)
{
    uint64_t at = w->now + n->slow_delay;
    if (n->slow_jitter > 0)
        at += prng_below(&w->prng, (uint64_t)n->slow_jitter + 1);
    if (at < n->slow_last)
        at = n->slow_last;
    n->slow_last = at;
    return at;
}

static void sim_dispatch(struct sim *w, struct sim_ev *ev)
{
    struct sim_node *n = sim_node(w, ev->node);

    switch (ev->kind) {
    case SIM_EV_TIMER:
        if (n != NULL && n->swim != NULL && n->life == ev->u.timer.life &&
            n->paused_until > w->now) {
            sim_hold(w, ev, n->paused_until);
            return;
        }
        if (sim_pending_take(w, ev->u.timer.life, &ev->u.timer.t) == 0 && n != NULL &&
            n->swim != NULL && n->life == ev->u.timer.life) {
            uint32_t kind = ev->u.timer.t.kind;
            n->fired[kind < SIM_TIMER_KINDS ? kind : 0]++;
            swim_handle_timer(n->swim, &ev->u.timer.t, w->now);
        }
        break;
    case SIM_EV_PACKET: {
        int from = ev->u.pkt.from;
        size_t len = ev->u.pkt.len;
        if (n == NULL || n->swim == NULL || (!ev->arrived && sim_link_is_down(w, from, ev->node))) {
            sim_count_drop(w, from, ev->node, len);
            if (w->tap != NULL)
                w->tap(w->tap_ctx, w, from, ev->node, ev->u.pkt.data, len, 0);
        } else if (!ev->arrived && (n->slow_delay > 0 || n->slow_jitter > 0)) {
            ev->arrived = 1;
            sim_hold(w, ev, sim_slow_until(w, n));
            return;
        } else if (n->paused_until > w->now) {
            ev->arrived = 1;
            sim_hold(w, ev, n->paused_until);
            return;
        } else {
            struct swim_addr addr;
            n->net.recv_packets++;
            n->net.recv_bytes += len;
            if (w->tap != NULL)
                w->tap(w->tap_ctx, w, from, ev->node, ev->u.pkt.data, len, 1);
            sim_addr(from, &addr);
            swim_handle_packet(n->swim, &addr, ev->u.pkt.data, len, w->now);
        }
        break;
    }
    case SIM_EV_CALL:
        ev->u.call.fn(w, ev->u.call.ctx);
        break;
    default:
        break;
    }
    sim_ev_free(ev);
}

static void sim_limit_exceeded(const struct sim *w, uint64_t limit)
{
    fprintf(stderr,
            "sim: more than %" PRIu64 " events in one run (seed=%" PRIu64 ", t=%" PRIu64
            " ms, %zu queued): livelock?\n",
            limit, w->seed, w->now, w->heap_len);
    abort();
}

/* The run loop: process events up to `until`; with a predicate, stop at
 * the end of the first millisecond where it holds.  Returns that time or
 * UINT64_MAX. */
static uint64_t sim_run(struct sim *w, uint64_t until, sim_pred_f pred, void *ctx)
{
    uint64_t budget = w->event_limit;

    if (pred != NULL && pred(w, ctx))
        return w->now;
    while (w->heap_len > 0 && w->heap[0].deadline <= until) {
        struct sim_ev ev;
        if (budget-- == 0)
            sim_limit_exceeded(w, w->event_limit);
        sim_heap_pop(w, &ev);
        if (ev.deadline > w->now)
            w->now = ev.deadline;
        w->events_processed++;
        sim_dispatch(w, &ev);
        /* Check when this millisecond is over: the queue is empty or the
         * next event is later. */
        if (pred != NULL && (w->heap_len == 0 || w->heap[0].deadline > w->now) && pred(w, ctx))
            return w->now;
    }
    if (until > w->now)
        w->now = until;
    if (pred != NULL && pred(w, ctx))
        return w->now;
    return UINT64_MAX;
}

void sim_run_until(struct sim *w, uint64_t t)
{
    sim_run(w, t, NULL, NULL);
}

void sim_run_for(struct sim *w, uint64_t ms)
{
    sim_run(w, ms > UINT64_MAX - w->now ? UINT64_MAX : w->now + ms, NULL, NULL);
}

uint64_t sim_run_until_pred(struct sim *w, sim_pred_f pred, void *ctx, uint64_t deadline)
{
    return sim_run(w, deadline, pred, ctx);
}

/* --- queries ----------------------------------------------------------- */

int sim_member(const struct sim *w, int observer, int subject, struct swim_member_info *out)
{
    const struct sim_node *o = sim_node(w, observer), *s = sim_node(w, subject);
    if (o == NULL || s == NULL)
        return ERR_INVAL;
    if (o->swim == NULL)
        return ERR_STATE;
    if (observer == subject) {
        swim_self(o->swim, out);
        return 0;
    }
    return swim_member_find(o->swim, s->name, out);
}

int sim_status(const struct sim *w, int observer, int subject)
{
    struct swim_member_info info;
    if (sim_member(w, observer, subject, &info) != 0)
        return -1;
    return (int)info.status;
}

static int sim_sees_one(const struct sim *w, int o, int s, enum swim_status status, int current)
{
    struct swim_member_info info;
    if (sim_member(w, o, s, &info) != 0 || info.status != status)
        return 0;
    return !current || info.generation == w->nodes[s]->generation;
}

int sim_sees(const struct sim *w, const int *obs, int n_obs, const int *subj, int n_subj,
             enum swim_status status)
{
    int i, j;
    int no = obs != NULL ? n_obs : w->n_nodes;
    int ns = subj != NULL ? n_subj : w->n_nodes;

    for (i = 0; i < no; i++) {
        int o = obs != NULL ? obs[i] : i;
        if (obs == NULL && !sim_running(w, o))
            continue;
        for (j = 0; j < ns; j++) {
            int s = subj != NULL ? subj[j] : j;
            if (s == o || (subj == NULL && !sim_running(w, s)))
                continue;
            if (!sim_sees_one(w, o, s, status, 0))
                return 0;
        }
    }
    return 1;
}

static int sim_all_see_impl(const struct sim *w, enum swim_status status, int subject, int current)
{
    int i;
    if (sim_node(w, subject) == NULL)
        return 0;
    for (i = 0; i < w->n_nodes; i++) {
        if (i == subject || !sim_running(w, i))
            continue;
        if (!sim_sees_one(w, i, subject, status, current))
            return 0;
    }
    return 1;
}

int sim_all_see(const struct sim *w, enum swim_status status, int subject)
{
    return sim_all_see_impl(w, status, subject, 0);
}

int sim_all_see_current(const struct sim *w, enum swim_status status, int subject)
{
    return sim_all_see_impl(w, status, subject, 1);
}

int sim_all_see_all(const struct sim *w, enum swim_status status)
{
    size_t n = (size_t)w->n_nodes, total = n * n, k;
    size_t start = w->hint->pair < total ? w->hint->pair : 0;

    /* Every ordered pair once, starting at the last failure. */
    for (k = 0; k < total; k++) {
        size_t pair = (start + k) % total;
        int o = (int)(pair / n), s = (int)(pair % n);
        if (o == s || !sim_running(w, o) || !sim_running(w, s))
            continue;
        if (!sim_sees_one(w, o, s, status, 0)) {
            w->hint->pair = pair;
            return 0;
        }
    }
    return 1;
}

int sim_count_seeing(const struct sim *w, enum swim_status status, int subject)
{
    int i, count = 0;
    for (i = 0; i < w->n_nodes; i++)
        if (i != subject && sim_running(w, i) && sim_sees_one(w, i, subject, status, 0))
            count++;
    return count;
}

uint64_t sim_notified(const struct sim *w, int node, enum swim_event type)
{
    const struct sim_node *n = sim_node(w, node);
    if (n == NULL || (unsigned)type > SWIM_EV_LAST)
        return 0;
    return n->counts[type];
}

/* counts[kind], or their sum for kind 0. */
static uint64_t sim_timer_count(const uint64_t *counts, uint32_t kind)
{
    uint64_t sum = 0;
    if (kind != 0)
        return counts[kind];
    for (size_t k = 0; k < SIM_TIMER_KINDS; k++)
        sum += counts[k];
    return sum;
}

uint64_t sim_timers_submitted(const struct sim *w, int node, uint32_t kind)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL && kind < SIM_TIMER_KINDS ? sim_timer_count(n->timers, kind) : 0;
}

uint64_t sim_timers_fired(const struct sim *w, int node, uint32_t kind)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL && kind < SIM_TIMER_KINDS ? sim_timer_count(n->fired, kind) : 0;
}

void sim_set_cancel(struct sim *w, int on)
{
    w->no_cancel = !on;
}

uint64_t sim_notified_total(const struct sim *w, enum swim_event type)
{
    uint64_t sum = 0;
    int i;
    for (i = 0; i < w->n_nodes; i++)
        sum += sim_notified(w, i, type);
    return sum;
}

/* Scan the logs of observer (or all, for -1): count matches and find the
 * first time. */
static uint64_t sim_log_scan(const struct sim *w, int observer, enum swim_event type, int subject,
                             uint64_t *first)
{
    uint64_t count = 0;
    int i;
    *first = UINT64_MAX;
    for (i = (observer < 0 ? 0 : observer);
         i < (observer < 0 ? w->n_nodes : observer + 1) && i < w->n_nodes; i++) {
        const struct sim_node *n = w->nodes[i];
        size_t k;
        for (k = 0; k < n->log_len; k++) {
            const struct sim_log_entry *e = &n->log[k];
            if (e->type != (uint8_t)type || e->subject != subject)
                continue;
            count++;
            if (e->at < *first)
                *first = e->at;
        }
    }
    return count;
}

uint64_t sim_notified_about(const struct sim *w, int observer, enum swim_event type, int subject)
{
    uint64_t first;
    return sim_log_scan(w, observer, type, subject, &first);
}

uint64_t sim_first_notified(const struct sim *w, int observer, enum swim_event type, int subject)
{
    uint64_t first;
    sim_log_scan(w, observer, type, subject, &first);
    return first;
}

size_t sim_log_count(const struct sim *w, int node)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL ? n->log_len : 0;
}

const struct sim_log_entry *sim_log_at(const struct sim *w, int node, size_t i)
{
    const struct sim_node *n = sim_node(w, node);
    return n != NULL && i < n->log_len ? &n->log[i] : NULL;
}

void sim_failmsg_(const struct sim *w, char *buf, size_t size, const char *cond, const char *fmt,
                  ...)
{
    va_list ap;
    int off = snprintf(buf, size, "seed=%" PRIu64 " t=%" PRIu64 "ms: %s: ", w->seed, w->now, cond);
    if (off < 0 || (size_t)off >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + off, size - (size_t)off, fmt, ap);
    va_end(ap);
}
