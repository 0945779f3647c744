// expect: cannot convert
// expect-clang: no viable conversion
// A result<T> never converts to a raw pointer (nor to T): the value must be taken explicitly, after
// checking for an error. Sample case that exercises tests/meta/compile_fail.py.
#include <tokenvault/result.hpp>

int main() {
    tokenvault::result<int> r = 1;
    int* p = r;
    return p == nullptr ? 0 : 1;
}
