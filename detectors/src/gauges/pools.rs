//! Connection pools' own stats: HikariCP's `HikariPool-1 - Pool stats (total=20, active=4,
//! idle=16, waiting=0)`, DBCP's `numActive`. What a pool has lent out is the level to watch
//! for a connection leak: requests still succeed while it creeps up, until the pool is empty
//! and `getConnection` times out. Each pool is its own gauge (`pool.HikariPool-1.active`): a
//! replica pool filling for a report must not hide, or be, the primary's leak.

/// Does `name` count the connections a pool has lent out, in a line or record about a pool?
pub(super) fn is_active_name(name: &str) -> bool {
    ["active", "numActive", "activeCount", "busy"]
        .iter()
        .any(|w| name.eq_ignore_ascii_case(w))
}

/// For a line about a pool (`None` if not), the pool's name when the line gives it: the word
/// holding `pool` (`HikariPool-1`, `[db-pool]`), or its value (`pool=replica`).
pub(super) fn pool_label(text: &str) -> Option<Option<&str>> {
    let b = text.as_bytes();
    let at = b.windows(4).position(|w| w.eq_ignore_ascii_case(b"pool"))?;
    // `at` is at an ASCII byte, so a char boundary.
    let start = text[..at]
        .rfind(|c: char| c.is_whitespace() || "[(\"'".contains(c))
        .map_or(0, |p| p + 1);
    let end = text[at..]
        .find(|c: char| c.is_whitespace() || "])\"',:;".contains(c))
        .map_or(text.len(), |p| at + p);
    let word = &text[start..end];
    let label = word.split_once('=').map_or(word, |(_, v)| v);
    let label = label.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let named = !label.is_empty() && label.len() <= 64 && !label.eq_ignore_ascii_case("pool");
    Some(named.then_some(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_named_by_the_word_that_holds_it() {
        let hikari = "HikariPool-1 - Pool stats (total=20, active=4, idle=16, waiting=0)";
        assert_eq!(pool_label(hikari), Some(Some("HikariPool-1")));
        assert_eq!(pool_label("pool=replica active=3"), Some(Some("replica")));
        assert_eq!(pool_label("[db-pool] active: 3"), Some(Some("db-pool")));
        assert_eq!(pool_label("Pool stats: active=3"), Some(None));
        assert_eq!(pool_label("queue stats active=3"), None);
        assert!(is_active_name("numActive") && is_active_name("active"));
        assert!(!is_active_name("active_users"));
    }
}
