//! From argv to an exit status: shellguard's own subcommands, or bash's command line.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::manage;

/// Entry point shared by the binary and the tests.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let argv0 = args.first().cloned().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Under its own name, a first word that is a subcommand is one; through a link named
    // bash or sh, every argument keeps its bash meaning.
    if name.starts_with("shellguard") {
        if let Some(sub) = args.get(1).and_then(|a| a.to_str()) {
            if manage::SUBCOMMANDS.contains(&sub) {
                let rest: Vec<String> = args[2..]
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                return ExitCode::from(manage::main(sub, &rest));
            }
        }
    }
    crate::shell::main(args)
}
