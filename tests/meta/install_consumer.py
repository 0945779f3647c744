#!/usr/bin/env python3
"""Meta test: an installed tokenvault can be consumed through pkg-config and through CMake.

1. Configures the source tree afresh (tests, benchmarks, examples off) with --prefix in WORK/prefix and
   runs `meson install`; checks that every header under include/tokenvault was installed.
2. Builds tests/meta/cmake_consumer/consumer.cpp with `pkg-config --cflags --libs tokenvault`
   (PKG_CONFIG_PATH = the prefix's pkgconfig directories only) and runs it.
3. Builds tests/meta/cmake_consumer with cmake -G Ninja -DCMAKE_PREFIX_PATH=WORK/prefix, checks that
   find_package found the package in the prefix, and runs the program.

usage: install_consumer.py --source-root DIR --work DIR --meson CMD [--cmake CMD] + compiler options
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metautil  # noqa: E402


class StepFailed(Exception):
    pass


def run(command, env=None, cwd=None):
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    proc = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        print(metautil.tail(proc.stdout, 80))
        raise StepFailed(f"exit {proc.returncode}: {' '.join(command[:3])} ...")
    return proc.stdout


def main():
    parser = metautil.compiler_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--meson", required=True, help="meson command (shell-quoted)")
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--ninja", default="ninja")
    args = parser.parse_args()
    tools = metautil.Toolchain(args)
    meson = shlex.split(args.meson)
    source = os.path.abspath(args.source_root)
    work = os.path.abspath(args.work)
    prefix = os.path.join(work, "prefix")
    consumer_dir = os.path.join(source, "tests", "meta", "cmake_consumer")

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ)
    # The environment of an enclosing `meson test` must not leak into the nested meson.
    for key in list(env):
        if key.startswith("MESON"):
            del env[key]

    try:
        # 1. install
        build = os.path.join(work, "build")
        run(meson + ["setup", build, source, f"--prefix={prefix}", "--libdir=lib", "-Dtests=disabled",
                     "-Dbenchmarks=disabled", "-Dexamples=disabled", "-Dwerror=false"], env=env)
        run(meson + ["install", "-C", build, "--quiet"], env=env)
        wanted = []
        include_root = os.path.join(source, "include")
        for dirpath, dirnames, filenames in os.walk(os.path.join(include_root, "tokenvault")):
            for name in filenames:
                if name.endswith(".hpp"):
                    wanted.append(os.path.relpath(os.path.join(dirpath, name), include_root))
        missing = [h for h in sorted(wanted) if not os.path.isfile(os.path.join(prefix, "include", h))]
        if missing:
            raise StepFailed(f"headers not installed: {', '.join(missing)}")
        print(f"installed {len(wanted)} headers under {prefix}/include")

        # 2. pkg-config
        pc_dirs = sorted({dp for dp, _, files in os.walk(prefix) if dp.endswith("pkgconfig") and files})
        if not pc_dirs:
            raise StepFailed("no pkgconfig directory was installed")
        pc_env = dict(env, PKG_CONFIG_PATH=os.pathsep.join(pc_dirs))
        pc_env.pop("PKG_CONFIG_LIBDIR", None)
        flags = shlex.split(run(["pkg-config", "--cflags", "--libs", "tokenvault"], env=pc_env))
        print("pkg-config: " + " ".join(flags))
        if f"-I{prefix}/include" not in flags:
            raise StepFailed(f"pkg-config --cflags tokenvault does not point at {prefix}/include")
        exe = os.path.join(work, "consumer-pkgconfig")
        std = [f for f in tools.flags if f.startswith("-std=")] or ["-std=c++20"]
        run(tools.cxx + std + [os.path.join(consumer_dir, "consumer.cpp"), "-o", exe] + flags, env=pc_env)
        print(run([exe]).strip())

        # 3. CMake
        cmake_build = os.path.join(work, "cmake-build")
        cmake_env = dict(env)
        compiler = tools.cxx[-1]  # drop a ccache wrapper: cmake takes the compiler alone
        configure = run([args.cmake, "-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={args.ninja}", "-S", consumer_dir,
                         "-B", cmake_build, f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_CXX_COMPILER={compiler}",
                         "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"], env=cmake_env)
        found_dir = next((line.split("=", 1)[1] for line in configure.splitlines()
                          if "tokenvault_DIR=" in line), "")
        if not os.path.abspath(found_dir).startswith(prefix + os.sep):
            raise StepFailed(f"find_package(tokenvault) found {found_dir!r}, not the package in {prefix}")
        print(f"cmake: find_package(tokenvault) -> {found_dir}")
        run([args.cmake, "--build", cmake_build], env=cmake_env)
        print(run([os.path.join(cmake_build, "consumer")]).strip())
    except StepFailed as e:
        print(f"install consumer: FAILED: {e}")
        return 1
    except FileNotFoundError as e:
        print(f"install consumer: FAILED: a tool is missing ({e.filename}): run tools/bootstrap.sh")
        return 1
    print("install consumer: pkg-config and CMake consumers built and ran")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
