// benchmarks/bench_sealed_file.cpp: backend::sealed_file (presets::embedded) against the bare work it
// cannot avoid. Every baseline is measured in the same run, on a real disk.
//
//   sealed_get_cached   get on a 50-token store, change check included; baseline one lstat of the file
//                       plus a bare unordered_map find that returns the same result type (a token copy,
//                       as bench_memory_store's baseline). Target ratio <= 1.5.
//   sealed_put_50       durable put (replacing one of the tokens) into a 50-token store; baseline a bare
//                       durable atomic write (temp, write, fsync, rename, fsync dir) of as many bytes as
//                       the store writes, in the same directory. Medians of 41 interleaved single runs
//                       each (the order alternates). Target <= 1.3.
//   keyring_reads_50    keyring reads during one fresh store instance's first get of each of 50 ids
//                       (keyring::memory's own call counter; the keyring::file store's
//                       diagnostics::counters figure must agree, the larger is reported). Must be 1.
//   sealed_cold_get_50  the first get of a fresh store instance over the 50-token file; baseline the bare
//                       irreducible work: keyring::file open + one item read (the passphrase read and
//                       key derivation are part of a keyring::file read), one read of the sealed file, one
//                       crypto_aead_xchacha20poly1305_ietf_decrypt, one nlohmann::json::parse of the
//                       bundle. Medians of 101 interleaved single runs. Target <= 1.2. `_secret_service`: the
//                       same with keyring::secret_service (printed only when a Secret Service answers: run
//                       under tests/integration/run_with_keyring.sh).
//   sealed_put_1000,    as sealed_put_50 with 1000 / 10000 tokens, 31 runs each (the store file is sealed
//   sealed_put_10000    directly with the library's format functions, not by 10000 puts). Aim <= 1.5.
//   multiprocess_puts   8 forked processes x 100 puts on distinct ids into one store; value = tokens
//                       present afterwards (must be 800).
//   multiprocess_put_throughput  puts/s of that run against one process doing the same 800 bare durable
//                       writes serially (sizes growing as the bundle does), measured before and after
//                       the run and averaged. Aim >= 0.8.
//
// Scratch files go to $TMPDIR unless it is tmpfs, else /var/tmp; they are removed at exit.
// TVBENCH_ONLY=name[,name...] runs only the named benchmarks (for profiling).
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tokenvault/tokenvault.hpp>
#if TOKENVAULT_HAVE_SECRET_SERVICE
#include <tokenvault/keyring/secret_service.hpp>
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "../tests/support/forked.hpp"
#include "bench_common.hpp"
#include "bench_tokens.hpp"

namespace tv = tokenvault;

namespace {

using embedded = tv::presets::embedded;
/// The embedded store with counters, to count keyring reads (the bench numbers use the preset itself).
using embedded_counted =
    tv::token_store<tv::backend::sealed_file<tv::keyring::file>, tv::cipher::xchacha20poly1305,
                    tv::locking::process, tv::migration::none, tv::diagnostics::counters>;
/// A store whose key lives in keyring::memory, whose per-service control block counts every read call.
using memory_keyed =
    tv::token_store<tv::backend::sealed_file<tv::keyring::allow_volatile<tv::keyring::memory>>,
                    tv::cipher::xchacha20poly1305, tv::locking::process>;

constexpr int small_store = 50;

/// TVBENCH_ONLY=name[,name...] runs only the benchmarks whose names contain one of these (profiling).
bool enabled(const std::string& name) {
    const char* only = std::getenv("TVBENCH_ONLY");
    if (only == nullptr || *only == '\0') return true;
    std::string list = only;
    for (std::size_t start = 0; start <= list.size();) {
        const auto comma = std::min(list.find(',', start), list.size());
        const auto part = list.substr(start, comma - start);
        if (!part.empty() && name.find(part) != std::string::npos) return true;
        start = comma + 1;
    }
    return false;
}

/// The scratch directory of the run and the process that owns it (forked children must not remove it).
const std::filesystem::path* scratch_root = nullptr;
pid_t scratch_owner = 0;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "bench_sealed_file: %s\n", what.c_str());
    std::fflush(stderr);
    if (::getpid() != scratch_owner) ::_exit(1);
    if (scratch_root != nullptr) {
        std::error_code ignored;
        std::filesystem::remove_all(*scratch_root, ignored);
    }
    std::exit(1);
}

template <class R>
void check(const R& r, const std::string& what) {
    if (!r) fail(what + ": " + r.error().context + " (" + r.error().code.message() + ")");
}

using tvbench::make_token;

tv::credential_id make_id(int i) {
    auto id = tv::credential_id::parse("https://mcp" + std::to_string(i) + ".example.com/mcp");
    check(id, "credential_id::parse");
    return *id;
}

std::vector<tv::credential_id> make_ids(int n) {
    std::vector<tv::credential_id> ids;
    ids.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) ids.push_back(make_id(i));
    return ids;
}

tv::store_options options_in(const std::filesystem::path& dir, const std::string& app = "tvbench") {
    tv::store_options o;
    o.app_name = app;
    o.directory = dir;
    return o;
}

/// Writes a store file of `n` tokens directly (key into keyring::file, bundle sealed per docs/FORMAT.md),
/// as `n` durable puts would, without the O(n^2) bytes of writing it put by put.
void craft_store(const tv::store_options& options, int n) {
    auto keyring = tv::keyring::file::open(options.keyring());
    check(keyring, "keyring::file::open");
    if (!*keyring) fail("keyring::file unavailable");
    tv::detail::secure_buffer key(tv::cipher::xchacha20poly1305::key_size);
    randombytes_buf(key.data(), key.size());
    check((*keyring)->write(tv::backend::sealed_file<tv::keyring::file>::key_account, key.bytes()),
          "keyring write");
    auto key_id = tv::backend::sealed_key_fingerprint(key.bytes());
    check(key_id, "sealed_key_fingerprint");

    tv::bundle b;
    const auto now = tv::clock::now();
    for (int i = 0; i < n; ++i) {
        auto id = make_id(i);
        const auto hash = id.hash();
        b.entries.emplace(hash, tv::entry{std::move(id), make_token(i), static_cast<std::uint64_t>(i + 1),
                                          now, nlohmann::json::object()});
    }
    b.last_generation = static_cast<std::uint64_t>(n);
    auto plain = tv::serialize_bundle(b);
    check(plain, "serialize_bundle");
    using cipher = tv::cipher::xchacha20poly1305;
    auto header = tv::backend::encode_sealed_header(cipher::id, *key_id, tv::keyring::file::tier, 1);
    check(header, "encode_sealed_header");
    std::vector<std::byte> out(header->size() + cipher::nonce_size + plain->size() + cipher::tag_size);
    std::memcpy(out.data(), header->data(), header->size());
    randombytes_buf(out.data() + header->size(), cipher::nonce_size);
    check(
        cipher::seal(key.bytes(), std::span<const std::byte>(out.data() + header->size(), cipher::nonce_size),
                     std::span<const std::byte>(out.data(), header->size()), plain->bytes(),
                     std::span<std::byte>(out).subspan(header->size() + cipher::nonce_size)),
        "seal");
    check(tv::platform::write_file_atomically(options.resolved_directory() / options.file_name, out),
          "write_file_atomically");
}

// ---------------------------------------------------------------------------------------------------
void bench_get_cached(embedded& store, const std::vector<tv::credential_id>& ids) {
    std::unordered_map<std::string, tv::token> bare;
    for (int i = 0; i < small_store; ++i)
        bare.emplace(ids[static_cast<std::size_t>(i)].hash(), make_token(i));
    const auto path = store.backend().file_path();
    {
        auto r = store.get(ids[0]);
        check(r, "get");
        if (!*r) fail("get: token missing");
    }
    const auto subject = [&](int i) {
        auto r = store.get(ids[static_cast<std::size_t>(i % small_store)]);
        tvbench::keep(r);
    };
    const auto baseline = [&](int i) {
        struct stat st {};
        const int rc = ::lstat(path.c_str(), &st);
        tvbench::keep(st);
        const auto found = bare.find(ids[static_cast<std::size_t>(i % small_store)].hash());
        tv::result<std::optional<tv::token>> r = rc != 0 || found == bare.end()
                                                     ? std::optional<tv::token>{}
                                                     : std::optional<tv::token>{found->second};
        tvbench::keep(r);
    };
    const auto [value, base] = tvbench::interleaved(subject, baseline, 31, 5000);
    tvbench::report("sealed_get_cached", value, "ns", base);
}

/// Durable puts that replace one existing token of `store` against bare durable writes of the bytes the
/// store writes.
void bench_put(const char* name, embedded& store, const std::vector<tv::credential_id>& ids, int runs) {
    const auto dir = store.backend().file_path().parent_path();
    const auto file = store.backend().file_path();
    std::vector<tv::token> tokens;
    for (std::size_t i = 0; i < ids.size(); ++i) tokens.push_back(make_token(static_cast<int>(i)));
    std::size_t next = 0;
    const auto put = [&] {
        const std::size_t i = next++ % ids.size();
        check(store.put(ids[i], tokens[i]), std::string(name) + ": put");
    };
    put();  // warm: key cached, temp files swept, the size the loop writes
    std::vector<unsigned char> bytes(tvbench::file_size(file));
    randombytes_buf(bytes.data(), bytes.size());
    const auto baseline = [&] {
        if (!tvbench::durable_write(dir, "baseline.bin", bytes.data(), bytes.size())) fail("durable_write");
    };
    const auto [value, base] = tvbench::interleaved_once(put, baseline, runs);
    const auto final_size = static_cast<double>(tvbench::file_size(file));
    if (final_size > 1.01 * static_cast<double>(bytes.size()) ||
        final_size < 0.99 * static_cast<double>(bytes.size()))
        std::fprintf(stderr, "bench_sealed_file: %s: file size drifted (%zu vs %zu)\n", name,
                     tvbench::file_size(file), bytes.size());
    tvbench::report(name, value / 1000.0, "us", base / 1000.0);
}

// ---------------------------------------------------------------------------------------------------
void bench_keyring_reads(const tv::store_options& file_options, const std::vector<tv::credential_id>& ids,
                         const std::filesystem::path& scratch) {
    // keyring::memory: its control block counts every read call made by anyone.
    const auto memory_options = options_in(scratch / "reads", "tvbench-keyring-reads");
    {
        memory_keyed writer(memory_options);
        for (int i = 0; i < small_store; ++i)
            check(writer.put(ids[static_cast<std::size_t>(i)], make_token(i)), "keyring_reads: put");
    }
    const auto control = tv::keyring::memory::control_for(memory_options.app_name);
    const auto reads = [&] {
        const std::lock_guard lock(control->mutex);
        return control->reads;
    };
    const auto before = reads();
    {
        memory_keyed reader(memory_options);
        for (int i = 0; i < small_store; ++i) {
            auto r = reader.get(ids[static_cast<std::size_t>(i)]);
            check(r, "keyring_reads: get");
            if (!*r) fail("keyring_reads: token missing");
        }
    }
    const auto memory_reads = reads() - before;

    // keyring::file, the preset's keyring, counted by diagnostics::counters.
    embedded_counted counted(file_options);
    for (int i = 0; i < small_store; ++i) {
        auto r = counted.get(ids[static_cast<std::size_t>(i)]);
        check(r, "keyring_reads: get (keyring::file)");
        if (!*r) fail("keyring_reads: token missing (keyring::file)");
    }
    const auto file_reads = counted.diagnostics().read().keyring_reads;
    if (file_reads != memory_reads)
        std::fprintf(stderr, "bench_sealed_file: keyring_reads_50: keyring::memory %zu, keyring::file %llu\n",
                     memory_reads, static_cast<unsigned long long>(file_reads));
    const auto value = std::max<double>(static_cast<double>(memory_reads), static_cast<double>(file_reads));
    tvbench::report("keyring_reads_50", value, "reads", 1);
}

// ---------------------------------------------------------------------------------------------------
/// The bare read of a sealed file: whole file into ordinary memory, AEAD open with the header as
/// associated data, json::parse of the plaintext. Returns false when anything does not check out.
bool bare_open_and_parse(const std::filesystem::path& file, std::span<const std::byte> key) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        return false;
    }
    std::vector<unsigned char> bytes(static_cast<std::size_t>(st.st_size));
    std::size_t filled = 0;
    while (filled < bytes.size()) {
        const auto n = ::read(fd, bytes.data() + filled, bytes.size() - filled);
        if (n <= 0) break;
        filled += static_cast<std::size_t>(n);
    }
    ::close(fd);
    constexpr std::size_t nonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    constexpr std::size_t tag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (filled != bytes.size() || bytes.size() < 29) return false;
    const std::size_t header = 37 + bytes[28];  // docs/FORMAT.md: H = 37 + tier length
    if (bytes.size() < header + nonce + tag) return false;
    std::vector<unsigned char> plain(bytes.size() - header - nonce - tag);
    unsigned long long plain_size = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain.data(), &plain_size, nullptr, bytes.data() + header + nonce, bytes.size() - header - nonce,
            bytes.data(), header, bytes.data() + header,
            reinterpret_cast<const unsigned char*>(key.data())) != 0)
        return false;
    auto doc = nlohmann::json::parse(plain.begin(), plain.end(), nullptr, false);
    tvbench::keep(doc);
    return doc.is_object();
}

template <class Store, class Keyring>
void bench_cold_get(const char* name, const tv::store_options& options,
                    const std::vector<tv::credential_id>& ids, int runs) {
    const auto file = options.resolved_directory() / options.file_name;
    int next = 0;
    const auto subject = [&] {
        Store store(options);
        auto r = store.get(ids[static_cast<std::size_t>(next++ % small_store)]);
        check(r, std::string(name) + ": get");
        if (!*r) fail(std::string(name) + ": token missing");
    };
    const auto baseline = [&] {
        auto keyring = Keyring::open(options.keyring());
        if (!keyring || !*keyring) fail(std::string(name) + ": baseline keyring open");
        auto key = (*keyring)->read(tv::backend::sealed_file<Keyring>::key_account);
        if (!key || !*key) fail(std::string(name) + ": baseline keyring read");
        if (!bare_open_and_parse(file, (*key)->bytes())) fail(std::string(name) + ": baseline open");
    };
    subject();  // warm the page cache and the allocator on both sides
    baseline();
    const auto [value, base] = tvbench::interleaved_once(subject, baseline, runs);
    tvbench::report(name, value / 1000.0, "us", base / 1000.0);
}

#if TOKENVAULT_HAVE_SECRET_SERVICE
using secret_service_store = tv::token_store<tv::backend::sealed_file<tv::keyring::secret_service>,
                                             tv::cipher::xchacha20poly1305, tv::locking::process>;

void bench_cold_get_secret_service(const std::filesystem::path& scratch,
                                   const std::vector<tv::credential_id>& ids) {
    const char* env = std::getenv("TOKENVAULT_TEST_SECRET_SERVICE");
    const bool announced = env != nullptr && std::string(env) == "1";
    const auto options = options_in(scratch / "secret-service", "tvbench-" + std::to_string(::getpid()));
    auto probe = tv::keyring::secret_service::open(options.keyring());
    if (!probe || !*probe) {
        if (announced) fail("TOKENVAULT_TEST_SECRET_SERVICE=1 but keyring::secret_service::open failed");
        std::fprintf(stderr,
                     "bench_sealed_file: no Secret Service here: sealed_cold_get_50_secret_service skipped "
                     "(run under tests/integration/run_with_keyring.sh)\n");
        return;
    }
    {
        secret_service_store writer(options);
        for (int i = 0; i < small_store; ++i)
            check(writer.put(ids[static_cast<std::size_t>(i)], make_token(i)), "secret_service: put");
    }
    bench_cold_get<secret_service_store, tv::keyring::secret_service>("sealed_cold_get_50_secret_service",
                                                                      options, ids, 21);
    (void)(*probe)->erase(tv::backend::sealed_file<tv::keyring::secret_service>::key_account);
}
#endif

// ---------------------------------------------------------------------------------------------------
/// Nanoseconds for `count` bare durable writes in `dir`, sizes growing linearly from `first` to `last` bytes.
double serial_writes(const std::filesystem::path& dir, std::size_t first, std::size_t last, int count) {
    std::vector<unsigned char> bytes(std::max(first, last));
    randombytes_buf(bytes.data(), bytes.size());
    const double start = tvbench::now_ns();
    for (int k = 1; k <= count; ++k) {
        const std::size_t size =
            first + (last - first) * static_cast<std::size_t>(k) / static_cast<std::size_t>(count);
        if (!tvbench::durable_write(dir, "baseline.bin", bytes.data(), size)) fail("durable_write");
    }
    return tvbench::now_ns() - start;
}

void bench_multiprocess(const std::filesystem::path& scratch) {
    constexpr int processes = 8;
    constexpr int puts_each = 100;
    constexpr int total = processes * puts_each;
    const auto dir = scratch / "multiprocess";
    const auto options = options_in(dir);
    const auto file = dir / options.file_name;
    {  // the key and an empty file exist before the race: the figure is about puts, not first starts
        embedded store(options);
        const auto warm = make_id(-1);
        check(store.put(warm, make_token(0)), "multiprocess: warm put");
        check(store.erase(warm), "multiprocess: warm erase");
    }
    const std::size_t empty_size = tvbench::file_size(file);
    std::size_t expected_full_size = 0;  // the file the run will leave: the same 800 tokens, sealed
    {
        tv::bundle b;
        for (int i = 1000; i < 1000 + total; ++i) {
            auto id = make_id(i);
            const auto hash = id.hash();
            b.entries.emplace(hash, tv::entry{std::move(id), make_token(i), static_cast<std::uint64_t>(i),
                                              tv::clock::now(), nlohmann::json::object()});
        }
        auto text = tv::serialize_bundle(b);
        check(text, "serialize_bundle");
        auto empty = tv::serialize_bundle(tv::bundle{});
        check(empty, "serialize_bundle");
        expected_full_size = empty_size + text->size() - empty->size();
    }
    const double before = serial_writes(dir, empty_size, expected_full_size, total);

    int gate[2];
    if (::pipe(gate) != 0) fail("pipe");
    std::vector<tvtest::forked_child> children;
    children.reserve(processes);
    for (int p = 0; p < processes; ++p) {
        children.emplace_back([&, p] {
            ::close(gate[1]);
            char c = 0;
            while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
            }
            embedded store(options);
            for (int j = 0; j < puts_each; ++j) {
                const int i = 1000 + p * puts_each + j;
                if (!store.put(make_id(i), make_token(i))) return 1;
            }
            return 0;
        });
    }
    ::close(gate[0]);
    const double start = tvbench::now_ns();
    ::close(gate[1]);  // every child sees EOF at once
    int failed = 0;
    for (auto& child : children)
        if (child.wait(std::chrono::seconds(120)) != 0) ++failed;
    const double elapsed = tvbench::now_ns() - start;
    if (failed != 0) std::fprintf(stderr, "bench_sealed_file: multiprocess: %d children failed\n", failed);

    embedded reader(options);
    auto listed = reader.list();
    check(listed, "multiprocess: list");
    tvbench::report("multiprocess_puts", static_cast<double>(listed->size()), "tokens", total);

    // Baseline: one process doing the same 800 durable writes serially, sizes growing as the bundle did;
    // run once before the subject (with the expected final size) and once after it, and averaged, so
    // that a change of disk load during the run weighs on both sides.
    const double after = serial_writes(dir, empty_size, tvbench::file_size(file), total);
    const double base_elapsed = (before + after) / 2;
    tvbench::report("multiprocess_put_throughput", total / (elapsed / 1e9), "puts/s",
                    total / (base_elapsed / 1e9));
}

}  // namespace

int main() {
    if (sodium_init() < 0) fail("sodium_init");
    tvbench::scratch_dir scratch;
    scratch_root = &scratch.path;
    scratch_owner = ::getpid();
    const auto ids = make_ids(small_store);
    const auto options = options_in(scratch.path / "store50");
    {
        embedded store(options);
        for (int i = 0; i < small_store; ++i)
            check(store.put(ids[static_cast<std::size_t>(i)], make_token(i)), "put");
        if (enabled("sealed_get_cached")) bench_get_cached(store, ids);
        if (enabled("sealed_put_50")) bench_put("sealed_put_50", store, ids, 41);
    }
    if (enabled("keyring_reads_50")) bench_keyring_reads(options, ids, scratch.path);
    if (enabled("sealed_cold_get_50"))
        bench_cold_get<embedded, tv::keyring::file>("sealed_cold_get_50", options, ids, 101);
#if TOKENVAULT_HAVE_SECRET_SERVICE
    if (enabled("sealed_cold_get_50_secret_service")) bench_cold_get_secret_service(scratch.path, ids);
#endif
    for (const int n : {1000, 10000}) {
        const std::string name = "sealed_put_" + std::to_string(n);
        if (!enabled(name)) continue;
        const auto big = options_in(scratch.path / ("store" + std::to_string(n)));
        craft_store(big, n);
        embedded store(big);
        // Puts replace existing tokens (ids 0..49), so the file keeps its size.
        bench_put(name.c_str(), store, make_ids(small_store), 31);
    }
    if (enabled("multiprocess")) bench_multiprocess(scratch.path);
    return 0;
}
