// memory: download one Tallyfy file into memory from C++17, with each
// library object owned by a std::unique_ptr, and write the bytes to stdout.
//
//     memory FILE_ID > file
//
// Reads TALLYFY_ACCESS_TOKEN, TALLYFY_ORG_ID and optionally TALLYFY_BASE_URL
// from the environment. Prints the file name, type and size on stderr.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tallyfy_files.h"

namespace {

// Deleters that hand each object back to its own free function.
struct ClientOptionsFree {
    void operator()(tallyfy_client_options *options) const { tallyfy_client_options_free(options); }
};
struct ClientFree {
    void operator()(tallyfy_client *client) const { tallyfy_client_free(client); }
};
struct InfoFree {
    void operator()(tallyfy_file_info *info) const { tallyfy_file_info_free(info); }
};
struct DataFree {
    void operator()(uint8_t *data) const { tallyfy_data_free(data); }
};

using ClientOptions = std::unique_ptr<tallyfy_client_options, ClientOptionsFree>;
using Client = std::unique_ptr<tallyfy_client, ClientFree>;
using Info = std::unique_ptr<tallyfy_file_info, InfoFree>;
using Data = std::unique_ptr<uint8_t, DataFree>;

// The library's failure as an exception, with its status and message.
class Failure : public std::runtime_error {
  public:
    explicit Failure(tallyfy_status status)
        : std::runtime_error(tallyfy_last_error_message()), status_(status) {}

    tallyfy_status status() const { return status_; }

  private:
    tallyfy_status status_;
};

void check(tallyfy_status status) {
    if (status != TALLYFY_OK) {
        throw Failure(status);
    }
}

std::string environment(const char *name) {
    const char *value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

Client make_client() {
    tallyfy_client_options *raw_options = nullptr;
    check(tallyfy_client_options_new(&raw_options));
    ClientOptions options(raw_options);

    check(tallyfy_client_options_set_token(options.get(), environment("TALLYFY_ACCESS_TOKEN").c_str()));
    check(tallyfy_client_options_set_org_id(options.get(), environment("TALLYFY_ORG_ID").c_str()));
    const std::string base_url = environment("TALLYFY_BASE_URL");
    if (!base_url.empty()) {
        check(tallyfy_client_options_set_base_url(options.get(), base_url.c_str()));
    }

    tallyfy_client *raw_client = nullptr;
    check(tallyfy_client_new(options.get(), &raw_client));
    return Client(raw_client);
}

std::string_view text_or(const char *text, std::string_view fallback) {
    return text == nullptr ? fallback : std::string_view(text);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: memory FILE_ID > file\n";
        return 2;
    }

    try {
        const Client client = make_client();

        uint8_t *raw_data = nullptr;
        std::size_t len = 0;
        tallyfy_file_info *raw_info = nullptr;
        check(tallyfy_download_to_memory(client.get(), argv[1], nullptr, UINT64_MAX, &raw_data, &len,
                                         &raw_info));
        const Data data(raw_data);
        const Info info(raw_info);

        std::fwrite(data.get(), 1, len, stdout);
        std::cerr << "memory: " << info->file_name << " ("
                  << text_or(info->content_type, "no content type") << "), " << info->size
                  << " bytes, HTTP " << info->http_status << ", library " << tallyfy_version() << "\n";
        return 0;
    } catch (const Failure &failure) {
        std::cerr << "memory: " << failure.what() << "\n";
        return 1;
    }
}
