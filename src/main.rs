//! shellguard: a guard shell for coding agents. All logic lives in the library.
fn main() -> std::process::ExitCode {
    shellguard::run(std::env::args_os().collect())
}
