//! Command lines: bash's (and sh's), and shellguard's own subcommands.
pub mod bash;
pub mod log;
pub mod manage;
