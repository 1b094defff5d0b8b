/**
 * @file tallyfy_files.hpp
 * @brief A header-only C++17 wrapper over the C API of tallyfy-files.
 *
 * It adds what C++ programs expect on top of tallyfy_files.h: a client that
 * frees itself (move-only RAII), exceptions instead of status codes,
 * standard types (std::string, std::vector<std::uint8_t>,
 * std::filesystem::path, std::optional, std::chrono) and callbacks taking
 * std::function. Link with the same library as the C API (libtallyfy_files,
 * shared or static); nothing else needs building.
 *
 * @code
 * tallyfy::client_options options;
 * options.token = std::getenv("TALLYFY_ACCESS_TOKEN");
 * options.org_id = std::getenv("TALLYFY_ORG_ID");
 * tallyfy::client client(options);
 *
 * try {
 *     tallyfy::file_info info = client.download_to_path(
 *         "0123456789abcdef0123456789abcdef", "report.pdf", tallyfy::if_exists::replace);
 *     std::cout << info.size << " bytes\n";
 * } catch (const tallyfy::error &e) {
 *     std::cerr << e.what() << " (HTTP " << e.http_status() << ")\n";
 * }
 * @endcode
 *
 * Conventions:
 * - Every failure throws tallyfy::error, which carries the status and the
 *   detail of the C API's tallyfy_last_error_* functions. An exception
 *   thrown by a callback stops its download, never unwinds through the C
 *   library, and is rethrown by the download function once the C call has
 *   returned.
 * - Strings are UTF-8. A string with a NUL character inside, which C would
 *   cut short, throws tallyfy::error with TALLYFY_INVALID_ARGUMENT.
 * - Thread-safety is that of the C API. One tallyfy::client may be used by
 *   any number of threads at once, and callbacks run on the downloading
 *   thread.
 */

#ifndef TALLYFY_FILES_HPP
#define TALLYFY_FILES_HPP

#include "tallyfy_files.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tallyfy {

/**
 * @brief The exception thrown for every failure, with the C API's detail.
 *
 * what() returns the library's message (never containing the access token).
 * Copying an error never throws.
 */
class error : public std::runtime_error {
public:
    /// Builds an error from its parts; the library builds them with from_last_error().
    error(tallyfy_status status, const std::string &message, std::uint16_t http_status = 0,
          std::optional<std::string> api_code = std::nullopt,
          std::optional<std::string> api_message = std::nullopt,
          std::optional<std::string> request_id = std::nullopt, int os_errno = 0)
        : std::runtime_error(message),
          detail_(std::make_shared<const detail_type>(detail_type{status, http_status, std::move(api_code),
                                                                  std::move(api_message),
                                                                  std::move(request_id), os_errno})) {}

    /**
     * Builds the error for a call that returned `status`, from the calling
     * thread's tallyfy_last_error_* detail. Call it before any other
     * function that returns tallyfy_status.
     */
    static error from_last_error(tallyfy_status status) {
        std::string message = tallyfy_last_error_message();
        if (message.empty()) {
            message = tallyfy_status_str(status);
        }
        return error(status, message, tallyfy_last_error_http_status(), text(tallyfy_last_error_api_code()),
                     text(tallyfy_last_error_api_message()), text(tallyfy_last_error_request_id()),
                     tallyfy_last_error_os_errno());
    }

    /// The status code, such as TALLYFY_NOT_FOUND.
    tallyfy_status status() const noexcept { return detail_->status; }

    /// The static description of the status, from tallyfy_status_str().
    const char *status_text() const noexcept { return tallyfy_status_str(detail_->status); }

    /// The HTTP status of an error response, such as 404, or 0.
    std::uint16_t http_status() const noexcept { return detail_->http_status; }

    /// The `code` field of the API's JSON error body, such as "RESOURCE_NOT_FOUND".
    const std::optional<std::string> &api_code() const noexcept { return detail_->api_code; }

    /// The `message` field of the API's JSON error body.
    const std::optional<std::string> &api_message() const noexcept { return detail_->api_message; }

    /// The X-Request-Id header of the error response, to quote to Tallyfy support.
    const std::optional<std::string> &request_id() const noexcept { return detail_->request_id; }

    /// The errno behind a local I/O or write error, or 0.
    int os_errno() const noexcept { return detail_->os_errno; }

private:
    struct detail_type {
        tallyfy_status status;
        std::uint16_t http_status;
        std::optional<std::string> api_code;
        std::optional<std::string> api_message;
        std::optional<std::string> request_id;
        int os_errno;
    };

    static std::optional<std::string> text(const char *value) {
        if (value == nullptr) {
            return std::nullopt;
        }
        return std::string(value);
    }

    // Shared, so that copying the exception never allocates.
    std::shared_ptr<const detail_type> detail_;
};

/// The endpoint that serves a file (TALLYFY_MODE_*).
enum class mode : tallyfy_mode {
    /// The raw bytes as application/octet-stream, with the original file name. Works for every file.
    attachment = TALLYFY_MODE_ATTACHMENT,
    /// The same bytes with the file's real MIME type; the API returns 404
    /// here for files on tasks of running processes.
    inline_ = TALLYFY_MODE_INLINE,
};

/// The policy of download_to_path() for an existing destination (TALLYFY_IF_EXISTS_*).
enum class if_exists : tallyfy_if_exists {
    /// Throw with TALLYFY_DESTINATION_EXISTS and leave the file alone.
    fail = TALLYFY_IF_EXISTS_FAIL,
    /// Replace the file atomically once the whole body has arrived.
    replace = TALLYFY_IF_EXISTS_REPLACE,
};

/// The policy of download_to_folder() for a server file name that is taken (TALLYFY_NAME_CONFLICT_*).
enum class name_conflict : tallyfy_name_conflict {
    /// Throw with TALLYFY_DESTINATION_EXISTS.
    fail = TALLYFY_NAME_CONFLICT_FAIL,
    /// Save as "name (1).ext", "name (2).ext" and so on.
    unique = TALLYFY_NAME_CONFLICT_UNIQUE,
};

/// The severity of a log record, or a level to filter by (TALLYFY_LOG_*).
enum class log_level : tallyfy_log_level {
    off = TALLYFY_LOG_OFF,     ///< No records.
    error = TALLYFY_LOG_ERROR, ///< A download failed.
    warn = TALLYFY_LOG_WARN,   ///< A download or an attempt failed.
    info = TALLYFY_LOG_INFO,   ///< A download finished. The default filter.
    debug = TALLYFY_LOG_DEBUG, ///< Requests, redirects and connection events.
    trace = TALLYFY_LOG_TRACE, ///< Everything; compiled out of release builds.
};

/**
 * @brief A progress callback: bytes received so far and the declared size.
 *
 * `total` is empty when the server declared no size. Return true to go on,
 * or false to stop the download, which then throws tallyfy::error with
 * TALLYFY_ABORTED_BY_CALLBACK. An exception thrown by the callback stops the
 * download too, and the download function rethrows it. A stopped download to
 * a path or a folder leaves no file behind.
 */
using progress_function = std::function<bool(std::uint64_t received, std::optional<std::uint64_t> total)>;

/**
 * @brief A write function for download_to_callback(): receives each block of
 * the body in order. An exception it throws stops the download, and the
 * download function rethrows it.
 */
using write_function = std::function<void(const std::uint8_t *data, std::size_t size)>;

/// A log function: receives each record's level and message (one line, UTF-8).
using log_function = std::function<void(log_level level, const std::string &message)>;

/// Settings for a client. Only the token is required; unset values keep the C API's defaults.
struct client_options {
    /// The access token, sent as `Authorization: Bearer <token>` to the base URL's origin only.
    std::string token;
    /// The organization ID used by downloads that do not set their own.
    std::optional<std::string> org_id;
    /// The API base URL (default https://go.tallyfy.com/api).
    std::optional<std::string> base_url;
    /// The maximum time for resolving, connecting and the TLS handshake. 0 waits as long as the system does.
    std::optional<std::chrono::milliseconds> connect_timeout;
    /// The maximum time the server may send nothing before the download times out. 0 waits forever.
    std::optional<std::chrono::milliseconds> stall_timeout;
    /// The maximum time of one download, retries included. 0 sets no limit.
    std::optional<std::chrono::milliseconds> deadline;
    /// A PEM file of CA certificates to trust instead of the built-in roots.
    std::optional<std::filesystem::path> ca_file;
    /// Verifies certificates with the system's trust store instead of the built-in roots.
    bool system_trust_store = false;
    /// A proxy for every request, such as "http://proxy:3128".
    std::optional<std::string> proxy;
    /// The User-Agent header.
    std::optional<std::string> user_agent;
    /// How many redirects one request follows; 0 refuses every redirect.
    std::optional<std::uint32_t> max_redirects;
    /// The maximum number of attempts of one download, the first included. 1 turns retries off.
    std::optional<std::uint32_t> retry_max_attempts;
    /// The wait before the first retry, doubled for each later one.
    std::optional<std::chrono::milliseconds> retry_initial_backoff;
    /// The maximum wait between two attempts.
    std::optional<std::chrono::milliseconds> retry_max_backoff;
    /// The maximum single wait accepted before a retry, Retry-After included.
    std::optional<std::chrono::milliseconds> retry_max_wait;
    /// The maximum total wait between the attempts of one download.
    std::optional<std::chrono::milliseconds> retry_max_total_wait;
};

/// Options for one download; the defaults suit most downloads.
struct download_options {
    /// The endpoint: attachment (the default) or inline_.
    tallyfy::mode mode = tallyfy::mode::attachment;
    /// Downloads from this organization instead of the client's.
    std::optional<std::string> org_id;
    /// Throws with TALLYFY_TOO_LARGE when the file is larger than this many bytes.
    std::optional<std::uint64_t> max_size;
    /// Called as bytes arrive; empty for none.
    progress_function progress;
};

/// Information about a finished download.
struct file_info {
    /// The server's file name made safe to use as one path component, or
    /// "tallyfy-file-<file ID>" when the server sent none. For a download
    /// into a folder, the name the file was saved under.
    std::string file_name;
    /// The file name exactly as the server sent it; never use it as a path.
    std::optional<std::string> server_file_name;
    /// The Content-Type header.
    std::optional<std::string> content_type;
    /// The path the file was saved at, for downloads to a path or a folder.
    std::optional<std::filesystem::path> path;
    /// The number of body bytes delivered.
    std::uint64_t size = 0;
    /// The HTTP status of the final response, such as 200.
    std::uint16_t http_status = 0;
};

/// The bytes of a download to memory, with its file information.
template <typename Bytes>
struct downloaded {
    Bytes data;     ///< The file's bytes.
    file_info info; ///< Information about the download.
};

/// Returns the version of the linked library, such as "0.1.0".
inline std::string version() { return tallyfy_version(); }

/// @cond TALLYFY_INTERNAL
namespace detail {

inline void check(tallyfy_status status) {
    if (status != TALLYFY_OK) {
        throw error::from_last_error(status);
    }
}

/// Returns the string for C, rejecting a NUL inside, which C would cut the string at.
inline const char *c_text(const std::string &text, const char *what) {
    if (text.find('\0') != std::string::npos) {
        throw error(TALLYFY_INVALID_ARGUMENT, std::string("tallyfy: ") + what + " contains a NUL character");
    }
    return text.c_str();
}

inline std::uint64_t c_milliseconds(std::chrono::milliseconds value, const char *what) {
    if (value.count() < 0) {
        throw error(TALLYFY_INVALID_ARGUMENT, std::string("tallyfy: ") + what + " is negative");
    }
    return static_cast<std::uint64_t>(value.count());
}

inline std::string path_to_utf8(const std::filesystem::path &path) {
#if defined(__cpp_lib_char8_t)
    const std::u8string text = path.u8string();
    return std::string(text.begin(), text.end());
#else
    return path.u8string();
#endif
}

inline std::filesystem::path path_from_utf8(const char *text) {
#if defined(__cpp_lib_char8_t)
    return std::filesystem::path(std::u8string(reinterpret_cast<const char8_t *>(text)));
#else
    return std::filesystem::u8path(text);
#endif
}

struct free_client_options {
    void operator()(tallyfy_client_options *options) const noexcept { tallyfy_client_options_free(options); }
};
struct free_download_options {
    void operator()(tallyfy_download_options *options) const noexcept { tallyfy_download_options_free(options); }
};
struct free_file_info {
    void operator()(tallyfy_file_info *info) const noexcept { tallyfy_file_info_free(info); }
};
struct free_data {
    void operator()(std::uint8_t *data) const noexcept { tallyfy_data_free(data); }
};

using file_info_ptr = std::unique_ptr<tallyfy_file_info, free_file_info>;

inline file_info to_file_info(const tallyfy_file_info *raw) {
    file_info info;
    info.file_name = raw->file_name;
    if (raw->server_file_name != nullptr) {
        info.server_file_name = std::string(raw->server_file_name);
    }
    if (raw->content_type != nullptr) {
        info.content_type = std::string(raw->content_type);
    }
    if (raw->path != nullptr) {
        info.path = path_from_utf8(raw->path);
    }
    info.size = raw->size;
    info.http_status = raw->http_status;
    return info;
}

/// The state of one download's C callbacks: the C++ functions, and the
/// first exception they threw, kept until the C call has returned.
struct callback_state {
    const progress_function *progress = nullptr;
    const write_function *write = nullptr;
    std::exception_ptr exception;
};

} // namespace detail
/// @endcond

// The functions that the C library calls. They have C language linkage, as
// the C API's callback types do, and catch every exception, because none may
// unwind through the library.
extern "C" {

/// Calls the C++ progress function of a download (internal to this header).
inline int tallyfy_cpp_progress(void *user, std::uint64_t received, std::uint64_t total) noexcept {
    auto *state = static_cast<detail::callback_state *>(user);
    try {
        std::optional<std::uint64_t> declared;
        if (total != TALLYFY_SIZE_UNKNOWN) {
            declared = total;
        }
        return (*state->progress)(received, declared) ? 0 : 1;
    } catch (...) {
        state->exception = std::current_exception();
        return 1;
    }
}

/// Calls the C++ write function of a download (internal to this header).
inline std::size_t tallyfy_cpp_write(void *user, const std::uint8_t *data, std::size_t len) noexcept {
    auto *state = static_cast<detail::callback_state *>(user);
    try {
        (*state->write)(data, len);
        return len;
    } catch (...) {
        state->exception = std::current_exception();
        return 0;
    }
}

/// Calls the C++ log function (internal to this header). An exception it
/// throws is dropped with its record.
inline void tallyfy_cpp_log(void *user, tallyfy_log_level level, const char *message) noexcept {
    try {
        (*static_cast<const log_function *>(user))(static_cast<log_level>(level), message);
    } catch (...) {
    }
}

} // extern "C"

/// @cond TALLYFY_INTERNAL
namespace detail {

/// The C download options of one call, with the state its callbacks use.
class download_call {
public:
    explicit download_call(const download_options &options) {
        tallyfy_download_options *raw = nullptr;
        check(tallyfy_download_options_new(&raw));
        options_.reset(raw);

        check(tallyfy_download_options_set_mode(raw, static_cast<tallyfy_mode>(options.mode)));
        if (options.org_id) {
            check(tallyfy_download_options_set_org_id(raw, c_text(*options.org_id, "the organization ID")));
        }
        if (options.max_size) {
            check(tallyfy_download_options_set_max_size(raw, *options.max_size));
        }
        if (options.progress) {
            state_.progress = &options.progress;
            check(tallyfy_download_options_set_progress(raw, tallyfy_cpp_progress, &state_));
        }
    }

    download_call(const download_call &) = delete;
    download_call &operator=(const download_call &) = delete;

    const tallyfy_download_options *options() const noexcept { return options_.get(); }
    callback_state &state() noexcept { return state_; }

    /// Throws what a callback threw, else the error of a failed status.
    void finish(tallyfy_status status) {
        if (state_.exception) {
            std::rethrow_exception(state_.exception);
        }
        check(status);
    }

private:
    std::unique_ptr<tallyfy_download_options, free_download_options> options_;
    callback_state state_;
};

/// The log function set with set_log_function(), which the C library may
/// call until it is replaced.
struct log_registry {
    std::mutex mutex;
    std::unique_ptr<log_function> current;

    // The C library must not call a destroyed function at exit.
    ~log_registry() {
        if (current) {
            tallyfy_set_log_callback(nullptr, nullptr);
        }
    }

    static log_registry &instance() {
        static log_registry registry;
        return registry;
    }
};

} // namespace detail
/// @endcond

/**
 * @brief A configured connection to the Tallyfy API, with its connection pool.
 *
 * Move-only: the client owns its C handle and frees it on destruction. A
 * moved-from client may only be destroyed or assigned to; calls on it throw
 * with TALLYFY_INVALID_ARGUMENT. The download functions are const and may
 * run on many threads at once, which share the pooled connections.
 */
class client {
public:
    /// Checks the options and builds a client; throws tallyfy::error when they are invalid.
    explicit client(const client_options &options) {
        tallyfy_client_options *raw = nullptr;
        detail::check(tallyfy_client_options_new(&raw));
        std::unique_ptr<tallyfy_client_options, detail::free_client_options> owned(raw);

        detail::check(tallyfy_client_options_set_token(raw, detail::c_text(options.token, "the token")));
        if (options.org_id) {
            detail::check(
                tallyfy_client_options_set_org_id(raw, detail::c_text(*options.org_id, "the organization ID")));
        }
        if (options.base_url) {
            detail::check(
                tallyfy_client_options_set_base_url(raw, detail::c_text(*options.base_url, "the base URL")));
        }
        if (options.connect_timeout) {
            detail::check(tallyfy_client_options_set_connect_timeout_ms(
                raw, detail::c_milliseconds(*options.connect_timeout, "the connect timeout")));
        }
        if (options.stall_timeout) {
            detail::check(tallyfy_client_options_set_stall_timeout_ms(
                raw, detail::c_milliseconds(*options.stall_timeout, "the stall timeout")));
        }
        if (options.deadline) {
            detail::check(tallyfy_client_options_set_deadline_ms(
                raw, detail::c_milliseconds(*options.deadline, "the deadline")));
        }
        if (options.ca_file) {
            const std::string path = detail::path_to_utf8(*options.ca_file);
            detail::check(tallyfy_client_options_set_ca_file(raw, detail::c_text(path, "the CA file path")));
        }
        detail::check(tallyfy_client_options_set_system_trust_store(raw, options.system_trust_store));
        if (options.proxy) {
            detail::check(tallyfy_client_options_set_proxy(raw, detail::c_text(*options.proxy, "the proxy")));
        }
        if (options.user_agent) {
            detail::check(
                tallyfy_client_options_set_user_agent(raw, detail::c_text(*options.user_agent, "the user agent")));
        }
        if (options.max_redirects) {
            detail::check(tallyfy_client_options_set_max_redirects(raw, *options.max_redirects));
        }
        if (options.retry_max_attempts) {
            detail::check(tallyfy_client_options_set_retry_max_attempts(raw, *options.retry_max_attempts));
        }
        if (options.retry_initial_backoff) {
            detail::check(tallyfy_client_options_set_retry_initial_backoff_ms(
                raw, detail::c_milliseconds(*options.retry_initial_backoff, "the initial back-off")));
        }
        if (options.retry_max_backoff) {
            detail::check(tallyfy_client_options_set_retry_max_backoff_ms(
                raw, detail::c_milliseconds(*options.retry_max_backoff, "the maximum back-off")));
        }
        if (options.retry_max_wait) {
            detail::check(tallyfy_client_options_set_retry_max_wait_ms(
                raw, detail::c_milliseconds(*options.retry_max_wait, "the maximum retry wait")));
        }
        if (options.retry_max_total_wait) {
            detail::check(tallyfy_client_options_set_retry_max_total_wait_ms(
                raw, detail::c_milliseconds(*options.retry_max_total_wait, "the maximum total retry wait")));
        }

        detail::check(tallyfy_client_new(raw, &handle_));
    }

    client(const client &) = delete;
    client &operator=(const client &) = delete;

    /// Takes over the other client's handle; the other may only be destroyed or assigned to.
    client(client &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

    /// Frees this client's handle and takes over the other's.
    client &operator=(client &&other) noexcept {
        if (this != &other) {
            tallyfy_client_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }

    /// Frees the client. No download may still be running on it.
    ~client() { tallyfy_client_free(handle_); }

    /// The C handle, for calls this wrapper does not cover; still owned by this client.
    tallyfy_client *native_handle() const noexcept { return handle_; }

    /**
     * Saves the file at `path`, atomically: an existing file is replaced
     * only after the whole body arrived, and only with if_exists::replace.
     * On failure no file is left behind and an existing one is unchanged.
     */
    file_info download_to_path(const std::string &file_id, const std::filesystem::path &path,
                               if_exists policy = if_exists::fail,
                               const download_options &options = download_options()) const {
        detail::download_call call(options);
        const std::string target = detail::path_to_utf8(path);
        tallyfy_file_info *raw = nullptr;
        const tallyfy_status status = tallyfy_download_to_path(
            handle_, detail::c_text(file_id, "the file ID"), call.options(), detail::c_text(target, "the path"),
            static_cast<tallyfy_if_exists>(policy), &raw);
        detail::file_info_ptr info(raw);
        call.finish(status);
        return detail::to_file_info(info.get());
    }

    /**
     * Saves the file in `folder` under the server's file name, made safe.
     * file_info::path contains the path it was saved at.
     */
    file_info download_to_folder(const std::string &file_id, const std::filesystem::path &folder,
                                 name_conflict policy = name_conflict::unique,
                                 const download_options &options = download_options()) const {
        detail::download_call call(options);
        const std::string target = detail::path_to_utf8(folder);
        tallyfy_file_info *raw = nullptr;
        const tallyfy_status status = tallyfy_download_to_folder(
            handle_, detail::c_text(file_id, "the file ID"), call.options(), detail::c_text(target, "the folder"),
            static_cast<tallyfy_name_conflict>(policy), &raw);
        detail::file_info_ptr info(raw);
        call.finish(status);
        return detail::to_file_info(info.get());
    }

    /**
     * Returns the file's bytes. download_options::max_size caps the memory
     * used; the bytes are copied once from the library's buffer.
     */
    downloaded<std::vector<std::uint8_t>> download_bytes(const std::string &file_id,
                                                         const download_options &options = download_options()) const {
        return download_to_memory<std::vector<std::uint8_t>>(file_id, options);
    }

    /// Returns the file's bytes in a std::string, as download_bytes() does.
    downloaded<std::string> download_string(const std::string &file_id,
                                            const download_options &options = download_options()) const {
        return download_to_memory<std::string>(file_id, options);
    }

    /**
     * Passes the body to `write` block by block, in order. Blocks already
     * passed stay passed when the download fails later.
     */
    file_info download_to_callback(const std::string &file_id, const write_function &write,
                                   const download_options &options = download_options()) const {
        if (!write) {
            throw error(TALLYFY_INVALID_ARGUMENT, "tallyfy: the write function is empty");
        }
        detail::download_call call(options);
        call.state().write = &write;
        tallyfy_file_info *raw = nullptr;
        const tallyfy_status status = tallyfy_download_to_callback(
            handle_, detail::c_text(file_id, "the file ID"), call.options(), tallyfy_cpp_write, &call.state(), &raw);
        detail::file_info_ptr info(raw);
        call.finish(status);
        return detail::to_file_info(info.get());
    }

private:
    template <typename Bytes>
    downloaded<Bytes> download_to_memory(const std::string &file_id, const download_options &options) const {
        detail::download_call call(options);
        std::uint8_t *data = nullptr;
        std::size_t len = 0;
        tallyfy_file_info *raw = nullptr;
        const tallyfy_status status =
            tallyfy_download_to_memory(handle_, detail::c_text(file_id, "the file ID"), call.options(),
                                       options.max_size.value_or(UINT64_MAX), &data, &len, &raw);
        std::unique_ptr<std::uint8_t, detail::free_data> owned(data);
        detail::file_info_ptr info(raw);
        call.finish(status);

        downloaded<Bytes> result;
        result.data.assign(data, data + len);
        result.info = detail::to_file_info(info.get());
        return result;
    }

    tallyfy_client *handle_ = nullptr;
};

/**
 * Sets the function that receives the library's log records, or removes it
 * when `function` is empty. Global to the process; thread-safe.
 *
 * When this returns, the previous function is no longer called. The
 * function runs on downloading threads, several at once, so it must be
 * thread-safe; an exception it throws is dropped with its record. Throws
 * tallyfy::error with TALLYFY_LOGGER_UNAVAILABLE when a Rust logger is
 * installed in the process already.
 */
inline void set_log_function(log_function function) {
    detail::log_registry &registry = detail::log_registry::instance();
    std::lock_guard<std::mutex> lock(registry.mutex);

    std::unique_ptr<log_function> next;
    if (function) {
        next = std::make_unique<log_function>(std::move(function));
    }
    detail::check(tallyfy_set_log_callback(next ? tallyfy_cpp_log : nullptr, next.get()));

    // The C library no longer calls the previous function, so it may go.
    registry.current = std::move(next);
}

/// Sets the most verbose level passed to the log function (default log_level::info).
inline void set_log_level(log_level level) { detail::check(tallyfy_set_log_level(static_cast<tallyfy_log_level>(level))); }

} // namespace tallyfy

#endif // TALLYFY_FILES_HPP
