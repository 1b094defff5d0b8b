/*
 * Tests of the log callback of the C API, run by tests/log_callback.rs
 * against servers on 127.0.0.1.
 *
 * Usage: log_test CASE
 *
 * CASE is one of the names in the table at the end. The harness passes
 * TALLYFY_TEST_BASE_URL, an httpmock server with the routes "pdf1" (the
 * fixture, 200) and "missing1" (404), under organization "org1" with
 * TEST_TOKEN.
 *
 * The cases print every record they receive as "record LEVEL MESSAGE" on
 * stdout, for the harness to check. Each failed check prints one
 * "FAIL file:line: ..." line on stderr; the program exits 1 when any check
 * failed and prints "ok CASE" when the case passed.
 */

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tallyfy_files.h"

#define TEST_TOKEN "tok-native-5Xq8Rt2Mz4"
#define MAX_RECORDS 4096

static int failures = 0;

#define CHECK(condition, ...)                                                   \
    do {                                                                        \
        if (!(condition)) {                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #condition); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            failures++;                                                         \
        }                                                                       \
    } while (0)

#define EXPECT_STATUS(call, expected)                                                    \
    do {                                                                                 \
        tallyfy_status got_ = (call);                                                    \
        if (got_ != (expected)) {                                                        \
            fprintf(stderr, "FAIL %s:%d: %s returned %d (%s), expected %d; message: %s\n", \
                    __FILE__, __LINE__, #call, (int)got_, tallyfy_status_str(got_),      \
                    (int)(expected), tallyfy_last_error_message());                      \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

/* The records received, kept for printing after the downloads. The callback
 * may run on several threads at once, hence the mutex. */
struct records {
    pthread_mutex_t mutex;
    size_t count;
    tallyfy_log_level levels[MAX_RECORDS];
    char *messages[MAX_RECORDS];
};

static struct records received = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, {0}};

static void keep_record(void *user, tallyfy_log_level level, const char *message) {
    struct records *records = user;

    pthread_mutex_lock(&records->mutex);
    if (records->count < MAX_RECORDS) {
        records->levels[records->count] = level;
        records->messages[records->count] = strdup(message);
        records->count++;
    }
    pthread_mutex_unlock(&records->mutex);
}

static size_t record_count(void) {
    size_t count;

    pthread_mutex_lock(&received.mutex);
    count = received.count;
    pthread_mutex_unlock(&received.mutex);
    return count;
}

static void print_and_free_records(void) {
    size_t i;

    for (i = 0; i < received.count; i++) {
        printf("record %u %s\n", (unsigned)received.levels[i], received.messages[i]);
        free(received.messages[i]);
    }
    received.count = 0;
}

static const char *setting(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        fprintf(stderr, "log_test: the environment variable %s is not set\n", name);
        exit(2);
    }
    return value;
}

static tallyfy_client *make_client(void) {
    tallyfy_client_options *options = NULL;
    tallyfy_client *client = NULL;

    EXPECT_STATUS(tallyfy_client_options_new(&options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_token(options, TEST_TOKEN), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_org_id(options, "org1"), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_base_url(options, setting("TALLYFY_TEST_BASE_URL")), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_retry_max_attempts(options, 1), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_new(options, &client), TALLYFY_OK);
    tallyfy_client_options_free(options);
    if (client == NULL) {
        fprintf(stderr, "log_test: no client: %s\n", tallyfy_last_error_message());
        exit(1);
    }
    return client;
}

/* Downloads the fixture, then the missing file. */
static void download_both(const tallyfy_client *client) {
    uint8_t *data = NULL;
    size_t len = 0;

    EXPECT_STATUS(tallyfy_download_to_memory(client, "pdf1", NULL, UINT64_MAX, &data, &len, NULL), TALLYFY_OK);
    CHECK(len > 0, "the fixture came back empty");
    tallyfy_data_free(data);
    EXPECT_STATUS(tallyfy_download_to_memory(client, "missing1", NULL, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_NOT_FOUND);
}

/* Every level at once: the harness checks the records for the token. */
static void case_trace(void) {
    tallyfy_client *client = make_client();
    size_t count;

    EXPECT_STATUS(tallyfy_set_log_level(TALLYFY_LOG_TRACE), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_set_log_callback(keep_record, &received), TALLYFY_OK);
    download_both(client);

    /* After removal, nothing more arrives. */
    EXPECT_STATUS(tallyfy_set_log_callback(NULL, NULL), TALLYFY_OK);
    count = record_count();
    CHECK(count > 0, "no record arrived");
    download_both(client);
    CHECK(record_count() == count, "%zu records arrived after the callback was removed",
          record_count() - count);

    print_and_free_records();
    tallyfy_client_free(client);
}

/* The default level is INFO; WARN leaves out the finished download. */
static void case_levels(void) {
    tallyfy_client *client = make_client();
    size_t i;

    EXPECT_STATUS(tallyfy_set_log_callback(keep_record, &received), TALLYFY_OK);
    download_both(client);
    for (i = 0; i < received.count; i++) {
        CHECK(received.levels[i] <= TALLYFY_LOG_INFO, "a record at level %u with the default level: %s",
              (unsigned)received.levels[i], received.messages[i]);
    }
    printf("info %zu\n", received.count);
    print_and_free_records();

    EXPECT_STATUS(tallyfy_set_log_level(TALLYFY_LOG_WARN), TALLYFY_OK);
    download_both(client);
    for (i = 0; i < received.count; i++) {
        CHECK(received.levels[i] <= TALLYFY_LOG_WARN, "a record at level %u with level WARN: %s",
              (unsigned)received.levels[i], received.messages[i]);
    }
    printf("warn %zu\n", received.count);
    print_and_free_records();

    EXPECT_STATUS(tallyfy_set_log_level(TALLYFY_LOG_OFF), TALLYFY_OK);
    download_both(client);
    CHECK(received.count == 0, "%zu records with level OFF", received.count);

    EXPECT_STATUS(tallyfy_set_log_callback(NULL, NULL), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_set_log_level(TALLYFY_LOG_INFO), TALLYFY_OK);
    tallyfy_client_free(client);
}

/* What the callback tried from inside, for the checks after the download. */
static tallyfy_status set_callback_inside = TALLYFY_OK;
static tallyfy_status set_level_inside = -1;
static int inside_calls = 0;

static void call_back_in(void *user, tallyfy_log_level level, const char *message) {
    (void)user;
    (void)level;
    (void)message;
    if (inside_calls++ == 0) {
        set_callback_inside = tallyfy_set_log_callback(NULL, NULL);
        set_level_inside = tallyfy_set_log_level(TALLYFY_LOG_INFO);
    }
}

/* Bad levels, and calls from inside the callback. */
static void case_invalid(void) {
    tallyfy_client *client = make_client();
    uint8_t *data = NULL;
    size_t len = 0;

    EXPECT_STATUS(tallyfy_set_log_level(6), TALLYFY_INVALID_ARGUMENT);
    CHECK(strstr(tallyfy_last_error_message(), "level 6") != NULL, "message: %s", tallyfy_last_error_message());
    EXPECT_STATUS(tallyfy_set_log_level(UINT32_MAX), TALLYFY_INVALID_ARGUMENT);

    EXPECT_STATUS(tallyfy_set_log_callback(call_back_in, NULL), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_to_memory(client, "pdf1", NULL, UINT64_MAX, &data, &len, NULL), TALLYFY_OK);
    tallyfy_data_free(data);
    CHECK(inside_calls > 0, "the callback was not called");
    CHECK(set_callback_inside == TALLYFY_INVALID_ARGUMENT,
          "tallyfy_set_log_callback inside the callback returned %d", (int)set_callback_inside);
    CHECK(set_level_inside == TALLYFY_OK, "tallyfy_set_log_level inside the callback returned %d",
          (int)set_level_inside);
    EXPECT_STATUS(tallyfy_set_log_callback(NULL, NULL), TALLYFY_OK);

    tallyfy_client_free(client);
}

struct test_case {
    const char *name;
    void (*run)(void);
};

static const struct test_case cases[] = {
    {"trace", case_trace},
    {"levels", case_levels},
    {"invalid", case_invalid},
};

int main(int argc, char **argv) {
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: log_test CASE\n");
        return 2;
    }
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].run();
            if (failures == 0) {
                printf("ok %s\n", cases[i].name);
            }
            return failures == 0 ? 0 : 1;
        }
    }
    fprintf(stderr, "log_test: no case named %s\n", argv[1]);
    return 2;
}
