// expect: struct stat has neither st_mtimespec/st_ctimespec nor st_mtim/st_ctim
// File times are read from st_mtimespec (Darwin) or st_mtim (POSIX.1-2008); a struct stat with neither
// (Darwin with _POSIX_C_SOURCE and no _DARWIN_C_SOURCE) would lose the nanoseconds the change check needs.
#include <tokenvault/platform/platform.hpp>

#include <ctime>

struct stat_with_seconds_only {
    std::time_t st_mtime_seconds = 0;
    std::time_t st_ctime_seconds = 0;
};

int main() {
    const auto times = tokenvault::platform::stat_times(stat_with_seconds_only{});
    return times.first == 0 ? 0 : 1;
}
