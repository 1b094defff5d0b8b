// A C++17 program that uses an installed tallyfy_files through the wrapper
// tallyfy_files.hpp. tests/install.rs builds it with CMake and runs it
// against a server on 127.0.0.1.
//
// Usage: consumer-cpp FILE_ID OUTPUT_PATH, with the settings of consumer.c.

#include <cstdlib>
#include <iostream>

#include <tallyfy_files.hpp>

static std::string setting(const char *name) {
    const char *value = std::getenv(name);
    if (value == nullptr) {
        std::cerr << "consumer-cpp: " << name << " is not set\n";
        std::exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: consumer-cpp FILE_ID OUTPUT_PATH\n";
        return 2;
    }

    try {
        tallyfy::client_options options;
        options.token = setting("TALLYFY_ACCESS_TOKEN");
        options.org_id = setting("TALLYFY_ORG_ID");
        options.base_url = setting("TALLYFY_BASE_URL");
        const tallyfy::client client(options);

        const tallyfy::file_info info = client.download_to_path(argv[1], argv[2]);
        std::cout << "saved " << info.size << " bytes with tallyfy_files " << tallyfy::version() << "\n";
        return 0;
    } catch (const tallyfy::error &e) {
        std::cerr << "consumer-cpp: " << e.what() << "\n";
        return 1;
    }
}
