//! CI integration, run as the CI services run it: the GitHub Action's steps (`action.yml`) and the
//! GitLab pipeline of the docs (`docs/ci/gitlab-ci.yml`) are read with a YAML parser and their
//! scripts run by bash with the variables GitHub and GitLab set for a push, a pull (merge) request
//! from the same repository and one from a fork, against `strata serve` on 127.0.0.1, on the
//! fixture workspace. Every job is another machine: its own store, CARGO_HOME and checkout path.
//!
//! The action's install step builds strata with `cargo install --path` unless its `strata-bin`
//! input names a binary; these tests give it the binary under test (a release build of strata
//! per test would take minutes), so the `cargo install` line is exercised only by the docs.

mod common;
#[path = "common/serve.rs"]
mod serve;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_yaml_ng::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn yaml(rel: &str) -> Value {
    let path = repo_root().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn strata_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strata"))
}

/// Every file under `dir`, relative: what a remote holds.
fn files(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// One CI job on its own machine.
struct Job {
    root: PathBuf,
    checkout: PathBuf,
    env: BTreeMap<String, String>,
}

impl Job {
    /// A machine with nothing of the caller's environment but what cargo needs to run.
    fn new(w: &World, name: &str, ci: &[(&str, String)]) -> Job {
        let root = w.path(&format!("job-{name}"));
        let checkout = w.checkout(&format!("job-{name}/src"));
        let mut env = BTreeMap::new();
        for k in ["PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "LANG"] {
            if let Ok(v) = std::env::var(k) {
                env.insert(k.to_string(), v);
            }
        }
        let mut dir = |k: &str, sub: &str| {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).unwrap();
            env.insert(k.to_string(), p.display().to_string());
        };
        dir("CARGO_HOME", "cargo-home");
        dir("XDG_CONFIG_HOME", "config");
        dir("TMPDIR", "tmp");
        env.insert(
            "STRATA_STORE".into(),
            root.join("store").display().to_string(),
        );
        env.insert(
            "STRATA_CONFIG".into(),
            root.join("config/none.toml").display().to_string(),
        );
        env.insert(
            "STRATA_CARGO_HOME_LINK".into(),
            w.link.display().to_string(),
        );
        env.insert("CARGO_TERM_COLOR".into(), "never".into());
        env.insert("CI".into(), "true".into());
        for (k, v) in ci {
            env.insert(k.to_string(), v.clone());
        }
        Job {
            root,
            checkout,
            env,
        }
    }

    fn bash(&self, script: &str, file: &str, env: &BTreeMap<String, String>) -> Step {
        let path = self.root.join(file);
        std::fs::write(&path, script).unwrap();
        // As both runners start bash for a script.
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&path)
            .env_clear()
            .envs(env)
            .current_dir(&self.checkout)
            .output()
            .expect("bash");
        Step {
            name: file.to_string(),
            code: out.status.code().unwrap_or(-1),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

#[derive(Debug)]
struct Step {
    name: String,
    code: i32,
    /// stdout then stderr.
    out: String,
}

struct ActionRun {
    steps: Vec<Step>,
    /// What the steps wrote to GITHUB_ENV, as later steps of the job see it.
    env: BTreeMap<String, String>,
    summary: String,
    temp: PathBuf,
}

impl ActionRun {
    #[track_caller]
    fn ok(self) -> ActionRun {
        for s in &self.steps {
            assert_eq!(s.code, 0, "step {} failed:\n{}", s.name, s.out);
        }
        self
    }

    fn step(&self, name: &str) -> &str {
        &self
            .steps
            .iter()
            .find(|s| s.name.contains(name))
            .unwrap_or_else(|| panic!("no step {name}: {:?}", self.steps))
            .out
    }
}

/// `KEY=VALUE` lines and `KEY<<DELIM` blocks, as GitHub reads GITHUB_ENV and GITHUB_OUTPUT.
fn env_file(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((k, delim)) = l.split_once("<<") {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            out.push((k.to_string(), v.join("\n")));
        } else if let Some((k, v)) = l.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

/// `${{ … }}` in a step's `env:`: the action's inputs and its own path, nothing else.
fn expr(v: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").expect("unclosed ${{") + i;
        let e = rest[i + 3..end].trim();
        if let Some(name) = e.strip_prefix("inputs.") {
            out.push_str(
                inputs
                    .get(name)
                    .unwrap_or_else(|| panic!("action.yml uses undeclared input {name}")),
            );
        } else if e == "github.action_path" {
            out.push_str(&repo_root().display().to_string());
        } else {
            panic!("expression the test does not evaluate: {e}");
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Runs action.yml's steps as GitHub runs a composite action: each `run:` with bash, its `env:`
/// evaluated, GITHUB_ENV and GITHUB_PATH carried to later steps, `if: always()` after a failure.
fn run_action(job: &Job, given: &BTreeMap<String, String>) -> ActionRun {
    let action = yaml("action.yml");
    assert_eq!(s(&action["runs"]["using"]), "composite");
    let declared = action["inputs"].as_mapping().expect("inputs");
    let mut inputs: BTreeMap<String, String> = declared
        .iter()
        .map(|(k, v)| (s(k), s(&v["default"])))
        .collect();
    for (k, v) in given {
        assert!(inputs.contains_key(k), "action.yml has no input `{k}`");
        inputs.insert(k.clone(), v.clone());
    }
    let temp = job.root.join("runner-temp");
    std::fs::create_dir_all(&temp).unwrap();
    let summary = job.root.join("step-summary.md");
    std::fs::write(&summary, "").unwrap();
    let mut carried: BTreeMap<String, String> = BTreeMap::new();
    let mut path_dirs: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    let mut failed = false;
    for (i, step) in action["runs"]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .enumerate()
    {
        match step.get("if").map(s).as_deref() {
            None => {
                if failed {
                    continue;
                }
            }
            Some("always()") => {}
            Some(other) => panic!("condition the test does not evaluate: {other}"),
        }
        assert_eq!(
            s(&step["shell"]),
            "bash",
            "composite run steps name their shell"
        );
        let mut env = job.env.clone();
        env.extend(carried.clone());
        let files: Vec<(&str, PathBuf)> = ["GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT"]
            .into_iter()
            .map(|k| (k, temp.join(format!("{k}-{i}"))))
            .collect();
        for (k, p) in &files {
            std::fs::write(p, "").unwrap();
            env.insert(k.to_string(), p.display().to_string());
        }
        env.insert("RUNNER_TEMP".into(), temp.display().to_string());
        env.insert("GITHUB_STEP_SUMMARY".into(), summary.display().to_string());
        env.insert(
            "GITHUB_WORKSPACE".into(),
            job.checkout.display().to_string(),
        );
        env.insert(
            "GITHUB_ACTION_PATH".into(),
            repo_root().display().to_string(),
        );
        if let Some(m) = step.get("env").and_then(Value::as_mapping) {
            for (k, v) in m {
                env.insert(s(k), expr(&s(v), &inputs));
            }
        }
        let path = path_dirs
            .iter()
            .rev()
            .cloned()
            .chain(std::iter::once(job.env["PATH"].clone()))
            .collect::<Vec<_>>()
            .join(":");
        env.insert("PATH".into(), path);
        let name = format!("{i}-{}", s(&step["name"]));
        let r = job.bash(&s(&step["run"]), &format!("step-{name}.sh"), &env);
        failed |= r.code != 0;
        carried.extend(env_file(&files[0].1));
        path_dirs.extend(
            std::fs::read_to_string(&files[1].1)
                .unwrap_or_default()
                .lines()
                .map(String::from),
        );
        steps.push(Step { name, ..r });
    }
    ActionRun {
        steps,
        env: carried,
        summary: std::fs::read_to_string(&summary).unwrap(),
        temp,
    }
}

/// The `with:` of the strata step of `job` in the docs' workflow, its `${{ vars.X }}` and
/// `${{ secrets.X }}` replaced as GitHub would (a missing secret is empty, as in a fork's run).
fn workflow_inputs(
    job: &str,
    vars: &[(&str, &str)],
    secrets: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let wf = yaml("docs/ci/github-workflow.yml");
    let step = wf["jobs"][job]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .find(|st| {
            st.get("uses")
                .is_some_and(|u| s(u).starts_with("OWNER/strata@"))
        })
        .expect("the job uses the strata action");
    let lookup = |table: &[(&str, &str)], name: &str| {
        table
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    step["with"]
        .as_mapping()
        .expect("with")
        .iter()
        .map(|(k, v)| {
            let v = s(v);
            let value = match v
                .strip_prefix("${{")
                .and_then(|x| x.strip_suffix("}}"))
                .map(str::trim)
            {
                Some(e) if e.starts_with("vars.") => lookup(vars, &e[5..]),
                Some(e) if e.starts_with("secrets.") => lookup(secrets, &e[8..]),
                Some(e) => panic!("expression the test does not evaluate: {e}"),
                None => v,
            };
            (s(k), value)
        })
        .collect()
}

/// What GitHub sets for `event` on `git_ref`, with the event payload written where
/// GITHUB_EVENT_PATH says.
fn github(
    job_dir: &Path,
    event: &str,
    git_ref: &str,
    payload: serde_json::Value,
) -> Vec<(&'static str, String)> {
    std::fs::create_dir_all(job_dir).unwrap();
    let event_path = job_dir.join("event.json");
    std::fs::write(&event_path, payload.to_string()).unwrap();
    let pr = event == "pull_request";
    let mut v = vec![
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", event.into()),
        ("GITHUB_EVENT_PATH", event_path.display().to_string()),
        ("GITHUB_REF", git_ref.into()),
        ("GITHUB_REPOSITORY", "team/app".into()),
        (
            "GITHUB_SHA",
            "0123456789abcdef0123456789abcdef01234567".into(),
        ),
        ("RUNNER_OS", "Linux".into()),
        // Pull request refs are never protected; main is, on this repository.
        (
            "GITHUB_REF_PROTECTED",
            (!pr && git_ref == "refs/heads/main").to_string(),
        ),
        (
            "GITHUB_HEAD_REF",
            if pr { "feature".into() } else { String::new() },
        ),
        (
            "GITHUB_BASE_REF",
            if pr { "main".into() } else { String::new() },
        ),
    ];
    v.push((
        "GITHUB_REF_NAME",
        git_ref.rsplit('/').next().unwrap_or("").into(),
    ));
    v
}

fn pull_request_payload(head_repo: &str) -> serde_json::Value {
    serde_json::json!({
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"ref": "feature", "repo": {"full_name": head_repo, "fork": head_repo != "team/app"}},
            "base": {"ref": "main", "repo": {"full_name": "team/app", "fork": false}}
        },
        "repository": {"full_name": "team/app", "default_branch": "main"}
    })
}

struct Keys {
    secret: String,
    public: String,
    secret_path: PathBuf,
}

fn keygen(w: &World) -> Keys {
    let secret_path = w.path("ci.key");
    let r = w
        .strata(
            w.dir.path(),
            &[
                "key",
                "generate",
                "--name",
                "ci",
                "--out",
                secret_path.to_str().unwrap(),
            ],
        )
        .ok();
    Keys {
        secret: std::fs::read_to_string(&secret_path)
            .unwrap()
            .trim()
            .to_string(),
        public: r.stdout.trim().to_string(),
        secret_path,
    }
}

/// A `strata` that does not know `stats` (as before that command existed), to prove the summary's
/// fallback: a table from the status lines the action kept.
fn strata_without_stats(w: &World) -> PathBuf {
    let p = w.path("old-strata/strata");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nif [ \"$1\" = stats ]; then echo \"error: unrecognized subcommand 'stats'\" >&2; exit 2; fi\nexec '{}' \"$@\"\n",
            strata_bin().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A push to main publishes; a pull request from the same repository and one from a fork restore
/// what main pushed, push nothing and never get the signing key on disk; each run writes the step
/// summary.
#[test]
fn github_action_push_publishes_and_pull_requests_restore_only() {
    let w = World::new();
    let remote_dir = w.path("remote");
    let server = serve::Serve::start(&remote_dir);
    let keys = keygen(&w);
    let vars = [
        ("STRATA_REMOTE", server.url.as_str()),
        ("STRATA_PUBLIC_KEY", keys.public.as_str()),
    ];
    let secrets = [
        ("STRATA_SIGNING_KEY", keys.secret.as_str()),
        ("STRATA_REMOTE_TOKEN", serve::PUSH_TOKEN),
    ];
    let bin = strata_bin().display().to_string();

    // Push to main.
    let ci = github(
        &w.path("job-main"),
        "push",
        "refs/heads/main",
        serde_json::json!({"ref": "refs/heads/main", "repository": {"full_name": "team/app", "default_branch": "main"}}),
    );
    let job = Job::new(&w, "main", &ci);
    let mut inputs = workflow_inputs("build", &vars, &secrets);
    assert_eq!(inputs["command"], "build --release --locked");
    inputs.insert("strata-bin".into(), bin.clone());
    let run = run_action(&job, &inputs).ok();
    assert!(
        run.step("Configure")
            .contains("strata: push: refs/heads/main is a publish ref"),
        "{}",
        run.step("Configure")
    );
    let key_file = run
        .env
        .get("STRATA_SIGNING_KEY")
        .expect("the key is installed on main");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is private");
    }
    assert!(
        run.step("Run strata").contains("Pushed"),
        "{}",
        run.step("Run strata")
    );
    assert!(
        !run.step("Run strata").contains("warning: strata"),
        "{}",
        run.step("Run strata")
    );
    let pushed = files(&remote_dir);
    assert!(pushed.iter().any(|f| f.starts_with("refs/")), "{pushed:?}");
    assert!(pushed.iter().any(|f| f.starts_with("blobs/")), "{pushed:?}");
    assert!(
        run.summary
            .contains("Publish policy: push: refs/heads/main"),
        "{}",
        run.summary
    );
    // This strata has `strata stats`: the summary is its table of the runs since the action began.
    assert!(
        run.summary.starts_with("### strata cache\n"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains("| `cargo build --release --locked` | "),
        "a row for the build: {}",
        run.summary
    );
    assert_eq!(
        run_fx(&job.checkout, "release"),
        "hello v1.2.3 #7 | 42 | core readme v1 | build-script"
    );

    // A pull request from a branch of the same repository. Its job is handed the secret (as a
    // plain repository secret would be): the action must not install it.
    let ci = github(
        &w.path("job-pr"),
        "pull_request",
        "refs/pull/7/merge",
        pull_request_payload("team/app"),
    );
    let job = Job::new(&w, "pr", &ci);
    append(
        &job.checkout.join("core/src/lib.rs"),
        "\n// reviewed in a pull request\n",
    );
    let mut inputs = workflow_inputs("build", &vars, &secrets);
    inputs.insert("strata-bin".into(), bin.clone());
    let run = run_action(&job, &inputs).ok();
    let configure = run.step("Configure");
    assert!(
        configure.contains("strata: restore-only: GitHub `pull_request` event: pull request #7 (feature into main) restores only"),
        "{configure}"
    );
    assert!(
        configure.contains("the signing key is not installed"),
        "{configure}"
    );
    assert!(!run.env.contains_key("STRATA_SIGNING_KEY"), "{:?}", run.env);
    assert!(!run.temp.join("strata-action/signing.key").exists());
    let out = run.step("Run strata");
    assert!(out.contains("Pulled"), "{out}");
    assert!(
        out.contains("Strata pushes nothing: GitHub `pull_request` event"),
        "{out}"
    );
    assert!(!out.contains("Pushed"), "{out}");
    // Only what the pull request changed was compiled: fx-util came from main's layers.
    assert!(!out.contains("Compiling fx-util"), "{out}");
    assert!(out.contains("Compiling fx-core"), "{out}");
    assert_eq!(files(&remote_dir), pushed, "a pull request pushes nothing");
    assert!(
        run.summary.contains("Publish policy: restore-only"),
        "{}",
        run.summary
    );

    // A pull request from a fork: GitHub gives it no secrets. This strata has no `stats`, so the
    // summary is the action's own table.
    let ci = github(
        &w.path("job-fork"),
        "pull_request",
        "refs/pull/7/merge",
        pull_request_payload("someone/app"),
    );
    let job = Job::new(&w, "fork", &ci);
    append(&job.checkout.join("core/src/lib.rs"), "\n// from a fork\n");
    let mut inputs = workflow_inputs("build", &vars, &[]);
    assert_eq!(inputs["signing-key"], "");
    inputs.insert(
        "strata-bin".into(),
        strata_without_stats(&w).display().to_string(),
    );
    let run = run_action(&job, &inputs).ok();
    assert!(
        run.step("Configure")
            .contains("pull request #7 from the fork someone/app restores only"),
        "{}",
        run.step("Configure")
    );
    assert!(!run.env.contains_key("STRATA_SIGNING_KEY"));
    assert!(
        !run.env.contains_key("STRATA_REMOTE_TOKEN"),
        "no secrets in a fork's run"
    );
    let out = run.step("Run strata");
    assert!(out.contains("Pulled") && !out.contains("Pushed"), "{out}");
    assert!(!out.contains("Compiling fx-util"), "{out}");
    assert_eq!(
        files(&remote_dir),
        pushed,
        "a fork's pull request pushes nothing"
    );
    let row = run
        .summary
        .lines()
        .find(|l| l.starts_with("| `strata build --release --locked` |"))
        .unwrap_or_else(|| panic!("no row for the command: {}", run.summary));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // | command | exit | restored | saved | pulled | pushed | strata time |
    assert_eq!(cells[2], "0", "{row}");
    assert!(cells[3].contains("units"), "restored: {row}");
    assert!(cells[4].contains("new in store"), "saved: {row}");
    assert!(
        cells[5].ends_with(" layers") && !cells[5].starts_with("0 "),
        "pulled: {row}"
    );
    assert_eq!(cells[6], "nothing (restore only)", "{row}");
    assert!(cells[7].ends_with('s'), "time: {row}");
    assert!(
        run.summary
            .starts_with("### strata cache\n\n| command | exit | restored |"),
        "{}",
        run.summary
    );
}

/// A failing command fails the action's run step with cargo's exit code, and the summary (which
/// runs always) still says what ran.
#[test]
fn github_action_failure_still_writes_the_summary() {
    let w = World::new();
    let ci = github(
        &w.path("job-broken"),
        "push",
        "refs/heads/feature",
        serde_json::json!({"repository": {"full_name": "team/app", "default_branch": "main"}}),
    );
    let job = Job::new(&w, "broken", &ci);
    append(
        &job.checkout.join("core/src/lib.rs"),
        "\nthis does not compile\n",
    );
    let mut inputs = BTreeMap::new();
    inputs.insert(
        "strata-bin".to_string(),
        strata_without_stats(&w).display().to_string(),
    );
    inputs.insert("command".to_string(), "check\nbuild".to_string());
    let run = run_action(&job, &inputs);
    let codes: Vec<i32> = run.steps.iter().map(|s| s.code).collect();
    assert_eq!(codes[..2], [0, 0], "{:?}", run.steps);
    assert_ne!(codes[2], 0, "the run step fails: {:?}", run.steps);
    assert_eq!(
        codes[3], 0,
        "the summary step runs and succeeds: {:?}",
        run.steps
    );
    assert!(run.step("Configure").contains("restore-only: refs/heads/feature is neither protected nor one of the default branch main and tags"),
        "{}", run.step("Configure"));
    assert!(
        // cargo's own exit code for a compile error.
        run.summary.contains("| `strata check` | 101 |"),
        "{}",
        run.summary
    );
    assert!(
        !run.summary.contains("`strata build`"),
        "stopped at the first failure: {}",
        run.summary
    );
}

/// The GitLab pipeline of the docs: a push to the protected main branch publishes; a merge
/// request restores, pushes nothing and drops the signing key even when it is in its variables;
/// a fork's merge request (no protected variables) restores and pushes nothing.
#[test]
fn gitlab_pipeline_protected_branch_publishes_merge_request_restores_only() {
    let w = World::new();
    let remote_dir = w.path("remote");
    let server = serve::Serve::start(&remote_dir);
    let keys = keygen(&w);
    let pipeline = yaml("docs/ci/gitlab-ci.yml");
    let template = &pipeline[".strata"];
    let build = &pipeline["build"];
    assert_eq!(s(&build["extends"]), ".strata");
    let lines = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .expect("script lines")
            .iter()
            .map(s)
            .collect()
    };
    let script = [lines(&template["before_script"]), lines(&build["script"])]
        .concat()
        .join("\n");
    let after = lines(&template["after_script"]).join("\n");
    assert!(
        script.contains("strata build --release --locked"),
        "{script}"
    );

    let run_job = |name: &str, id: &str, ci: &[(&str, &str)]| {
        let mut vars: Vec<(&str, String)> = vec![
            ("GITLAB_CI", "true".into()),
            ("CI_JOB_ID", id.into()),
            ("CI_DEFAULT_BRANCH", "main".into()),
            ("CI_PROJECT_PATH", "team/app".into()),
            ("CI_PROJECT_ID", "100".into()),
            // The project's CI/CD variables; STRATA_SIGNING_KEY is a File variable: a path.
            ("STRATA_REMOTE", server.url.clone()),
            ("STRATA_REMOTE_TOKEN", serve::PUSH_TOKEN.into()),
            ("STRATA_TRUSTED_KEYS", keys.public.clone()),
            ("STRATA_SIGNING_KEY", keys.secret_path.display().to_string()),
            ("STRATA_BIN", strata_bin().display().to_string()),
        ];
        vars.extend(ci.iter().map(|(k, v)| (*k, v.to_string())));
        // A fork's merge request runs without the project's protected variables.
        if name == "fork" {
            vars.retain(|(k, _)| !matches!(*k, "STRATA_SIGNING_KEY" | "STRATA_REMOTE_TOKEN"));
        }
        let job = Job::new(&w, name, &vars);
        let mut env = job.env.clone();
        env.insert("CI_PROJECT_DIR".into(), job.checkout.display().to_string());
        if name != "main" {
            append(
                &job.checkout.join("core/src/lib.rs"),
                "\n// merge request\n",
            );
        }
        let main = job.bash(&script, "script.sh", &env);
        let after = job.bash(&after, "after.sh", &env);
        (main, after)
    };

    let (main, after) = run_job(
        "main",
        "501",
        &[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_COMMIT_REF_NAME", "main"),
            ("CI_COMMIT_REF_PROTECTED", "true"),
        ],
    );
    assert_eq!(main.code, 0, "{}", main.out);
    assert!(
        main.out
            .contains("strata: push: refs/heads/main is a publish ref"),
        "{}",
        main.out
    );
    assert!(main.out.contains("Pushed"), "{}", main.out);
    assert_eq!(after.code, 0, "{}", after.out);
    let pushed = files(&remote_dir);
    assert!(pushed.iter().any(|f| f.starts_with("refs/")), "{pushed:?}");

    let (mr, after) = run_job(
        "mr",
        "502",
        &[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "12"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ("CI_COMMIT_REF_NAME", "feature"),
            ("CI_COMMIT_REF_PROTECTED", "false"),
        ],
    );
    assert_eq!(mr.code, 0, "{}", mr.out);
    assert!(
        mr.out.contains(
            "strata: restore-only: GitLab merge request !12 (feature into main) restores only"
        ),
        "{}",
        mr.out
    );
    assert!(
        mr.out.contains("signing key: none"),
        "the key was dropped: {}",
        mr.out
    );
    assert!(
        mr.out.contains("Pulled") && !mr.out.contains("Pushed"),
        "{}",
        mr.out
    );
    assert!(
        mr.out
            .contains("Strata pushes nothing: GitLab merge request"),
        "{}",
        mr.out
    );
    assert!(!mr.out.contains("Compiling fx-util"), "{}", mr.out);
    assert_eq!(files(&remote_dir), pushed, "a merge request pushes nothing");
    assert_eq!(after.code, 0, "{}", after.out);

    let (fork, after) = run_job(
        "fork",
        "503",
        &[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "13"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "200"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH", "someone/app"),
            ("CI_COMMIT_REF_NAME", "feature"),
        ],
    );
    assert_eq!(fork.code, 0, "{}", fork.out);
    assert!(
        fork.out.contains(
            "strata: restore-only: GitLab merge request !13 from the fork someone/app restores only"
        ),
        "{}",
        fork.out
    );
    assert!(fork.out.contains("signing key: none"), "{}", fork.out);
    assert!(
        fork.out.contains("Pulled") && !fork.out.contains("Pushed"),
        "{}",
        fork.out
    );
    assert!(!fork.out.contains("Compiling fx-util"), "{}", fork.out);
    assert_eq!(
        files(&remote_dir),
        pushed,
        "a fork's merge request pushes nothing"
    );
    assert_eq!(after.code, 0, "{}", after.out);
}

/// docs/ci.md shows the pipelines these tests run, verbatim, and the action's inputs it names
/// exist.
#[test]
fn docs_show_the_tested_pipelines() {
    let doc = std::fs::read_to_string(repo_root().join("docs/ci.md")).unwrap();
    for f in ["docs/ci/github-workflow.yml", "docs/ci/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(repo_root().join(f)).unwrap();
        assert!(doc.contains(&text), "docs/ci.md does not show {f} verbatim");
    }
    let action = yaml("action.yml");
    let wf = yaml("docs/ci/github-workflow.yml");
    for (job, def) in wf["jobs"].as_mapping().unwrap() {
        for st in def["steps"].as_sequence().unwrap() {
            if st
                .get("uses")
                .is_some_and(|u| s(u).starts_with("OWNER/strata@"))
            {
                for (k, _) in st["with"].as_mapping().unwrap() {
                    assert!(
                        action["inputs"].get(s(k)).is_some(),
                        "job {}: action.yml has no input {}",
                        s(job),
                        s(k)
                    );
                }
            }
        }
    }
}

/// The README's two commands, from its first code block.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let block = readme
        .split("```")
        .nth(1)
        .expect("the README starts with a code block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The README's first command works in any clone of strata: it reads nothing outside the
/// repository but crates.io, installs strata from the checkout, and builds a project it fetches.
/// This short form fetches that project as the command does and checks that it is a locked cargo
/// project; `STRATA_README_FULL=1` runs the whole command in a fresh `git clone` of this
/// repository (release builds of strata and ripgrep: many minutes), then builds a second copy of
/// the project at another path, where cargo must compile nothing.
#[test]
fn readme_first_command_works_in_any_clone() {
    let cmds = readme_commands();
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    assert_eq!(cmds[1], ".ci/run");
    let first = &cmds[0];
    assert!(
        !first.contains("../"),
        "the first command must not need files beside the clone: {first}"
    );
    let parts: Vec<&str> = first.split(" && ").collect();
    assert_eq!(parts[0], "cargo install --locked --path crates/strata-cli");
    assert!(repo_root().join("crates/strata-cli/Cargo.toml").is_file());
    assert!(
        parts.last().unwrap().starts_with("strata build --release"),
        "{first}"
    );
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://static.crates.io/crates/"))
        .expect("the project comes from crates.io's static host");
    let dir_part = parts
        .iter()
        .find(|p| p.starts_with("cd /tmp/strata-demo/"))
        .expect("cd into the project");
    let project = dir_part.trim_start_matches("cd /tmp/strata-demo/");
    assert!(
        url.ends_with(&format!("/{project}.crate")),
        "{url} is {project}"
    );
    // The workload demo is kept as the second example.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(readme.contains("tar xzf ../shared/workloads/ripgrep-14.1.1-workspace.tar.gz"));

    let w = World::new();
    if std::env::var_os("STRATA_README_FULL").is_none() {
        let fetch = parts
            .iter()
            .find(|p| p.starts_with("curl "))
            .unwrap()
            .replace("/tmp/strata-demo", &w.path("demo").display().to_string());
        std::fs::create_dir_all(w.path("demo")).unwrap();
        let out = Command::new("bash")
            .args(["-eo", "pipefail", "-c", &fetch])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{fetch}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for f in ["Cargo.toml", "Cargo.lock"] {
            assert!(
                w.path("demo").join(project).join(f).is_file(),
                "{project}/{f}"
            );
        }
        return;
    }

    let clone = w.path("clone");
    let ok = Command::new("git")
        .args(["clone", "-q"])
        .arg(repo_root())
        .arg(&clone)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git clone");
    let demo = w.path("demo");
    let root = w.path("install-root");
    let cmd = first.replace("/tmp/strata-demo", &demo.display().to_string());
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("bash");
    c.args(["-eo", "pipefail", "-c", &cmd])
        .env("CARGO_INSTALL_ROOT", &root)
        .env("PATH", &path);
    w.prepare(&mut c, &clone);
    let r = finish(c);
    assert_eq!(r.code, 0, "{cmd}\n{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Strata restored"), "{}", r.stderr);
    let built = demo.join(project).join("target/release");
    assert!(std::fs::read_dir(&built).is_ok(), "{}", built.display());

    // Another copy at another path: everything comes from the store.
    let again = w.path("demo-2");
    let cmd2 = parts
        .iter()
        .skip(1)
        .cloned()
        .collect::<Vec<_>>()
        .join(" && ")
        .replace("/tmp/strata-demo", &again.display().to_string());
    let mut c = Command::new("bash");
    c.args(["-eo", "pipefail", "-c", &cmd2]).env("PATH", &path);
    w.prepare(&mut c, w.dir.path());
    let r = finish(c);
    assert_eq!(r.code, 0, "{cmd2}\n{}", r.stderr);
    assert_eq!(r.compiled(), Vec::<String>::new(), "{}", r.stderr);
}
