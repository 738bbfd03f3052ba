//! `coordlab`: model-check coordination protocols, read and replay their counterexamples.
//!
//! Exit codes: 0 every verdict matched its expectation (or the trace reproduced); 1 a
//! verdict did not, a check ran out of budget, or a trace did not reproduce; 2 bad usage
//! or bad input, with one line naming the file or the option and the fault. No input
//! reaches a panic (`coordlab kv` has its own codes for servers and clients: see
//! `coordlab_checks::kv`): a closed stdout ends the output quietly, numbers are range-checked,
//! and a trace is replayed on its model before anything renders it.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};
use coordlab_checks::engine::Progress;
use coordlab_checks::manifest::{self, CheckSpec, Source, Suite, Target, shell_word};
use coordlab_checks::registry::{self, CheckResult, SimMark};
use coordlab_checks::report;
use coordlab_checks::trace::{Format, Replay, TraceFile};
use coordlab_checks::{Fault, count, write_atomic};

#[derive(Parser)]
#[command(
    name = "coordlab",
    version,
    about = "Model-check coordination protocols and read their counterexamples."
)]
#[command(
    after_help = "With no command, runs the default check suite (`coordlab check`).\n\
Manifests: `--manifests DIR`, else checks/manifests/ under the working directory, else the \
ones built into the binary (said on stderr)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List protocols, their variants and properties, and their checks with the suite each
    /// belongs to.
    List {
        /// Read manifests from this directory (default: checks/manifests/ here, else the
        /// built-in ones).
        #[arg(long, value_name = "DIR")]
        manifests: Option<PathBuf>,
    },
    /// Run checks and print a table of verdicts against the manifests' expectations.
    Check(CheckArgs),
    /// Render a JSON counterexample (after replaying it on its model).
    Show {
        /// A trace written by `check` or `simulate`: `counterexamples/<proto>/<variant>/<Property>.json`.
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Re-execute a JSON counterexample on its model: exit 0 if the violation reproduces.
    Replay {
        /// A trace written by `check` or `simulate`: `counterexamples/<proto>/<variant>/<Property>.json`.
        file: PathBuf,
        /// Replay on another variant of the same protocol (e.g. a bug's trace on `correct`).
        #[arg(long, value_name = "PROTO/VARIANT")]
        on: Option<String>,
    },
    /// Check an implementation's event log against the model: exit 0 if the run is a
    /// behaviour of the model's variant, 1 if it diverges (the step, the event, the model
    /// actions enabled there, the field that disagrees).
    Conform {
        /// A run log: `{"protocol", "variant", "config", "events"}` (JSON), as the
        /// implementation tests write it.
        file: PathBuf,
        /// Check against this variant of the log's protocol instead of the one the log names
        /// (e.g. a deviation's run against `correct`).
        #[arg(long, value_name = "VARIANT")]
        variant: Option<String>,
    },
    /// Drive a model counterexample against the implementation, through its API with a
    /// manual clock: with the trace's deviation the property must fail on the
    /// implementation's own states; the correct implementation must refuse the step the bug
    /// needs. Exit 0 if both, 1 if not (the step, and what refused it or what differs).
    Drive {
        /// A model trace: `counterexamples/<proto>/<variant>/<Property>.json`.
        file: PathBuf,
    },
    /// Random walks of a check, for bounds too large to explore (finds violations, proves
    /// nothing).
    Simulate {
        #[arg(value_name = "PROTO/VARIANT[LABEL]")]
        target: String,
        /// Number of walks, seeded 0 to N-1: walk k uses seed k, so runs are reproducible.
        #[arg(long, default_value_t = 1000)]
        seeds: u64,
        /// Run the one walk with this seed (the seed a violation was found with).
        #[arg(long, value_name = "K", conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Most steps per walk (at most 1000000).
        #[arg(long, default_value_t = 100)]
        depth: usize,
        /// Run only shard I of N (1-based) of the walks: the I-th of N contiguous runs of
        /// the seeds 0 to N-1 of --seeds, so that shards 1 to N together run every walk
        /// once. Their --json reports combine into the unsharded one: walks and steps add
        /// up, each property's hit is the one of smallest seed among the shards', and a
        /// known bug no shard caught is a mismatch (a shard says only `not found`).
        #[arg(long, value_name = "I/N", conflicts_with = "seed")]
        shard: Option<String>,
        /// Print the report as JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        /// Also write each violation found as JSON and Markdown here.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        bounds: BoundArgs,
    },
    /// Serve coordlab's explorer of a check on 127.0.0.1: its states, actions and verdicts
    /// in the words of the traces.
    Explore {
        #[arg(value_name = "PROTO/VARIANT[LABEL]")]
        target: String,
        /// Port on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[command(flatten)]
        bounds: BoundArgs,
    },
    /// A replicated key-value store on Raft over TCP on 127.0.0.1: run a server of a
    /// cluster, or put, get, compare-and-set and ask for status as a client.
    Kv {
        #[command(subcommand)]
        command: coordlab_checks::kv::KvCommand,
    },
}

/// Where checks come from and how their bounds change: shared by check, simulate, explore.
#[derive(clap::Args, Default)]
struct BoundArgs {
    /// Change a bound of the selected check(s) (repeatable), e.g. `--set consumers=4`;
    /// `coordlab list` names each protocol's bounds.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Read manifests from this directory (default: checks/manifests/ here, else the
    /// built-in ones).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
}

#[derive(clap::Args, Default)]
struct CheckArgs {
    /// Protocols, variants or labelled checks to run (default: all): `queue`,
    /// `queue/correct`, `election/correct[three-nodes]`. When every filter names a variant,
    /// the counterexamples found are also printed in full after the table.
    #[arg(value_name = "PROTO[/VARIANT[LABEL]]")]
    filters: Vec<String>,
    /// Worker threads per check (default: the number of cores; at most 1024).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the results as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Where counterexamples are written.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run only shard I of N (1-based), for a CI matrix; shards are balanced by the
    /// pinned state counts.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Which checks to run: the `default` suite, the `deep` one (checks too long for every
    /// run, marked `suite = "deep"` in their manifests), or `all` of them.
    #[arg(long, value_enum, default_value_t = SuiteArg::Default)]
    suite: SuiteArg,
    /// Seconds each check may run before it is reported as out of budget (at most one
    /// year).
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    timeout: Option<String>,
    #[command(flatten)]
    bounds: BoundArgs,
}

/// The suites `check --suite` selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum SuiteArg {
    #[default]
    Default,
    Deep,
    All,
}

impl SuiteArg {
    fn admits(self, suite: Suite) -> bool {
        match self {
            SuiteArg::Default => suite == Suite::Default,
            SuiteArg::Deep => suite == Suite::Deep,
            SuiteArg::All => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SuiteArg::Default => "default",
            SuiteArg::Deep => "deep",
            SuiteArg::All => "all",
        }
    }
}

/// Keeps the checks of the suite `--suite` names. A filter whose checks all lie outside
/// it is a usage fault that names their suite, so that a deep check asked for by name is
/// never silently skipped.
fn in_suite(
    checks: Vec<CheckSpec>,
    suite: SuiteArg,
    filters: &[String],
) -> Result<Vec<CheckSpec>, Fault> {
    for f in filters {
        let t = Target::parse(f).map_err(Fault::usage)?;
        let named: Vec<&CheckSpec> = checks.iter().filter(|c| t.selects(c)).collect();
        if !named.is_empty() && !named.iter().any(|c| suite.admits(c.suite)) {
            let theirs = named[0].suite.as_str();
            return Err(Fault::usage(format!(
                "`{f}`: its checks are in the {theirs} suite, not the {} one (add --suite {theirs}, or --suite all)",
                suite.name()
            )));
        }
    }
    Ok(checks
        .into_iter()
        .filter(|c| suite.admits(c.suite))
        .collect())
}

/// The default `--out` of `check`.
const DEFAULT_OUT: &str = "counterexamples";
/// Most threads a check may use.
const MAX_THREADS: usize = 1024;
/// The longest `--timeout`: one year, in seconds.
const MAX_TIMEOUT: f64 = 365.0 * 24.0 * 3600.0;
/// The most walks one `simulate` runs (about a day of walks at the default depth).
const MAX_SEEDS: u64 = 1_000_000_000;
/// The longest `--depth` of a walk: a walk keeps its path, so this bounds its memory.
const MAX_DEPTH: usize = 1_000_000;

/// Set once stdout is found closed: the rest of the output is dropped, the run goes on.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. A closed pipe (`coordlab check | head -1`) is a normal way to stop
/// reading: the rest of the output is dropped and the exit code stays the run's. Any other
/// write error is a fault.
fn out(text: &str) -> Result<(), Fault> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut lock = std::io::stdout().lock();
    match lock.write_all(text.as_bytes()).and_then(|()| lock.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(Fault::usage(format!("stdout: cannot write: {e}"))),
    }
}

/// One line on stderr; a closed stderr is ignored (there is nowhere left to say it).
fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
    };
    let result = match cli.command {
        None => check(CheckArgs::default()),
        Some(Command::List { manifests }) => list(manifests.as_deref()),
        Some(Command::Check(args)) => check(args),
        Some(Command::Show { file, format }) => show(&file, format),
        Some(Command::Replay { file, on }) => replay(&file, on.as_deref()),
        Some(Command::Conform { file, variant }) => conform(&file, variant.as_deref()),
        Some(Command::Drive { file }) => drive(&file),
        Some(Command::Kv { command }) => coordlab_checks::kv::run(command),
        Some(Command::Explore {
            target,
            port,
            bounds,
        }) => explore(&target, port, &bounds),
        Some(Command::Simulate {
            target,
            seeds,
            seed,
            depth,
            shard,
            json,
            out,
            bounds,
        }) => {
            let seeds = match seed {
                Some(k) if k < u64::MAX => Ok(k..k + 1),
                Some(k) => Err(Fault::usage(format!(
                    "--seed {k}: expected at most {}",
                    u64::MAX - 1
                ))),
                None if seeds == 0 || seeds > MAX_SEEDS => Err(Fault::usage(format!(
                    "--seeds {seeds}: expected 1 to {MAX_SEEDS} walks"
                ))),
                None => Ok(0..seeds),
            };
            let shard = shard.as_deref().map(parse_shard).transpose();
            seeds.and_then(|seeds| {
                let sim = Sim {
                    seeds,
                    shard: shard?,
                    depth,
                    json,
                };
                simulate(&target, &sim, out.as_deref(), &bounds)
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(fault) => {
            err_line(&format!("coordlab: {fault}"));
            ExitCode::from(2)
        }
    }
}

/// clap's help and version go to stdout (exit 0); its usage errors become one line on
/// stderr (exit 2), like every other fault.
fn clap_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let text = e.render().to_string();
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return match out(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                err_line(&format!("coordlab: {f}"));
                ExitCode::from(2)
            }
        };
    }
    if e.kind() == ErrorKind::InvalidUtf8 {
        // clap does not say which: name it.
        let bad = std::env::args_os()
            .enumerate()
            .skip(1)
            .find(|(_, a)| a.to_str().is_none());
        if let Some((i, arg)) = bad {
            err_line(&format!(
                "coordlab: argument {i} (`{}`) is not UTF-8 text",
                arg.to_string_lossy()
            ));
            return ExitCode::from(2);
        }
    }
    // The message is every line up to the usage, joined: clap puts a list of missing
    // arguments on the lines after its first.
    let msg: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let msg = msg.join(" ");
    let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
    err_line(&format!("coordlab: {msg} (see `coordlab --help`)"));
    ExitCode::from(2)
}

/// Loads and validates the manifests; returns the checks with their bounds as one line.
fn load_checks(source: &Source) -> Result<Vec<(CheckSpec, String)>, Fault> {
    let specs = manifest::load(source.dir()).map_err(|e| Fault::new(&e.file, e.msg))?;
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let proto = registry::find(&spec.protocol).ok_or_else(|| {
            Fault::new(
                &spec.file,
                format!(
                    "unknown protocol `{}` (known: {})",
                    spec.protocol,
                    known_protocols()
                ),
            )
        })?;
        let bounds = proto
            .validate(&spec)
            .map_err(|msg| Fault::new(&spec.file, msg))?;
        out.push((spec, bounds));
    }
    // In the order `list` shows the protocols, then as the manifests list them.
    let order = |p: &str| registry::protocols().iter().position(|e| e.id() == p);
    out.sort_by_key(|(spec, _)| order(&spec.protocol));
    Ok(out)
}

fn known_protocols() -> String {
    registry::protocols()
        .iter()
        .map(|p| p.id())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Says on stderr that the built-in manifests are used: before serving (explore), or once a
/// run is over without a fault (so an exit 2 still prints its one line only).
fn note_source(source: &Source) {
    if let Some(note) = source.note() {
        err_line(&note);
    }
}

fn list(manifests: Option<&Path>) -> Result<ExitCode, Fault> {
    let source = Source::discover(manifests);
    let checks = load_checks(&source)?;
    note_source(&source);
    // Columns as wide as their longest entry, so that every row lines up.
    let vw = registry::protocols()
        .iter()
        .flat_map(|p| p.variants().iter().map(|v| v.id.chars().count()))
        .max()
        .unwrap_or(0)
        .max(24);
    let cw = checks
        .iter()
        .map(|(spec, _)| spec.id().chars().count())
        .max()
        .unwrap_or(0)
        .max(34);
    let mut s = String::new();
    for proto in registry::protocols() {
        s += &format!("{}\n  variants:\n", proto.id());
        for v in proto.variants() {
            s += &format!("    {:<vw$} {}\n", v.id, v.summary);
        }
        s += "  properties:\n";
        // Columns as wide as the longest name and kind of any protocol, at least as before.
        let pw = registry::protocols()
            .iter()
            .flat_map(|p| p.props())
            .map(|p| p.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(32);
        let kw = registry::protocols()
            .iter()
            .flat_map(|p| p.props())
            .map(|p| p.kind.as_str().len())
            .max()
            .unwrap_or(0)
            .max(10);
        for p in proto.props() {
            s += &format!("    {:<pw$} {:<kw$} {}\n", p.name, p.kind.as_str(), p.doc);
        }
        s += &format!(
            "  bounds (--set KEY=VALUE): {}\n",
            proto.bound_names().join(", ")
        );
        s += "  checks (checker, suite, bounds, pinned states):\n";
        if !checks.iter().any(|(s, _)| s.protocol == proto.id()) {
            s += &format!("    (none in {})\n", source_name(&source));
        }
        for (spec, bounds) in checks.iter().filter(|(s, _)| s.protocol == proto.id()) {
            let states = spec
                .unique_states
                .map(|n| format!("{n} states"))
                .unwrap_or_default();
            s += &format!(
                "    {:<cw$} {:<16} {:<7} {bounds}  {states}\n",
                spec.id(),
                match spec.liveness {
                    Some(l) => format!("{}+{}", spec.checker.as_str(), l.as_str()),
                    None => spec.checker.as_str().to_string(),
                },
                spec.suite.as_str()
            );
        }
    }
    out(&s)?;
    Ok(ExitCode::SUCCESS)
}

/// Parses `I/N` (1-based).
fn parse_shard(s: &str) -> Result<(usize, usize), Fault> {
    let bad = || Fault::usage(format!("--shard `{s}`: expected I/N with 1 <= I <= N"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Parses a target and checks that its protocol and variant exist.
fn parse_target(s: &str) -> Result<Target, Fault> {
    let t = Target::parse(s).map_err(Fault::usage)?;
    let Some(entry) = registry::find(&t.protocol) else {
        return Err(Fault::usage(format!(
            "unknown protocol `{}` (known: {})",
            t.protocol,
            known_protocols()
        )));
    };
    if let Some(v) = &t.variant
        && !entry.variants().iter().any(|x| x.id == v)
    {
        let known: Vec<&str> = entry.variants().iter().map(|x| x.id).collect();
        return Err(Fault::usage(format!(
            "unknown variant `{}/{v}` (known: {})",
            t.protocol,
            known.join(", ")
        )));
    }
    Ok(t)
}

/// Where the checks of `source` are, for messages.
fn source_name(source: &Source) -> String {
    match source.dir() {
        Some(d) => format!("the manifests in {}", d.display()),
        None => "the built-in manifests".to_string(),
    }
}

/// Keeps the checks the filters select. An unknown protocol, variant or label, or a
/// filter that selects no check, is a usage fault.
fn select(
    checks: Vec<(CheckSpec, String)>,
    filters: &[String],
    source: &Source,
) -> Result<Vec<CheckSpec>, Fault> {
    let targets: Vec<Target> = filters
        .iter()
        .map(|f| parse_target(f))
        .collect::<Result<_, _>>()?;
    for (f, t) in filters.iter().zip(&targets) {
        if !checks.iter().any(|(c, _)| t.selects(c)) {
            let labels: Vec<String> = checks
                .iter()
                .filter(|(c, _)| c.protocol == t.protocol && Some(&c.variant) == t.variant.as_ref())
                .map(|(c, _)| c.id())
                .collect();
            return Err(Fault::usage(if labels.is_empty() || t.label.is_none() {
                format!("no check of `{f}` in {}", source_name(source))
            } else {
                format!(
                    "no check `{f}` (the checks of this variant: {})",
                    labels.join(", ")
                )
            }));
        }
    }
    Ok(checks
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| targets.is_empty() || targets.iter().any(|t| t.selects(c)))
        .collect())
}

/// Parses every `--set` and applies them to each check; every key must be a bound of the
/// check's protocol, given once, and the changed bounds must build its model. A `--set`
/// that leaves a check's configuration as it was is no change: that check keeps its pins.
fn apply_sets(specs: &mut [CheckSpec], sets: &[String]) -> Result<(), Fault> {
    if sets.is_empty() {
        return Ok(());
    }
    let parsed: Vec<(String, toml::Value)> = sets
        .iter()
        .map(|s| manifest::parse_set(s).map_err(Fault::usage))
        .collect::<Result<_, _>>()?;
    for (i, (key, _)) in parsed.iter().enumerate() {
        if let Some(j) = parsed[..i].iter().position(|(k, _)| k == key) {
            return Err(Fault::usage(format!(
                "--set {}: `{key}` is already set by --set {}",
                sets[i], sets[j]
            )));
        }
    }
    for spec in specs.iter_mut() {
        let proto = registry::find(&spec.protocol).expect("a validated check");
        let names = proto.bound_names();
        for ((key, _), arg) in parsed.iter().zip(sets) {
            if !names.iter().any(|n| n == key) {
                return Err(Fault::usage(format!(
                    "--set {arg}: `{key}` is not a bound of {} (its bounds: {})",
                    spec.protocol,
                    names.join(", ")
                )));
            }
        }
        let before = proto
            .config(spec)
            .map_err(|msg| Fault::new(&spec.file, msg))?;
        let mut changed = spec.clone();
        changed.apply(&parsed);
        let opts: Vec<String> = sets.iter().map(|s| format!("--set {s}")).collect();
        let fault = |msg: String| Fault::usage(format!("{}: {msg}", opts.join(" ")));
        proto.validate(&changed).map_err(fault)?;
        let after = proto.config(&changed).map_err(fault)?;
        changed
            .overrides
            .retain(|(key, _)| before.get(key) != after.get(key));
        *spec = changed;
    }
    Ok(())
}

/// Splits the checks into `n` shards of about equal cost, the pinned state counts (safety
/// plus liveness) standing for the cost: largest first, each to the lightest shard so far
/// (ties to the lower shard). Returns the shard (0-based) of each check, deterministically.
fn shards(specs: &[CheckSpec], n: usize) -> Vec<usize> {
    let cost = |s: &CheckSpec| {
        (s.unique_states.unwrap_or(0) as u128 + s.liveness_states.unwrap_or(0) as u128).max(1)
    };
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(cost(&specs[i])), i));
    // More shards than checks leaves the rest empty: only as many loads as checks.
    let used = n.min(specs.len()).max(1);
    let mut load = vec![0u128; used];
    let mut shard = vec![0; specs.len()];
    for i in order {
        let lightest = (0..used).min_by_key(|&k| (load[k], k)).expect("used >= 1");
        load[lightest] += cost(&specs[i]);
        shard[i] = lightest;
    }
    shard
}

fn parse_threads(threads: Option<usize>) -> Result<usize, Fault> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 || threads > MAX_THREADS {
        return Err(Fault::usage(format!(
            "--threads {threads}: expected 1 to {MAX_THREADS}"
        )));
    }
    Ok(threads)
}

fn parse_timeout(timeout: Option<&str>) -> Result<Option<Duration>, Fault> {
    let Some(text) = timeout else {
        return Ok(None);
    };
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= MAX_TIMEOUT => {
            Ok(Some(Duration::from_secs_f64(s)))
        }
        _ => Err(Fault::usage(format!(
            "--timeout {text}: expected a number of seconds above 0 and at most {MAX_TIMEOUT} (one year)"
        ))),
    }
}

/// Checks, before any work, that files can be written below `dir` (creating it later if
/// it does not exist): it or its nearest existing ancestor must be a writable directory. A
/// path that exists but cannot be followed (a symbolic link that loops or leads through a
/// file) is a fault too.
fn probe_dir(option: &str, dir: &Path) -> Result<(), Fault> {
    let fault = |what: String| Fault::usage(format!("{option} {}: {what}", dir.display()));
    let mut at = dir;
    loop {
        // The entry itself, a dangling or looping link included.
        if std::fs::symlink_metadata(at).is_ok() {
            std::fs::metadata(at)
                .map_err(|e| fault(format!("cannot follow {}: {e}", at.display())))?;
            break;
        }
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => {
                at = Path::new(".");
                break;
            }
        }
    }
    if !at.is_dir() {
        return Err(fault(format!("{} is not a directory", at.display())));
    }
    let probe = at.join(format!(".coordlab-probe.{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(fault(format!("cannot write in {}: {e}", at.display()))),
    }
}

/// Checks, before any check runs, every place a check may write a counterexample: its
/// folder must be writable and neither file of any property may be taken by a directory.
fn probe_traces(out_dir: &Path, specs: &[CheckSpec]) -> Result<(), Fault> {
    probe_dir("--out", out_dir)?;
    for spec in specs {
        let dir = out_dir.join(spec.trace_dir());
        probe_dir("--out", &dir)?;
        let proto = registry::find(&spec.protocol).expect("validated");
        for p in proto.props() {
            for ext in ["json", "md"] {
                let path = dir.join(format!("{}.{ext}", p.name));
                if path.is_dir() {
                    return Err(Fault::usage(format!(
                        "--out {}: {} is a directory, where a counterexample would be written",
                        out_dir.display(),
                        path.display()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Checks, before any work, that `file` can be written: not a directory, in a writable
/// directory.
fn probe_file(option: &str, file: &Path) -> Result<(), Fault> {
    if file.is_dir() {
        return Err(Fault::usage(format!(
            "{option} {}: is a directory, not a file",
            file.display()
        )));
    }
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    probe_dir(option, dir)
}

/// The faults met while writing outputs, as the one line an exit 2 prints: the first, and
/// how many more.
fn one_fault(faults: Vec<Fault>) -> Option<Fault> {
    let more = faults.len().saturating_sub(1);
    let first = faults.into_iter().next()?;
    Some(if more == 0 {
        first
    } else {
        Fault::usage(format!(
            "{first} (and {} more that could not be written)",
            count(more, "file", "files")
        ))
    })
}

/// A path as written into a counterexample's commands: forward slashes.
fn shown(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// The command that finds a check's counterexamples again and writes them where they are.
fn check_command(spec: &CheckSpec, source: &Source, out_dir: &Path) -> String {
    let mut c = format!("coordlab check {}", shell_word(&spec.id()));
    c += &spec.set_options();
    c += &source.option();
    if out_dir != Path::new(DEFAULT_OUT) {
        c += &format!(" --out {}", shell_word(&shown(out_dir)));
    }
    c
}

/// Writes a counterexample as JSON and Markdown below `dir`; returns the JSON's path.
fn write_trace(proto: &dyn registry::Entry, file: &TraceFile, dir: &Path) -> Result<String, Fault> {
    let json = dir.join(format!("{}.json", file.property));
    let json_shown = shown(&json);
    let md = proto
        .render(file, Format::Markdown, Some(&json_shown))
        .map_err(|e| Fault::new(&json, e.to_string()))?;
    write_atomic(&json, file.to_json().as_bytes())?;
    write_atomic(&dir.join(format!("{}.md", file.property)), md.as_bytes())?;
    Ok(json_shown)
}

fn check(args: CheckArgs) -> Result<ExitCode, Fault> {
    let source = Source::discover(args.bounds.manifests.as_deref());
    let threads = parse_threads(args.threads)?;
    let timeout = parse_timeout(args.timeout.as_deref())?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    let checks = load_checks(&source)?;
    let checks = select(checks, &args.filters, &source)?;
    let mut checks = in_suite(checks, args.suite, &args.filters)?;
    apply_sets(&mut checks, &args.bounds.set)?;
    if let Some((i, n)) = shard {
        let of = shards(&checks, n);
        checks = checks
            .into_iter()
            .zip(of)
            .filter(|(_, k)| *k == i - 1)
            .map(|(c, _)| c)
            .collect();
    }
    // Outputs are checked before any check runs, so a bad path never costs a run.
    probe_traces(&out_dir, &checks)?;
    if let Some(path) = &args.junit {
        probe_file("--junit", path)?;
    }
    // Progress goes to stderr, so it shows whenever stderr is a terminal, even with the
    // report redirected to a file.
    let interactive = std::io::stderr().is_terminal();
    let mut results: Vec<CheckResult> = Vec::with_capacity(checks.len());
    // Faults met while writing outputs: reported after the results, never instead of them.
    let mut write_faults: Vec<Fault> = Vec::new();
    for spec in &checks {
        let proto = registry::find(&spec.protocol).expect("validated");
        let progress = Progress::default();
        let mut result = std::thread::scope(|scope| {
            if interactive {
                scope.spawn(|| report::show_progress(&spec.display(), &progress));
            }
            proto.run(spec, threads, timeout, &progress)
        });
        let dir = out_dir.join(spec.trace_dir());
        for p in &mut result.properties {
            if let Some(file) = &mut p.trace {
                file.command = check_command(spec, &source, &out_dir);
                match write_trace(proto.as_ref(), file, &dir) {
                    Ok(path) => p.counterexample = Some(path),
                    Err(f) => write_faults.push(f),
                }
            }
        }
        results.push(result);
    }
    if let Some(path) = &args.junit
        && let Err(f) = write_atomic(path, report::junit(&results).as_bytes())
    {
        write_faults.push(f);
    }
    if args.json {
        out(&format!("{}\n", report::json(&results)))?;
    } else if results.is_empty() {
        out(&format!(
            "no check to run: {} (of {})\n",
            match shard {
                Some((i, n)) => format!("shard {i}/{n} is empty"),
                None if args.filters.is_empty() =>
                    format!("the {} suite is empty", args.suite.name()),
                None => "the filters select none".to_string(),
            },
            source_name(&source)
        ))?;
    } else {
        out(&report::table(&results))?;
        // Asked about particular variants: show their counterexamples in full.
        if !args.filters.is_empty() && args.filters.iter().all(|f| f.contains('/')) {
            for p in results.iter().flat_map(|r| &r.properties) {
                if let (Some(file), Some(path)) = (&p.trace, &p.counterexample) {
                    let proto = registry::find(&file.protocol).expect("a known protocol");
                    let text = proto
                        .render(file, Format::Text, Some(path))
                        .map_err(|e| Fault::new(Path::new(path), e.to_string()))?;
                    out(&format!("\n{text}"))?;
                }
            }
        }
    }
    if let Some(fault) = one_fault(write_faults) {
        return Err(fault);
    }
    note_source(&source);
    Ok(if results.iter().all(CheckResult::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// How a committed loom counterexample of the deque is replayed.
const LOOM_REPLAY: &str = "RUSTFLAGS=\"--cfg loom\" cargo test -p coordlab-impls --release --target-dir target/loom --test deque -- committed_loom_counterexamples_replay";

/// Reads and parses a trace file; every fault names the file.
/// The most a trace or run log may hold: 256 MiB (the largest committed one is under 1 MiB;
/// an endless input such as `/dev/zero` is refused instead of filling memory).
const MAX_INPUT: u64 = 256 << 20;

/// Reads a trace or run log, at most [`MAX_INPUT`] bytes.
fn read_input(path: &Path) -> Result<Vec<u8>, Fault> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| Fault::new(path, format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Fault::new(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(Fault::new(
            path,
            format!(
                "larger than {} MiB: not a trace or run log",
                MAX_INPUT >> 20
            ),
        ));
    }
    Ok(bytes)
}

fn read_trace(path: &Path) -> Result<(TraceFile, Box<dyn registry::Entry>), Fault> {
    if path.extension().is_some_and(|e| e == "md") {
        let json = path.with_extension("json");
        let loom = path.with_extension("loom");
        return Err(Fault::new(
            path,
            if json.exists() {
                format!(
                    "the Markdown rendering of a trace, not the trace: give the JSON beside it ({})",
                    json.display()
                )
            } else if loom.exists() {
                format!(
                    "the readable trace of a loom counterexample of the implementation ({} beside it is loom's checkpoint); replay it with `{LOOM_REPLAY}`",
                    loom.display()
                )
            } else {
                "a Markdown file, not a trace: give a trace's JSON".to_string()
            },
        ));
    }
    if path.extension().is_some_and(|e| e == "loom") {
        return Err(Fault::new(
            path,
            format!(
                "a loom checkpoint of the implementation, not a model trace: replay it with `{LOOM_REPLAY}`"
            ),
        ));
    }
    let bytes = read_input(path)?;
    let text =
        String::from_utf8(bytes).map_err(|e| Fault::new(path, format!("not UTF-8 text: {e}")))?;
    let malformed = |e: serde_json::Error| {
        Fault::new(
            path,
            format!(
                "malformed trace: {}",
                coordlab_checks::plain(&e.to_string())
            ),
        )
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(malformed)?;
    if value.get("engine").and_then(|e| e.as_str()) == Some("shuttle") {
        return Err(Fault::new(
            path,
            "a shuttle schedule of the implementation, not a model trace: replay it with \
             `RUSTFLAGS=\"--cfg shuttle\" cargo test -p coordlab-impls --release --target-dir target/shuttle -- committed_counterexamples_replay`",
        ));
    }
    let file: TraceFile = serde_json::from_value(value).map_err(malformed)?;
    // The command is printed as the trace's "Find it again": one `coordlab` line, nothing a
    // reader could mistake for anything else.
    let plain_line = |c: char| !c.is_control() && c != '`';
    if !file.command.starts_with("coordlab ") || !file.command.chars().all(plain_line) {
        return Err(Fault::new(
            path,
            "malformed trace: `command` must be one `coordlab …` command line, without backquotes",
        ));
    }
    let proto = registry::find(&file.protocol).ok_or_else(|| {
        Fault::new(
            path,
            format!(
                "unknown protocol `{}` (known: {})",
                file.protocol,
                known_protocols()
            ),
        )
    })?;
    // A trace filed under counterexamples/<protocol>/<variant>/ must be that variant's.
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(at) = parts.iter().rposition(|p| p == "counterexamples")
        && let (Some(p), Some(v)) = (parts.get(at + 1), parts.get(at + 2))
        && parts.len() > at + 3
        && (*p != file.protocol || *v != file.variant)
    {
        return Err(Fault::new(
            path,
            format!(
                "the trace is for {}/{} but is filed under {p}/{v}",
                file.protocol, file.variant
            ),
        ));
    }
    Ok((file, proto))
}

/// Renders a trace, once it replays on its own variant: a step the model would not take
/// (an edited action, an index out of range, a state of another variant) is reported as
/// bad input, never rendered.
fn show(path: &Path, format: Format) -> Result<ExitCode, Fault> {
    let (file, proto) = read_trace(path)?;
    match proto
        .replay(&file, &file.variant)
        .map_err(|e| Fault::new(path, e.to_string()))?
    {
        Replay::Reproduced => {}
        Replay::Diverged(why) => {
            return Err(Fault::new(
                path,
                format!(
                    "not a counterexample of {}/{}: {why} (nothing rendered; `coordlab replay` tells the same)",
                    file.protocol, file.variant
                ),
            ));
        }
    }
    let rendered = proto
        .render(&file, format, Some(&shown(path)))
        .map_err(|e| Fault::new(path, e.to_string()))?;
    out(&rendered)?;
    Ok(ExitCode::SUCCESS)
}

fn replay(path: &Path, on: Option<&str>) -> Result<ExitCode, Fault> {
    let (file, proto) = read_trace(path)?;
    let variant = match on {
        None => file.variant.clone(),
        Some(target) => {
            let (p, v) = target
                .split_once('/')
                .ok_or_else(|| Fault::usage(format!("--on `{target}`: expected PROTO/VARIANT")))?;
            if p != file.protocol {
                return Err(Fault::new(
                    path,
                    format!("the trace is for protocol `{}`, not `{p}`", file.protocol),
                ));
            }
            v.to_string()
        }
    };
    let id = format!("{}/{variant}", file.protocol);
    match proto
        .replay(&file, &variant)
        .map_err(|e| Fault::new(path, e.to_string()))?
    {
        Replay::Reproduced => {
            out(&format!(
                "reproduced: {} violates {} after {}, every step enabled and matching\n",
                id,
                file.property,
                count(file.steps.len() - 1, "step", "steps")
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Replay::Diverged(why) => {
            out(&format!("not reproduced on {id}: {why}\n"))?;
            Ok(ExitCode::from(1))
        }
    }
}

/// `coordlab drive`: a model counterexample driven against the implementation.
fn drive(path: &Path) -> Result<ExitCode, Fault> {
    let (file, _) = read_trace(path)?;
    let report =
        coordlab_checks::drive::counterexample_file(&file).map_err(|e| Fault::new(path, e))?;
    out(&format!("{report}\n"))?;
    if report.as_expected() {
        let correct = match report.bug_step {
            Some(k) => format!("the correct implementation stops it at step {k}"),
            None if report.correct_trace => {
                "so does the correct implementation (a behaviour of the correct protocol)".into()
            }
            None => "the correct implementation takes every step without it".into(),
        };
        out(&format!(
            "as expected: the deviation reproduces {}, and {correct}\n",
            report.property
        ))?;
        Ok(ExitCode::SUCCESS)
    } else {
        out("NOT as expected\n")?;
        Ok(ExitCode::from(1))
    }
}

/// `coordlab conform`: a run log replayed on its protocol's model.
fn conform(path: &Path, variant: Option<&str>) -> Result<ExitCode, Fault> {
    use coordlab_checks::conform::{self, Verdict};
    let bytes = read_input(path)?;
    let text =
        String::from_utf8(bytes).map_err(|e| Fault::new(path, format!("not UTF-8 text: {e}")))?;
    match conform::check_json(&text, variant).map_err(|e| Fault::new(path, e))? {
        Verdict::Conforms {
            model,
            steps,
            actions,
        } => {
            out(&format!(
                "conforms: the run is a behaviour of {model} ({} of the implementation, {} of the model)\n",
                count(steps, "step", "steps"),
                count(actions, "action", "actions")
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Diverges(d) => {
            out(&d.to_string())?;
            Ok(ExitCode::from(1))
        }
    }
}

/// Resolves a target to exactly one check, for the commands that run one: a label picks a
/// labelled check; a bare variant picks its only check, or its unlabelled one (and says
/// which others there are). Applies `--set`.
fn resolve_one(target: &str, bounds: &BoundArgs) -> Result<(CheckSpec, Source, String), Fault> {
    let source = Source::discover(bounds.manifests.as_deref());
    let t = parse_target(target)?;
    if t.variant.is_none() {
        return Err(Fault::usage(format!(
            "`{target}`: expected PROTO/VARIANT or PROTO/VARIANT[LABEL]"
        )));
    }
    let checks = select(load_checks(&source)?, &[target.to_string()], &source)?;
    let (mut spec, note) = match checks.len() {
        1 => (checks.into_iter().next().expect("one"), String::new()),
        _ => {
            let others: Vec<String> = checks
                .iter()
                .filter(|c| c.label.is_some())
                .map(|c| c.id())
                .collect();
            match checks.into_iter().find(|c| c.label.is_none()) {
                Some(spec) => (
                    spec,
                    format!(
                        " (the other checks of this variant: {}; select one with its label)",
                        others.join(", ")
                    ),
                ),
                None => {
                    return Err(Fault::usage(format!(
                        "`{target}` has {}: pick one of {}",
                        count(others.len(), "check", "checks"),
                        others.join(", ")
                    )));
                }
            }
        }
    };
    apply_sets(std::slice::from_mut(&mut spec), &bounds.set)?;
    Ok((spec, source, note))
}

fn explore(target: &str, port: u16, bounds: &BoundArgs) -> Result<ExitCode, Fault> {
    let (spec, source, note) = resolve_one(target, bounds)?;
    let proto = registry::find(&spec.protocol).expect("resolved");
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        Fault::usage(format!(
            "--port {port}: cannot listen on 127.0.0.1:{port}: {e} (pick another with --port, or --port 0 for any free port)"
        ))
    })?;
    let address = listener
        .local_addr()
        .map_err(|e| Fault::usage(format!("--port {port}: {e}")))?;
    note_source(&source);
    out(&format!(
        "Explorer for {}{note} at http://{address}/ (Ctrl-C to stop)\n",
        spec.display()
    ))?;
    proto.explore(&spec, listener).map_err(Fault::usage)?;
    Ok(ExitCode::SUCCESS)
}

/// What `simulate` runs and how it reports.
struct Sim {
    /// Every seed of the run (`--seeds` or `--seed`), before sharding.
    seeds: std::ops::Range<u64>,
    /// `--shard I/N`.
    shard: Option<(usize, usize)>,
    depth: usize,
    json: bool,
}

fn simulate(
    target: &str,
    sim: &Sim,
    out_dir: Option<&Path>,
    bounds: &BoundArgs,
) -> Result<ExitCode, Fault> {
    let depth = sim.depth;
    if depth == 0 || depth > MAX_DEPTH {
        return Err(Fault::usage(format!(
            "--depth {depth}: expected 1 to {MAX_DEPTH} steps"
        )));
    }
    let (spec, source, note) = resolve_one(target, bounds)?;
    if let Some(dir) = out_dir {
        probe_traces(dir, std::slice::from_ref(&spec))?;
    }
    let proto = registry::find(&spec.protocol).expect("resolved");
    let seeds = match sim.shard {
        Some((i, n)) => coordlab_checks::simulate::shard(sim.seeds.clone(), i, n),
        None => sim.seeds.clone(),
    };
    let walks = match seeds.end - seeds.start {
        1 if sim.shard.is_none() => format!("the walk with seed {}", seeds.start),
        0 => "no walk".to_string(),
        1 => format!("1 walk (seed {})", seeds.start),
        n => format!(
            "{} (seeds {} to {})",
            count(n as usize, "walk", "walks"),
            seeds.start,
            seeds.end - 1
        ),
    };
    let shard_note = match sim.shard {
        Some((i, n)) => format!(
            ", shard {i}/{n} of seeds {} to {}",
            sim.seeds.start,
            sim.seeds.end - 1
        ),
        None => String::new(),
    };
    let mut result = proto.simulate(&spec, seeds.clone(), depth);
    if sim.shard.is_some() {
        // One shard cannot tell a known bug not caught: another shard may catch it.
        for r in &mut result.rows {
            if r.matches == SimMark::Mismatch && r.hit.is_none() {
                r.matches = SimMark::NotFound;
            }
        }
    }
    let mut s = format!(
        "{}{note}{shard_note}: {walks} of at most {}, {} in all\n\n",
        spec.display(),
        count(depth, "step", "steps"),
        count(result.steps as usize, "step", "steps")
    );
    let width = result
        .rows
        .iter()
        .map(|r| r.property.len())
        .max()
        .unwrap_or(8);
    let mut mismatches = 0;
    let mut not_found = 0;
    for r in &result.rows {
        match r.matches {
            SimMark::Mismatch => mismatches += 1,
            SimMark::NotFound => not_found += 1,
            _ => {}
        }
        let row = format!(
            "{:<width$}  {:<10}  expected {:<8}  {:<40}  {}",
            r.property,
            r.kind.as_str(),
            r.expected.as_str(),
            r.outcome,
            r.matches.as_str()
        );
        s += row.trim_end();
        s.push('\n');
    }
    let mut write_faults = Vec::new();
    let mut written: Vec<Option<String>> = vec![None; result.rows.len()];
    let mut texts = String::new();
    for (r, path) in result.rows.iter().zip(&mut written) {
        if let Some(file) = &r.trace {
            let mut file = file.clone();
            // The registry wrote the walk's seeds and depth; add what selects these bounds.
            file.command += &spec.set_options();
            file.command += &source.option();
            if let Some(dir) = out_dir {
                file.command += &format!(" --out {}", shell_word(&shown(dir)));
                match write_trace(proto.as_ref(), &file, &dir.join(spec.trace_dir())) {
                    Ok(p) => *path = Some(p),
                    Err(f) => write_faults.push(f),
                }
            }
            if !sim.json {
                let text = proto
                    .render(&file, Format::Text, path.as_deref())
                    .map_err(|e| Fault::usage(e.to_string()))?;
                texts += &format!("\n{text}");
            }
        }
    }
    if sim.json {
        let rows: Vec<serde_json::Value> = result
            .rows
            .iter()
            .zip(&written)
            .map(|(r, path)| {
                serde_json::json!({
                    "property": r.property,
                    "kind": r.kind,
                    "expected": r.expected,
                    "hit": r.hit.map(|(seed, step)| serde_json::json!({"seed": seed, "step": step})),
                    "outcome": r.outcome,
                    "mark": match r.matches {
                        SimMark::Ok => "ok",
                        SimMark::Mismatch => "mismatch",
                        SimMark::NotFound => "not-found",
                        SimMark::Pending => "pending",
                        SimMark::NotSimulated => "not-simulated",
                    },
                    "counterexample": path,
                })
            })
            .collect();
        let report = serde_json::json!({
            "id": result.id,
            "overrides": spec.override_words(),
            "depth": depth,
            "seeds": {"start": seeds.start, "end": seeds.end},
            "shard": sim.shard.map(|(i, n)| serde_json::json!({
                "index": i,
                "count": n,
                "of": {"start": sim.seeds.start, "end": sim.seeds.end},
            })),
            "walks": seeds.end - seeds.start,
            "steps": result.steps,
            "passed": mismatches == 0,
            "properties": rows,
        });
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        ))?;
    } else {
        out(&s)?;
        out(&texts)?;
        let mut summary = if mismatches == 0 {
            "every simulated property as expected".to_string()
        } else {
            count(mismatches, "mismatch", "mismatches")
        };
        if not_found > 0 && sim.shard.is_some() {
            summary += &format!(
                "; {} not found in this shard (combine the reports of every shard: see `coordlab simulate --help`)",
                count(not_found, "expected hit", "expected hits")
            );
        } else if not_found > 0 {
            summary += &format!(
                "; {} not found (walks prove nothing either way)",
                count(not_found, "expected example", "expected examples")
            );
        } else {
            summary += " (a walk that finds nothing proves nothing)";
        }
        out(&format!("\n{summary}\n"))?;
    }
    if let Some(fault) = one_fault(write_faults) {
        return Err(fault);
    }
    note_source(&source);
    Ok(if mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(states: usize) -> CheckSpec {
        CheckSpec {
            unique_states: Some(states),
            ..CheckSpec::default()
        }
    }

    /// The two large checks land in different shards, and the rest balance the load.
    #[test]
    fn shards_balance_by_pinned_cost() {
        let specs = [
            spec(10),
            spec(1000),
            spec(20),
            spec(900),
            spec(30),
            spec(40),
        ];
        let of = shards(&specs, 2);
        assert_ne!(of[1], of[3], "the two large checks share a shard: {of:?}");
        let load = |k| -> usize {
            specs
                .iter()
                .zip(&of)
                .filter(|(_, s)| **s == k)
                .map(|(c, _)| c.unique_states.unwrap())
                .sum()
        };
        assert!(
            load(0).abs_diff(load(1)) <= 100,
            "{} vs {}",
            load(0),
            load(1)
        );
        // Every check in exactly one shard, and the same split every time.
        assert_eq!(of, shards(&specs, 2));
        assert!(of.iter().all(|&k| k < 2));
    }
}
