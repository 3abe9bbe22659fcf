//! The publish policy: whether this run pushes to the remotes or only restores from them,
//! decided from the variables a CI service sets.
//!
//! By default (`auto`) a CI run pushes only from a publish ref: the repository's default branch
//! and tags, or the refs configured in `[publish] refs` / `STRATA_PUBLISH_REFS`, or a ref the CI
//! marks protected (`GITHUB_REF_PROTECTED`, `CI_COMMIT_REF_PROTECTED`). Pull and merge requests
//! only restore. Outside GitHub Actions and GitLab CI the signing key alone decides, as before.
//!
//! This is a convenience against cache poisoning by accident, not security: anyone who can change
//! the workflow can change the policy. The guard is the signing key, given only to protected jobs.

/// `STRATA_PUBLISH` / `[publish] mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PublishMode {
    #[default]
    Auto,
    Always,
    Never,
}

impl PublishMode {
    pub fn parse(s: &str) -> Result<PublishMode, String> {
        match s.trim() {
            "auto" | "" => Ok(PublishMode::Auto),
            "always" => Ok(PublishMode::Always),
            "never" => Ok(PublishMode::Never),
            other => Err(format!(
                "publish mode must be `auto`, `always` or `never`, not `{other}`"
            )),
        }
    }
}

/// The configured policy (file and environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishPolicy {
    pub mode: PublishMode,
    /// Refs a run may push from: `main` and `release/*` name branches, `refs/…` full refs; `*`
    /// matches any run of characters. `None`: the default branch and `refs/tags/*`.
    pub refs: Option<Vec<String>>,
    /// Whether a ref the CI marks protected may push even when it is not listed.
    pub protected: bool,
    /// The default branch when the CI does not say (`STRATA_DEFAULT_BRANCH`).
    pub default_branch: Option<String>,
}

impl Default for PublishPolicy {
    fn default() -> Self {
        PublishPolicy {
            mode: PublishMode::Auto,
            refs: None,
            protected: true,
            default_branch: None,
        }
    }
}

/// What this run does with the remotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub push: bool,
    /// One sentence, for the status line and `strata remote check`.
    pub reason: String,
}

impl Publish {
    fn push(reason: impl Into<String>) -> Publish {
        Publish {
            push: true,
            reason: reason.into(),
        }
    }

    fn restore_only(reason: impl Into<String>) -> Publish {
        Publish {
            push: false,
            reason: reason.into(),
        }
    }
}

impl Default for Publish {
    /// No policy consulted: the signing key decides, as outside CI.
    fn default() -> Self {
        Publish::push("no publish policy applied")
    }
}

/// `*` matches any run of characters (slashes included), everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(text) = text.strip_prefix(head) else {
                return false;
            };
            (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| glob(rest, &text[i..]))
        }
    }
}

/// A configured ref as a full ref pattern: branch names get `refs/heads/`.
fn full_pattern(p: &str) -> String {
    if p.starts_with("refs/") {
        p.to_string()
    } else {
        format!("refs/heads/{p}")
    }
}

fn truthy(v: Option<String>) -> bool {
    matches!(v.as_deref(), Some("true") | Some("1"))
}

fn json_str<'a>(v: Option<&'a serde_json::Value>, path: &[&str]) -> Option<&'a str> {
    let mut v = v?;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str().filter(|s| !s.is_empty())
}

impl PublishPolicy {
    /// The decision for a run in `env`; `event` is GitHub's event payload (the JSON at
    /// `GITHUB_EVENT_PATH`) when there is one. Pure: the same inputs give the same decision.
    pub fn decide(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        event: Option<&serde_json::Value>,
    ) -> Publish {
        let var = |k: &str| env(k).filter(|v| !v.is_empty());
        match self.mode {
            PublishMode::Always => return Publish::push("publish mode is `always`"),
            PublishMode::Never => return Publish::restore_only("publish mode is `never`"),
            PublishMode::Auto => {}
        }
        if truthy(var("GITHUB_ACTIONS")) {
            let name = var("GITHUB_EVENT_NAME").unwrap_or_default();
            if name.starts_with("pull_request") {
                let number = event
                    .and_then(|e| e.pointer("/pull_request/number"))
                    .and_then(|n| n.as_u64())
                    .map(|n| format!(" #{n}"))
                    .unwrap_or_default();
                let pr = event.and_then(|e| e.get("pull_request"));
                let head = json_str(pr, &["head", "repo", "full_name"]);
                let base = json_str(pr, &["base", "repo", "full_name"])
                    .map(str::to_string)
                    .or_else(|| var("GITHUB_REPOSITORY"));
                // head.repo.fork alone is also true inside a fork's own pull requests.
                let fork = match (head, base.as_deref()) {
                    (Some(h), Some(b)) => h != b,
                    _ => pr
                        .and_then(|p| p.pointer("/head/repo/fork"))
                        .and_then(|f| f.as_bool())
                        .unwrap_or(false),
                };
                let from = if fork {
                    format!(" from the fork {}", head.unwrap_or("(unknown)"))
                } else {
                    match (var("GITHUB_HEAD_REF"), var("GITHUB_BASE_REF")) {
                        (Some(h), Some(b)) => format!(" ({h} into {b})"),
                        _ => String::new(),
                    }
                };
                return Publish::restore_only(format!(
                    "GitHub `{name}` event: pull request{number}{from} restores only"
                ));
            }
            let Some(r) = var("GITHUB_REF") else {
                return Publish::restore_only("GitHub Actions run without GITHUB_REF");
            };
            let default = self
                .default_branch
                .clone()
                .or_else(|| json_str(event, &["repository", "default_branch"]).map(Into::into));
            return self.by_ref(
                &r,
                default,
                truthy(var("GITHUB_REF_PROTECTED")),
                "GITHUB_REF_PROTECTED",
            );
        }
        if truthy(var("GITLAB_CI")) {
            if var("CI_PIPELINE_SOURCE").as_deref() == Some("merge_request_event")
                || var("CI_MERGE_REQUEST_IID").is_some()
            {
                let iid = var("CI_MERGE_REQUEST_IID")
                    .map(|i| format!(" !{i}"))
                    .unwrap_or_default();
                let fork = match (
                    var("CI_MERGE_REQUEST_SOURCE_PROJECT_ID"),
                    var("CI_MERGE_REQUEST_PROJECT_ID"),
                ) {
                    (Some(s), Some(t)) => s != t,
                    _ => false,
                };
                let from = if fork {
                    format!(
                        " from the fork {}",
                        var("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH").unwrap_or_default()
                    )
                } else {
                    match (
                        var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
                        var("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
                    ) {
                        (Some(s), Some(t)) => format!(" ({s} into {t})"),
                        _ => String::new(),
                    }
                };
                return Publish::restore_only(format!(
                    "GitLab merge request{iid}{from} restores only"
                ));
            }
            let r = if let Some(tag) = var("CI_COMMIT_TAG") {
                format!("refs/tags/{tag}")
            } else if let Some(b) = var("CI_COMMIT_BRANCH").or_else(|| var("CI_COMMIT_REF_NAME")) {
                format!("refs/heads/{b}")
            } else {
                return Publish::restore_only(
                    "GitLab CI job without CI_COMMIT_BRANCH or CI_COMMIT_TAG",
                );
            };
            let default = self
                .default_branch
                .clone()
                .or_else(|| var("CI_DEFAULT_BRANCH"));
            return self.by_ref(
                &r,
                default,
                truthy(var("CI_COMMIT_REF_PROTECTED")),
                "CI_COMMIT_REF_PROTECTED",
            );
        }
        Publish::push("not a GitHub Actions or GitLab CI run: the signing key decides")
    }

    fn by_ref(
        &self,
        r: &str,
        default_branch: Option<String>,
        protected: bool,
        protected_var: &str,
    ) -> Publish {
        let (patterns, described) = match &self.refs {
            Some(refs) => (
                refs.iter().map(|p| full_pattern(p)).collect::<Vec<_>>(),
                format!("the publish refs {}", refs.join(", ")),
            ),
            None => {
                let mut p = vec!["refs/tags/*".to_string()];
                let mut d = "tags".to_string();
                if let Some(b) = &default_branch {
                    p.push(format!("refs/heads/{b}"));
                    d = format!("the default branch {b} and tags");
                } else {
                    d.push_str(" (the default branch is unknown: set STRATA_DEFAULT_BRANCH)");
                }
                (p, d)
            }
        };
        if let Some(p) = patterns.iter().find(|p| glob(p, r)) {
            return Publish::push(format!("{r} is a publish ref ({p})"));
        }
        if self.protected && protected {
            return Publish::push(format!("{r} is protected ({protected_var})"));
        }
        Publish::restore_only(format!(
            "{r} is neither protected nor one of {described}; it restores only"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn decide(
        p: &PublishPolicy,
        vars: &[(&str, &str)],
        event: Option<serde_json::Value>,
    ) -> Publish {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.decide(&|k| m.get(k).cloned(), event.as_ref())
    }

    fn gh(event: &str, r: &str) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_EVENT_NAME", event.into()),
            ("GITHUB_REF", r.into()),
            ("GITHUB_REPOSITORY", "team/app".into()),
        ]
    }

    fn run(
        p: &PublishPolicy,
        vars: &[(&'static str, String)],
        event: Option<serde_json::Value>,
    ) -> Publish {
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        decide(p, &v, event)
    }

    fn push_event() -> serde_json::Value {
        serde_json::json!({"repository": {"default_branch": "main", "full_name": "team/app"}})
    }

    fn pr_event(head_repo: &str, fork: bool) -> serde_json::Value {
        serde_json::json!({
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": {"ref": "feature", "repo": {"full_name": head_repo, "fork": fork}},
                "base": {"ref": "main", "repo": {"full_name": "team/app", "fork": false}}
            },
            "repository": {"default_branch": "main", "full_name": "team/app"}
        })
    }

    #[test]
    fn github_push_to_default_branch_and_tags_publishes() {
        let p = PublishPolicy::default();
        let d = run(&p, &gh("push", "refs/heads/main"), Some(push_event()));
        assert!(d.push, "{d:?}");
        assert!(d.reason.contains("refs/heads/main"), "{d:?}");
        assert!(run(&p, &gh("push", "refs/tags/v1.2.0"), Some(push_event())).push);
        // Other events on the default branch (schedule, workflow_dispatch) go by the ref too.
        assert!(run(&p, &gh("schedule", "refs/heads/main"), Some(push_event())).push);
    }

    #[test]
    fn github_push_to_other_branch_restores_only() {
        let p = PublishPolicy::default();
        let d = run(&p, &gh("push", "refs/heads/feature"), Some(push_event()));
        assert!(!d.push, "{d:?}");
        assert!(
            d.reason.contains("the default branch main and tags"),
            "{d:?}"
        );
        // A branch merely starting like the default one is another branch.
        assert!(!run(&p, &gh("push", "refs/heads/main-old"), Some(push_event())).push);
        // A merge queue's ref is not the default branch.
        assert!(
            !run(
                &p,
                &gh("merge_group", "refs/heads/gh-readonly-queue/main/pr-7-abc"),
                Some(push_event())
            )
            .push
        );
    }

    #[test]
    fn github_protected_ref_publishes_unless_turned_off() {
        let mut vars = gh("push", "refs/heads/release/1.x");
        vars.push(("GITHUB_REF_PROTECTED", "true".into()));
        let mut p = PublishPolicy::default();
        let d = run(&p, &vars, Some(push_event()));
        assert!(d.push && d.reason.contains("GITHUB_REF_PROTECTED"), "{d:?}");
        p.protected = false;
        assert!(!run(&p, &vars, Some(push_event())).push);
    }

    #[test]
    fn github_pull_requests_restore_only() {
        let p = PublishPolicy::default();
        let mut vars = gh("pull_request", "refs/pull/7/merge");
        vars.push(("GITHUB_HEAD_REF", "feature".into()));
        vars.push(("GITHUB_BASE_REF", "main".into()));
        // Even a protected flag does not make a pull request publish.
        vars.push(("GITHUB_REF_PROTECTED", "true".into()));
        let same = run(&p, &vars, Some(pr_event("team/app", false)));
        assert!(!same.push, "{same:?}");
        assert!(same.reason.contains("#7 (feature into main)"), "{same:?}");
        let fork = run(&p, &vars, Some(pr_event("someone/app", true)));
        assert!(!fork.push);
        assert!(
            fork.reason.contains("from the fork someone/app"),
            "{fork:?}"
        );
        // pull_request_target runs with the base's secrets: still restore-only.
        vars[1].1 = "pull_request_target".into();
        assert!(!run(&p, &vars, Some(pr_event("someone/app", true))).push);
        // Without the event payload the decision is the same.
        assert!(!run(&p, &vars, None).push);
    }

    #[test]
    fn github_default_branch_from_config_or_unknown() {
        let mut p = PublishPolicy::default();
        // No event payload: the default branch is unknown, only tags publish.
        let d = run(&p, &gh("push", "refs/heads/main"), None);
        assert!(
            !d.push && d.reason.contains("STRATA_DEFAULT_BRANCH"),
            "{d:?}"
        );
        p.default_branch = Some("trunk".into());
        assert!(run(&p, &gh("push", "refs/heads/trunk"), Some(push_event())).push);
        assert!(!run(&p, &gh("push", "refs/heads/main"), Some(push_event())).push);
    }

    #[test]
    fn configured_refs_replace_the_default() {
        let p = PublishPolicy {
            refs: Some(vec![
                "main".into(),
                "release/*".into(),
                "refs/tags/v*".into(),
            ]),
            protected: false,
            ..PublishPolicy::default()
        };
        let ev = Some(push_event());
        assert!(run(&p, &gh("push", "refs/heads/release/2.0"), ev.clone()).push);
        assert!(run(&p, &gh("push", "refs/tags/v2.0.0"), ev.clone()).push);
        assert!(!run(&p, &gh("push", "refs/tags/nightly"), ev.clone()).push);
        assert!(!run(&p, &gh("push", "refs/heads/releases"), ev).push);
    }

    #[test]
    fn modes_override_the_ci() {
        let pr = gh("pull_request", "refs/pull/7/merge");
        let always = PublishPolicy {
            mode: PublishMode::Always,
            ..PublishPolicy::default()
        };
        assert!(run(&always, &pr, None).push);
        let never = PublishPolicy {
            mode: PublishMode::Never,
            ..PublishPolicy::default()
        };
        assert!(!run(&never, &gh("push", "refs/heads/main"), Some(push_event())).push);
        assert!(!decide(&never, &[], None).push);
        assert_eq!(PublishMode::parse("always"), Ok(PublishMode::Always));
        assert!(
            PublishMode::parse("sometimes")
                .unwrap_err()
                .contains("`sometimes`")
        );
    }

    #[test]
    fn outside_ci_the_key_decides() {
        let d = decide(&PublishPolicy::default(), &[("CI", "true")], None);
        assert!(d.push, "{d:?}");
        // GITHUB_ACTIONS must say true: an empty or other value is not GitHub.
        assert!(
            decide(
                &PublishPolicy::default(),
                &[
                    ("GITHUB_ACTIONS", ""),
                    ("GITHUB_EVENT_NAME", "pull_request")
                ],
                None
            )
            .push
        );
    }

    fn gl(vars: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("GITLAB_CI", "true".to_string()),
            ("CI_DEFAULT_BRANCH", "main".into()),
        ];
        v.extend(vars.iter().map(|(k, x)| (*k, x.to_string())));
        v
    }

    #[test]
    fn gitlab_branches_tags_and_protection() {
        let p = PublishPolicy::default();
        let main = gl(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_COMMIT_REF_PROTECTED", "true"),
        ]);
        assert!(run(&p, &main, None).push);
        let tag = gl(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_TAG", "v1.0.0"),
            ("CI_COMMIT_REF_NAME", "v1.0.0"),
        ]);
        let d = run(&p, &tag, None);
        assert!(d.push && d.reason.contains("refs/tags/v1.0.0"), "{d:?}");
        let protected = gl(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "stable"),
            ("CI_COMMIT_REF_PROTECTED", "true"),
        ]);
        let d = run(&p, &protected, None);
        assert!(
            d.push && d.reason.contains("CI_COMMIT_REF_PROTECTED"),
            "{d:?}"
        );
        let feature = gl(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "feature"),
            ("CI_COMMIT_REF_PROTECTED", "false"),
        ]);
        assert!(!run(&p, &feature, None).push);
    }

    #[test]
    fn gitlab_merge_requests_restore_only() {
        let p = PublishPolicy::default();
        let same = gl(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "12"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ("CI_COMMIT_REF_PROTECTED", "true"),
            ("CI_COMMIT_REF_NAME", "feature"),
        ]);
        let d = run(&p, &same, None);
        assert!(
            !d.push && d.reason.contains("!12 (feature into main)"),
            "{d:?}"
        );
        let fork = gl(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "13"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "200"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH", "someone/app"),
        ]);
        let d = run(&p, &fork, None);
        assert!(
            !d.push && d.reason.contains("from the fork someone/app"),
            "{d:?}"
        );
    }

    #[test]
    fn glob_matches_runs_of_characters() {
        assert!(glob(
            "refs/heads/release/*",
            "refs/heads/release/1.x/hotfix"
        ));
        assert!(glob("refs/tags/v*.0", "refs/tags/v2.0"));
        assert!(!glob("refs/tags/v*.0", "refs/tags/v2.1"));
        assert!(glob("*", ""));
        assert!(!glob("refs/heads/main", "refs/heads/main2"));
    }
}
