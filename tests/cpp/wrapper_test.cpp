// Tests of the C++ wrapper include/tallyfy_files.hpp, run by
// tests/cpp_wrapper.rs against servers on 127.0.0.1.
//
// Usage: wrapper_test CASE
//
// CASE is one of the names in the table at the end. The harness passes its
// settings in the environment:
//
//   TALLYFY_TEST_BASE_URL     an httpmock server with the routes below
//   TALLYFY_TEST_CHUNKED_URL  a server that sends the fixture without a length
//   TALLYFY_TEST_FIXTURE      the PDF that the servers send as file "pdf1"
//   TALLYFY_TEST_WORKDIR      an empty folder for the files a case writes
//
// Routes, under organization "org1" with TEST_TOKEN:
//   pdf1      the fixture, attachment and inline, as "spec.pdf"
//   missing1  404 with a JSON error body and an X-Request-Id header
//
// Each failed check prints one "FAIL file:line: ..." line on stderr; the
// program exits 1 when any check failed and prints "ok CASE" when the case
// passed.

#include "tallyfy_files.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace fs = std::filesystem;

namespace {

const char *const TEST_TOKEN = "tok-native-5Xq8Rt2Mz4";

int failures = 0;

void fail(const char *file, int line, const std::string &what) {
    std::cerr << "FAIL " << file << ":" << line << ": " << what << "\n";
    failures++;
}

#define CHECK(condition, message)                                                   \
    do {                                                                            \
        if (!(condition)) {                                                         \
            std::ostringstream text_;                                               \
            text_ << #condition << ": " << message;                                 \
            fail(__FILE__, __LINE__, text_.str());                                  \
        }                                                                           \
    } while (0)

// Runs `body`, which must throw tallyfy::error, and returns the error.
template <typename Body>
std::optional<tallyfy::error> expect_error(const char *file, int line, Body body) {
    try {
        body();
    } catch (const tallyfy::error &e) {
        return e;
    } catch (const std::exception &e) {
        fail(file, line, std::string("threw another exception: ") + e.what());
        return std::nullopt;
    }
    fail(file, line, "threw nothing");
    return std::nullopt;
}

#define EXPECT_ERROR(body) expect_error(__FILE__, __LINE__, [&] { body; })

std::string setting(const char *name) {
    const char *value = std::getenv(name);
    if (value == nullptr || value[0] == '\0') {
        std::cerr << "wrapper_test: the environment variable " << name << " is not set\n";
        std::exit(2);
    }
    return value;
}

std::vector<std::uint8_t> read_file(const fs::path &path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        std::cerr << "wrapper_test: cannot read " << path << "\n";
        std::exit(2);
    }
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

const std::vector<std::uint8_t> &fixture() {
    static const std::vector<std::uint8_t> bytes = read_file(setting("TALLYFY_TEST_FIXTURE"));
    return bytes;
}

fs::path workdir() { return fs::path(setting("TALLYFY_TEST_WORKDIR")); }

tallyfy::client_options test_options(const std::string &base_url) {
    tallyfy::client_options options;
    options.token = TEST_TOKEN;
    options.org_id = "org1";
    options.base_url = base_url;
    options.connect_timeout = std::chrono::seconds(5);
    options.stall_timeout = std::chrono::seconds(10);
    options.retry_max_attempts = 1;
    return options;
}

tallyfy::client make_client(const std::string &base_url) { return tallyfy::client(test_options(base_url)); }

// ---- Types ----------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<tallyfy::client>, "the client must be move-only");
static_assert(!std::is_copy_assignable_v<tallyfy::client>, "the client must be move-only");
static_assert(std::is_nothrow_move_constructible_v<tallyfy::client>, "moving a client must not throw");
static_assert(std::is_nothrow_move_assignable_v<tallyfy::client>, "moving a client must not throw");
static_assert(std::is_base_of_v<std::runtime_error, tallyfy::error>, "tallyfy::error is a runtime_error");
static_assert(std::is_nothrow_copy_constructible_v<tallyfy::error>, "copying an error must not throw");

// ---- Destinations ---------------------------------------------------------

void case_path() {
    tallyfy::client client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    const fs::path target = workdir() / "report.pdf";

    tallyfy::file_info info = client.download_to_path("pdf1", target, tallyfy::if_exists::fail);
    CHECK(read_file(target) == fixture(), "the saved file differs from the fixture");
    CHECK(info.size == fixture().size(), "size " << info.size);
    CHECK(info.http_status == 200, "status " << info.http_status);
    CHECK(info.file_name == "spec.pdf", "file name " << info.file_name);
    CHECK(info.server_file_name == std::optional<std::string>("spec.pdf"), "server file name");
    CHECK(info.content_type == std::optional<std::string>("application/octet-stream"), "content type");
    CHECK(info.path == std::optional<fs::path>(target), "path " << info.path.value_or("(none)"));

    // An existing file stays as it is unless replacing is allowed.
    {
        std::ofstream(target, std::ios::binary | std::ios::trunc) << "keep me";
    }
    auto error = EXPECT_ERROR(client.download_to_path("pdf1", target));
    CHECK(error && error->status() == TALLYFY_DESTINATION_EXISTS, "status " << (error ? error->status() : -1));
    const std::vector<std::uint8_t> kept = read_file(target);
    CHECK(std::string(kept.begin(), kept.end()) == "keep me", "the existing file changed");

    client.download_to_path("pdf1", target, tallyfy::if_exists::replace);
    CHECK(read_file(target) == fixture(), "the replaced file differs from the fixture");
}

void case_folder() {
    tallyfy::client client = make_client(setting("TALLYFY_TEST_BASE_URL"));

    tallyfy::file_info first = client.download_to_folder("pdf1", workdir());
    tallyfy::file_info second = client.download_to_folder("pdf1", workdir(), tallyfy::name_conflict::unique);
    CHECK(first.path == std::optional<fs::path>(workdir() / "spec.pdf"), "first path " << first.path.value_or(""));
    CHECK(second.path == std::optional<fs::path>(workdir() / "spec (1).pdf"),
          "second path " << second.path.value_or(""));
    CHECK(read_file(workdir() / "spec (1).pdf") == fixture(), "the numbered copy differs from the fixture");

    auto error = EXPECT_ERROR(client.download_to_folder("pdf1", workdir(), tallyfy::name_conflict::fail));
    CHECK(error && error->status() == TALLYFY_DESTINATION_EXISTS, "a taken name was not rejected");

    // A missing folder is a local error with its errno.
    error = EXPECT_ERROR(client.download_to_folder("pdf1", workdir() / "no-such-folder"));
    CHECK(error && error->status() == TALLYFY_IO_ERROR, "status " << (error ? error->status() : -1));
    CHECK(error && error->os_errno() == ENOENT, "errno " << (error ? error->os_errno() : -1));
}

void case_memory() {
    tallyfy::client client = make_client(setting("TALLYFY_TEST_BASE_URL"));

    auto [bytes, info] = client.download_bytes("pdf1");
    CHECK(bytes == fixture(), "download_bytes differs from the fixture (" << bytes.size() << " bytes)");
    CHECK(info.size == fixture().size(), "size " << info.size);
    CHECK(!info.path, "a memory download has a path");

    tallyfy::download_options inline_options;
    inline_options.mode = tallyfy::mode::inline_;
    tallyfy::downloaded<std::string> text = client.download_string("pdf1", inline_options);
    CHECK(text.data == std::string(fixture().begin(), fixture().end()), "download_string differs from the fixture");
    CHECK(text.info.content_type == std::optional<std::string>("application/pdf"), "inline content type");

    tallyfy::download_options small;
    small.max_size = 1000;
    auto error = EXPECT_ERROR(client.download_bytes("pdf1", small));
    CHECK(error && error->status() == TALLYFY_TOO_LARGE, "status " << (error ? error->status() : -1));

    std::vector<std::uint8_t> streamed;
    std::size_t blocks = 0;
    tallyfy::file_info streamed_info = client.download_to_callback("pdf1", [&](const std::uint8_t *data, std::size_t size) {
        streamed.insert(streamed.end(), data, data + size);
        blocks++;
    });
    CHECK(streamed == fixture(), "the streamed bytes differ from the fixture");
    CHECK(blocks >= 1, "no block was written");
    CHECK(streamed_info.size == fixture().size(), "size " << streamed_info.size);
}

// ---- Errors ---------------------------------------------------------------

void case_error_detail() {
    tallyfy::client client = make_client(setting("TALLYFY_TEST_BASE_URL"));

    auto error = EXPECT_ERROR(client.download_bytes("missing1"));
    CHECK(error.has_value(), "no error for a missing file");
    if (!error) {
        return;
    }
    const std::string message = error->what();
    CHECK(error->status() == TALLYFY_NOT_FOUND, "status " << error->status());
    CHECK(error->http_status() == 404, "http status " << error->http_status());
    CHECK(error->api_code() == std::optional<std::string>("RESOURCE_NOT_FOUND"), "api code");
    CHECK(error->api_message() == std::optional<std::string>("File not found"), "api message");
    CHECK(error->request_id() == std::optional<std::string>("req-native-17"), "request id");
    CHECK(error->os_errno() == 0, "errno " << error->os_errno());
    CHECK(message.find("missing1") != std::string::npos, "message " << message);
    CHECK(message.find(TEST_TOKEN) == std::string::npos, "the message contains the token: " << message);
    CHECK(std::string(error->status_text()) == tallyfy_status_str(TALLYFY_NOT_FOUND), "status text");

    // Copies share the detail.
    tallyfy::error copy = *error;
    CHECK(copy.api_code() == error->api_code(), "a copy lost the API code");

    // Caught as a std::runtime_error too.
    bool caught = false;
    try {
        client.download_bytes("missing1");
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()).find("404") != std::string::npos;
    }
    CHECK(caught, "not caught as std::runtime_error with the status in its message");
}

void case_options() {
    const std::string base = setting("TALLYFY_TEST_BASE_URL");

    tallyfy::client_options options = test_options(base);
    options.token = std::string("tok\0en", 6);
    auto error = EXPECT_ERROR(tallyfy::client client(options));
    CHECK(error && error->status() == TALLYFY_INVALID_ARGUMENT, "a token with a NUL was accepted");
    CHECK(error && std::string(error->what()).find("NUL") != std::string::npos, "message " << (error ? error->what() : ""));

    options = test_options(base);
    options.stall_timeout = std::chrono::milliseconds(-1);
    error = EXPECT_ERROR(tallyfy::client client(options));
    CHECK(error && error->status() == TALLYFY_INVALID_ARGUMENT, "a negative timeout was accepted");

    options = test_options(base);
    options.token.clear();
    error = EXPECT_ERROR(tallyfy::client client(options));
    CHECK(error && error->status() == TALLYFY_INVALID_ARGUMENT, "an empty token was accepted");
    CHECK(error && std::string(error->what()).find("access token is empty") != std::string::npos,
          "message " << (error ? error->what() : ""));

    options = test_options(base);
    options.retry_max_attempts = 0;
    error = EXPECT_ERROR(tallyfy::client client(options));
    CHECK(error && std::string(error->what()).find("tallyfy_client_options_set_retry_max_attempts") != std::string::npos,
          "the message does not name the C function: " << (error ? error->what() : ""));

    tallyfy::client client = make_client(base);
    error = EXPECT_ERROR(client.download_bytes("../etc"));
    CHECK(error && error->status() == TALLYFY_INVALID_ARGUMENT, "a malformed file ID was accepted");
    error = EXPECT_ERROR(client.download_to_callback("pdf1", tallyfy::write_function()));
    CHECK(error && error->status() == TALLYFY_INVALID_ARGUMENT, "an empty write function was accepted");
}

void case_move() {
    tallyfy::client first = make_client(setting("TALLYFY_TEST_BASE_URL"));
    tallyfy_client *handle = first.native_handle();

    tallyfy::client second(std::move(first));
    CHECK(second.native_handle() == handle, "the move did not carry the handle");
    CHECK(first.native_handle() == nullptr, "the moved-from client kept its handle");
    CHECK(second.download_bytes("pdf1").data == fixture(), "the moved-to client failed");

    auto error = EXPECT_ERROR(first.download_bytes("pdf1"));
    CHECK(error && error->status() == TALLYFY_INVALID_ARGUMENT, "a moved-from client did not throw");

    first = std::move(second);
    CHECK(first.native_handle() == handle, "move assignment did not carry the handle");
    CHECK(first.download_bytes("pdf1").data == fixture(), "the client failed after move assignment");
}

// ---- Callbacks ------------------------------------------------------------

void case_progress() {
    tallyfy::client client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    tallyfy::client chunked = make_client(setting("TALLYFY_TEST_CHUNKED_URL"));

    std::uint64_t calls = 0;
    std::uint64_t last_received = 0;
    std::optional<std::uint64_t> last_total;
    tallyfy::download_options options;
    options.progress = [&](std::uint64_t received, std::optional<std::uint64_t> total) {
        calls++;
        last_received = received;
        last_total = total;
        return true;
    };

    CHECK(client.download_bytes("pdf1", options).data == fixture(), "bytes differ with a progress function");
    CHECK(calls >= 2, calls << " progress calls");
    CHECK(last_received == fixture().size(), "last received " << last_received);
    CHECK(last_total == std::optional<std::uint64_t>(fixture().size()), "declared total");

    // Without a Content-Length the total is unknown.
    calls = 0;
    CHECK(chunked.download_bytes("pdf1", options).data == fixture(), "chunked bytes differ");
    CHECK(calls >= 1, "no progress call without a length");
    CHECK(!last_total, "total " << last_total.value_or(0) << " for a body without a length");

    // Returning false stops the download, and a path download leaves no file.
    options.progress = [&](std::uint64_t, std::optional<std::uint64_t>) { return false; };
    const fs::path target = workdir() / "stopped.pdf";
    auto error = EXPECT_ERROR(client.download_to_path("pdf1", target, tallyfy::if_exists::fail, options));
    CHECK(error && error->status() == TALLYFY_ABORTED_BY_CALLBACK, "status " << (error ? error->status() : -1));
    CHECK(!fs::exists(target), target << " exists after the progress function stopped the download");
}

// An exception of the program's own type, to see that the very object comes back.
struct stop_download : std::exception {
    explicit stop_download(int at) : at(at) {}
    const char *what() const noexcept override { return "stop_download"; }
    int at;
};

void case_callback_throws() {
    tallyfy::client client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    const fs::path target = workdir() / "thrown.pdf";

    int calls = 0;
    tallyfy::download_options options;
    options.progress = [&](std::uint64_t, std::optional<std::uint64_t>) -> bool {
        calls++;
        if (calls == 2) {
            throw stop_download(calls);
        }
        return true;
    };

    int caught_at = 0;
    try {
        client.download_to_path("pdf1", target, tallyfy::if_exists::fail, options);
        fail(__FILE__, __LINE__, "the download did not throw");
    } catch (const stop_download &e) {
        caught_at = e.at;
    } catch (const std::exception &e) {
        fail(__FILE__, __LINE__, std::string("threw another exception: ") + e.what());
    }
    CHECK(caught_at == 2, "caught the exception of call " << caught_at);
    CHECK(calls == 2, calls << " progress calls after the throw");
    CHECK(!fs::exists(target), target << " exists after the callback threw");

    // The write function of a streaming download may throw too.
    std::size_t written = 0;
    bool caught_write = false;
    try {
        client.download_to_callback("pdf1", [&](const std::uint8_t *, std::size_t size) {
            written += size;
            throw std::length_error("enough");
        });
    } catch (const std::length_error &e) {
        caught_write = std::string(e.what()) == "enough";
    }
    CHECK(caught_write, "the write function's exception was not rethrown");
    CHECK(written > 0, "the write function was not called");

    // The client still works afterwards.
    client.download_to_path("pdf1", target, tallyfy::if_exists::fail);
    CHECK(read_file(target) == fixture(), "a download after the throws differs from the fixture");
}

// ---- Logging --------------------------------------------------------------

void case_log() {
    tallyfy::client client = make_client(setting("TALLYFY_TEST_BASE_URL"));
    std::mutex mutex;
    std::vector<std::pair<tallyfy::log_level, std::string>> records;

    tallyfy::set_log_level(tallyfy::log_level::trace);
    tallyfy::set_log_function([&](tallyfy::log_level level, const std::string &message) {
        std::lock_guard<std::mutex> lock(mutex);
        records.emplace_back(level, message);
    });
    CHECK(client.download_bytes("pdf1").data == fixture(), "bytes differ while logging");
    EXPECT_ERROR(client.download_bytes("missing1"));
    tallyfy::set_log_function(nullptr);

    const std::size_t count = records.size();
    CHECK(client.download_bytes("pdf1").data == fixture(), "bytes differ after logging stopped");
    CHECK(records.size() == count, "records arrived after the log function was removed");

    bool finished = false;
    bool failed = false;
    for (const auto &[level, message] : records) {
        CHECK(message.find(TEST_TOKEN) == std::string::npos, "a record contains the token: " << message);
        if (level == tallyfy::log_level::info && message.find("download pdf1: finished") != std::string::npos) {
            finished = true;
        }
        if (level == tallyfy::log_level::warn && message.find("download missing1: failed") != std::string::npos) {
            failed = true;
        }
    }
    CHECK(finished, "no INFO record of the finished download among " << records.size());
    CHECK(failed, "no WARN record of the failed download among " << records.size());

    // A log function that throws loses its records, not the download.
    tallyfy::set_log_function([](tallyfy::log_level, const std::string &) { throw std::runtime_error("log"); });
    CHECK(client.download_bytes("pdf1").data == fixture(), "a throwing log function broke the download");
    tallyfy::set_log_function(nullptr);

    auto error = EXPECT_ERROR(tallyfy::set_log_level(static_cast<tallyfy::log_level>(9)));
    CHECK(error && error->status() == TALLYFY_INVALID_ARGUMENT, "level 9 was accepted");
    tallyfy::set_log_level(tallyfy::log_level::info);
}

struct test_case {
    const char *name;
    void (*run)();
};

const test_case cases[] = {
    {"path", case_path},
    {"folder", case_folder},
    {"memory", case_memory},
    {"error-detail", case_error_detail},
    {"options", case_options},
    {"move", case_move},
    {"progress", case_progress},
    {"callback-throws", case_callback_throws},
    {"log", case_log},
};

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: wrapper_test CASE\n";
        return 2;
    }
    for (const test_case &test : cases) {
        if (std::strcmp(argv[1], test.name) == 0) {
            try {
                test.run();
            } catch (const std::exception &e) {
                fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
            }
            if (failures == 0) {
                std::cout << "ok " << test.name << "\n";
            }
            return failures == 0 ? 0 : 1;
        }
    }
    std::cerr << "wrapper_test: no case named " << argv[1] << "\n";
    return 2;
}
