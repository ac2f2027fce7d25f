//! Command lines: bash's (and sh's), and shellguard's own subcommands.
pub mod bash;
pub mod doctor;
pub mod log;
pub mod manage;
pub mod setup;
