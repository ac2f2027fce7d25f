//! The command lines of the shells shellguard stands in for.
pub mod bash;
