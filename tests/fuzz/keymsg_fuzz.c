/*
 * keymsg_fuzz.c - libFuzzer target for the payloads of keyring operations
 * (agent/keymsg.c): a request comes from the node that ran `swimctl keys`,
 * a response from every member, both from the network.
 *
 * For any input, read as a request and as a response: the decoders must not
 * read out of bounds; what one accepts must be canonical (encoding the
 * decoded value gives back the same bytes); and a response's error message
 * must be text (text_valid), since it is printed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "keymsg.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keymsg_request req;
    struct keymsg_response resp;
    uint8_t out[KEYMSG_RESPONSE_MAX];
    const uint8_t *pos = data;
    if (keymsg_decode_request(&req, &pos, data + size) == 0) {
        int n = keymsg_encode_request(&req, out, sizeof(out));
        if (pos != data + size || n != (int)size || memcmp(out, data, size) != 0)
            abort();
    }
    pos = data;
    if (keymsg_decode_response(&resp, &pos, data + size) == 0) {
        if (!resp.ok && !text_valid(resp.error, strlen(resp.error)))
            abort();
        int n = keymsg_encode_response(&resp, out, sizeof(out));
        if (pos != data + size || n != (int)size || memcmp(out, data, size) != 0)
            abort();
    }
    return 0;
}
