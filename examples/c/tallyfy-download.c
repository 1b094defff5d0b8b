/*
 * tallyfy-download: download one Tallyfy file from the command line.
 *
 *     tallyfy-download [--inline] [--output PATH | --output-dir DIR] FILE_ID
 *
 * Reads TALLYFY_ACCESS_TOKEN and TALLYFY_ORG_ID, and optionally
 * TALLYFY_BASE_URL, from the environment. With neither --output nor
 * --output-dir, the file is saved in the current folder under the name the
 * server sent; a name already taken gets a number, as in "report (1).pdf".
 * --output replaces an existing file. Progress goes to stderr when stderr is
 * a terminal, and the saved path to stdout.
 *
 * Exit status: 0 when saved, 1 when the download failed, 2 for a usage or
 * configuration error.
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tallyfy_files.h"

static void print_usage(FILE *out) {
    fputs("usage: tallyfy-download [--inline] [--output PATH | --output-dir DIR] FILE_ID\n"
          "\n"
          "Downloads one file from Tallyfy and prints the path it was saved at.\n"
          "\n"
          "  --inline          use the inline endpoint (the file's real MIME type)\n"
          "  --output PATH     save at PATH, replacing an existing file\n"
          "  --output-dir DIR  save in DIR under the server's file name\n"
          "\n"
          "Environment: TALLYFY_ACCESS_TOKEN and TALLYFY_ORG_ID (required),\n"
          "TALLYFY_BASE_URL (default https://go.tallyfy.com/api).\n",
          out);
}

/* Shows "received of total" on one terminal line, redrawn in place. */
static int show_progress(void *user, uint64_t received, uint64_t total) {
    (void)user;
    if (total == TALLYFY_SIZE_UNKNOWN) {
        fprintf(stderr, "\r%" PRIu64 " bytes", received);
    } else if (total == 0) {
        fprintf(stderr, "\r100%% (0 bytes)");
    } else {
        fprintf(stderr, "\r%3u%% (%" PRIu64 " of %" PRIu64 " bytes)", (unsigned)(received * 100 / total),
                received, total);
    }
    return 0;
}

/* Prints the library's message for the failed call and returns exit status 1. */
static int fail(const char *what) {
    fprintf(stderr, "tallyfy-download: %s: %s\n", what, tallyfy_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    const char *output = NULL;
    const char *output_dir = NULL;
    const char *file_id = NULL;
    bool inline_mode = false;
    bool progress = false;
    const char *token = getenv("TALLYFY_ACCESS_TOKEN");
    const char *org_id = getenv("TALLYFY_ORG_ID");
    const char *base_url = getenv("TALLYFY_BASE_URL");
    tallyfy_client_options *client_options = NULL;
    tallyfy_client *client = NULL;
    tallyfy_download_options *options = NULL;
    tallyfy_file_info *info = NULL;
    tallyfy_status status;
    int exit_code = 0;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--inline") == 0) {
            inline_mode = true;
        } else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            output = argv[++i];
        } else if (strcmp(argv[i], "--output-dir") == 0 && i + 1 < argc) {
            output_dir = argv[++i];
        } else if (argv[i][0] == '-' || file_id != NULL) {
            fprintf(stderr, "tallyfy-download: unexpected argument '%s'\n", argv[i]);
            print_usage(stderr);
            return 2;
        } else {
            file_id = argv[i];
        }
    }
    if (file_id == NULL || (output != NULL && output_dir != NULL)) {
        fputs(file_id == NULL ? "tallyfy-download: no FILE_ID given\n"
                              : "tallyfy-download: use --output or --output-dir, not both\n",
              stderr);
        print_usage(stderr);
        return 2;
    }
    if (token == NULL || token[0] == '\0' || org_id == NULL || org_id[0] == '\0') {
        fputs("tallyfy-download: set TALLYFY_ACCESS_TOKEN and TALLYFY_ORG_ID\n", stderr);
        return 2;
    }

    /* The client: credentials and, when given, another API address. */
    if (tallyfy_client_options_new(&client_options) != TALLYFY_OK ||
        tallyfy_client_options_set_token(client_options, token) != TALLYFY_OK ||
        tallyfy_client_options_set_org_id(client_options, org_id) != TALLYFY_OK ||
        (base_url != NULL && tallyfy_client_options_set_base_url(client_options, base_url) != TALLYFY_OK) ||
        tallyfy_client_new(client_options, &client) != TALLYFY_OK) {
        exit_code = fail("invalid settings");
        goto done;
    }

    /* This download's options: the endpoint and progress on a terminal. */
    progress = isatty(STDERR_FILENO) == 1;
    if (tallyfy_download_options_new(&options) != TALLYFY_OK ||
        (inline_mode && tallyfy_download_options_set_mode(options, TALLYFY_MODE_INLINE) != TALLYFY_OK) ||
        (progress && tallyfy_download_options_set_progress(options, show_progress, NULL) != TALLYFY_OK)) {
        exit_code = fail("invalid options");
        goto done;
    }

    if (output != NULL) {
        status = tallyfy_download_to_path(client, file_id, options, output, TALLYFY_IF_EXISTS_REPLACE, &info);
    } else {
        status = tallyfy_download_to_folder(client, file_id, options, output_dir != NULL ? output_dir : ".",
                                            TALLYFY_NAME_CONFLICT_UNIQUE, &info);
    }
    if (progress) {
        fputc('\n', stderr);
    }
    if (status != TALLYFY_OK) {
        exit_code = fail("download failed");
        goto done;
    }
    printf("%s\n", info->path);

done:
    tallyfy_file_info_free(info);
    tallyfy_download_options_free(options);
    tallyfy_client_free(client);
    tallyfy_client_options_free(client_options);
    return exit_code;
}
