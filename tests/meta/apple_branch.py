#!/usr/bin/env python3
"""Meta test: the Apple branch of the keychain table compiles.

Nothing here has a macOS SDK, so tokenvault/keyring/macos_keychain_api.hpp's Security.framework branch is
type-checked against tests/meta/apple_sdk/: declarations of exactly the Security and CoreFoundation calls
it makes, written from Apple's reference. The translation unit selects that branch
(TOKENVAULT_USE_SECURITY_FRAMEWORK=1), checks that it is the built-in table, and instantiates every member
of both keychain locations. -fsyntax-only: nothing links.

usage: apple_branch.py --include DIR --sdk DIR --work DIR  + compiler options (see metautil.py)
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metautil  # noqa: E402

TRANSLATION_UNIT = """\
#include <tokenvault/keyring/macos_keychain.hpp>
#include <tokenvault/keyring/macos_keychain.hpp>

namespace kc = tokenvault::keyring::keychain;
static_assert(TOKENVAULT_USE_SECURITY_FRAMEWORK == 1);
static_assert(kc::detail::built_in_api() == &kc::security_framework::table,
              "on Apple platforms the built-in table is Security.framework");
template class tokenvault::keyring::basic_macos_keychain<tokenvault::keyring::keychain_file_based>;
template class tokenvault::keyring::basic_macos_keychain<tokenvault::keyring::keychain_data_protection>;
"""


def main():
    parser = metautil.compiler_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--include", required=True, help="the include/ directory")
    parser.add_argument("--sdk", required=True, help="the directory of the declared Apple headers")
    parser.add_argument("--work", required=True, help="directory for the generated translation unit")
    args = parser.parse_args()
    tools = metautil.Toolchain(args)
    os.makedirs(args.work, exist_ok=True)
    tu = os.path.join(args.work, "apple_branch.cpp")
    with open(tu, "w", encoding="utf-8") as f:
        f.write(TRANSLATION_UNIT)
    command = (tools.cxx + tools.flags + ["-isystem", args.sdk, "-I", args.include,
                                          "-DTOKENVAULT_USE_SECURITY_FRAMEWORK=1"]
               + tools.base_cflags() + ["-fsyntax-only", tu])
    code, output, seconds = tools.run(command)
    if code == 0 and not output.strip():
        print(f"ok    the Security.framework branch compiles ({seconds:.1f}s)")
        return 0
    print("FAIL  the Security.framework branch does not compile against the declared Apple API")
    print("      " + " ".join(command))
    print(metautil.tail(output))
    return 1


if __name__ == "__main__":
    sys.exit(main())
