//! End-to-end tests of the `firewatch` binary. One test binary; each test gets a fresh directory.

mod search;
mod serve;
mod util;
