// tests/support/fake_keychain.hpp: a fake macOS keychain behind keyring::keychain::keychain_api, for Linux.
//
// It models what Apple documents of SecItem on the file-based keychain: generic-password items named by
// service + account; errSecDuplicateItem on a second SecItemAdd, errSecItemNotFound on a miss; a per-item
// access list, so that reading an item's data from a program not on the list shows a dialog (counted) whose
// answer comes from that program's settings ("Always Allow" adds it to the list; "Allow" does not; "Deny" is
// errSecUserCanceled; a wrong password errSecAuthFailed; no dialog possible errSecInteractionNotAllowed); a
// rewrite (SecItemUpdate, or delete + add) resets the list to the writer; a locked keychain asks to be
// unlocked first. The data protection keychain has no access lists but needs entitlements
// (errSecMissingEntitlement). A program is an "identity": each process sets its own, and processes share
// one keychain through a state file guarded by flock. A CoreFoundation stand-in counts live objects and
// records misuse (releasing a freed or constant object), so the keyring's ownership rules are checked too.
// Stricter than Apple where Apple's documentation is silent: an unknown query key is errSecParam.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tokenvault/keyring/macos_keychain_api.hpp>

namespace tvtest::fake_keychain {

namespace kc = tokenvault::keyring::keychain;

/// How the user answers a keychain dialog shown to this process.
enum class answer {
    always_allow,    ///< "Always Allow": the program joins the item's access list
    allow_once,      ///< "Allow": this read only
    deny,            ///< "Deny": errSecUserCanceled
    wrong_password,  ///< the keychain password is refused: errSecAuthFailed
    no_dialog,       ///< no dialog can be shown (ssh session): errSecInteractionNotAllowed, not counted
};

/// One keychain item.
struct item {
    bool data_protection = false;      ///< in the data protection keychain
    std::string access_group;          ///< data protection keychain only
    std::string service;               ///< kSecAttrService
    std::string account;               ///< kSecAttrAccount
    std::string label;                 ///< kSecAttrLabel
    std::string accessible;            ///< kSecAttrAccessible ("" when not given)
    std::vector<std::byte> data;       ///< kSecValueData
    std::vector<std::string> trusted;  ///< the access list (file-based keychain): identities
};

/// What happened, over every process sharing the keychain.
struct counters {
    std::uint64_t prompts = 0;                        ///< dialogs shown
    std::map<std::string, std::uint64_t> prompts_by;  ///< dialogs shown per identity
    std::uint64_t adds = 0;                           ///< items created
    std::uint64_t deletes = 0;                        ///< SecItemDelete calls that deleted something
    std::uint64_t updates = 0;                        ///< SecItemUpdate calls (the fake's update())
    std::uint64_t data_reads = 0;                     ///< reads of an item's data that succeeded
    std::uint64_t calls = 0;                          ///< every Security call
};

/// The whole keychain.
struct state {
    std::vector<item> items;
    bool locked = false;
    counters counts;
};

// ---------------------------------------------------------------------------------------------------
// CoreFoundation stand-in

/// A CoreFoundation object of the fake.
struct cf_object {
    kc::cf_kind kind = kc::cf_kind::other;
    bool immortal = false;  // constants
    int refs = 1;
    std::string text;                     // string
    std::vector<std::byte> owned;         // data made by the fake
    const std::byte* borrowed = nullptr;  // data made by create_data: references the caller's bytes
    std::size_t borrowed_size = 0;
    std::vector<std::pair<cf_object*, cf_object*>> entries;  // dictionary: retained key, value
    std::vector<cf_object*> elements;                        // array: retained

    [[nodiscard]] std::span<const std::byte> bytes() const {
        if (borrowed != nullptr) return {borrowed, borrowed_size};
        return owned;
    }
};

inline constexpr std::size_t constant_count = 16;

/// The objects alive, the misuse seen, and the constants. Never freed: workers may outlive a test.
struct cf_world {
    std::mutex mutex;
    std::set<const cf_object*> live;
    std::vector<std::string> misuse;
    std::array<cf_object*, constant_count> constants{};

    cf_world() {
        static constexpr std::array<std::string_view, constant_count> names{
            "class",  "genp",   "svce",         "acct",    "labl",       "agrp",       "pdmn", "ck",
            "v_Data", "r_Data", "r_Attributes", "m_Limit", "m_LimitOne", "m_LimitAll", "nleg", "true"};
        for (std::size_t i = 0; i < constant_count; ++i) {
            auto* c = new cf_object;
            c->kind = i + 1 == constant_count ? kc::cf_kind::other : kc::cf_kind::string;
            c->immortal = true;
            c->text = std::string(names[i]);
            constants[i] = c;
        }
    }
};

inline cf_world& world() {
    static auto* w = new cf_world;
    return *w;
}

inline cf_object* constant_object(kc::cf_constant which) {
    return world().constants[static_cast<std::size_t>(which)];
}

/// `ref` as an object the caller may use (alive or a constant); records misuse otherwise. Lock held.
inline cf_object* usable(kc::cf_ref ref, std::string_view call) {
    auto& w = world();
    auto* object = static_cast<cf_object*>(const_cast<void*>(ref));
    if (ref == nullptr) {
        w.misuse.push_back(std::string(call) + ": NULL object");
        return nullptr;
    }
    if (w.live.count(object) != 0) return object;
    for (auto* c : w.constants)
        if (c == object) return object;
    w.misuse.push_back(std::string(call) + ": an object that is not alive (released already?)");
    return nullptr;
}

inline cf_object* make_object(kc::cf_kind kind) {
    auto* object = new cf_object;
    object->kind = kind;
    world().live.insert(object);
    return object;
}

inline void retain_locked(cf_object* object) {
    if (!object->immortal) ++object->refs;
}

inline void release_locked(cf_object* object) {
    if (object->immortal) return;
    if (--object->refs > 0) return;
    for (auto& [k, v] : object->entries) {
        release_locked(k);
        release_locked(v);
    }
    for (auto* e : object->elements) release_locked(e);
    std::fill(object->owned.begin(), object->owned.end(), std::byte{0});
    world().live.erase(object);
    delete object;
}

inline bool same_key(const cf_object* a, const cf_object* b) {
    return a == b || (a->kind == kc::cf_kind::string && b->kind == kc::cf_kind::string && a->text == b->text);
}

/// Whether `s` is well-formed UTF-8 in structure (lead and continuation bytes), as CFString requires.
inline bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t more = 0;
        if (c < 0x80)
            more = 0;
        else if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef)
            more = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            more = 3;
        else
            return false;
        if (s.size() - i <= more) return false;
        for (std::size_t k = 1; k <= more; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
        i += more + 1;
    }
    return true;
}

namespace cf {

inline kc::cf_ref constant(kc::cf_constant which) { return constant_object(which); }

inline kc::cf_ref create_dictionary() {
    const std::lock_guard lock(world().mutex);
    return make_object(kc::cf_kind::dictionary);
}

inline void dictionary_set(kc::cf_ref dictionary, kc::cf_ref key, kc::cf_ref value) {
    const std::lock_guard lock(world().mutex);
    auto* d = usable(dictionary, "CFDictionarySetValue");
    auto* k = usable(key, "CFDictionarySetValue (key)");
    auto* v = usable(value, "CFDictionarySetValue (value)");
    if (d == nullptr || k == nullptr || v == nullptr) return;
    if (d->kind != kc::cf_kind::dictionary) {
        world().misuse.push_back("CFDictionarySetValue: not a dictionary");
        return;
    }
    retain_locked(k);
    retain_locked(v);
    for (auto& entry : d->entries) {
        if (same_key(entry.first, k)) {
            release_locked(entry.first);
            release_locked(entry.second);
            entry = {k, v};
            return;
        }
    }
    d->entries.emplace_back(k, v);
}

inline kc::cf_ref dictionary_get(kc::cf_ref dictionary, kc::cf_ref key) {
    const std::lock_guard lock(world().mutex);
    auto* d = usable(dictionary, "CFDictionaryGetValue");
    auto* k = usable(key, "CFDictionaryGetValue (key)");
    if (d == nullptr || k == nullptr || d->kind != kc::cf_kind::dictionary) return nullptr;
    for (auto& [ek, ev] : d->entries)
        if (same_key(ek, k)) return ev;
    return nullptr;
}

inline kc::cf_ref create_string(const char* utf8, kc::cf_size size) {
    const std::string_view text(utf8, static_cast<std::size_t>(size));
    if (!valid_utf8(text)) return nullptr;
    const std::lock_guard lock(world().mutex);
    auto* s = make_object(kc::cf_kind::string);
    s->text = std::string(text);
    return s;
}

inline kc::cf_ref create_data(const std::byte* bytes, kc::cf_size size) {
    const std::lock_guard lock(world().mutex);
    auto* d = make_object(kc::cf_kind::data);
    d->borrowed = bytes;  // no copy, as CFDataCreateWithBytesNoCopy: read when used
    d->borrowed_size = static_cast<std::size_t>(size);
    return d;
}

inline kc::cf_kind kind_of(kc::cf_ref object) {
    const std::lock_guard lock(world().mutex);
    auto* o = usable(object, "CFGetTypeID");
    return o == nullptr ? kc::cf_kind::other : o->kind;
}

inline kc::cf_size data_size(kc::cf_ref data) {
    const std::lock_guard lock(world().mutex);
    auto* d = usable(data, "CFDataGetLength");
    return d == nullptr ? 0 : static_cast<kc::cf_size>(d->bytes().size());
}

inline const std::byte* data_bytes(kc::cf_ref data) {
    const std::lock_guard lock(world().mutex);
    auto* d = usable(data, "CFDataGetBytePtr");
    return d == nullptr ? nullptr : d->bytes().data();
}

inline kc::cf_size string_utf8_capacity(kc::cf_ref string) {
    const std::lock_guard lock(world().mutex);
    auto* s = usable(string, "CFStringGetMaximumSizeForEncoding");
    return s == nullptr ? 0 : static_cast<kc::cf_size>(s->text.size() * 3 + 1);
}

inline bool string_utf8(kc::cf_ref string, char* buffer, kc::cf_size capacity) {
    const std::lock_guard lock(world().mutex);
    auto* s = usable(string, "CFStringGetCString");
    if (s == nullptr || capacity < 0 || s->text.size() + 1 > static_cast<std::size_t>(capacity)) return false;
    std::memcpy(buffer, s->text.c_str(), s->text.size() + 1);
    return true;
}

inline kc::cf_size array_count(kc::cf_ref array) {
    const std::lock_guard lock(world().mutex);
    auto* a = usable(array, "CFArrayGetCount");
    return a == nullptr ? 0 : static_cast<kc::cf_size>(a->elements.size());
}

inline kc::cf_ref array_at(kc::cf_ref array, kc::cf_size index) {
    const std::lock_guard lock(world().mutex);
    auto* a = usable(array, "CFArrayGetValueAtIndex");
    if (a == nullptr || index < 0 || static_cast<std::size_t>(index) >= a->elements.size()) return nullptr;
    return a->elements[static_cast<std::size_t>(index)];
}

inline void release(kc::cf_ref object) {
    const std::lock_guard lock(world().mutex);
    auto* o = usable(object, "CFRelease");
    if (o == nullptr) return;
    if (o->immortal) {
        world().misuse.push_back("CFRelease: a constant (" + o->text + ") released");
        return;
    }
    release_locked(o);
}

}  // namespace cf

// ---------------------------------------------------------------------------------------------------
// The keychain

/// This process's program and how its user answers (not shared with other processes).
struct settings {
    std::string identity = "tvtest";
    answer on_dialog = answer::always_allow;
    std::vector<std::string> entitlements;        ///< keychain-access-groups (data protection keychain)
    std::map<std::string, kc::os_status> forced;  ///< "copy_matching" / "add" / "remove" -> answer
    bool held = false;                            ///< calls wait until released
    int waiting_in_hold = 0;
};

struct process_side {
    std::mutex mutex;
    std::condition_variable changed;
    settings now;
    std::filesystem::path state_file;  ///< "" keeps the state in this process's memory
    state memory;
};

inline process_side& local() {
    static auto* p = new process_side;
    return *p;
}

/// The state file's format: length-prefixed fields, written and read whole on every call (cheap enough to
/// keep the shared keychain honest without a daemon).
class state_codec {
public:
    static std::string encode(const state& s) {
        std::string out;
        put(out, s.locked ? 1 : 0);
        put(out, s.items.size());
        for (const auto& it : s.items) {
            put(out, it.data_protection ? 1 : 0);
            for (const auto* text : {&it.access_group, &it.service, &it.account, &it.label, &it.accessible})
                put(out, *text);
            put(out, std::string_view(reinterpret_cast<const char*>(it.data.data()), it.data.size()));
            put(out, it.trusted.size());
            for (const auto& who : it.trusted) put(out, who);
        }
        const auto& c = s.counts;
        for (const auto n : {c.prompts, c.adds, c.deletes, c.updates, c.data_reads, c.calls}) put(out, n);
        put(out, c.prompts_by.size());
        for (const auto& [who, n] : c.prompts_by) {
            put(out, who);
            put(out, n);
        }
        return out;
    }

    static state decode(std::string_view in) {
        state s;
        s.locked = take(in) != 0;
        for (auto n = take(in); n > 0; --n) {
            item it;
            it.data_protection = take(in) != 0;
            for (auto* text : {&it.access_group, &it.service, &it.account, &it.label, &it.accessible})
                *text = take_text(in);
            const std::string data = take_text(in);
            const auto* p = reinterpret_cast<const std::byte*>(data.data());
            it.data.assign(p, p + data.size());
            for (auto k = take(in); k > 0; --k) it.trusted.push_back(take_text(in));
            s.items.push_back(std::move(it));
        }
        auto& c = s.counts;
        for (auto* n : {&c.prompts, &c.adds, &c.deletes, &c.updates, &c.data_reads, &c.calls}) *n = take(in);
        for (auto k = take(in); k > 0; --k) {
            std::string who = take_text(in);
            c.prompts_by[who] = take(in);
        }
        return s;
    }

private:
    static void put(std::string& out, std::uint64_t n) {
        out.append(reinterpret_cast<const char*>(&n), sizeof n);
    }
    static void put(std::string& out, std::string_view text) {
        put(out, text.size());
        out.append(text);
    }
    static std::uint64_t take(std::string_view& in) {
        std::uint64_t n = 0;
        if (in.size() < sizeof n) throw std::runtime_error("fake keychain: truncated state file");
        std::memcpy(&n, in.data(), sizeof n);
        in.remove_prefix(sizeof n);
        return n;
    }
    static std::string take_text(std::string_view& in) {
        const auto size = take(in);
        if (in.size() < size) throw std::runtime_error("fake keychain: truncated state file");
        std::string text(in.substr(0, size));
        in.remove_prefix(size);
        return text;
    }
};

/// Runs `fn(state&)` on the keychain: this process's memory, or the shared file under an exclusive flock.
template <class Fn>
auto with_state(Fn fn) {
    auto& p = local();
    std::filesystem::path file;
    {
        const std::lock_guard lock(p.mutex);
        file = p.state_file;
    }
    if (file.empty()) {
        const std::lock_guard lock(p.mutex);
        return fn(p.memory);
    }
    const std::string lock_path = file.string() + ".lock";
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("fake keychain: cannot open " + lock_path);
    while (::flock(fd, LOCK_EX) != 0) {
    }
    struct unlock_at_exit {
        int fd;
        ~unlock_at_exit() { ::close(fd); }
    } unlock{fd};
    state s;
    if (std::ifstream in(file, std::ios::binary); in) {
        const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (!text.empty()) s = state_codec::decode(text);
    }
    auto out = fn(s);
    const std::string temp = file.string() + ".tmp";
    {
        std::ofstream o(temp, std::ios::binary | std::ios::trunc);
        o << state_codec::encode(s);
    }
    std::filesystem::rename(temp, file);
    return out;
}

/// Blocks while calls are held (hold_calls); counts who waits.
inline void gate() {
    auto& p = local();
    std::unique_lock lock(p.mutex);
    if (!p.now.held) return;
    ++p.now.waiting_in_hold;
    p.changed.notify_all();
    p.changed.wait(lock, [&] { return !p.now.held; });
    --p.now.waiting_in_hold;
}

inline settings current_settings() {
    auto& p = local();
    const std::lock_guard lock(p.mutex);
    return p.now;
}

/// A query or attribute dictionary as the fake understands it.
struct parsed {
    std::string problem;  ///< non-empty: errSecParam
    bool generic_password = false;
    std::optional<std::string> service, account, label, access_group, accessible;
    std::optional<std::vector<std::byte>> value;
    bool data_protection = false;
    bool return_data = false;
    bool return_attributes = false;
    std::optional<std::string> limit;
};

inline parsed parse(kc::cf_ref dictionary) {
    parsed q;
    const std::lock_guard lock(world().mutex);
    auto* d = usable(dictionary, "SecItem (query)");
    if (d == nullptr || d->kind != kc::cf_kind::dictionary) {
        q.problem = "the query is not a dictionary";
        return q;
    }
    const auto is = [](const cf_object* o, kc::cf_constant c) { return same_key(o, constant_object(c)); };
    const auto text = [&](const cf_object* v, std::optional<std::string>& into, std::string_view what) {
        if (v->kind != kc::cf_kind::string)
            q.problem = std::string(what) + " is not a string";
        else
            into = v->text;
    };
    const auto flag = [&](const cf_object* v, bool& into, std::string_view what) {
        if (v != constant_object(kc::cf_constant::boolean_true))
            q.problem = std::string(what) + " is not kCFBooleanTrue";
        else
            into = true;
    };
    for (const auto& [k, v] : d->entries) {
        using c = kc::cf_constant;
        if (is(k, c::sec_class)) {
            if (v == constant_object(c::class_generic_password))
                q.generic_password = true;
            else
                q.problem = "kSecClass: only generic passwords are modelled";
        } else if (is(k, c::attr_service)) {
            text(v, q.service, "kSecAttrService");
        } else if (is(k, c::attr_account)) {
            text(v, q.account, "kSecAttrAccount");
        } else if (is(k, c::attr_label)) {
            text(v, q.label, "kSecAttrLabel");
        } else if (is(k, c::attr_access_group)) {
            text(v, q.access_group, "kSecAttrAccessGroup");
        } else if (is(k, c::attr_accessible)) {
            if (v != constant_object(c::accessible_after_first_unlock))
                q.problem = "kSecAttrAccessible: unknown value";
            else
                q.accessible = v->text;
        } else if (is(k, c::value_data)) {
            if (v->kind != kc::cf_kind::data)
                q.problem = "kSecValueData is not data";
            else
                q.value = std::vector<std::byte>(v->bytes().begin(), v->bytes().end());
        } else if (is(k, c::return_data)) {
            flag(v, q.return_data, "kSecReturnData");
        } else if (is(k, c::return_attributes)) {
            flag(v, q.return_attributes, "kSecReturnAttributes");
        } else if (is(k, c::use_data_protection_keychain)) {
            flag(v, q.data_protection, "kSecUseDataProtectionKeychain");
        } else if (is(k, c::match_limit)) {
            if (v == constant_object(c::match_limit_one))
                q.limit = "one";
            else if (v == constant_object(c::match_limit_all))
                q.limit = "all";
            else
                q.problem = "kSecMatchLimit: unknown value";
        } else {
            q.problem = "unknown key " + k->text;
        }
    }
    if (q.problem.empty() && !q.generic_password) q.problem = "no kSecClass";
    return q;
}

/// Shows a dialog to this process (an item's access, or an unlock when `for_item` is nullptr).
inline kc::os_status ask(state& s, const settings& me, item* for_item) {
    if (me.on_dialog == answer::no_dialog) return kc::status::interaction_not_allowed;
    ++s.counts.prompts;
    ++s.counts.prompts_by[me.identity];
    switch (me.on_dialog) {
    case answer::always_allow:
        if (for_item != nullptr) for_item->trusted.push_back(me.identity);
        return kc::status::success;
    case answer::allow_once: return kc::status::success;
    case answer::deny: return kc::status::user_canceled;
    case answer::wrong_password: return kc::status::auth_failed;
    case answer::no_dialog: break;
    }
    return kc::status::interaction_not_allowed;
}

/// Which keychain a query addresses, and whether this program may: errSecSuccess or the refusal.
inline kc::os_status admit(state& s, const settings& me, const parsed& q) {
    if (q.data_protection) {
        if (me.entitlements.empty()) return kc::status::missing_entitlement;
        if (q.access_group && std::find(me.entitlements.begin(), me.entitlements.end(), *q.access_group) ==
                                  me.entitlements.end())
            return kc::status::missing_entitlement;
        return kc::status::success;
    }
    // Apple: kSecAttrAccessible and kSecAttrAccessGroup apply to the data protection keychain only.
    if (q.access_group || q.accessible) return kc::status::param;
    if (s.locked) {
        const auto unlocked = ask(s, me, nullptr);
        if (unlocked != kc::status::success) return unlocked;
        s.locked = false;
    }
    return kc::status::success;
}

inline bool matches(const item& it, const settings& me, const parsed& q) {
    if (it.data_protection != q.data_protection) return false;
    if (q.service && it.service != *q.service) return false;
    if (q.account && it.account != *q.account) return false;
    if (q.data_protection) {
        if (q.access_group) return it.access_group == *q.access_group;
        return std::find(me.entitlements.begin(), me.entitlements.end(), it.access_group) !=
               me.entitlements.end();
    }
    return true;
}

inline bool trusts(const item& it, const std::string& identity) {
    return std::find(it.trusted.begin(), it.trusted.end(), identity) != it.trusted.end();
}

/// A result object (data, attributes, or attributes + data) for one item.
inline cf_object* result_for(const item& it, const parsed& q) {
    const std::lock_guard lock(world().mutex);
    const auto string_of = [](const std::string& text) {
        auto* s = make_object(kc::cf_kind::string);
        s->text = text;
        return s;
    };
    const auto data_of = [&]() {
        auto* d = make_object(kc::cf_kind::data);
        d->owned = it.data;
        return d;
    };
    if (!q.return_attributes) return data_of();
    auto* d = make_object(kc::cf_kind::dictionary);
    const auto put = [&](kc::cf_constant key, cf_object* value) {
        d->entries.emplace_back(constant_object(key), value);
    };
    put(kc::cf_constant::attr_service, string_of(it.service));
    put(kc::cf_constant::attr_account, string_of(it.account));
    put(kc::cf_constant::attr_label, string_of(it.label));
    if (it.data_protection) put(kc::cf_constant::attr_access_group, string_of(it.access_group));
    if (q.return_data) put(kc::cf_constant::value_data, data_of());
    return d;
}

inline kc::os_status forced(const settings& me, const std::string& call) {
    auto found = me.forced.find(call);
    return found == me.forced.end() ? kc::status::success : found->second;
}

namespace security {

inline kc::os_status copy_matching(kc::cf_ref query, kc::cf_ref* result) {
    gate();
    const settings me = current_settings();
    if (result == nullptr) return kc::status::param;  // every query of the keyring asks for a result
    *result = nullptr;
    const parsed q = parse(query);
    return with_state([&](state& s) -> kc::os_status {
        ++s.counts.calls;
        if (!q.problem.empty() || q.value) return kc::status::param;
        if (auto f = forced(me, "copy_matching"); f != kc::status::success) return f;
        if (q.return_data && q.limit == "all") return kc::status::param;  // not on macOS
        if (auto admitted = admit(s, me, q); admitted != kc::status::success) return admitted;
        std::vector<item*> found;
        for (auto& it : s.items)
            if (matches(it, me, q)) found.push_back(&it);
        if (found.empty()) return kc::status::item_not_found;
        if (q.return_data) {
            item& it = *found.front();
            if (!it.data_protection && !trusts(it, me.identity)) {
                if (auto allowed = ask(s, me, &it); allowed != kc::status::success) return allowed;
            }
            ++s.counts.data_reads;
        }
        if (!q.return_data && !q.return_attributes) return kc::status::success;
        if (q.limit == "all") {
            std::vector<cf_object*> each;
            for (auto* it : found) each.push_back(result_for(*it, q));
            const std::lock_guard lock(world().mutex);
            auto* array = make_object(kc::cf_kind::array);
            array->elements = std::move(each);
            *result = array;
        } else {
            *result = result_for(*found.front(), q);
        }
        return kc::status::success;
    });
}

inline kc::os_status add(kc::cf_ref attributes, kc::cf_ref* result) {
    gate();
    const settings me = current_settings();
    if (result != nullptr) return kc::status::param;  // no return type is modelled for SecItemAdd
    const parsed q = parse(attributes);
    return with_state([&](state& s) -> kc::os_status {
        ++s.counts.calls;
        if (!q.problem.empty() || !q.value || q.return_data || q.return_attributes || q.limit)
            return kc::status::param;
        if (auto f = forced(me, "add"); f != kc::status::success) return f;
        if (auto admitted = admit(s, me, q); admitted != kc::status::success) return admitted;
        item fresh;
        fresh.data_protection = q.data_protection;
        fresh.access_group = q.data_protection ? q.access_group.value_or(me.entitlements.front()) : "";
        fresh.service = q.service.value_or("");
        fresh.account = q.account.value_or("");
        fresh.label = q.label.value_or(fresh.service);
        fresh.accessible = q.accessible.value_or("");
        for (const auto& it : s.items)
            if (it.data_protection == fresh.data_protection && it.access_group == fresh.access_group &&
                it.service == fresh.service && it.account == fresh.account)
                return kc::status::duplicate_item;
        fresh.data = *q.value;
        if (!fresh.data_protection) fresh.trusted = {me.identity};  // the creator is on the access list
        s.items.push_back(std::move(fresh));
        ++s.counts.adds;
        return kc::status::success;
    });
}

inline kc::os_status remove(kc::cf_ref query) {
    gate();
    const settings me = current_settings();
    const parsed q = parse(query);
    return with_state([&](state& s) -> kc::os_status {
        ++s.counts.calls;
        if (!q.problem.empty() || q.value || q.return_data || q.return_attributes || q.limit)
            return kc::status::param;
        if (auto f = forced(me, "remove"); f != kc::status::success) return f;
        if (auto admitted = admit(s, me, q); admitted != kc::status::success) return admitted;
        const auto before = s.items.size();
        std::erase_if(s.items, [&](const item& it) { return matches(it, me, q); });
        if (s.items.size() == before) return kc::status::item_not_found;
        ++s.counts.deletes;
        return kc::status::success;
    });
}

inline kc::cf_ref copy_error_message(kc::os_status status) {
    std::string_view text;
    switch (status) {
    case kc::status::user_canceled: text = "User canceled the operation."; break;
    case kc::status::auth_failed: text = "The user name or passphrase you entered is not correct."; break;
    case kc::status::interaction_not_allowed: text = "User interaction is not allowed."; break;
    case kc::status::duplicate_item: text = "The specified item already exists in the keychain."; break;
    case kc::status::item_not_found: text = "The specified item could not be found in the keychain."; break;
    case kc::status::missing_entitlement: text = "A required entitlement isn't present."; break;
    case kc::status::not_available:
        text = "No keychain is available. You may need to restart your computer.";
        break;
    default: return nullptr;
    }
    return cf::create_string(text.data(), static_cast<kc::cf_size>(text.size()));
}

}  // namespace security

/// The table over this fake.
inline constexpr kc::keychain_api table{
    .constant = &cf::constant,
    .create_dictionary = &cf::create_dictionary,
    .dictionary_set = &cf::dictionary_set,
    .dictionary_get = &cf::dictionary_get,
    .create_string = &cf::create_string,
    .create_data = &cf::create_data,
    .kind_of = &cf::kind_of,
    .data_size = &cf::data_size,
    .data_bytes = &cf::data_bytes,
    .string_utf8_capacity = &cf::string_utf8_capacity,
    .string_utf8 = &cf::string_utf8,
    .array_count = &cf::array_count,
    .array_at = &cf::array_at,
    .release = &cf::release,
    .copy_matching = &security::copy_matching,
    .add = &security::add,
    .remove = &security::remove,
    .copy_error_message = &security::copy_error_message,
};

// ---------------------------------------------------------------------------------------------------
// What tests call

/// Installs the fake for keyring::macos_keychain with an empty keychain: in this process's memory, or in
/// `state_file` (shared with forked children, which inherit the installation). Resets this process's
/// settings (identity "tvtest", every dialog answered "Always Allow").
inline void install(const std::filesystem::path& state_file = {}) {
    auto& p = local();
    {
        const std::lock_guard lock(p.mutex);
        p.state_file = state_file;
        p.memory = state{};
        p.now = settings{};
    }
    if (!state_file.empty())
        with_state([](state& s) {
            s = state{};
            return 0;
        });
    kc::install_api(&table);
}

/// Restores the build's own keychain table (none on Linux).
inline void uninstall() { kc::install_api(nullptr); }

/// Who this process is to the keychain (its code identity).
inline void set_identity(std::string identity) {
    const std::lock_guard lock(local().mutex);
    local().now.identity = std::move(identity);
}

/// How this process's user answers dialogs from now on.
inline void set_answer(answer a) {
    const std::lock_guard lock(local().mutex);
    local().now.on_dialog = a;
}

/// This process's keychain-access-groups entitlement (empty: none).
inline void set_entitlements(std::vector<std::string> groups) {
    const std::lock_guard lock(local().mutex);
    local().now.entitlements = std::move(groups);
}

/// Makes every `call` ("copy_matching", "add", "remove") answer `status` (errSecSuccess: normal again).
inline void force(const std::string& call, kc::os_status status) {
    const std::lock_guard lock(local().mutex);
    if (status == kc::status::success)
        local().now.forced.erase(call);
    else
        local().now.forced[call] = status;
}

/// Locks (or unlocks) the keychain: the next call asks to unlock it.
inline void set_locked(bool locked) {
    with_state([&](state& s) {
        s.locked = locked;
        return 0;
    });
}

/// Makes every Security call of this process wait until release_calls().
inline void hold_calls() {
    const std::lock_guard lock(local().mutex);
    local().now.held = true;
}

/// Lets held calls go on.
inline void release_calls() {
    auto& p = local();
    const std::lock_guard lock(p.mutex);
    p.now.held = false;
    p.changed.notify_all();
}

/// Waits until `n` calls wait in the hold.
inline void wait_for_held_calls(int n) {
    auto& p = local();
    std::unique_lock lock(p.mutex);
    p.changed.wait(lock, [&] { return p.now.waiting_in_hold >= n; });
}

/// A copy of the keychain and its counters.
inline state snapshot() {
    return with_state([](state& s) { return s; });
}

/// The item (service, account) of the file-based keychain, if any.
inline std::optional<item> find(const std::string& service, const std::string& account) {
    const state s = snapshot();
    for (const auto& it : s.items)
        if (!it.data_protection && it.service == service && it.account == account) return it;
    return std::nullopt;
}

/// Puts an item straight into the file-based keychain, as another program (`creator`) would.
inline void seed(const std::string& service, const std::string& account, std::string_view bytes,
                 const std::string& creator) {
    with_state([&](state& s) {
        item it;
        it.service = service;
        it.account = account;
        it.label = service;
        const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
        it.data.assign(p, p + bytes.size());
        it.trusted = {creator};
        s.items.push_back(std::move(it));
        return 0;
    });
}

/// SecItemUpdate of the file-based item (service, account) by this process: new bytes, and the access
/// list reset to this program (what a rewrite does). errSecItemNotFound when there is none.
inline kc::os_status update(const std::string& service, const std::string& account, std::string_view bytes) {
    gate();
    const settings me = current_settings();
    return with_state([&](state& s) -> kc::os_status {
        ++s.counts.calls;
        for (auto& it : s.items) {
            if (it.data_protection || it.service != service || it.account != account) continue;
            const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
            it.data.assign(p, p + bytes.size());
            it.trusted = {me.identity};
            ++s.counts.updates;
            return kc::status::success;
        }
        return kc::status::item_not_found;
    });
}

/// CoreFoundation objects alive now (0 once every caller released what it owns).
inline std::size_t live_objects() {
    const std::lock_guard lock(world().mutex);
    return world().live.size();
}

/// Ownership mistakes seen so far (a release of a freed or constant object, a NULL object).
inline std::vector<std::string> misuse() {
    const std::lock_guard lock(world().mutex);
    return world().misuse;
}

}  // namespace tvtest::fake_keychain
