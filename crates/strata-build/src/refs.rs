//! Names of refs in the store.
//!
//! - `deps/<deps key>`, `crates/<crates key>`: exact hits.
//! - `projects/<project>/<config>/{deps,crates}`: the newest layer of a project in one build
//!   configuration. Restoring an older layer is safe — content-based freshness makes cargo rebuild
//!   exactly the units whose inputs changed — so a miss on the exact key still starts warm.
//! - `projects/<project>/last`: the newest crate layer of the project in any configuration, for
//!   `strata why`.

pub fn deps(key: &str) -> String {
    format!("deps/{key}")
}

pub fn crates(key: &str) -> String {
    format!("crates/{key}")
}

pub fn latest(project: &str, config: &str, kind: &str) -> String {
    format!("projects/{project}/{config}/{kind}")
}

pub fn last(project: &str) -> String {
    format!("projects/{project}/last")
}
