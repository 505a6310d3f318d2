//! End-to-end tests of the `firewatch` binary. One test binary; each test gets a fresh directory.

mod alerts;
mod analyze;
mod fake_node;
mod gen;
mod grep;
mod offline;
mod search;
mod serve;
mod ship;
mod ship_node;
mod ship_sources;
mod up;
mod util;
