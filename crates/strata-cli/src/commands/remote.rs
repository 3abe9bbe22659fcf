//! `strata remote`: the configured remote caches.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Subcommand;
use strata_build::human_bytes;

use crate::CliError;

#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// List the remotes, the signing key and the trusted keys, and check that every remote
    /// answers; exits non-zero when one does not
    Check {
        /// Also read every ref and what it names: manifest, signature and every blob must be
        /// there and hash right (a `strata serve` remote needs the push token to be listed)
        #[arg(long)]
        deep: bool,
    },
    /// Print whether this run pushes (`push: <why>`) or only restores (`restore-only: <why>`),
    /// as the publish policy decides from the CI's environment; for scripts (the GitHub Action
    /// installs the signing key only when it says push)
    Policy,
    /// Shrink every remote that takes pushes to SIZE: drop the oldest-pushed layers beyond the
    /// budget and the blobs no kept layer names. Layers younger than the grace period are
    /// never dropped, so pushes running meanwhile stay whole
    Gc {
        /// Size budget for strata's objects on each remote: 500M, 10G, 1.5GiB, or bytes
        #[arg(long, value_name = "SIZE")]
        max_size: String,
        /// Also drop layers last pushed more than DAYS days ago (fractions allowed)
        #[arg(long, value_name = "DAYS")]
        max_age: Option<String>,
        /// Never drop what was pushed less than DURATION ago: 1h (default), 30m, 2d, 90s, 0
        #[arg(long, value_name = "DURATION", default_value = "1h")]
        grace: String,
        /// Say what would be dropped; delete nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(cmd: &RemoteCommand) -> Result<ExitCode, CliError> {
    match cmd {
        RemoteCommand::Check { deep } => check(*deep),
        RemoteCommand::Policy => policy(),
        RemoteCommand::Gc {
            max_size,
            max_age,
            grace,
            dry_run,
        } => gc(max_size, max_age.as_deref(), grace, *dry_run),
    }
}

fn decision(p: &strata_remote::Publish) -> String {
    let verdict = if p.push { "push" } else { "restore-only" };
    format!("{verdict}: {}", p.reason)
}

fn policy() -> Result<ExitCode, CliError> {
    let cfg = strata_remote::Config::load()?;
    println!("{}", decision(&cfg.publish));
    Ok(ExitCode::SUCCESS)
}

fn check(deep: bool) -> Result<ExitCode, CliError> {
    let cfg = strata_remote::Config::load()?;
    match &cfg.signing_key {
        Some(k) => println!(
            "signing key: {} ({}), pushes are signed",
            k.public().to_text(),
            cfg.signing_key_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        None => println!("signing key: none, nothing is pushed (`strata key generate` makes one)"),
    }
    for k in &cfg.trusted {
        println!("trusted key: {}", k.to_text());
    }
    println!("publish: {}", decision(&cfg.publish));
    if cfg.remotes.is_empty() {
        println!("no remotes configured (STRATA_REMOTE or [[remote]] in the config file)");
        return Ok(ExitCode::SUCCESS);
    }
    let remotes = strata_remote::Remotes::new(&cfg)?;
    let mut ok = true;
    for (r, res) in remotes.check() {
        let mode = if r.push { "pull+push" } else { "pull" };
        match res {
            Ok(()) => println!("ok    {} ({mode})", r.spec),
            Err(e) => {
                ok = false;
                println!("error {} ({mode}): {e}", r.spec);
            }
        }
    }
    if !ok {
        return Err(CliError::remote("a remote does not answer (listed above)")
            .help("builds go on without it; check its URL, token and network"));
    }
    if deep {
        for (r, res) in remotes.check_deep() {
            match res {
                Ok(d) => {
                    for p in &d.problems {
                        ok = false;
                        println!("bad   {}: {p}", r.spec);
                    }
                    println!(
                        "deep  {}: {} refs, {} manifests, {} blobs verified",
                        r.spec, d.refs, d.manifests, d.blobs
                    );
                }
                Err(e) => {
                    ok = false;
                    println!("error {}: {e}", r.spec);
                }
            }
        }
        if !ok {
            return Err(CliError::remote(
                "a remote names objects it lacks or holds bad ones (listed above)",
            )
            .help("a push completes a layer it left incomplete; pulls refuse what is bad"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `90s`, `30m`, `1h`, `2d`, or plain seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(mult)?))
}

fn parse_days(s: &str) -> Option<Duration> {
    let d: f64 = s.trim().parse().ok()?;
    (d.is_finite() && d >= 0.0).then(|| Duration::from_secs_f64(d * 86400.0))
}

fn ago(t: Option<SystemTime>) -> String {
    match t.and_then(|t| SystemTime::now().duration_since(t).ok()) {
        None => "push time unknown".into(),
        Some(d) if d.as_secs() < 120 => format!("pushed {} s ago", d.as_secs()),
        Some(d) if d.as_secs() < 3600 => format!("pushed {} min ago", d.as_secs() / 60),
        Some(d) if d.as_secs() < 2 * 86400 => format!("pushed {} h ago", d.as_secs() / 3600),
        Some(d) => format!("pushed {} days ago", d.as_secs() / 86400),
    }
}

fn gc(
    max_size: &str,
    max_age: Option<&str>,
    grace: &str,
    dry_run: bool,
) -> Result<ExitCode, CliError> {
    let max_size = strata_store::parse_size(max_size)
        .map_err(|e| CliError::usage(format!("--max-size: {e}")))?;
    let max_age = max_age
        .map(|a| {
            parse_days(a)
                .ok_or_else(|| CliError::usage(format!("--max-age: `{a}` is not a number of days")))
        })
        .transpose()?;
    let grace = parse_duration(grace).ok_or_else(|| {
        CliError::usage(format!(
            "--grace: `{grace}` is not a duration (like 90s, 30m, 1h, 2d)"
        ))
    })?;
    let cfg = strata_remote::Config::load()?;
    let remotes = strata_remote::Remotes::new(&cfg)?;
    // gc is maintenance by whoever holds the push token: the publish policy, which decides
    // whether this run's builds push, has no say here.
    if !remotes.remotes().iter().any(|r| r.push) {
        return Err(CliError::config("no remote takes pushes: nothing to gc")
            .help("set STRATA_REMOTE, or a [[remote]] with push = true in the config file"));
    }
    let opts = strata_remote::GcOptions {
        max_size,
        max_age,
        grace,
        dry_run,
    };
    let mut failed = None;
    for (r, res) in remotes.gc(&opts) {
        let rep = match res {
            Ok(rep) => rep,
            Err(e) => {
                println!("error {}: {e}", r.spec);
                failed.get_or_insert(e);
                continue;
            }
        };
        let verb = if dry_run { "would drop" } else { "dropped" };
        println!("{}:", r.spec);
        for d in &rep.dropped {
            let refs = if d.refs.is_empty() {
                String::new()
            } else {
                format!(" ({})", d.refs.join(", "))
            };
            println!(
                "  {verb} layer {}{refs}: {}, {}",
                d.manifest,
                d.reason.as_str(),
                ago(d.pushed)
            );
        }
        for n in &rep.notes {
            println!("  note: {n}");
        }
        println!(
            "  {} of {} layers kept ({} only for being younger than {}), {verb} {}; \
             {} objects, {} before, {} after{}",
            rep.kept_layers,
            rep.layers,
            rep.kept_young,
            humantime(grace),
            rep.dropped.len(),
            rep.after.objects,
            human_bytes(rep.before.bytes),
            human_bytes(rep.after.bytes),
            if dry_run {
                " (dry run: nothing deleted)"
            } else {
                ""
            }
        );
        if rep.after.bytes > max_size {
            println!(
                "  still over the {} budget: what is left is younger than the grace period",
                human_bytes(max_size)
            );
        }
    }
    match failed {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => Err(CliError::from(e)
            .help("gc stopped on that remote; what it deleted before is consistent, run it again")),
    }
}

fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86400) && s > 0 {
        format!("{}d", s / 86400)
    } else if s.is_multiple_of(3600) && s > 0 {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) && s > 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_days() {
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172800)));
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_days("1.5"), Some(Duration::from_secs(129600)));
        assert_eq!(parse_days("-1"), None);
        assert_eq!(humantime(Duration::from_secs(3600)), "1h");
    }
}
