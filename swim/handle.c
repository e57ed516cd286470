/*
 * handle.c - 32-bit handles for the heap objects a member entry refers to.
 *
 * A simulated world holds every member in every node's table, so the
 * member entry is the unit of its memory: 10,000 nodes hold 10^8 entries.
 * An entry therefore names its queued record, its rare state and its
 * identity by a 32-bit handle instead of a 64-bit pointer (swim_int.h,
 * struct swim_member).  A handle table is an array of pointers, at[h - 1]
 * holding the object of handle h; 0 is no object.  Free places chain the
 * next free handle through the array itself (tagged with the low bit,
 * which an object pointer from malloc never has), so a table costs one
 * pointer per object it ever held at once and nothing per free handle.
 * The handle freed last is the first reused; a table never grows past
 * UINT32_MAX / 2 handles.
 */
#include <stdint.h>
#include <stdlib.h>

#include "swim_int.h"

/* First size of a table. */
#define HANDLES_MIN 16

static void *free_link(uint32_t next)
{
    return (void *)(((uintptr_t)next << 1) | 1u);
}

uint32_t swim__handle_put(struct swim_handles *t, void *obj)
{
    if (t->free == 0) {
        if (t->cap >= UINT32_MAX / 2)
            return 0;
        uint32_t ncap = t->cap == 0 ? HANDLES_MIN : t->cap * 2;
        void **n = realloc(t->at, (size_t)ncap * sizeof(*n));
        if (n == NULL)
            return 0;
        /* Chain the new places, lowest first, ahead of nothing. */
        for (uint32_t i = t->cap; i < ncap; i++)
            n[i] = free_link(i + 1 < ncap ? i + 2 : 0);
        t->at = n;
        t->free = t->cap + 1;
        t->cap = ncap;
    }
    uint32_t h = t->free;
    t->free = (uint32_t)((uintptr_t)t->at[h - 1] >> 1);
    t->at[h - 1] = obj;
    return h;
}

void swim__handle_drop(struct swim_handles *t, uint32_t h)
{
    t->at[h - 1] = free_link(t->free);
    t->free = h;
}

void swim__handles_destroy(struct swim_handles *t)
{
    free(t->at);
    t->at = NULL;
    t->cap = t->free = 0;
}
