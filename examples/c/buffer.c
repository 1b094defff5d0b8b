/*
 * buffer: download one Tallyfy file into a buffer that this program owns,
 * growing the buffer when the library returns TALLYFY_BUFFER_TOO_SMALL, and
 * write the bytes to stdout.
 *
 *     buffer FILE_ID [INITIAL_CAPACITY] > file
 *
 * Reads TALLYFY_ACCESS_TOKEN, TALLYFY_ORG_ID and optionally TALLYFY_BASE_URL
 * from the environment. Each retry downloads the file again, so start with a
 * capacity close to the sizes you expect.
 */

#include <stdio.h>
#include <stdlib.h>

#include "tallyfy_files.h"

/* Gives up after this many downloads, in case the file keeps growing. */
#define MAX_TRIES 8

int main(int argc, char **argv) {
    const char *base_url = getenv("TALLYFY_BASE_URL");
    tallyfy_client_options *options = NULL;
    tallyfy_client *client = NULL;
    size_t capacity = 4096;
    uint8_t *buffer = NULL;
    size_t len = 0;
    tallyfy_status status = TALLYFY_INVALID_ARGUMENT;
    int tries;

    if (argc < 2 || argc > 3) {
        fputs("usage: buffer FILE_ID [INITIAL_CAPACITY] > file\n", stderr);
        return 2;
    }
    if (argc == 3) {
        capacity = (size_t)strtoul(argv[2], NULL, 10);
    }

    if (tallyfy_client_options_new(&options) != TALLYFY_OK ||
        tallyfy_client_options_set_token(options, getenv("TALLYFY_ACCESS_TOKEN")) != TALLYFY_OK ||
        tallyfy_client_options_set_org_id(options, getenv("TALLYFY_ORG_ID")) != TALLYFY_OK ||
        (base_url != NULL && tallyfy_client_options_set_base_url(options, base_url) != TALLYFY_OK) ||
        tallyfy_client_new(options, &client) != TALLYFY_OK) {
        fprintf(stderr, "buffer: %s\n", tallyfy_last_error_message());
        tallyfy_client_options_free(options);
        return 2;
    }
    tallyfy_client_options_free(options);

    for (tries = 0; tries < MAX_TRIES; tries++) {
        uint8_t *grown = realloc(buffer, capacity > 0 ? capacity : 1);
        if (grown == NULL) {
            fputs("buffer: out of memory\n", stderr);
            break;
        }
        buffer = grown;

        status = tallyfy_download_to_buffer(client, argv[1], NULL, buffer, capacity, &len, NULL);
        if (status != TALLYFY_BUFFER_TOO_SMALL) {
            break;
        }

        /* len is the size needed when the server declared it, else 0. */
        fprintf(stderr, "buffer: %zu bytes are too few; ", capacity);
        capacity = len > capacity ? len : capacity * 2;
        fprintf(stderr, "trying again with %zu\n", capacity);
    }

    if (status == TALLYFY_OK) {
        fwrite(buffer, 1, len, stdout);
        fprintf(stderr, "buffer: %zu bytes\n", len);
    } else {
        fprintf(stderr, "buffer: %s\n", tallyfy_last_error_message());
    }

    free(buffer);
    tallyfy_client_free(client);
    return status == TALLYFY_OK ? 0 : 1;
}
