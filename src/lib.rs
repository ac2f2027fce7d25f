//! shellguard reads every command before bash runs it, asks a human about what cannot be
//! undone, and otherwise execs the real shell untouched.
#![deny(unsafe_code)]

pub mod analyze;
pub mod approve;
pub mod audit;
pub mod cli;
pub mod enforced;
pub mod exec;
mod guard;
pub mod interactive;
pub mod policy;
pub mod rules;
pub mod sandbox;
pub mod supervise;
mod sys;

mod run;
mod shell;
mod startup;

pub use run::run;

#[global_allocator]
static ALLOC: sys::CountingAlloc = sys::CountingAlloc;
