//! End-to-end tests of the `firewatch` binary. One test binary; each test gets a fresh directory.

mod fake_node;
mod serve;
mod ship;
mod ship_node;
mod util;
