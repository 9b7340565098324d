// Route patterns, shared by build.rs (checking the operator's routes against the
// manifest's) and the router (registry.rs): one definition of matching.

/// A route's path pattern and its form conditions:
/// "/token?grant_type=x" -> ("/token", Some("grant_type=x")).
pub fn split_route(route: &str) -> (&str, Option<&str>) {
    match route.split_once('?') {
        Some((path, conditions)) => (path, Some(conditions)),
        None => (route, None),
    }
}

/// Manifest route matching (Manifest::matchesRoute): exact, or a "/prefix/*" pattern.
pub fn path_matches(pattern: &str, sub: &str) -> bool {
    if pattern.len() >= 2 && pattern.ends_with("/*") {
        let prefix = &pattern[..pattern.len() - 1];
        sub.starts_with(prefix) || sub == &prefix[..prefix.len() - 1]
    } else {
        sub == pattern
    }
}
