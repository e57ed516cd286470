/*
 * query_fuzz.c - libFuzzer target for the query codec (agent/query_codec.c),
 * which reads queries from every member's broadcasts and replies from
 * direct messages.
 *
 * For any input, taken both as a query and as a reply: the decoders must
 * not read out of bounds; a query they accept must be canonical (encoding
 * the decoded value gives back the same bytes) and within every stated
 * bound, and its tag patterns must compile and match within the fuzzer's
 * limits; a reply they accept must encode again and decode to the same
 * value.
 */
#include <regex.h>
#include <string.h>

#include "fuzz.h"
#include "query_codec.h"
#include "tags.h"
#include "text.h"

/* A pattern the decoder let through is what every member hands to
 * regcomp() and regexec() (query.c): both must stay within the fuzzer's
 * time and memory limits, whether it compiles or not. */
static void query_fuzz_pattern(const struct query_bytes *p)
{
    char pat[QUERY_PATTERN_MAX + 1];
    char value[256];
    regex_t re;
    memcpy(pat, p->ptr, p->len);
    pat[p->len] = '\0';
    if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0)
        return;
    memset(value, 'a', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    (void)regexec(&re, value, 0, NULL, 0);
    regfree(&re);
}

static void query_fuzz_msg(const uint8_t *data, size_t size)
{
    struct query_msg m;
    if (query_msg_decode(&m, data, size) != 0)
        return;
    FUZZ_CHECK(query_is_ours(data, size));
    FUZZ_CHECK(m.node_count <= QUERY_NODES_MAX && m.tag_count <= QUERY_TAGS_MAX);
    FUZZ_CHECK(m.relay_factor <= SWIM_DIRECT_RELAY_MAX);
    FUZZ_CHECK(m.timeout_ms >= 1 && m.timeout_ms <= QUERY_TIMEOUT_MAX_MS);
    FUZZ_CHECK(m.name.len >= 1 && m.name.len <= QUERY_NAME_MAX);
    FUZZ_CHECK(text_valid(m.name.ptr, m.name.len));
    for (size_t i = 0; i < m.node_count; i++)
        FUZZ_CHECK(swim_name_valid(m.nodes[i].ptr, m.nodes[i].len));
    for (size_t i = 0; i < m.tag_count; i++) {
        FUZZ_CHECK(m.tags[i].key.len >= 1 && m.tags[i].pattern.len >= 1 &&
                   m.tags[i].pattern.len <= QUERY_PATTERN_MAX);
        FUZZ_CHECK(query_pattern_ok(m.tags[i].pattern.ptr, m.tags[i].pattern.len));
        query_fuzz_pattern(&m.tags[i].pattern);
    }
    FUZZ_CHECK(m.payload >= data && m.payload + m.len == data + size);
    uint8_t *buf = malloc(size + 1);
    size_t len = 0;
    FUZZ_CHECK(buf != NULL);
    FUZZ_CHECK(query_msg_encode(buf, size, &m, &len) == 0);
    FUZZ_CHECK(len == size && memcmp(buf, data, size) == 0);
    free(buf);
}

static void query_fuzz_reply(const uint8_t *data, size_t size)
{
    struct query_reply r, again;
    if (query_reply_decode(&r, data, size) != 0)
        return;
    FUZZ_CHECK(r.kind == QUERY_KIND_ACK || r.kind == QUERY_KIND_RESPONSE);
    FUZZ_CHECK(r.len <= QUERY_RESPONSE_MAX);
    uint8_t buf[QUERY_REPLY_HEADER + QUERY_RESPONSE_MAX];
    size_t len = 0;
    FUZZ_CHECK(query_reply_encode(buf, sizeof(buf), &r, &len) == 0);
    FUZZ_CHECK(query_reply_decode(&again, buf, len) == 0);
    FUZZ_CHECK(again.kind == r.kind && again.id == r.id && again.len == r.len);
    FUZZ_CHECK(r.len == 0 || memcmp(again.payload, r.payload, r.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    query_fuzz_msg(data, size);
    query_fuzz_reply(data, size);
    return 0;
}
