/*
 * backplane.c - devices, links and fault propagation.
 *
 * Design notes (the model is in backplane.h).
 *
 * Slots and ids.  Devices live in fixed-size chunks of slots; a table of chunk
 * pointers grows by doubling, so a device's address never moves and a slot
 * index maps to it with a shift and a mask.  Every slot has a generation; an
 * id is (generation << 32 | slot).  Freeing a slot bumps its generation, so
 * the old id stops matching; a slot whose generation would wrap is retired
 * instead of reused, which is what makes ids unique for the life of the
 * instance.  Free slots form a LIFO list, so a create/delete loop stays in one
 * warm cache line.
 *
 * Cells.  One pool of equal-sized cells serves two purposes.  A live link
 * between devices A (end 0) and B (end 1) is a cell sitting in both devices'
 * intrusive doubly-linked link lists (next[end], prev[end]) with a bit per end
 * saying whether that end is told when the other stops.  When B stops, each
 * of its link cells is unhooked from the other device's list and, if the
 * other end watches B, rewritten in place as the Disconnected(B, fault)
 * message for it; otherwise it goes back to the pool.  A link therefore
 * reserves its own future message: a stop never allocates and cannot fail
 * half-way, and since a link is removed by the first stop of either end, a
 * link yields at most one message - "exactly once" is structural.  The only
 * message not born from a link is the one bp_link() sends when linking to a
 * device that has already stopped; that cell is reserved before anything
 * changes.  Links exist only between running devices.
 *
 * Delivery.  A message for a device without handler or manage policy is
 * appended to its inbox at once.  Otherwise it is appended to one FIFO work
 * queue in the backplane.  The outermost public call that can produce
 * messages (stop, delete, link) drains that queue; calls made from inside a
 * handler only append to it, since `draining` is set.  So a cascade along a
 * chain of N managed devices is N iterations of one loop, not N nested
 * calls, and the stack stays flat.  Each stop happens once because a stopped
 * device refuses a second stop (the manage policy checks the state first),
 * so rings of peers terminate: every link is consumed by the first stop of
 * either end.  A queued message whose target has been deleted meanwhile is
 * dropped (its id no longer resolves).
 *
 * Finding a link.  A pair has at most one link; to find it we walk the link
 * list of whichever device has fewer links, so linking many leaves to one
 * hub stays O(1) per link.
 */
#include "backplane.h"

#include <stdlib.h>
#include <string.h>

/* 128 slots of ~128 bytes: one 16 KiB chunk per growth step.  Every slot of
 * a chunk is written when it is added (the free list), so the chunk is
 * resident at once: a 100-member agent pays 16 KiB, not the 128 KiB that
 * 1,024-slot chunks cost; growth stays rare (once per 128 devices). */
#define BP_CHUNK_SHIFT 7
#define BP_CHUNK_SLOTS (1u << BP_CHUNK_SHIFT)
#define BP_CHUNK_MASK (BP_CHUNK_SLOTS - 1u)

/* Slot indexes are 32-bit and UINT32_MAX is never a valid slot, so the chunk
 * table stops growing before the index would overflow. */
#define BP_MAX_CHUNKS ((uint32_t)(UINT32_MAX >> BP_CHUNK_SHIFT))

/* A first chunk table this long covers 2 Ki devices before it reallocates. */
#define BP_CHUNK_TABLE_INITIAL 16u

/* 256 cells of ~88 bytes per pool growth: about 22 KiB, one malloc per 256
 * links, so the allocator stays out of the hot path. */
#define BP_CELLS_PER_BLOCK 256u

/* Marks the end of the free slot list (never a valid slot index). */
#define BP_NO_SLOT UINT32_MAX

/* The fault a device gets when its owner deletes it while it is running:
 * ERR_CLOSED because the owner closed it without saying why.  A constant, so
 * deleting costs no string handling. */
static const struct bp_fault bp__drop_fault = {
    .kind = BP_FAULT_ERROR,
    .code = ERR_CLOSED,
    .text = "deleted while running",
};

enum bp__slot_state {
    BP__FREE = 0,
    BP__RUNNING = BP_RUNNING,
    BP__STOPPED = BP_STOPPED,
};

struct bp__cell;

/* A live link between the devices in slot[0] and slot[1]. */
struct bp__link {
    struct bp__cell *next[2]; /* neighbours in the list of end i's device */
    struct bp__cell *prev[2];
    uint32_t slot[2];
    unsigned watch; /* bit i set: end i is told when the other end stops */
};

/* A queued or inboxed disconnect. */
struct bp__msg {
    struct bp__cell *next;
    bp_id target;
    struct bp_disconnect body;
};

struct bp__cell {
    union {
        struct bp__link link;
        struct bp__msg msg;
        struct bp__cell *next_free;
    } u;
};

struct bp__cell_block {
    struct bp__cell_block *next;
    struct bp__cell cells[BP_CELLS_PER_BLOCK];
};

struct bp__device {
    uint32_t gen;       /* generation of the current (or next) occupant */
    uint32_t next_free; /* free list link while BP__FREE */
    uint8_t state;      /* enum bp__slot_state */
    bool manage;
    uint32_t nlinks;
    uint32_t inbox_len;
    struct bp__cell *links; /* head of this device's link list */
    struct bp__cell *inbox_head;
    struct bp__cell *inbox_tail;
    bp_handler_f handler;
    void *data;
    struct bp_fault fault; /* valid once stopped */
};

struct bp {
    struct bp__device **chunks;
    uint32_t nchunks;
    uint32_t chunks_cap;
    uint32_t free_slot; /* head of the free slot list, or BP_NO_SLOT */
    size_t nfree_slots;
    size_t ndevices;

    struct bp__cell *free_cells;
    size_t nfree_cells;
    struct bp__cell_block *blocks;

    struct bp__cell *queue_head; /* messages awaiting a handler or policy */
    struct bp__cell *queue_tail;
    bool draining;
};

/* ---- faults ---- */

static void bp__copy_text(char *dst, const char *src)
{
    size_t n = 0;
    if (src != NULL) {
        const char *end = memchr(src, '\0', BP_FAULT_TEXT_MAX - 1);
        n = end != NULL ? (size_t)(end - src) : BP_FAULT_TEXT_MAX - 1;
        memcpy(dst, src, n);
    }
    memset(dst + n, 0, BP_FAULT_TEXT_MAX - n);
}

struct bp_fault bp_fault_none(void)
{
    struct bp_fault f;
    memset(&f, 0, sizeof(f));
    f.kind = BP_FAULT_NONE;
    f.dep_kind = BP_FAULT_NONE;
    return f;
}

struct bp_fault bp_fault_error(int code, const char *text)
{
    struct bp_fault f = bp_fault_none();
    f.kind = BP_FAULT_ERROR;
    f.code = code;
    bp__copy_text(f.text, text);
    return f;
}

struct bp_fault bp_fault_cascade(bp_id dep, const struct bp_fault *dep_fault)
{
    struct bp_fault f = bp_fault_none();
    f.kind = BP_FAULT_CASCADE;
    f.dep = dep;
    if (dep_fault == NULL || dep_fault->kind == BP_FAULT_NONE) {
        f.dep_kind = BP_FAULT_NONE;
        f.origin = dep;
        return f;
    }
    f.dep_kind = dep_fault->kind;
    f.origin = dep_fault->origin != BP_ID_NONE ? dep_fault->origin : dep;
    f.code = dep_fault->code;
    bp__copy_text(f.text, dep_fault->text);
    return f;
}

/* ---- slots ---- */

static inline uint32_t bp__slot_of(bp_id id)
{
    return (uint32_t)id;
}

static inline bp_id bp__id_of(uint32_t gen, uint32_t slot)
{
    return ((bp_id)gen << 32) | slot;
}

static inline struct bp__device *bp__slot(const struct bp *bp, uint32_t slot)
{
    return &bp->chunks[slot >> BP_CHUNK_SHIFT][slot & BP_CHUNK_MASK];
}

/* The live device named by `id`, or NULL when the id is stale or unknown. */
static inline struct bp__device *bp__lookup(const struct bp *bp, bp_id id)
{
    uint32_t slot = bp__slot_of(id);
    if (slot >= (bp->nchunks << BP_CHUNK_SHIFT)) {
        return NULL;
    }
    struct bp__device *d = bp__slot(bp, slot);
    if (d->gen != (uint32_t)(id >> 32) || d->state == BP__FREE) {
        return NULL;
    }
    return d;
}

static int bp__grow_slots(struct bp *bp)
{
    if (bp->nchunks >= BP_MAX_CHUNKS) {
        return ERR_LIMIT;
    }
    if (bp->nchunks == bp->chunks_cap) {
        uint32_t cap = bp->chunks_cap == 0 ? BP_CHUNK_TABLE_INITIAL : bp->chunks_cap * 2u;
        if (cap > BP_MAX_CHUNKS) {
            cap = BP_MAX_CHUNKS;
        }
        struct bp__device **t = realloc(bp->chunks, (size_t)cap * sizeof(*t));
        if (t == NULL) {
            return ERR_NOMEM;
        }
        bp->chunks = t;
        bp->chunks_cap = cap;
    }
    struct bp__device *chunk = calloc(BP_CHUNK_SLOTS, sizeof(*chunk));
    if (chunk == NULL) {
        return ERR_NOMEM;
    }
    uint32_t base = bp->nchunks << BP_CHUNK_SHIFT;
    bp->chunks[bp->nchunks++] = chunk;
    /* Push in reverse so the lowest slot is handed out first. */
    for (uint32_t i = BP_CHUNK_SLOTS; i-- > 0;) {
        chunk[i].gen = 1; /* generation 0 would make slot 0's first id BP_ID_NONE */
        chunk[i].state = BP__FREE;
        chunk[i].next_free = bp->free_slot;
        bp->free_slot = base + i;
    }
    bp->nfree_slots += BP_CHUNK_SLOTS;
    return 0;
}

/* ---- cells ---- */

static int bp__grow_cells(struct bp *bp)
{
    struct bp__cell_block *b = malloc(sizeof(*b));
    if (b == NULL) {
        return ERR_NOMEM;
    }
    b->next = bp->blocks;
    bp->blocks = b;
    for (uint32_t i = BP_CELLS_PER_BLOCK; i-- > 0;) {
        b->cells[i].u.next_free = bp->free_cells;
        bp->free_cells = &b->cells[i];
    }
    bp->nfree_cells += BP_CELLS_PER_BLOCK;
    return 0;
}

static int bp__reserve_cells(struct bp *bp, size_t n)
{
    /* Bounded: each round adds BP_CELLS_PER_BLOCK cells or fails. */
    while (bp->nfree_cells < n) {
        int rc = bp__grow_cells(bp);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Takes a cell; the caller has reserved it. */
static inline struct bp__cell *bp__cell_take(struct bp *bp)
{
    struct bp__cell *c = bp->free_cells;
    bp->free_cells = c->u.next_free;
    bp->nfree_cells--;
    return c;
}

static inline void bp__cell_put(struct bp *bp, struct bp__cell *c)
{
    c->u.next_free = bp->free_cells;
    bp->free_cells = c;
    bp->nfree_cells++;
}

/* ---- the backplane ---- */

struct bp *bp_new(void)
{
    struct bp *bp = calloc(1, sizeof(*bp));
    if (bp == NULL) {
        return NULL;
    }
    bp->free_slot = BP_NO_SLOT;
    return bp;
}

void bp_delete(struct bp *bp)
{
    if (bp == NULL) {
        return;
    }
    for (uint32_t i = 0; i < bp->nchunks; i++) {
        free(bp->chunks[i]);
    }
    free(bp->chunks);
    /* Bounded by the number of blocks ever allocated. */
    struct bp__cell_block *b = bp->blocks;
    while (b != NULL) {
        struct bp__cell_block *next = b->next;
        free(b);
        b = next;
    }
    free(bp);
}

int bp_reserve(struct bp *bp, size_t devices, size_t links)
{
    if (bp == NULL) {
        return ERR_INVAL;
    }
    /* Bounded: each round adds BP_CHUNK_SLOTS slots or fails. */
    while (bp->nfree_slots < devices) {
        int rc = bp__grow_slots(bp);
        if (rc != 0) {
            return rc;
        }
    }
    return bp__reserve_cells(bp, links);
}

size_t bp_device_count(const struct bp *bp)
{
    return bp == NULL ? 0 : bp->ndevices;
}

/* ---- link lists ---- */

/* Which end of link `c` the device in `slot` is. */
static inline unsigned bp__end(const struct bp__cell *c, uint32_t slot)
{
    return c->u.link.slot[0] == slot ? 0u : 1u;
}

static void bp__list_push(struct bp__device *d, uint32_t slot, struct bp__cell *c, unsigned end)
{
    struct bp__cell *head = d->links;
    c->u.link.prev[end] = NULL;
    c->u.link.next[end] = head;
    if (head != NULL) {
        head->u.link.prev[bp__end(head, slot)] = c;
    }
    d->links = c;
    d->nlinks++;
}

static void bp__list_remove(struct bp__device *d, uint32_t slot, struct bp__cell *c, unsigned end)
{
    struct bp__cell *prev = c->u.link.prev[end];
    struct bp__cell *next = c->u.link.next[end];
    if (prev != NULL) {
        prev->u.link.next[bp__end(prev, slot)] = next;
    } else {
        d->links = next;
    }
    if (next != NULL) {
        next->u.link.prev[bp__end(next, slot)] = prev;
    }
    d->nlinks--;
}

/* The link between the devices in slots sa and sb, or NULL. */
static struct bp__cell *bp__find_link(const struct bp *bp, uint32_t sa, uint32_t sb)
{
    const struct bp__device *a = bp__slot(bp, sa);
    const struct bp__device *b = bp__slot(bp, sb);
    uint32_t mine = sa, other = sb;
    struct bp__cell *c = a->links;
    uint32_t n = a->nlinks;
    if (b->nlinks < n) {
        mine = sb;
        other = sa;
        c = b->links;
        n = b->nlinks;
    }
    for (uint32_t i = 0; i < n && c != NULL; i++) {
        unsigned end = bp__end(c, mine);
        if (c->u.link.slot[1u - end] == other) {
            return c;
        }
        c = c->u.link.next[end];
    }
    return NULL;
}

/* ---- delivery ---- */

static void bp__fifo_push(struct bp__cell **head, struct bp__cell **tail, struct bp__cell *c)
{
    c->u.msg.next = NULL;
    if (*tail != NULL) {
        (*tail)->u.msg.next = c;
    } else {
        *head = c;
    }
    *tail = c;
}

static void bp__inbox_push(struct bp__device *d, struct bp__cell *c)
{
    bp__fifo_push(&d->inbox_head, &d->inbox_tail, c);
    d->inbox_len++;
}

/* Hands message cell `c` (body filled in) to device `d`, whose id is `target`. */
static void bp__deliver(struct bp *bp, struct bp__device *d, bp_id target, struct bp__cell *c)
{
    c->u.msg.target = target;
    if (d->handler == NULL && !d->manage) {
        bp__inbox_push(d, c);
    } else {
        bp__fifo_push(&bp->queue_head, &bp->queue_tail, c);
    }
}

/*
 * Stops running device `d` (id `id`) with a validated fault.  Cannot fail:
 * every message it sends is a link cell it already owns.  Queues, never runs,
 * handlers.
 */
static void bp__stop(struct bp *bp, struct bp__device *d, bp_id id, const struct bp_fault *fault)
{
    uint32_t slot = bp__slot_of(id);
    d->state = BP__STOPPED;
    if (fault->kind == BP_FAULT_NONE) {
        memset(&d->fault, 0, sizeof(d->fault));
    } else {
        d->fault = *fault;
        d->fault.text[BP_FAULT_TEXT_MAX - 1] = '\0';
        if (fault->kind == BP_FAULT_ERROR) {
            d->fault.origin = id;
            d->fault.dep = BP_ID_NONE;
            d->fault.dep_kind = BP_FAULT_NONE;
        }
    }

    struct bp__cell *c = d->links;
    uint32_t n = d->nlinks;
    for (uint32_t i = 0; i < n && c != NULL; i++) {
        unsigned end = bp__end(c, slot);
        unsigned oend = 1u - end;
        struct bp__cell *next = c->u.link.next[end];
        uint32_t oslot = c->u.link.slot[oend];
        bool tell = (c->u.link.watch & (1u << oend)) != 0;
        struct bp__device *o = bp__slot(bp, oslot);
        bp__list_remove(o, oslot, c, oend);
        if (tell) {
            /* The link cell becomes the message: its link fields are dead now. */
            c->u.msg.body.id = id;
            c->u.msg.body.fault = d->fault;
            bp__deliver(bp, o, bp__id_of(o->gen, oslot), c);
        } else {
            bp__cell_put(bp, c);
        }
        c = next;
    }
    d->links = NULL;
    d->nlinks = 0;
}

/* The manage policy: cascade on a fault, stay running on a clean stop. */
static void bp__manage(struct bp *bp, struct bp__device *d, bp_id self,
                       const struct bp_disconnect *msg)
{
    if (d->state != BP__RUNNING || msg->fault.kind == BP_FAULT_NONE) {
        return;
    }
    struct bp_fault f = bp_fault_cascade(msg->id, &msg->fault);
    bp__stop(bp, d, self, &f);
}

/*
 * Runs queued messages through policies and handlers until the queue is
 * empty.  Only the outermost call drains; nested calls from handlers just
 * queue.  Bound: each iteration consumes one message and every message is a
 * cell the caller's own links (or bp_link calls) reserved, so the loop runs
 * at most once per link ever made.
 */
static void bp__drain(struct bp *bp)
{
    if (bp->draining) {
        return;
    }
    bp->draining = true;
    while (bp->queue_head != NULL) {
        struct bp__cell *c = bp->queue_head;
        bp->queue_head = c->u.msg.next;
        if (bp->queue_head == NULL) {
            bp->queue_tail = NULL;
        }
        bp_id target = c->u.msg.target;
        struct bp__device *d = bp__lookup(bp, target);
        if (d == NULL) {
            bp__cell_put(bp, c); /* deleted while its message was queued */
            continue;
        }
        if (d->manage) {
            bp__manage(bp, d, target, &c->u.msg.body);
        }
        if (d->handler != NULL) {
            /* Device memory never moves, but the handler may delete `d`:
             * read what we need first and touch `d` no more. */
            bp_handler_f h = d->handler;
            h(bp, target, d->data, &c->u.msg.body);
            bp__cell_put(bp, c);
        } else {
            bp__inbox_push(d, c);
        }
    }
    bp->draining = false;
}

/* ---- devices ---- */

int bp_device_new(struct bp *bp, void *data, bp_id *out)
{
    if (bp == NULL || out == NULL) {
        return ERR_INVAL;
    }
    if (bp->free_slot == BP_NO_SLOT) {
        int rc = bp__grow_slots(bp);
        if (rc != 0) {
            return rc;
        }
    }
    uint32_t slot = bp->free_slot;
    struct bp__device *d = bp__slot(bp, slot);
    bp->free_slot = d->next_free;
    bp->nfree_slots--;
    bp->ndevices++;
    d->state = BP__RUNNING;
    d->manage = false;
    d->nlinks = 0;
    d->inbox_len = 0;
    d->links = NULL;
    d->inbox_head = NULL;
    d->inbox_tail = NULL;
    d->handler = NULL;
    d->data = data;
    *out = bp__id_of(d->gen, slot);
    return 0;
}

static bool bp__fault_valid(const struct bp_fault *f)
{
    return f->kind == BP_FAULT_NONE || f->kind == BP_FAULT_ERROR || f->kind == BP_FAULT_CASCADE;
}

int bp_device_stop(struct bp *bp, bp_id id, const struct bp_fault *fault)
{
    if (bp == NULL) {
        return ERR_INVAL;
    }
    struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    struct bp_fault none;
    if (fault == NULL) {
        none = bp_fault_none();
        fault = &none;
    }
    if (!bp__fault_valid(fault)) {
        return ERR_INVAL;
    }
    if (d->state != BP__RUNNING) {
        return ERR_STATE;
    }
    bp__stop(bp, d, id, fault);
    bp__drain(bp);
    return 0;
}

int bp_device_delete(struct bp *bp, bp_id id)
{
    if (bp == NULL) {
        return ERR_INVAL;
    }
    struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    if (d->state == BP__RUNNING) {
        bp__stop(bp, d, id, &bp__drop_fault);
    }
    struct bp__cell *c = d->inbox_head;
    for (uint32_t i = 0; i < d->inbox_len && c != NULL; i++) {
        struct bp__cell *next = c->u.msg.next;
        bp__cell_put(bp, c);
        c = next;
    }
    d->inbox_head = NULL;
    d->inbox_tail = NULL;
    d->inbox_len = 0;
    d->handler = NULL;
    d->data = NULL;
    d->state = BP__FREE;
    bp->ndevices--;
    d->gen++;
    if (d->gen != 0) {
        d->next_free = bp->free_slot;
        bp->free_slot = bp__slot_of(id);
        bp->nfree_slots++;
    } /* else: every generation of this slot is used up; retire it. */
    bp__drain(bp);
    return 0;
}

int bp_device_state(const struct bp *bp, bp_id id, enum bp_state *out)
{
    if (bp == NULL || out == NULL) {
        return ERR_INVAL;
    }
    const struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    *out = (enum bp_state)d->state;
    return 0;
}

int bp_device_fault(const struct bp *bp, bp_id id, struct bp_fault *out)
{
    if (bp == NULL || out == NULL) {
        return ERR_INVAL;
    }
    const struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    if (d->state != BP__STOPPED) {
        return ERR_STATE;
    }
    *out = d->fault;
    return 0;
}

int bp_device_data(const struct bp *bp, bp_id id, void **out)
{
    if (bp == NULL || out == NULL) {
        return ERR_INVAL;
    }
    const struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    *out = d->data;
    return 0;
}

int bp_device_links(const struct bp *bp, bp_id id, size_t *out)
{
    if (bp == NULL || out == NULL) {
        return ERR_INVAL;
    }
    const struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    *out = d->nlinks;
    return 0;
}

int bp_device_set_handler(struct bp *bp, bp_id id, bp_handler_f handler)
{
    if (bp == NULL) {
        return ERR_INVAL;
    }
    struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    d->handler = handler;
    return 0;
}

int bp_device_set_manage(struct bp *bp, bp_id id, bool on)
{
    if (bp == NULL) {
        return ERR_INVAL;
    }
    struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    d->manage = on;
    return 0;
}

int bp_device_recv(struct bp *bp, bp_id id, struct bp_disconnect *out)
{
    if (bp == NULL) {
        return ERR_INVAL;
    }
    struct bp__device *d = bp__lookup(bp, id);
    if (d == NULL) {
        return ERR_STALE;
    }
    struct bp__cell *c = d->inbox_head;
    if (c == NULL) {
        return ERR_AGAIN;
    }
    d->inbox_head = c->u.msg.next;
    if (d->inbox_head == NULL) {
        d->inbox_tail = NULL;
    }
    d->inbox_len--;
    if (out != NULL) {
        *out = c->u.msg.body;
    }
    bp__cell_put(bp, c);
    return 0;
}

/* ---- links ---- */

static bool bp__mode_valid(enum bp_link_mode mode)
{
    return mode == BP_MONITOR || mode == BP_NOTIFY || mode == BP_PEER;
}

/* The watch bits for `mode` seen from the device at end `end`. */
static inline unsigned bp__watch_bits(enum bp_link_mode mode, unsigned end)
{
    unsigned bits = 0;
    if ((unsigned)mode & BP_MONITOR) {
        bits |= 1u << end;
    }
    if ((unsigned)mode & BP_NOTIFY) {
        bits |= 1u << (1u - end);
    }
    return bits;
}

int bp_link(struct bp *bp, bp_id a, bp_id b, enum bp_link_mode mode)
{
    if (bp == NULL || !bp__mode_valid(mode)) {
        return ERR_INVAL;
    }
    struct bp__device *da = bp__lookup(bp, a);
    struct bp__device *db = bp__lookup(bp, b);
    if (da == NULL || db == NULL) {
        return ERR_STALE;
    }
    uint32_t sa = bp__slot_of(a), sb = bp__slot_of(b);
    if (sa == sb) {
        return ERR_INVAL;
    }
    if (da->state != BP__RUNNING) {
        return ERR_STATE;
    }
    if (db->state != BP__RUNNING) {
        if (((unsigned)mode & BP_MONITOR) == 0) {
            return 0; /* b can no longer be told anything */
        }
        int rc = bp__reserve_cells(bp, 1);
        if (rc != 0) {
            return rc;
        }
        struct bp__cell *c = bp__cell_take(bp);
        c->u.msg.body.id = b;
        c->u.msg.body.fault = db->fault;
        bp__deliver(bp, da, a, c);
        bp__drain(bp);
        return 0;
    }
    struct bp__cell *c = bp__find_link(bp, sa, sb);
    if (c != NULL) {
        c->u.link.watch |= bp__watch_bits(mode, bp__end(c, sa));
        return 0;
    }
    int rc = bp__reserve_cells(bp, 1);
    if (rc != 0) {
        return rc;
    }
    c = bp__cell_take(bp);
    c->u.link.slot[0] = sa;
    c->u.link.slot[1] = sb;
    c->u.link.watch = bp__watch_bits(mode, 0);
    bp__list_push(da, sa, c, 0);
    bp__list_push(db, sb, c, 1);
    return 0;
}

int bp_unlink(struct bp *bp, bp_id a, bp_id b, enum bp_link_mode mode)
{
    if (bp == NULL || !bp__mode_valid(mode)) {
        return ERR_INVAL;
    }
    struct bp__device *da = bp__lookup(bp, a);
    struct bp__device *db = bp__lookup(bp, b);
    if (da == NULL || db == NULL) {
        return ERR_STALE;
    }
    uint32_t sa = bp__slot_of(a), sb = bp__slot_of(b);
    if (sa == sb) {
        return ERR_INVAL;
    }
    struct bp__cell *c = bp__find_link(bp, sa, sb);
    if (c == NULL) {
        return ERR_NOTFOUND;
    }
    unsigned bits = bp__watch_bits(mode, bp__end(c, sa));
    if ((c->u.link.watch & bits) == 0) {
        return ERR_NOTFOUND;
    }
    c->u.link.watch &= ~bits;
    if (c->u.link.watch == 0) {
        bp__list_remove(da, sa, c, bp__end(c, sa));
        bp__list_remove(db, sb, c, bp__end(c, sb));
        bp__cell_put(bp, c);
    }
    return 0;
}

int bp_link_mode(const struct bp *bp, bp_id a, bp_id b, unsigned *out)
{
    if (bp == NULL || out == NULL) {
        return ERR_INVAL;
    }
    if (bp__lookup(bp, a) == NULL || bp__lookup(bp, b) == NULL) {
        return ERR_STALE;
    }
    uint32_t sa = bp__slot_of(a), sb = bp__slot_of(b);
    *out = 0;
    if (sa == sb) {
        return 0;
    }
    const struct bp__cell *c = bp__find_link(bp, sa, sb);
    if (c == NULL) {
        return 0;
    }
    unsigned end = bp__end(c, sa);
    if (c->u.link.watch & (1u << end)) {
        *out |= BP_MONITOR;
    }
    if (c->u.link.watch & (1u << (1u - end))) {
        *out |= BP_NOTIFY;
    }
    return 0;
}
