//! Command lines: bash's, and shellguard's own subcommands.
pub mod manage;
