/*
 * Tests of the C API, run by tests/c_api.rs against servers on 127.0.0.1.
 *
 * Usage: api_test CASE|all|list
 *
 * CASE is one of the names in the table at the end, or "all" to run every
 * case in turn (as under valgrind). "list" prints the name of every case,
 * one a line in the order "all" runs them, and runs none. The harness passes
 * its settings in the environment:
 *
 *   TALLYFY_TEST_BASE_URL     the httpmock server, with the routes below
 *   TALLYFY_TEST_CHUNKED_URL  a server that sends bodies without a length
 *   TALLYFY_TEST_FIXTURE      the PDF that the servers send as file "pdf1"
 *   TALLYFY_TEST_WORKDIR      an empty folder for the files a case writes
 *
 * Routes, under organization "org1" with token TEST_TOKEN:
 *   pdf1      the fixture, attachment and inline, as "spec.pdf"
 *   empty1    an empty file
 *   missing1  404 with a JSON error body and an X-Request-Id header
 *
 * Each failed check prints one "FAIL file:line: ..." line on stderr; the
 * program exits 1 when any check failed and prints "ok CASE" per case passed.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tallyfy_files.h"

#define TEST_TOKEN "tok-native-5Xq8Rt2Mz4"
#define TEST_ORG "org1"
#define THREAD_COUNT 8
#define DOWNLOADS_PER_THREAD 4

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

/* Checks that the last error message contains `part`. */
#define EXPECT_MESSAGE(part)                                                          \
    CHECK(strstr(tallyfy_last_error_message(), (part)) != NULL,                       \
          "message \"%s\" does not contain \"%s\"", tallyfy_last_error_message(), (part))

/* Checks that `actual` is the string `expected`, with NULL reported as such. */
#define EXPECT_TEXT(actual, expected)                                                        \
    do {                                                                                     \
        const char *actual_ = (actual);                                                      \
        CHECK(actual_ != NULL, "%s is NULL, expected \"%s\"", #actual, (expected));          \
        if (actual_ != NULL) {                                                               \
            CHECK(strcmp(actual_, (expected)) == 0, "%s is \"%s\"", #actual, actual_);       \
        }                                                                                    \
    } while (0)

/* A pointer value that no allocation returns, to see that failed calls
 * leave their outputs alone. */
#define UNTOUCHED ((void *)(uintptr_t)0x5a5a5a5a)

static const char *setting(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        fprintf(stderr, "api_test: the environment variable %s is not set\n", name);
        exit(2);
    }
    return value;
}

/* Reads a whole file into a new buffer; exits on failure. */
static uint8_t *read_file(const char *path, size_t *out_len) {
    FILE *file = fopen(path, "rb");
    uint8_t *data;
    long length;

    if (file == NULL || fseek(file, 0, SEEK_END) != 0 || (length = ftell(file)) < 0) {
        fprintf(stderr, "api_test: cannot read %s: %s\n", path, strerror(errno));
        exit(2);
    }
    rewind(file);
    data = malloc((size_t)length + 1);
    if (data == NULL || fread(data, 1, (size_t)length, file) != (size_t)length) {
        fprintf(stderr, "api_test: cannot read %s\n", path);
        exit(2);
    }
    fclose(file);
    *out_len = (size_t)length;
    return data;
}

static uint8_t *fixture;
static size_t fixture_len;

static int same_as_fixture(const uint8_t *data, size_t len) {
    return len == fixture_len && memcmp(data, fixture, len) == 0;
}

static int file_matches_fixture(const char *path) {
    size_t len;
    uint8_t *data = read_file(path, &len);
    int same = same_as_fixture(data, len);
    free(data);
    return same;
}

static char *join(const char *folder, const char *name) {
    size_t size = strlen(folder) + strlen(name) + 2;
    char *path = malloc(size);
    if (path == NULL) {
        exit(2);
    }
    snprintf(path, size, "%s/%s", folder, name);
    return path;
}

/* Builds a client for `base_url` with the test credentials and no retries. */
static tallyfy_client *make_client(const char *base_url) {
    tallyfy_client_options *options = NULL;
    tallyfy_client *client = NULL;

    EXPECT_STATUS(tallyfy_client_options_new(&options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_token(options, TEST_TOKEN), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_org_id(options, TEST_ORG), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_base_url(options, base_url), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_connect_timeout_ms(options, 5000), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_stall_timeout_ms(options, 10000), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_options_set_retry_max_attempts(options, 1), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_new(options, &client), TALLYFY_OK);
    tallyfy_client_options_free(options);
    if (client == NULL) {
        fprintf(stderr, "api_test: no client: %s\n", tallyfy_last_error_message());
        exit(1);
    }
    return client;
}

/* ---- NULL arguments ---------------------------------------------------- */

static void expect_null_rejected(tallyfy_status status, const char *argument, const char *call) {
    char expected[128];

    snprintf(expected, sizeof expected, "the argument '%s' is NULL", argument);
    CHECK(status == TALLYFY_INVALID_ARGUMENT, "%s returned %d (%s)", call, (int)status,
          tallyfy_status_str(status));
    CHECK(strstr(tallyfy_last_error_message(), expected) != NULL,
          "%s: message \"%s\" does not say \"%s\"", call, tallyfy_last_error_message(), expected);
    CHECK(strncmp(tallyfy_last_error_message(), "tallyfy_", 8) == 0,
          "%s: message \"%s\" does not name the function", call, tallyfy_last_error_message());
}

#define NULL_REJECTED(call, argument) expect_null_rejected((call), (argument), #call)

static size_t count_bytes(void *user, const uint8_t *data, size_t len) {
    (void)data;
    *(size_t *)user += len;
    return len;
}

static void case_null_arguments(void) {
    const char *base = setting("TALLYFY_TEST_BASE_URL");
    tallyfy_client *client = make_client(base);
    tallyfy_client_options *client_options = NULL;
    tallyfy_download_options *options = NULL;
    tallyfy_client *no_client = UNTOUCHED;
    tallyfy_file_info *info = UNTOUCHED;
    uint8_t *data = UNTOUCHED;
    uint8_t buffer[16];
    size_t len = 12345;
    size_t counted = 0;

    EXPECT_STATUS(tallyfy_client_options_new(&client_options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_options_new(&options), TALLYFY_OK);

    /* Constructors and free functions. */
    NULL_REJECTED(tallyfy_client_options_new(NULL), "out_options");
    NULL_REJECTED(tallyfy_download_options_new(NULL), "out_options");
    NULL_REJECTED(tallyfy_client_new(NULL, &no_client), "options");
    NULL_REJECTED(tallyfy_client_new(client_options, NULL), "out_client");
    CHECK(no_client == UNTOUCHED, "tallyfy_client_new wrote its output on failure");
    tallyfy_client_options_free(NULL);
    tallyfy_download_options_free(NULL);
    tallyfy_client_free(NULL);
    tallyfy_file_info_free(NULL);
    tallyfy_data_free(NULL);

    /* Client option setters: NULL options, then NULL values. */
    NULL_REJECTED(tallyfy_client_options_set_token(NULL, "t"), "options");
    NULL_REJECTED(tallyfy_client_options_set_token(client_options, NULL), "token");
    NULL_REJECTED(tallyfy_client_options_set_org_id(NULL, "o"), "options");
    NULL_REJECTED(tallyfy_client_options_set_org_id(client_options, NULL), "org_id");
    NULL_REJECTED(tallyfy_client_options_set_base_url(NULL, base), "options");
    NULL_REJECTED(tallyfy_client_options_set_base_url(client_options, NULL), "base_url");
    NULL_REJECTED(tallyfy_client_options_set_connect_timeout_ms(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_stall_timeout_ms(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_deadline_ms(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_ca_file(NULL, "ca.pem"), "options");
    NULL_REJECTED(tallyfy_client_options_set_ca_file(client_options, NULL), "path");
    NULL_REJECTED(tallyfy_client_options_set_system_trust_store(NULL, true), "options");
    NULL_REJECTED(tallyfy_client_options_set_sync_files(NULL, false), "options");
    NULL_REJECTED(tallyfy_client_options_set_proxy(NULL, "http://127.0.0.1:9"), "options");
    NULL_REJECTED(tallyfy_client_options_set_proxy(client_options, NULL), "proxy");
    NULL_REJECTED(tallyfy_client_options_set_user_agent(NULL, "ua"), "options");
    NULL_REJECTED(tallyfy_client_options_set_user_agent(client_options, NULL), "user_agent");
    NULL_REJECTED(tallyfy_client_options_set_max_redirects(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_retry_max_attempts(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_retry_initial_backoff_ms(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_retry_max_backoff_ms(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_retry_max_wait_ms(NULL, 1), "options");
    NULL_REJECTED(tallyfy_client_options_set_retry_max_total_wait_ms(NULL, 1), "options");

    /* Download option setters. A NULL progress callback is allowed. */
    NULL_REJECTED(tallyfy_download_options_set_mode(NULL, TALLYFY_MODE_INLINE), "options");
    NULL_REJECTED(tallyfy_download_options_set_org_id(NULL, "o"), "options");
    NULL_REJECTED(tallyfy_download_options_set_org_id(options, NULL), "org_id");
    NULL_REJECTED(tallyfy_download_options_set_max_size(NULL, 1), "options");
    NULL_REJECTED(tallyfy_download_options_set_progress(NULL, NULL, NULL), "options");
    EXPECT_STATUS(tallyfy_download_options_set_progress(options, NULL, NULL), TALLYFY_OK);

    /* Downloads: NULL client, NULL file ID, then each destination's pointers. */
    NULL_REJECTED(tallyfy_download_to_path(NULL, "pdf1", NULL, "x", TALLYFY_IF_EXISTS_FAIL, &info),
                  "client");
    NULL_REJECTED(tallyfy_download_to_path(client, NULL, NULL, "x", TALLYFY_IF_EXISTS_FAIL, &info),
                  "file_id");
    NULL_REJECTED(tallyfy_download_to_path(client, "pdf1", NULL, NULL, TALLYFY_IF_EXISTS_FAIL, &info),
                  "path");
    NULL_REJECTED(tallyfy_download_to_folder(NULL, "pdf1", NULL, ".", TALLYFY_NAME_CONFLICT_FAIL, &info),
                  "client");
    NULL_REJECTED(tallyfy_download_to_folder(client, NULL, NULL, ".", TALLYFY_NAME_CONFLICT_FAIL, &info),
                  "file_id");
    NULL_REJECTED(
        tallyfy_download_to_folder(client, "pdf1", NULL, NULL, TALLYFY_NAME_CONFLICT_FAIL, &info),
        "folder");
    NULL_REJECTED(tallyfy_download_to_buffer(NULL, "pdf1", NULL, buffer, sizeof buffer, &len, &info),
                  "client");
    NULL_REJECTED(tallyfy_download_to_buffer(client, NULL, NULL, buffer, sizeof buffer, &len, &info),
                  "file_id");
    NULL_REJECTED(tallyfy_download_to_buffer(client, "pdf1", NULL, buffer, sizeof buffer, NULL, &info),
                  "out_len");
    NULL_REJECTED(tallyfy_download_to_buffer(client, "pdf1", NULL, NULL, 16, &len, &info), "buf");
    NULL_REJECTED(tallyfy_download_to_memory(NULL, "pdf1", NULL, 1024, &data, &len, &info), "client");
    NULL_REJECTED(tallyfy_download_to_memory(client, NULL, NULL, 1024, &data, &len, &info), "file_id");
    NULL_REJECTED(tallyfy_download_to_memory(client, "pdf1", NULL, 1024, NULL, &len, &info),
                  "out_data");
    NULL_REJECTED(tallyfy_download_to_memory(client, "pdf1", NULL, 1024, &data, NULL, &info), "out_len");
    NULL_REJECTED(tallyfy_download_to_callback(NULL, "pdf1", NULL, count_bytes, &counted, &info),
                  "client");
    NULL_REJECTED(tallyfy_download_to_callback(client, NULL, NULL, count_bytes, &counted, &info),
                  "file_id");
    NULL_REJECTED(tallyfy_download_to_callback(client, "pdf1", NULL, NULL, &counted, &info),
                  "write_callback");
    NULL_REJECTED(tallyfy_download_to_fd(NULL, "pdf1", NULL, 1, &info), "client");
    NULL_REJECTED(tallyfy_download_to_fd(client, NULL, NULL, 1, &info), "file_id");

    CHECK(info == UNTOUCHED, "a failed download wrote out_info");
    CHECK(data == UNTOUCHED, "a failed download wrote out_data");
    CHECK(len == 12345, "a failed download wrote out_len: %zu", len);
    CHECK(counted == 0, "the write callback ran %zu bytes for a rejected call", counted);

    /* The getters work with nothing to report, and the message is never NULL. */
    EXPECT_STATUS(tallyfy_download_options_set_max_size(options, 10), TALLYFY_OK);
    CHECK(tallyfy_last_error_status() == TALLYFY_OK, "status after success: %d",
          (int)tallyfy_last_error_status());
    EXPECT_TEXT(tallyfy_last_error_message(), "");
    CHECK(tallyfy_last_error_api_code() == NULL, "api code after success is not NULL");
    CHECK(tallyfy_last_error_http_status() == 0, "http status after success is not 0");

    tallyfy_download_options_free(options);
    tallyfy_client_options_free(client_options);
    tallyfy_client_free(client);
}

/* ---- Invalid UTF-8 and rejected values ----------------------------------- */

static void case_invalid_utf8(void) {
    const char *base = setting("TALLYFY_TEST_BASE_URL");
    const char *bad = "secret\xff\xfe";
    tallyfy_client *client = make_client(base);
    tallyfy_client_options *client_options = NULL;
    tallyfy_download_options *options = NULL;
    tallyfy_client *no_client = UNTOUCHED;
    uint8_t buffer[16];
    size_t len = 0;
    char *path;

    EXPECT_STATUS(tallyfy_client_options_new(&client_options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_options_new(&options), TALLYFY_OK);

    EXPECT_STATUS(tallyfy_client_options_set_token(client_options, bad), TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("tallyfy_client_options_set_token: the argument 'token' is not valid UTF-8");
    EXPECT_MESSAGE("offset 6");
    CHECK(strstr(tallyfy_last_error_message(), "secret") == NULL,
          "the message repeats the token: %s", tallyfy_last_error_message());

    EXPECT_STATUS(tallyfy_client_options_set_org_id(client_options, bad), TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("'org_id' is not valid UTF-8");
    EXPECT_STATUS(tallyfy_client_options_set_base_url(client_options, bad), TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("'base_url' is not valid UTF-8");
    EXPECT_STATUS(tallyfy_client_options_set_user_agent(client_options, bad), TALLYFY_INVALID_ARGUMENT);
    EXPECT_STATUS(tallyfy_client_options_set_proxy(client_options, bad), TALLYFY_INVALID_ARGUMENT);
    EXPECT_STATUS(tallyfy_client_options_set_ca_file(client_options, bad), TALLYFY_INVALID_ARGUMENT);
    EXPECT_STATUS(tallyfy_download_options_set_org_id(options, bad), TALLYFY_INVALID_ARGUMENT);

    EXPECT_STATUS(tallyfy_download_to_buffer(client, bad, NULL, buffer, sizeof buffer, &len, NULL),
                  TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("tallyfy_download_to_buffer: the argument 'file_id' is not valid UTF-8");
    EXPECT_STATUS(tallyfy_download_to_path(client, "pdf1", NULL, bad, TALLYFY_IF_EXISTS_FAIL, NULL),
                  TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("'path' is not valid UTF-8");
    EXPECT_STATUS(tallyfy_download_to_folder(client, "pdf1", NULL, bad, TALLYFY_NAME_CONFLICT_FAIL, NULL),
                  TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("'folder' is not valid UTF-8");

    /* Values the library rejects before sending anything. */
    EXPECT_STATUS(tallyfy_download_to_buffer(client, "../etc", NULL, buffer, sizeof buffer, &len, NULL),
                  TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("file ID");
    EXPECT_STATUS(tallyfy_download_options_set_mode(options, 7), TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("mode 7");
    EXPECT_STATUS(tallyfy_client_options_set_retry_max_attempts(client_options, 0),
                  TALLYFY_INVALID_ARGUMENT);
    path = join(setting("TALLYFY_TEST_WORKDIR"), "never.pdf");
    EXPECT_STATUS(tallyfy_download_to_path(client, "pdf1", NULL, path, 9, NULL), TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("if_exists 9");
    EXPECT_STATUS(tallyfy_download_to_folder(client, "pdf1", NULL, ".", 9, NULL), TALLYFY_INVALID_ARGUMENT);
    EXPECT_STATUS(tallyfy_download_to_fd(client, "pdf1", NULL, -1, NULL), TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("fd -1 is not an open file descriptor");

    /* A client without a token is refused. */
    EXPECT_STATUS(tallyfy_client_options_set_base_url(client_options, base), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_client_new(client_options, &no_client), TALLYFY_INVALID_ARGUMENT);
    EXPECT_MESSAGE("no access token");
    CHECK(no_client == UNTOUCHED, "tallyfy_client_new wrote its output on failure");

    free(path);
    tallyfy_download_options_free(options);
    tallyfy_client_options_free(client_options);
    tallyfy_client_free(client);
}

/* ---- Status strings and version ---------------------------------------- */

static void case_status_strings(void) {
    const char *unknown = "unknown tallyfy_status value";
    tallyfy_status codes[] = {
        TALLYFY_OK, TALLYFY_INVALID_ARGUMENT, TALLYFY_UNAUTHORIZED, TALLYFY_FORBIDDEN,
        TALLYFY_NOT_FOUND, TALLYFY_RATE_LIMITED, TALLYFY_HTTP_STATUS, TALLYFY_TIMEOUT,
        TALLYFY_CONNECTION, TALLYFY_TLS, TALLYFY_TRUNCATED, TALLYFY_TOO_LARGE,
        TALLYFY_BUFFER_TOO_SMALL, TALLYFY_DESTINATION_EXISTS, TALLYFY_IO_ERROR,
        TALLYFY_ABORTED_BY_CALLBACK, TALLYFY_REDIRECT_REFUSED, TALLYFY_WRITE_ERROR,
        TALLYFY_PROTOCOL_ERROR, TALLYFY_INTERNAL_ERROR, TALLYFY_LOGGER_UNAVAILABLE,
    };
    tallyfy_status unknown_codes[] = {-1, 19, 99, 102, INT32_MIN, INT32_MAX};
    size_t count = sizeof codes / sizeof codes[0];
    size_t i, j;

    CHECK(TALLYFY_OK == 0, "TALLYFY_OK is %d", TALLYFY_OK);
    for (i = 0; i < count; i++) {
        const char *text = tallyfy_status_str(codes[i]);
        CHECK(text != NULL, "status %d has a NULL string", (int)codes[i]);
        if (text == NULL) {
            continue;
        }
        CHECK(text[0] != '\0', "status %d has an empty string", (int)codes[i]);
        CHECK(strcmp(text, unknown) != 0, "status %d is described as unknown", (int)codes[i]);
        for (j = 0; j < i; j++) {
            CHECK(codes[i] != codes[j], "statuses %zu and %zu share the value %d", i, j, (int)codes[i]);
            CHECK(strcmp(text, tallyfy_status_str(codes[j])) != 0, "statuses %d and %d share \"%s\"",
                  (int)codes[i], (int)codes[j], text);
        }
    }
    for (i = 0; i < sizeof unknown_codes / sizeof unknown_codes[0]; i++) {
        EXPECT_TEXT(tallyfy_status_str(unknown_codes[i]), unknown);
    }
    CHECK(strcmp(tallyfy_status_str(TALLYFY_BUFFER_TOO_SMALL), "the file does not fit in the buffer") == 0,
          "TALLYFY_BUFFER_TOO_SMALL: \"%s\"", tallyfy_status_str(TALLYFY_BUFFER_TOO_SMALL));
}

static void case_version(void) {
    char from_macros[64];

    snprintf(from_macros, sizeof from_macros, "%d.%d.%d", TALLYFY_VERSION_MAJOR, TALLYFY_VERSION_MINOR,
             TALLYFY_VERSION_PATCH);
    CHECK(strcmp(tallyfy_version(), TALLYFY_VERSION) == 0, "library %s, header %s", tallyfy_version(),
          TALLYFY_VERSION);
    CHECK(strcmp(from_macros, TALLYFY_VERSION) == 0, "macros %s, string %s", from_macros, TALLYFY_VERSION);
    printf("version %s %s %s\n", tallyfy_version(), from_macros, TALLYFY_VERSION);
}

/* ---- Buffers ------------------------------------------------------------ */

static void case_buffer_retry(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    tallyfy_file_info *info = UNTOUCHED;
    uint8_t small[100];
    uint8_t *buffer;
    size_t len = 0;

    /* Too small: the needed size comes back, the info does not. */
    EXPECT_STATUS(tallyfy_download_to_buffer(client, "pdf1", NULL, small, sizeof small, &len, &info),
                  TALLYFY_BUFFER_TOO_SMALL);
    CHECK(len == fixture_len, "needed size %zu, expected %zu", len, fixture_len);
    CHECK(info == UNTOUCHED, "out_info was written on failure");
    EXPECT_MESSAGE("does not fit in a buffer of 100 bytes");

    /* Capacity 0 and no buffer requests the size. */
    len = 0;
    EXPECT_STATUS(tallyfy_download_to_buffer(client, "pdf1", NULL, NULL, 0, &len, NULL),
                  TALLYFY_BUFFER_TOO_SMALL);
    CHECK(len == fixture_len, "needed size %zu for capacity 0", len);

    /* Retry with exactly the size needed. */
    buffer = malloc(len);
    EXPECT_STATUS(tallyfy_download_to_buffer(client, "pdf1", NULL, buffer, len, &len, &info), TALLYFY_OK);
    CHECK(same_as_fixture(buffer, len), "the buffer differs from the fixture (%zu bytes)", len);
    CHECK(info != UNTOUCHED, "out_info was not written on success");
    CHECK(info != NULL, "out_info is NULL after success");
    if (info != UNTOUCHED && info != NULL) {
        CHECK(info->size == fixture_len, "info size %" PRIu64, info->size);
        CHECK(info->http_status == 200, "info status %u", (unsigned)info->http_status);
        CHECK(info->path == NULL, "a buffer download has a path: %s", info->path);
        EXPECT_TEXT(info->file_name, "spec.pdf");
        tallyfy_file_info_free(info);
    }

    /* An empty file fits in no buffer at all. */
    len = 99;
    EXPECT_STATUS(tallyfy_download_to_buffer(client, "empty1", NULL, NULL, 0, &len, NULL), TALLYFY_OK);
    CHECK(len == 0, "empty file length %zu", len);

    free(buffer);
    tallyfy_client_free(client);
}

/* A body without Content-Length: the needed size is unknown, so grow and retry. */
static void case_buffer_unknown_size(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_CHUNKED_URL"));
    size_t capacity = 1000;
    uint8_t *buffer = malloc(capacity);
    size_t len = 12345;
    int tries = 0;
    tallyfy_status status;

    EXPECT_STATUS(tallyfy_download_to_buffer(client, "pdf1", NULL, buffer, capacity, &len, NULL),
                  TALLYFY_BUFFER_TOO_SMALL);
    CHECK(len == 0, "needed size %zu for a body without a length, expected 0", len);

    while ((status = tallyfy_download_to_buffer(client, "pdf1", NULL, buffer, capacity, &len, NULL)) ==
               TALLYFY_BUFFER_TOO_SMALL &&
           tries++ < 20) {
        capacity *= 2;
        buffer = realloc(buffer, capacity);
    }
    EXPECT_STATUS(status, TALLYFY_OK);
    CHECK(same_as_fixture(buffer, len), "the grown buffer differs from the fixture (%zu bytes)", len);

    free(buffer);
    tallyfy_client_free(client);
}

/* ---- Library-allocated memory ------------------------------------------- */

static void case_memory(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    tallyfy_download_options *options = NULL;
    uint8_t *data = UNTOUCHED;
    size_t len = 0;

    EXPECT_STATUS(tallyfy_download_to_memory(client, "pdf1", NULL, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_OK);
    CHECK(data != UNTOUCHED, "out_data was not written on success");
    CHECK(data == UNTOUCHED || same_as_fixture(data, len), "memory differs from the fixture (%zu bytes)",
          len);
    tallyfy_data_free(data);

    /* The cap, from the argument and from the options. */
    data = UNTOUCHED;
    EXPECT_STATUS(tallyfy_download_to_memory(client, "pdf1", NULL, 1000, &data, &len, NULL),
                  TALLYFY_TOO_LARGE);
    CHECK(data == UNTOUCHED, "out_data was written on failure");
    EXPECT_STATUS(tallyfy_download_options_new(&options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_options_set_max_size(options, 2000), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_to_memory(client, "pdf1", options, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_TOO_LARGE);
    EXPECT_MESSAGE("maximum of 2000 bytes");

    /* An empty file: a valid pointer and length 0. */
    EXPECT_STATUS(tallyfy_download_to_memory(client, "empty1", NULL, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_OK);
    CHECK(data != NULL, "an empty download gave a NULL pointer");
    CHECK(data != UNTOUCHED, "an empty download did not write out_data");
    CHECK(len == 0, "empty length %zu", len);
    tallyfy_data_free(data);

    tallyfy_download_options_free(options);
    tallyfy_client_free(client);
}

/* ---- Write callback ----------------------------------------------------- */

struct sink {
    uint8_t *data;
    size_t len;
    size_t capacity;
    size_t calls;
    size_t short_from_call; /* return a short count from this call on; 0 never */
};

static size_t collect(void *user, const uint8_t *data, size_t len) {
    struct sink *sink = user;

    sink->calls++;
    CHECK(len > 0, "the write callback got an empty block");
    if (sink->short_from_call != 0 && sink->calls >= sink->short_from_call) {
        return len - 1;
    }
    if (sink->len + len > sink->capacity) {
        sink->capacity = (sink->len + len) * 2;
        sink->data = realloc(sink->data, sink->capacity);
    }
    memcpy(sink->data + sink->len, data, len);
    sink->len += len;
    return len;
}

static void case_write_callback(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    struct sink sink = {NULL, 0, 0, 0, 0};
    tallyfy_file_info *info = NULL;

    EXPECT_STATUS(tallyfy_download_to_callback(client, "pdf1", NULL, collect, &sink, &info), TALLYFY_OK);
    CHECK(same_as_fixture(sink.data, sink.len), "the callback got %zu bytes, not the fixture", sink.len);
    CHECK(info != NULL, "no info after success");
    if (info != NULL) {
        CHECK(info->size == fixture_len, "info size %" PRIu64, info->size);
    }
    tallyfy_file_info_free(info);

    free(sink.data);
    tallyfy_client_free(client);
}

static void case_write_short(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    struct sink sink = {NULL, 0, 0, 0, 1};
    tallyfy_file_info *info = UNTOUCHED;

    EXPECT_STATUS(tallyfy_download_to_callback(client, "pdf1", NULL, collect, &sink, &info),
                  TALLYFY_WRITE_ERROR);
    EXPECT_MESSAGE("the write callback returned");
    CHECK(sink.calls == 1, "the callback was called %zu times after a short return", sink.calls);
    CHECK(info == UNTOUCHED, "out_info was written on failure");
    CHECK(tallyfy_last_error_os_errno() == 0, "a short return has errno %d", tallyfy_last_error_os_errno());

    free(sink.data);
    tallyfy_client_free(client);
}

/* ---- Progress ----------------------------------------------------------- */

struct progress {
    uint64_t calls;
    uint64_t last_received;
    uint64_t last_total;
    uint64_t stop_after; /* return non-zero on this call; 0 never */
};

static int track(void *user, uint64_t received, uint64_t total) {
    struct progress *progress = user;

    progress->calls++;
    CHECK(received >= progress->last_received, "received went back from %" PRIu64 " to %" PRIu64,
          progress->last_received, received);
    progress->last_received = received;
    progress->last_total = total;
    return progress->stop_after != 0 && progress->calls >= progress->stop_after;
}

static void case_progress(void) {
    const char *workdir = setting("TALLYFY_TEST_WORKDIR");
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    tallyfy_client *chunked = make_client(setting("TALLYFY_TEST_CHUNKED_URL"));
    tallyfy_download_options *options = NULL;
    struct progress progress = {0, 0, 0, 0};
    char *path = join(workdir, "progress.pdf");
    uint8_t *data = NULL;
    size_t len = 0;

    EXPECT_STATUS(tallyfy_download_options_new(&options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_options_set_progress(options, track, &progress), TALLYFY_OK);

    /* A declared size: the total is the size, and the last call has it all. */
    EXPECT_STATUS(tallyfy_download_to_path(client, "pdf1", options, path, TALLYFY_IF_EXISTS_FAIL, NULL),
                  TALLYFY_OK);
    CHECK(progress.calls >= 2, "only %" PRIu64 " progress calls", progress.calls);
    CHECK(progress.last_total == fixture_len, "total %" PRIu64, progress.last_total);
    CHECK(progress.last_received == fixture_len, "last received %" PRIu64, progress.last_received);
    CHECK(file_matches_fixture(path), "%s differs from the fixture", path);

    /* No declared size: the total is TALLYFY_SIZE_UNKNOWN. */
    memset(&progress, 0, sizeof progress);
    EXPECT_STATUS(tallyfy_download_to_memory(chunked, "pdf1", options, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_OK);
    CHECK(progress.last_total == TALLYFY_SIZE_UNKNOWN, "total %" PRIu64 " for a body without a length",
          progress.last_total);
    CHECK(progress.last_received == fixture_len, "last received %" PRIu64, progress.last_received);
    CHECK(same_as_fixture(data, len), "chunked memory differs from the fixture");
    tallyfy_data_free(data);

    /* An empty file has a total of 0, which is not unknown. */
    memset(&progress, 0, sizeof progress);
    EXPECT_STATUS(tallyfy_download_to_memory(client, "empty1", options, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_OK);
    CHECK(progress.calls >= 1, "no progress call for an empty file");
    CHECK(progress.last_total == 0, "total %" PRIu64 " for an empty file", progress.last_total);
    tallyfy_data_free(data);

    free(path);
    tallyfy_download_options_free(options);
    tallyfy_client_free(chunked);
    tallyfy_client_free(client);
}

/* A server that declares a Content-Length of UINT64_MAX, the value reserved
 * for an unknown total: the download fails before the first progress call. */
static void case_huge_length(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_CHUNKED_URL"));
    tallyfy_download_options *options = NULL;
    struct progress progress = {0, 0, 0, 0};
    uint8_t *data = UNTOUCHED;
    size_t len = 0;

    EXPECT_STATUS(tallyfy_download_options_new(&options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_options_set_progress(options, track, &progress), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_to_memory(client, "huge1", options, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_TOO_LARGE);
    CHECK(progress.calls == 0, "%" PRIu64 " progress calls, the last with total %" PRIu64, progress.calls,
          progress.last_total);
    CHECK(data == UNTOUCHED, "out_data was written on failure");

    tallyfy_download_options_free(options);
    tallyfy_client_free(client);
}

/* Stops a download to a path and a folder from the callback: nothing is left
 * behind, which the harness checks by listing the folder. */
static void case_progress_abort(void) {
    const char *workdir = setting("TALLYFY_TEST_WORKDIR");
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    tallyfy_download_options *options = NULL;
    struct progress progress = {0, 0, 0, 2};
    tallyfy_file_info *info = UNTOUCHED;
    char *path = join(workdir, "aborted.pdf");
    struct stat status;

    EXPECT_STATUS(tallyfy_download_options_new(&options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_options_set_progress(options, track, &progress), TALLYFY_OK);

    EXPECT_STATUS(tallyfy_download_to_path(client, "pdf1", options, path, TALLYFY_IF_EXISTS_FAIL, &info),
                  TALLYFY_ABORTED_BY_CALLBACK);
    EXPECT_MESSAGE("stopped by the progress callback");
    CHECK(progress.calls == 2, "%" PRIu64 " progress calls after the abort", progress.calls);
    CHECK(stat(path, &status) != 0 && errno == ENOENT, "%s exists after an abort", path);
    CHECK(info == UNTOUCHED, "out_info was written on failure");

    memset(&progress, 0, sizeof progress);
    progress.stop_after = 1;
    EXPECT_STATUS(tallyfy_download_to_folder(client, "pdf1", options, workdir, TALLYFY_NAME_CONFLICT_UNIQUE,
                                             &info),
                  TALLYFY_ABORTED_BY_CALLBACK);
    CHECK(progress.calls == 1, "%" PRIu64 " progress calls after the abort", progress.calls);

    free(path);
    tallyfy_download_options_free(options);
    tallyfy_client_free(client);
}

/* ---- Error detail ------------------------------------------------------- */

static void case_error_detail(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    uint8_t *data = UNTOUCHED;
    size_t len = 0;

    EXPECT_STATUS(tallyfy_download_to_memory(client, "missing1", NULL, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_NOT_FOUND);
    CHECK(tallyfy_last_error_status() == TALLYFY_NOT_FOUND, "last status %d",
          (int)tallyfy_last_error_status());
    CHECK(tallyfy_last_error_http_status() == 404, "http status %u",
          (unsigned)tallyfy_last_error_http_status());
    EXPECT_TEXT(tallyfy_last_error_api_code(), "RESOURCE_NOT_FOUND");
    EXPECT_TEXT(tallyfy_last_error_api_message(), "File not found");
    EXPECT_TEXT(tallyfy_last_error_request_id(), "req-native-17");
    CHECK(tallyfy_last_error_os_errno() == 0, "errno %d", tallyfy_last_error_os_errno());
    EXPECT_MESSAGE("missing1");
    EXPECT_MESSAGE("404");
    CHECK(strstr(tallyfy_last_error_message(), TEST_TOKEN) == NULL, "the message contains the token: %s",
          tallyfy_last_error_message());
    CHECK(data == UNTOUCHED, "out_data was written on failure");

    /* The harness reads this line to check the message from outside too. */
    printf("message %s\n", tallyfy_last_error_message());

    /* The next call that returns a status replaces the detail. */
    EXPECT_STATUS(tallyfy_download_to_memory(client, "pdf1", NULL, UINT64_MAX, &data, &len, NULL),
                  TALLYFY_OK);
    CHECK(tallyfy_last_error_status() == TALLYFY_OK, "status not cleared");
    CHECK(tallyfy_last_error_api_code() == NULL, "api code not cleared");
    CHECK(tallyfy_last_error_http_status() == 0, "http status not cleared");
    tallyfy_data_free(data);

    tallyfy_client_free(client);
}

/* ---- Paths, folders and file descriptors -------------------------------- */

static void write_text(const char *path, const char *text) {
    FILE *file = fopen(path, "wb");
    if (file == NULL || fputs(text, file) < 0 || fclose(file) != 0) {
        fprintf(stderr, "api_test: cannot write %s\n", path);
        exit(2);
    }
}

static void case_path_and_folder(void) {
    const char *workdir = setting("TALLYFY_TEST_WORKDIR");
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    tallyfy_download_options *options = NULL;
    tallyfy_file_info *info = NULL;
    char *existing = join(workdir, "existing.pdf");
    char *expected;
    size_t len;
    uint8_t *kept;

    /* The exists policy: FAIL keeps the file byte for byte, REPLACE replaces it. */
    write_text(existing, "keep me");
    EXPECT_STATUS(tallyfy_download_to_path(client, "pdf1", NULL, existing, TALLYFY_IF_EXISTS_FAIL, &info),
                  TALLYFY_DESTINATION_EXISTS);
    kept = read_file(existing, &len);
    CHECK(len == 7, "the existing file's length changed to %zu", len);
    CHECK(memcmp(kept, "keep me", len < 7 ? len : 7) == 0, "the existing file's bytes changed");
    free(kept);
    EXPECT_STATUS(
        tallyfy_download_to_path(client, "pdf1", NULL, existing, TALLYFY_IF_EXISTS_REPLACE, &info),
        TALLYFY_OK);
    CHECK(file_matches_fixture(existing), "the replaced file differs from the fixture");
    CHECK(info != NULL, "no info after success");
    if (info != NULL) {
        EXPECT_TEXT(info->path, existing);
    }
    tallyfy_file_info_free(info);
    info = NULL;

    /* A folder: the server's name, then a numbered one; the info has the path. */
    EXPECT_STATUS(tallyfy_download_to_folder(client, "pdf1", NULL, workdir, TALLYFY_NAME_CONFLICT_UNIQUE,
                                             &info),
                  TALLYFY_OK);
    expected = join(workdir, "spec.pdf");
    CHECK(file_matches_fixture(expected), "%s differs from the fixture", expected);
    CHECK(info != NULL, "no info after success");
    if (info != NULL) {
        EXPECT_TEXT(info->path, expected);
        EXPECT_TEXT(info->file_name, "spec.pdf");
        EXPECT_TEXT(info->server_file_name, "spec.pdf");
        EXPECT_TEXT(info->content_type, "application/octet-stream");
        CHECK(info->size == fixture_len, "size %" PRIu64, info->size);
        CHECK(info->http_status == 200, "status %u", (unsigned)info->http_status);
    }
    tallyfy_file_info_free(info);
    info = NULL;
    free(expected);

    EXPECT_STATUS(tallyfy_download_to_folder(client, "pdf1", NULL, workdir, TALLYFY_NAME_CONFLICT_UNIQUE,
                                             &info),
                  TALLYFY_OK);
    expected = join(workdir, "spec (1).pdf");
    CHECK(info != NULL, "no info after success");
    if (info != NULL) {
        EXPECT_TEXT(info->path, expected);
    }
    tallyfy_file_info_free(info);
    info = NULL;
    free(expected);

    EXPECT_STATUS(
        tallyfy_download_to_folder(client, "pdf1", NULL, workdir, TALLYFY_NAME_CONFLICT_FAIL, NULL),
        TALLYFY_DESTINATION_EXISTS);

    /* Inline mode: the real MIME type. */
    EXPECT_STATUS(tallyfy_download_options_new(&options), TALLYFY_OK);
    EXPECT_STATUS(tallyfy_download_options_set_mode(options, TALLYFY_MODE_INLINE), TALLYFY_OK);
    expected = join(workdir, "inline.pdf");
    EXPECT_STATUS(tallyfy_download_to_path(client, "pdf1", options, expected, TALLYFY_IF_EXISTS_FAIL, &info),
                  TALLYFY_OK);
    CHECK(info != NULL, "no info after success");
    if (info != NULL) {
        EXPECT_TEXT(info->content_type, "application/pdf");
    }
    CHECK(file_matches_fixture(expected), "%s differs from the fixture", expected);
    tallyfy_file_info_free(info);
    free(expected);

    /* A missing folder is a local error. */
    expected = join(workdir, "no-such-folder");
    EXPECT_STATUS(
        tallyfy_download_to_folder(client, "pdf1", NULL, expected, TALLYFY_NAME_CONFLICT_FAIL, NULL),
        TALLYFY_IO_ERROR);
    CHECK(tallyfy_last_error_os_errno() == ENOENT, "errno %d for a missing folder",
          tallyfy_last_error_os_errno());
    free(expected);

    free(existing);
    tallyfy_download_options_free(options);
    tallyfy_client_free(client);
}

static void case_fd(void) {
    const char *workdir = setting("TALLYFY_TEST_WORKDIR");
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    char *path = join(workdir, "fd.pdf");
    tallyfy_file_info *info = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int read_only;

    CHECK(fd >= 0, "cannot open %s", path);
    EXPECT_STATUS(tallyfy_download_to_fd(client, "pdf1", NULL, fd, &info), TALLYFY_OK);
    CHECK(info != NULL, "no info after success");
    if (info != NULL) {
        CHECK(info->size == fixture_len, "info size %" PRIu64, info->size);
        CHECK(info->path == NULL, "an fd download has a path: %s", info->path);
    }
    tallyfy_file_info_free(info);
    CHECK(close(fd) == 0, "the library closed the descriptor");
    CHECK(file_matches_fixture(path), "%s differs from the fixture", path);

    /* A descriptor open for reading only: the write fails with EBADF. */
    read_only = open(path, O_RDONLY);
    EXPECT_STATUS(tallyfy_download_to_fd(client, "pdf1", NULL, read_only, NULL), TALLYFY_WRITE_ERROR);
    CHECK(tallyfy_last_error_os_errno() == EBADF, "errno %d for a read-only descriptor",
          tallyfy_last_error_os_errno());
    close(read_only);

    /* A closed descriptor is rejected before any request. */
    EXPECT_STATUS(tallyfy_download_to_fd(client, "pdf1", NULL, read_only, NULL), TALLYFY_INVALID_ARGUMENT);

    free(path);
    tallyfy_client_free(client);
}

/* ---- Threads ------------------------------------------------------------ */

struct worker {
    const tallyfy_client *client;
    int index;
    int failures;
};

/* Downloads the fixture several times through the shared client, with a
 * failing download in between to see that error detail is per thread. */
static void *work(void *argument) {
    struct worker *worker = argument;
    int round;

    for (round = 0; round < DOWNLOADS_PER_THREAD; round++) {
        uint8_t *data = NULL;
        size_t len = 0;
        tallyfy_status status;

        status = tallyfy_download_to_memory(worker->client, "pdf1", NULL, UINT64_MAX, &data, &len, NULL);
        if (status != TALLYFY_OK || !same_as_fixture(data, len)) {
            fprintf(stderr, "FAIL thread %d round %d: status %d, %zu bytes: %s\n", worker->index, round,
                    (int)status, len, tallyfy_last_error_message());
            worker->failures++;
        }
        tallyfy_data_free(data);

        status = tallyfy_download_to_memory(worker->client, "missing1", NULL, UINT64_MAX, &data, &len, NULL);
        if (status != TALLYFY_NOT_FOUND || tallyfy_last_error_http_status() != 404 ||
            strstr(tallyfy_last_error_message(), "missing1") == NULL) {
            fprintf(stderr, "FAIL thread %d round %d: status %d, http %u: %s\n", worker->index, round,
                    (int)status, (unsigned)tallyfy_last_error_http_status(), tallyfy_last_error_message());
            worker->failures++;
        }
    }
    return NULL;
}

static void case_threads(void) {
    tallyfy_client *client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    pthread_t threads[THREAD_COUNT];
    struct worker workers[THREAD_COUNT];
    int i;

    for (i = 0; i < THREAD_COUNT; i++) {
        workers[i].client = client;
        workers[i].index = i;
        workers[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0, "cannot start thread %d", i);
    }
    for (i = 0; i < THREAD_COUNT; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].failures == 0, "thread %d had %d failures", i, workers[i].failures);
    }
    printf("threads %d downloads %d\n", THREAD_COUNT, THREAD_COUNT * DOWNLOADS_PER_THREAD * 2);

    tallyfy_client_free(client);
}

/* ---- Driver ------------------------------------------------------------- */

struct test_case {
    const char *name;
    void (*run)(void);
};

static const struct test_case cases[] = {
    {"null-arguments", case_null_arguments},
    {"invalid-utf8", case_invalid_utf8},
    {"status-strings", case_status_strings},
    {"version", case_version},
    {"buffer-retry", case_buffer_retry},
    {"buffer-unknown-size", case_buffer_unknown_size},
    {"memory", case_memory},
    {"write-callback", case_write_callback},
    {"write-short", case_write_short},
    {"progress", case_progress},
    {"huge-length", case_huge_length},
    {"progress-abort", case_progress_abort},
    {"error-detail", case_error_detail},
    {"path-and-folder", case_path_and_folder},
    {"fd", case_fd},
    {"threads", case_threads},
};

int main(int argc, char **argv) {
    size_t count = sizeof cases / sizeof cases[0];
    size_t i;
    int found = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: api_test CASE|all|list\n");
        return 2;
    }
    if (strcmp(argv[1], "list") == 0) {
        for (i = 0; i < count; i++) {
            printf("%s\n", cases[i].name);
        }
        return 0;
    }
    fixture = read_file(setting("TALLYFY_TEST_FIXTURE"), &fixture_len);

    for (i = 0; i < count; i++) {
        if (strcmp(argv[1], "all") == 0 || strcmp(argv[1], cases[i].name) == 0) {
            int before = failures;
            found = 1;
            cases[i].run();
            if (failures == before) {
                printf("ok %s\n", cases[i].name);
            }
        }
    }
    free(fixture);

    if (!found) {
        fprintf(stderr, "api_test: no case named %s\n", argv[1]);
        return 2;
    }
    return failures == 0 ? 0 : 1;
}
