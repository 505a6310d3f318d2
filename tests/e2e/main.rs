//! End-to-end tests of the `firewatch` binary. One test binary; each test gets a fresh directory.

mod gen;
mod search;
mod serve;
mod analyze;
mod fake_node;
mod ship;
mod ship_node;
mod grep;
mod util;
