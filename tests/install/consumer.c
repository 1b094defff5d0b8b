/*
 * A program that uses an installed tallyfy_files, as a C project would.
 * tests/install.rs builds it with pkg-config (shared and static) and with
 * CMake, then runs it against a server on 127.0.0.1.
 *
 * Usage: consumer FILE_ID OUTPUT_PATH
 *
 * Settings come from TALLYFY_ACCESS_TOKEN, TALLYFY_ORG_ID and
 * TALLYFY_BASE_URL. Exits 0 after saving the file, 1 when the download
 * failed, 2 on a usage error and 3 when the header and the library differ.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tallyfy_files.h>

static const char *setting(const char *name) {
    const char *value = getenv(name);
    if (value == NULL) {
        fprintf(stderr, "consumer: %s is not set\n", name);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    tallyfy_client_options *options = NULL;
    tallyfy_client *client = NULL;
    tallyfy_file_info *info = NULL;
    int exit_code = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: consumer FILE_ID OUTPUT_PATH\n");
        return 2;
    }
    if (strcmp(tallyfy_version(), TALLYFY_VERSION) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", TALLYFY_VERSION, tallyfy_version());
        return 3;
    }

    if (tallyfy_client_options_new(&options) != TALLYFY_OK ||
        tallyfy_client_options_set_token(options, setting("TALLYFY_ACCESS_TOKEN")) != TALLYFY_OK ||
        tallyfy_client_options_set_org_id(options, setting("TALLYFY_ORG_ID")) != TALLYFY_OK ||
        tallyfy_client_options_set_base_url(options, setting("TALLYFY_BASE_URL")) != TALLYFY_OK ||
        tallyfy_client_new(options, &client) != TALLYFY_OK) {
        fprintf(stderr, "consumer: %s\n", tallyfy_last_error_message());
        goto done;
    }

    if (tallyfy_download_to_path(client, argv[1], NULL, argv[2], TALLYFY_IF_EXISTS_FAIL, &info) != TALLYFY_OK) {
        fprintf(stderr, "consumer: %s\n", tallyfy_last_error_message());
        goto done;
    }
    printf("saved %llu bytes with tallyfy_files %s\n", (unsigned long long)info->size, tallyfy_version());
    exit_code = 0;

done:
    tallyfy_file_info_free(info);
    tallyfy_client_free(client);
    tallyfy_client_options_free(options);
    return exit_code;
}
