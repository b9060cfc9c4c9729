//! Build script.
//!
//! 1. Always compiles the C++ side of the two cxx bridges (default libstdc++
//!    ABI): the model's kernels for the native engine
//!    (`cpp/kernels/native_bridge.cc`, with the module's `-O3
//!    -ffp-contract=off`) and the NEST driver's bridge (`cpp/bridge.cc`),
//!    which only dlopens NEST at run time, so the crate builds without NEST.
//! 2. Always compiles the C++ kernel test `cpp/kernels/test_kernels.cpp` with
//!    the module's flags (`SEQLEARN_KERNEL_TEST`, run by tests/golden.rs).
//! 3. Looks for NEST 3.10 through a Python interpreter (env `SEQLEARN_PYTHON`,
//!    else `<crate>/.venv/bin/python`, else `python3`; `nest-config` from env
//!    `NEST_CONFIG` or `PATH` as a fallback).  When found, compiles the NEST
//!    extension module `seqlearnmodule.so` (old ABI, `-fopenmp`, no NEST /
//!    Python / gomp link) into `OUT_DIR`, bakes its path, the kernel path and
//!    the libpython path into the crate (`SEQLEARN_BUILT_*` env vars) and sets
//!    `cfg(seqlearn_has_nest)`.  Without NEST it prints a warning with
//!    install instructions.
//!
//! `SEQLEARN_REQUIRE_NEST=1` turns "NEST not found / module does not compile"
//! into a build error.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const MODULE_SOURCES: &[&str] = &[
    "cpp/seqlearn_wta_neuron.cpp",
    "cpp/seqlearnmodule.cpp",
    "cpp/driver/nest_driver.cpp",
];
const MODULE_HEADERS: &[&str] = &[
    "cpp/seqlearn_wta_neuron.h",
    "cpp/seqlearn_stp_synapse.h",
    "cpp/seqlearn_parameters.h",
    "cpp/seqlearn_time.h",
    "cpp/dict_helpers.h",
    "cpp/kernels/seqlearn_kernels.h",
    "cpp/driver/seqlearn_driver.h",
];

struct NestPaths {
    python: String,
    include_dir: PathBuf,
    kernel: PathBuf,
    libpython: PathBuf,
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    println!("cargo::rustc-check-cfg=cfg(seqlearn_has_nest)");
    println!("cargo:rerun-if-changed=build.rs");
    for f in [
        "src/engine/nest/driver.rs",
        "src/engine/kernels.rs",
        "cpp/bridge.cc",
        "cpp/bridge.h",
        "cpp/kernels/native_bridge.cc",
        "cpp/kernels/native_bridge.h",
        "cpp/kernels/seqlearn_kernels.h",
        "cpp/kernels/test_kernels.cpp",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    for f in MODULE_SOURCES.iter().chain(MODULE_HEADERS) {
        println!("cargo:rerun-if-changed={f}");
    }
    // (PATH is deliberately not tracked: it changes between shells and would
    // rebuild the module every time.)
    for v in [
        "SEQLEARN_PYTHON",
        "NEST_CONFIG",
        "SEQLEARN_REQUIRE_NEST",
        "CXX",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    // a missing path would make cargo rerun the script on every build
    let venv_python = manifest.join(".venv/bin/python");
    if venv_python.exists() {
        println!("cargo:rerun-if-changed={}", venv_python.display());
    }

    // 1. the cxx bridges: the kernels for the native engine (with the
    // module's flags that matter for the bits: no implicit fused
    // multiply-adds; -O3 also in debug builds, the tests run them a lot)
    // and the NEST driver
    cxx_build::bridges(["src/engine/kernels.rs", "src/engine/nest/driver.rs"])
        .file("cpp/kernels/native_bridge.cc")
        .file("cpp/bridge.cc")
        .include(&manifest)
        .flag("-std=c++20")
        .flag("-O3")
        .flag("-ffp-contract=off")
        .warnings(true)
        .compile("seqlearn_nest_bridge");
    println!("cargo:rustc-link-lib=dylib=dl");

    // 2. the C++ test of the kernels (tests/golden.rs runs it)
    let test_program = compile_kernel_test(&manifest, &out_dir);
    println!(
        "cargo:rustc-env=SEQLEARN_KERNEL_TEST={}",
        test_program.display()
    );

    let require = env::var("SEQLEARN_REQUIRE_NEST").is_ok_and(|v| v == "1");

    // 3. NEST
    let nest = match find_nest(&manifest) {
        Ok(n) => n,
        Err(why) => {
            let msg = format!(
                "NEST 3.10 not found ({why}); the NEST backend is disabled. To enable it run \
                 `bash scripts/setup.sh`, or `python3 -m venv .venv && .venv/bin/pip install \
                 nest-simulator==3.10.0` plus `apt-get install libboost-dev libltdl-dev`, \
                 then rebuild (or point SEQLEARN_PYTHON at an interpreter that has `nest`)."
            );
            if require {
                panic!("{msg}");
            }
            println!("cargo:warning={msg}");
            return;
        }
    };
    println!("cargo:rerun-if-changed={}", nest.kernel.display());

    match compile_module(&manifest, &out_dir, &nest) {
        Ok(so) => {
            println!("cargo:rustc-cfg=seqlearn_has_nest");
            println!("cargo:rustc-env=SEQLEARN_BUILT_MODULE={}", so.display());
            println!(
                "cargo:rustc-env=SEQLEARN_BUILT_KERNEL={}",
                nest.kernel.display()
            );
            println!(
                "cargo:rustc-env=SEQLEARN_BUILT_LIBPYTHON={}",
                nest.libpython.display()
            );
            println!("cargo:rustc-env=SEQLEARN_BUILT_PYTHON={}", nest.python);
        }
        Err(why) => {
            let msg = format!(
                "NEST found ({}) but the seqlearn module did not compile: {why}. The NEST backend \
                 is disabled. Headers need `apt-get install libboost-dev libltdl-dev`.",
                nest.include_dir.display()
            );
            if require {
                panic!("{msg}");
            }
            println!("cargo:warning={msg}");
        }
    }
}

/// The flags of the NEST module that matter for the kernels' bits and ABI.
const KERNEL_FLAGS: &[&str] = &[
    "-std=c++20",
    "-D_GLIBCXX_USE_CXX11_ABI=0",
    // -O3: inlines the synapse's send() into NEST's connector loop and the
    // exchange of the circuit values into update(); 7 % fewer instructions
    // per step than -O2 (callgrind), same bits
    "-O3",
    // no implicit fused multiply-adds: the kernels' scalar and AVX2 paths
    // must round alike (cpp/kernels/seqlearn_kernels.h)
    "-ffp-contract=off",
    "-DNDEBUG",
];

/// `cpp/kernels/test_kernels.cpp` with the module's flags (no NEST needed).
fn compile_kernel_test(manifest: &Path, out_dir: &Path) -> PathBuf {
    let compiler = cc::Build::new().cpp(true).get_compiler();
    let exe = out_dir.join("test_kernels");
    let out = Command::new(compiler.path())
        .args(KERNEL_FLAGS)
        .arg(format!("-I{}", manifest.join("cpp/kernels").display()))
        .arg(manifest.join("cpp/kernels/test_kernels.cpp"))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C++ compiler: {e}"));
    if !out.status.success() {
        panic!(
            "cpp/kernels/test_kernels.cpp does not compile:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    exe
}

/// Ask `python` where `nest` and libpython are, without importing nest.
fn query_python(python: &str) -> Result<NestPaths, String> {
    const SCRIPT: &str = r#"
import importlib.util, os, sys, sysconfig
spec = importlib.util.find_spec("nest")
if spec is None:
    sys.exit("python module 'nest' not installed")
locs = list(spec.submodule_search_locations or [])
d = locs[0] if locs else os.path.dirname(spec.origin)
print(d)
libdir = sysconfig.get_config_var("LIBDIR") or ""
name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY") or ""
print(os.path.join(libdir, name))
"#;
    let out = Command::new(python)
        .args(["-c", SCRIPT])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{python}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let nest_dir = PathBuf::from(lines.next().unwrap_or_default().trim());
    let libpython = PathBuf::from(lines.next().unwrap_or_default().trim());
    let include_dir = nest_dir.join("include/nest");
    let kernel = nest_dir.join("nestkernel_api.so");
    if !include_dir.join("nest.h").is_file() {
        return Err(format!("{} has no nest.h", include_dir.display()));
    }
    if !kernel.is_file() {
        return Err(format!("{} missing", kernel.display()));
    }
    if !libpython.is_file() {
        return Err(format!(
            "libpython of {python} not found at {} (need a shared libpython)",
            libpython.display()
        ));
    }
    Ok(NestPaths {
        python: python.to_string(),
        include_dir,
        kernel,
        libpython,
    })
}

fn find_nest(manifest: &Path) -> Result<NestPaths, String> {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    if let Ok(p) = env::var("SEQLEARN_PYTHON") {
        candidates.push(p);
    } else {
        let venv = manifest.join(".venv/bin/python");
        if venv.exists() {
            candidates.push(venv.display().to_string());
        }
        candidates.push("python3".to_string());
    }
    for py in &candidates {
        match query_python(py) {
            Ok(n) => return Ok(n),
            Err(e) => tried.push(e),
        }
    }
    // Fallback: nest-config (its paths are bogus in the PyPI wheel, so every
    // path it names is checked).
    let nc = env::var("NEST_CONFIG").unwrap_or_else(|_| "nest-config".to_string());
    match nest_config_paths(&nc) {
        Ok(n) => return Ok(n),
        Err(e) => tried.push(e),
    }
    Err(tried.join("; "))
}

fn nest_config_paths(nest_config: &str) -> Result<NestPaths, String> {
    let run = |arg: &str| -> Result<String, String> {
        let out = Command::new(nest_config)
            .arg(arg)
            .output()
            .map_err(|e| format!("cannot run {nest_config}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{nest_config} {arg} failed"));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let includes = run("--includes")?;
    let include_dir = includes
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("-I"))
        .map(PathBuf::from)
        .find(|p| p.join("nest.h").is_file())
        .ok_or_else(|| format!("{nest_config} --includes names no directory with nest.h"))?;
    // <site-packages>/nest/include/nest -> <site-packages>/nest
    let nest_dir = include_dir
        .parent()
        .and_then(Path::parent)
        .ok_or("unexpected include layout")?;
    let kernel = nest_dir.join("nestkernel_api.so");
    if !kernel.is_file() {
        return Err(format!("{} missing", kernel.display()));
    }
    let py = query_python("python3").map_err(|e| format!("libpython lookup: {e}"))?;
    Ok(NestPaths {
        python: py.python,
        include_dir,
        kernel,
        libpython: py.libpython,
    })
}

fn compile_module(manifest: &Path, out_dir: &Path, nest: &NestPaths) -> Result<PathBuf, String> {
    let compiler = cc::Build::new()
        .cpp(true)
        .try_get_compiler()
        .map_err(|e| format!("no C++ compiler: {e}"))?;
    let obj_dir = out_dir.join("seqlearnmodule");
    fs::create_dir_all(&obj_dir).map_err(|e| e.to_string())?;
    // -fopenmp: NEST's inline thread-id helper returns 0 without _OPENMP
    let base_flags: Vec<&str> = KERNEL_FLAGS
        .iter()
        .copied()
        .chain(["-fopenmp", "-fPIC"])
        .collect();
    // compile the translation units in parallel
    let mut objects = Vec::new();
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = MODULE_SOURCES
            .iter()
            .map(|src| {
                let stem = Path::new(src)
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                let obj = obj_dir.join(format!("{stem}.o"));
                objects.push(obj.clone());
                let mut cmd = Command::new(compiler.path());
                cmd.args(&base_flags)
                    .arg(format!("-I{}", nest.include_dir.display()))
                    .arg(format!("-I{}", manifest.join("cpp").display()))
                    .arg("-c")
                    .arg(manifest.join(src))
                    .arg("-o")
                    .arg(&obj);
                scope.spawn(move || {
                    let out = cmd
                        .output()
                        .map_err(|e| format!("cannot run the compiler: {e}"))?;
                    if out.status.success() {
                        Ok(())
                    } else {
                        let err = String::from_utf8_lossy(&out.stderr);
                        let tail: Vec<&str> = err
                            .lines()
                            .filter(|l| l.contains("error"))
                            .take(5)
                            .collect();
                        Err(format!("{src}: {}", tail.join(" | ")))
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("compiler thread panicked".into()))
            })
            .collect()
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let so = out_dir.join("seqlearnmodule.so");
    let out = Command::new(compiler.path())
        .arg("-shared")
        .arg("-o")
        .arg(&so)
        .args(&objects)
        .output()
        .map_err(|e| format!("cannot run the linker: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "link failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(so)
}
