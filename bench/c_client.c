/*
 * The C client of the download benchmark: tallyfy_download_to_path() through
 * the C API, linked against the library that bench/run.sh builds.
 *
 * Usage, with the same options as the Rust client:
 *
 *     c_client c-path --base URL --org ID --token TOKEN --ids FILE --out DIR
 *                     [--ca PEM] [--threads N]
 *
 * It saves each listed file as DIR/<ID>, spreading the IDs over N threads
 * that share one client, and prints `elapsed=<seconds> bytes=<count>
 * files=<count>`. The clock runs from just before the first request to just
 * after the last file is saved; building the client happens before it.
 */

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tallyfy_files.h"

/* Everything one download thread needs, and what it delivered. */
struct job {
    const tallyfy_client *client;
    char **ids;
    size_t id_count;
    size_t first;
    size_t step;
    const char *out_dir;
    uint64_t bytes;
    uint64_t files;
    int failed;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the white-space separated IDs of `path`; returns NULL on failure. */
static char **read_ids(const char *path, size_t *out_count) {
    FILE *input = fopen(path, "r");
    if (input == NULL) {
        perror(path);
        return NULL;
    }

    size_t count = 0, capacity = 64;
    char **ids = malloc(capacity * sizeof *ids);
    char word[300];
    while (ids != NULL && fscanf(input, "%299s", word) == 1) {
        if (count == capacity) {
            capacity *= 2;
            char **grown = realloc(ids, capacity * sizeof *ids);
            if (grown == NULL) {
                break;
            }
            ids = grown;
        }
        ids[count++] = strdup(word);
    }
    fclose(input);
    *out_count = count;
    return ids;
}

static void *run_job(void *arg) {
    struct job *job = arg;
    char path[4096];

    for (size_t i = job->first; i < job->id_count; i += job->step) {
        snprintf(path, sizeof path, "%s/%s", job->out_dir, job->ids[i]);

        tallyfy_file_info *info = NULL;
        tallyfy_status status = tallyfy_download_to_path(job->client, job->ids[i], NULL, path,
                                                         TALLYFY_IF_EXISTS_REPLACE, &info);
        if (status != TALLYFY_OK) {
            fprintf(stderr, "c_client: downloading %s failed: %s\n", job->ids[i],
                    tallyfy_last_error_message());
            job->failed = 1;
            return NULL;
        }
        job->bytes += info->size;
        job->files += 1;
        tallyfy_file_info_free(info);
    }
    return NULL;
}

/* Returns the value after `flag`, or NULL when it is absent. */
static const char *option(int argc, char **argv, const char *flag) {
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], flag) == 0) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static int check(tallyfy_status status, const char *what) {
    if (status != TALLYFY_OK) {
        fprintf(stderr, "c_client: %s failed: %s\n", what, tallyfy_last_error_message());
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *base = option(argc, argv, "--base");
    const char *org = option(argc, argv, "--org");
    const char *token = option(argc, argv, "--token");
    const char *ids_path = option(argc, argv, "--ids");
    const char *out_dir = option(argc, argv, "--out");
    const char *ca = option(argc, argv, "--ca");
    const char *threads_text = option(argc, argv, "--threads");
    if (argc < 2 || strcmp(argv[1], "c-path") != 0 || base == NULL || org == NULL || token == NULL
        || ids_path == NULL || out_dir == NULL) {
        fprintf(stderr, "usage: c_client c-path --base URL --org ID --token TOKEN --ids FILE "
                        "--out DIR [--ca PEM] [--threads N]\n");
        return 2;
    }
    size_t threads = threads_text ? (size_t)strtoul(threads_text, NULL, 10) : 1;
    if (threads == 0) {
        threads = 1;
    }

    size_t id_count = 0;
    char **ids = read_ids(ids_path, &id_count);
    if (ids == NULL) {
        return 1;
    }
    if (threads > id_count && id_count > 0) {
        threads = id_count;
    }

    tallyfy_client_options *options = NULL;
    tallyfy_client *client = NULL;
    if (!check(tallyfy_client_options_new(&options), "creating client options")) {
        return 1;
    }
    /* A failed request must fail the run, not hide inside a retry. */
    int ok = check(tallyfy_client_options_set_token(options, token), "setting the token")
          && check(tallyfy_client_options_set_org_id(options, org), "setting the organization")
          && check(tallyfy_client_options_set_base_url(options, base), "setting the base URL")
          && check(tallyfy_client_options_set_retry_max_attempts(options, 1), "disabling retries")
          && (ca == NULL || check(tallyfy_client_options_set_ca_file(options, ca), "setting the CA file"))
          && check(tallyfy_client_new(options, &client), "building the client");
    tallyfy_client_options_free(options);
    if (!ok) {
        return 1;
    }

    struct job *jobs = calloc(threads, sizeof *jobs);
    pthread_t *handles = calloc(threads, sizeof *handles);
    if (jobs == NULL || handles == NULL) {
        fprintf(stderr, "c_client: out of memory\n");
        return 1;
    }
    for (size_t t = 0; t < threads; t++) {
        jobs[t] = (struct job){client, ids, id_count, t, threads, out_dir, 0, 0, 0};
    }

    double started = now_seconds();
    for (size_t t = 0; t < threads; t++) {
        if (pthread_create(&handles[t], NULL, run_job, &jobs[t]) != 0) {
            fprintf(stderr, "c_client: starting a thread failed\n");
            return 1;
        }
    }
    uint64_t bytes = 0, files = 0;
    int failed = 0;
    for (size_t t = 0; t < threads; t++) {
        pthread_join(handles[t], NULL);
        bytes += jobs[t].bytes;
        files += jobs[t].files;
        failed |= jobs[t].failed;
    }
    double elapsed = now_seconds() - started;

    tallyfy_client_free(client);
    for (size_t i = 0; i < id_count; i++) {
        free(ids[i]);
    }
    free(ids);
    free(jobs);
    free(handles);
    if (failed) {
        return 1;
    }
    printf("elapsed=%.6f bytes=%llu files=%llu\n", elapsed, (unsigned long long)bytes,
           (unsigned long long)files);
    return 0;
}
