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
//!    extension module `seqlearnmodule.so` (`-fopenmp`, no NEST /
//!    Python / gomp link) into `OUT_DIR`, bakes its path, the kernel path and
//!    the libpython path into the crate (`SEQLEARN_BUILT_*` env vars) and sets
//!    `cfg(seqlearn_has_nest)`.  Without NEST it prints a warning with
//!    install instructions.  The module follows its kernel: the libstdc++
//!    ABI is read from the kernel's exported `nest::install_module` (old in
//!    the PyPI wheel, new in a source build), and a kernel built with MPI
//!    (`HAVE_MPI` in its `config.h`) adds the MPI compile flags
//!    (`mpicxx --showme:compile`, or `$MPICXX`) and sets
//!    `SEQLEARN_BUILT_HAVE_MPI=1`.
//! 4. If that NEST has no MPI and an MPI NEST prefix of `scripts/setup.sh
//!    --mpi` is known (env `SEQLEARN_NEST_MPI_PREFIX`, else the link
//!    `<crate>/.nest-mpi` that the set-up makes), compiles a second module
//!    against it into `OUT_DIR/mpi/`, bakes `SEQLEARN_BUILT_MPI_{MODULE,
//!    KERNEL,LIBPYTHON}` and sets `cfg(seqlearn_has_nest_mpi)`; the binary
//!    loads that kernel under an MPI launcher (src/engine/nest/mpi.rs).
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

impl NestPaths {
    /// Whether the kernel was built with MPI (its `config.h`).
    fn have_mpi(&self) -> bool {
        fs::read_to_string(self.include_dir.join("config.h"))
            .is_ok_and(|h| h.lines().any(|l| l.trim() == "#define HAVE_MPI 1"))
    }

    /// The kernel's libstdc++ string ABI: `nest::install_module(std::string
    /// const&)` is exported with the new (`__cxx11`) or the old mangling.
    fn cxx11_abi(&self) -> Result<bool, String> {
        let bytes =
            fs::read(&self.kernel).map_err(|e| format!("{}: {e}", self.kernel.display()))?;
        let has = |sym: &str| bytes.windows(sym.len()).any(|w| w == sym.as_bytes());
        if has("_ZN4nest14install_moduleERKNSt7__cxx1112basic_string") {
            Ok(true)
        } else if has("_ZN4nest14install_moduleERKSs") {
            Ok(false)
        } else {
            Err(format!(
                "{} exports no nest::install_module (not a NEST 3.10 kernel?)",
                self.kernel.display()
            ))
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    println!("cargo::rustc-check-cfg=cfg(seqlearn_has_nest)");
    println!("cargo::rustc-check-cfg=cfg(seqlearn_has_nest_mpi)");
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
        "SEQLEARN_NEST_MPI_PREFIX",
        "SEQLEARN_REQUIRE_NEST_MPI",
        "MPICXX",
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

    let have_mpi = nest.have_mpi();
    match compile_module(&manifest, &out_dir, &nest) {
        Ok(so) => {
            if have_mpi {
                println!("cargo:rustc-env=SEQLEARN_BUILT_HAVE_MPI=1");
            }
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

    // 4. the MPI prefix of `scripts/setup.sh --mpi`
    if !have_mpi {
        build_mpi_module(&manifest, &out_dir);
    }
}

/// Step 4: the module for the MPI NEST prefix, if one is known.
fn build_mpi_module(manifest: &Path, out_dir: &Path) {
    let require = env::var("SEQLEARN_REQUIRE_NEST_MPI").is_ok_and(|v| v == "1");
    let fail = |msg: String| {
        if require {
            panic!("{msg}");
        }
        println!("cargo:warning={msg}");
    };
    let link = manifest.join(".nest-mpi");
    let prefix = match env::var_os("SEQLEARN_NEST_MPI_PREFIX") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ if link.exists() => link,
        _ => {
            if require {
                fail("no MPI NEST prefix (run `bash scripts/setup.sh --mpi`)".into());
            }
            return;
        }
    };
    let nest = match mpi_prefix_paths(&prefix) {
        Ok(n) => n,
        Err(why) => return fail(format!("MPI NEST prefix {}: {why}", prefix.display())),
    };
    println!(
        "cargo:rerun-if-changed={}",
        prefix.join("nest-mpi.env").display()
    );
    println!("cargo:rerun-if-changed={}", nest.kernel.display());
    let dir = out_dir.join("mpi");
    match fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| compile_module(manifest, &dir, &nest))
    {
        Ok(so) => {
            println!("cargo:rustc-cfg=seqlearn_has_nest_mpi");
            println!("cargo:rustc-env=SEQLEARN_BUILT_MPI_MODULE={}", so.display());
            println!(
                "cargo:rustc-env=SEQLEARN_BUILT_MPI_KERNEL={}",
                nest.kernel.display()
            );
            println!(
                "cargo:rustc-env=SEQLEARN_BUILT_MPI_LIBPYTHON={}",
                nest.libpython.display()
            );
        }
        Err(why) => fail(format!(
            "the seqlearn module did not compile against the MPI NEST in {}: {why}; the binary \
                 has no MPI kernel",
            prefix.display()
        )),
    }
}

/// The NEST of an MPI prefix, through `NEST_MPI_PYTHON` of its `nest-mpi.env`.
fn mpi_prefix_paths(prefix: &Path) -> Result<NestPaths, String> {
    let env_file = prefix.join("nest-mpi.env");
    let text = fs::read_to_string(&env_file)
        .map_err(|e| format!("cannot read {}: {e}", env_file.display()))?;
    let python = text
        .lines()
        .find_map(|l| l.strip_prefix("NEST_MPI_PYTHON="))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
        .ok_or_else(|| format!("{} has no NEST_MPI_PYTHON", env_file.display()))?;
    let nest = query_python(python)?;
    if !nest.have_mpi() {
        return Err(format!(
            "{} has no HAVE_MPI: not an MPI build",
            nest.include_dir.join("config.h").display()
        ));
    }
    Ok(nest)
}

/// The flags of the NEST module that matter for the kernels' bits (the
/// libstdc++ ABI is the kernel's, [`NestPaths::cxx11_abi`]).
const KERNEL_FLAGS: &[&str] = &[
    "-std=c++20",
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
        .arg("-D_GLIBCXX_USE_CXX11_ABI=0")
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
    // the wheel ships the headers inside the package; a CMake install (a
    // site's NEST) in <prefix>/include/nest, which nest-config names
    let mut include_dir = nest_dir.join("include/nest");
    if !include_dir.join("nest.h").is_file() {
        let nc = env::var("NEST_CONFIG").unwrap_or_else(|_| "nest-config".to_string());
        include_dir = nest_config_include(&nc)
            .map_err(|e| format!("{} has no nest.h, and {e}", include_dir.display()))?;
    }
    let kernel = nest_dir.join("nestkernel_api.so");
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

/// The directory with `nest.h` among `nest-config --includes`.
fn nest_config_include(nest_config: &str) -> Result<PathBuf, String> {
    let out = Command::new(nest_config)
        .arg("--includes")
        .output()
        .map_err(|e| format!("cannot run {nest_config}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{nest_config} --includes failed"));
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("-I"))
        .map(PathBuf::from)
        .find(|p| p.join("nest.h").is_file())
        .ok_or_else(|| format!("{nest_config} --includes names no directory with nest.h"))
}

fn nest_config_paths(nest_config: &str) -> Result<NestPaths, String> {
    let include_dir = nest_config_include(nest_config)?;
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

/// The MPI wrapper's compile flags (`-I...`, `-D...`): Open MPI's
/// `--showme:compile`, else MPICH's `-compile_info`.
fn mpi_compile_flags() -> Result<Vec<String>, String> {
    let wrapper = env::var("MPICXX").unwrap_or_else(|_| "mpicxx".to_string());
    let run = |arg: &str| {
        Command::new(&wrapper)
            .arg(arg)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
    };
    let text = run("--showme:compile")
        .or_else(|| run("-compile_info"))
        .ok_or_else(|| {
            format!(
                "the NEST kernel has MPI but `{wrapper} --showme:compile` failed (install \
                 libopenmpi-dev, or set MPICXX to the MPI C++ wrapper)"
            )
        })?;
    Ok(text
        .split_whitespace()
        .filter(|t| t.starts_with("-I") || t.starts_with("-D") || t == &"-pthread")
        .map(String::from)
        .collect())
}

fn compile_module(manifest: &Path, out_dir: &Path, nest: &NestPaths) -> Result<PathBuf, String> {
    let compiler = cc::Build::new()
        .cpp(true)
        .try_get_compiler()
        .map_err(|e| format!("no C++ compiler: {e}"))?;
    let obj_dir = out_dir.join("seqlearnmodule");
    fs::create_dir_all(&obj_dir).map_err(|e| e.to_string())?;
    // -fopenmp: NEST's inline thread-id helper returns 0 without _OPENMP
    let abi = format!("-D_GLIBCXX_USE_CXX11_ABI={}", u8::from(nest.cxx11_abi()?));
    let mut base_flags: Vec<String> = KERNEL_FLAGS
        .iter()
        .copied()
        .chain(["-fopenmp", "-fPIC"])
        .map(String::from)
        .collect();
    base_flags.push(abi);
    if nest.have_mpi() {
        // NEST's headers include <mpi.h>
        base_flags.extend(mpi_compile_flags()?);
    }
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
