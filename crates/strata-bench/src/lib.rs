//! strata-bench: runs scenarios × workloads × tools (native cargo, cargo-chef, sccache, mbx,
//! kache, strata) and writes a report. A benchmark, not a test: nothing here asserts a time.

pub mod edits;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod lockbump;
pub mod machine;
pub mod model;
pub mod project;
pub mod report;
pub mod runner;
pub mod tools;
pub mod units;
pub mod workload;

pub use error::{BenchError, Result};
pub use model::{Scenario, Tool};
