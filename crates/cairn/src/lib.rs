//! The `cairn` binary: command line, configuration, telemetry and wiring. Business rules
//! live in the crates it wires together.

pub mod background;
pub mod cli;
pub mod config;
pub mod startup;
pub mod telemetry;
