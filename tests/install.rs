//! `install.sh`, run for real by `/bin/sh` into throwaway directories, installing the test
//! build of the binary through `SHELLGUARD_BIN` (so no release build). Each run gets only the
//! environment a test gives it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_shellguard");

/// A fresh directory with an empty `home/` in it, removed when the test ends.
struct Sandbox(PathBuf);

impl Sandbox {
    fn new(test: &str) -> Sandbox {
        let root =
            std::env::temp_dir().join(format!("shellguard-install-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("home")).unwrap();
        Sandbox(root)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `sh install.sh` from `cwd` with exactly `env` as its environment, under umask 077
/// (so a mode of 0755 must come from the script).
fn install(cwd: &Path, env: &[(&str, &OsStr)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    Command::new("/bin/sh")
        .args(["-c", "umask 077 && exec /bin/sh \"$0\""])
        .arg(script)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run /bin/sh install.sh")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "install.sh failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Fails with exactly one line on stderr, prints nothing on stdout; returns that line.
fn assert_refused(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "install.sh succeeded:\n{stderr}");
    assert_eq!(text(&out.stdout), "");
    assert_eq!(stderr.lines().count(), 1, "not one line:\n{stderr}");
    stderr
}

/// Everything under `dir`, one sorted line per entry: `d/`, `file 755`, `link -> target`.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.push(format!("{rel} -> {}", target.display()));
            } else if meta.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                out.push(format!("{rel} {:o}", meta.permissions().mode() & 0o7777));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `bin` is a copy of the test binary, mode 0755, and `shims/bash`, `shims/sh` are symlinks
/// to it (and nothing else is in `shims/`: no `zsh` yet).
fn assert_installed(bin: &Path, shims: &Path) {
    assert_eq!(
        fs::read(bin).unwrap(),
        fs::read(BIN).unwrap(),
        "{}",
        bin.display()
    );
    let mode = fs::metadata(bin).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755, "mode of {}", bin.display());
    for name in ["bash", "sh"] {
        let shim = shims.join(name);
        assert!(fs::symlink_metadata(&shim)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_link(&shim).unwrap(), bin);
        assert_eq!(
            fs::canonicalize(&shim).unwrap(),
            fs::canonicalize(bin).unwrap()
        );
    }
    assert_eq!(tree(shims).len(), 2, "{:?}", tree(shims));
}

/// The caller's PATH minus every directory holding a `cargo`.
fn path_without_cargo() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).filter(|dir| !dir.join("cargo").exists());
    std::env::join_paths(dirs).unwrap()
}

#[test]
fn installs_under_home_by_default_and_reinstalls_cleanly() {
    let sandbox = Sandbox::new("defaults");
    let home = sandbox.path("home");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let env = [
        ("HOME", home.as_os_str()),
        ("PATH", &path),
        ("SHELLGUARD_BIN", OsStr::new(BIN)),
    ];
    let bin = home.join(".local/bin/shellguard");
    let shims = home.join(".local/share/shellguard/shims");
    let bin_s = bin.display().to_string();

    let out = install(&sandbox.0, &env);
    assert_succeeded(&out);
    assert_installed(&bin, &shims);
    let installed = tree(&home);
    assert_eq!(
        installed,
        [
            ".local/".to_string(),
            ".local/bin/".into(),
            ".local/bin/shellguard 755".into(),
            ".local/share/".into(),
            ".local/share/shellguard/".into(),
            ".local/share/shellguard/shims/".into(),
            format!(".local/share/shellguard/shims/bash -> {bin_s}"),
            format!(".local/share/shellguard/shims/sh -> {bin_s}"),
        ]
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&bin_s), "{stdout}");
    assert!(stdout.contains(&shims.display().to_string()), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is not on PATH"), "{stderr}");

    // Again, unchanged: same state, no leftovers.
    assert_succeeded(&install(&sandbox.0, &env));
    assert_eq!(tree(&home), installed);

    // Again over a stale binary and a wrong link: both replaced.
    fs::write(&bin, "stale").unwrap();
    fs::remove_file(shims.join("sh")).unwrap();
    symlink("/nonexistent", shims.join("sh")).unwrap();
    assert_succeeded(&install(&sandbox.0, &env));
    assert_eq!(tree(&home), installed);
    assert_installed(&bin, &shims);
}

#[test]
fn honours_prefix_and_xdg_data_home() {
    let sandbox = Sandbox::new("prefix");
    let (home, prefix, data) = (
        sandbox.path("home"),
        sandbox.path("opt"),
        sandbox.path("data"),
    );
    let bin = prefix.join("bin/shellguard");
    let path = std::env::join_paths(std::iter::once(prefix.join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let env = [
        ("HOME", home.as_os_str()),
        ("PREFIX", prefix.as_os_str()),
        ("XDG_DATA_HOME", data.as_os_str()),
        ("PATH", &path),
        ("SHELLGUARD_BIN", OsStr::new(BIN)),
    ];

    for _ in 0..2 {
        let out = install(&sandbox.0, &env);
        assert_succeeded(&out);
        // $PREFIX/bin is on PATH: no warning.
        assert_eq!(text(&out.stderr), "");
        assert_installed(&bin, &data.join("shellguard/shims"));
        assert_eq!(tree(&prefix), ["bin/", "bin/shellguard 755"]);
        assert_eq!(tree(&data).len(), 4, "{:?}", tree(&data));
        assert_eq!(tree(&home), Vec::<String>::new(), "wrote into HOME");
    }
}

/// A `cargo` that makes its target directory, runs `first` (shell), then "builds" by copying the test binary to where
/// cargo would put it; returns a PATH with it first and no real cargo.
fn fake_cargo(sandbox: &Sandbox, first: &str) -> OsString {
    let fake = sandbox.path("fakebin");
    fs::create_dir(&fake).unwrap();
    fs::write(
        fake.join("cargo"),
        format!(
            "#!/bin/sh -e\n\
             mkdir -p \"$CARGO_TARGET_DIR/release\"\n\
             {first}\n\
             cp '{BIN}' \"$CARGO_TARGET_DIR/release/shellguard\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(fake.join("cargo"), fs::Permissions::from_mode(0o755)).unwrap();
    std::env::join_paths(std::iter::once(fake).chain(std::env::split_paths(&path_without_cargo())))
        .unwrap()
}

#[test]
fn without_shellguard_bin_builds_with_cargo_locked_and_installs_the_result() {
    let sandbox = Sandbox::new("build");
    let home = sandbox.path("home");
    let target = sandbox.path("target");
    // A stand-in for cargo: records where and how it ran, "builds" by copying the test binary.
    let path = fake_cargo(
        &sandbox,
        "printf '%s\\n' \"$PWD\" \"$*\" >\"$CARGO_TARGET_DIR/../cargo-ran\"",
    );
    let env = [
        ("HOME", home.as_os_str()),
        ("PATH", &path),
        ("CARGO_TARGET_DIR", target.as_os_str()),
    ];

    assert_succeeded(&install(&sandbox.0, &env));
    let ran = fs::read_to_string(sandbox.path("cargo-ran")).unwrap();
    // Cargo.lock is committed, so the build is --locked, run in the checkout.
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("Cargo.lock")
        .exists());
    // Statically linked (no preloading into the guard).
    assert_eq!(
        ran,
        format!(
            "{}\nrustc --release --locked --bin shellguard -- -C target-feature=+crt-static\n",
            env!("CARGO_MANIFEST_DIR")
        )
    );
    assert_installed(
        &home.join(".local/bin/shellguard"),
        &home.join(".local/share/shellguard/shims"),
    );
}

#[test]
fn without_a_static_c_library_it_builds_dynamically_and_says_what_that_costs() {
    let sandbox = Sandbox::new("dynamic");
    let home = sandbox.path("home");
    let target = sandbox.path("target");
    // A cargo whose static build fails (no libc.a), and whose ordinary build works.
    let path = fake_cargo(&sandbox, "[ \"$1\" = rustc ] && exit 1");
    let env = [
        ("HOME", home.as_os_str()),
        ("PATH", &path),
        ("CARGO_TARGET_DIR", target.as_os_str()),
    ];
    let out = install(&sandbox.0, &env);
    assert_succeeded(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains("dynamically linked") && err.contains("LD_PRELOAD"),
        "{err}"
    );
    assert_installed(
        &home.join(".local/bin/shellguard"),
        &home.join(".local/share/shellguard/shims"),
    );
}

#[test]
fn refuses_without_cargo_or_shellguard_bin_and_installs_nothing() {
    let sandbox = Sandbox::new("nocargo");
    let home = sandbox.path("home");
    let path = path_without_cargo();
    let found = Command::new("/bin/sh")
        .args(["-c", "command -v cargo"])
        .env_clear()
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(!found.status.success(), "cargo still on {path:?}");

    let out = install(&sandbox.0, &[("HOME", home.as_os_str()), ("PATH", &path)]);
    let message = assert_refused(&out);
    assert!(message.contains("cargo not found"), "{message}");
    assert!(message.contains("SHELLGUARD_BIN"), "{message}");
    assert_eq!(tree(&home), Vec::<String>::new(), "installed something");
}

#[test]
fn refuses_when_a_target_directory_cannot_be_created() {
    let sandbox = Sandbox::new("mkdir");
    let home = sandbox.path("home");
    // A directory cannot be made under a regular file, not even by root.
    let file = sandbox.path("file");
    fs::write(&file, "").unwrap();
    let prefix = file.join("prefix");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let env = [
        ("HOME", home.as_os_str()),
        ("PREFIX", prefix.as_os_str()),
        ("PATH", &path),
        ("SHELLGUARD_BIN", OsStr::new(BIN)),
    ];

    let message = assert_refused(&install(&sandbox.0, &env));
    let expected = format!("cannot create {}/bin", prefix.display());
    assert!(message.contains(&expected), "{message}");
    assert_eq!(tree(&home), Vec::<String>::new(), "installed something");
}
