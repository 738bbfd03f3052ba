//! "Shuttle finds each bug", and the committed counterexamples it produces.
//!
//! Each of the Raft model's bug variants is a test-only [`Deviation`] of the core. A search
//! runs its workload under shuttle's random scheduler from fixed seeds until a run violates
//! the variant's property on the implementation's own states (`harness::check_records`);
//! the correct core must survive the same workload from 20 seeds. The shortest failing run
//! is written to `counterexamples/raft/impl-<variant>/<Property>.{json,md}`: the schedule
//! `shuttle::replay` takes, the seed, the shuttle version and the run's record; the
//! Markdown tells the story with the servers' logs at the violation. The tests check the
//! committed files are current and replay. Regenerate with `COORDLAB_BLESS=1`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use coordlab_diagram::{Arrow, SequenceDiagram};
use coordlab_impls::raft::{Event, Role};

use super::harness::{Deviation, Record, Report, Scenario, Snapshot, property, run};
use super::shuttle_tests::{figure8, scenario};
use crate::impl_counterexamples::{
    self as ce, CounterexampleFile, ImplProtocol, Scheduler, Target,
};

struct Raft;

impl ImplProtocol for Raft {
    const ID: &'static str = "raft";
    const TEST_BINARY: &'static str = "raft";
    type Scenario = Scenario;
    type Event = Record;
    type Report = Report;

    fn run(scenario: &Scenario) -> Report {
        run(scenario)
    }

    fn violation_of(report: &Report, property: &str) -> Option<String> {
        report
            .violations
            .iter()
            .find(|v| v.property == property)
            .map(ToString::to_string)
    }

    fn any_violation(report: &Report) -> Option<String> {
        report.violations.first().map(ToString::to_string)
    }

    fn events(report: &Report) -> &[Record] {
        &report.records
    }

    fn render_md(file: &CounterexampleFile<Raft>, target: &Target<Raft>) -> String {
        render_md(file, target)
    }
}

fn target(
    deviation: Deviation,
    property: &'static str,
    test: &'static str,
    workload: Scenario,
    bug: &'static str,
) -> Target<Raft> {
    Target {
        variant: deviation.id(),
        bug,
        test,
        property,
        scenario: Scenario {
            deviation: Some(deviation),
            ..workload.clone()
        },
        fixed: workload,
        scheduler: Scheduler::Random,
        seeds: 1..=3,
        max_iterations: 10_000,
        fixed_seeds: 1..=20,
        // 20,000 runs of the correct core per workload. (The shortest counterexamples were
        // found at runs 26 to 3,655 of their seeds: the correct core's runs per seed are
        // fewer than the longest search, more than most; in all, more than any.)
        fixed_iterations: 1_000,
    }
}

fn targets() -> Vec<Target<Raft>> {
    vec![
        target(
            Deviation::Figure8Commit,
            property::LEADER_COMPLETENESS,
            "shuttle_finds_figure8_commit",
            figure8(),
            "a leader commits the highest index a majority holds whatever its term, without §5.4.2's rule that only an entry of the leader's own term is committed by counting replicas",
        ),
        target(
            Deviation::ForgetVotedFor,
            property::ELECTION_SAFETY,
            "shuttle_finds_forget_voted_for",
            scenario(3),
            "a server restarts without the vote it gave in its term (votedFor is not kept durable), so it can vote twice in one term",
        ),
        target(
            Deviation::NoUpToDateCheck,
            property::LEADER_COMPLETENESS,
            "shuttle_finds_no_up_to_date_check",
            scenario(3),
            "a server grants its vote without §5.4.1's check that the candidate's log is at least as up-to-date as its own",
        ),
        target(
            Deviation::TruncateWithoutConflict,
            property::LEADER_COMPLETENESS,
            "shuttle_finds_truncate_without_conflict",
            figure8(),
            "a follower removes every entry after prevLogIndex before appending, even entries that do not conflict, so a delayed AppendEntries erases entries",
        ),
    ]
}

fn assert_finds(variant: &str) {
    let target = targets()
        .into_iter()
        .find(|t| t.variant == variant)
        .expect("a target per variant");
    let found = ce::assert_finds(&target);
    assert!(
        found
            .message
            .starts_with(&format!("{} violated", target.property)),
        "{}",
        found.message
    );
}

/// With `votedFor` forgotten on restart, two leaders are elected in one term.
/// `ElectionSafety`. Reference: Raft §5.2, Figure 2 ("persistent state").
#[test]
fn shuttle_finds_forget_voted_for() {
    assert_finds("forget-voted-for");
}

/// Committing an old term's entry by counting replicas lets a later leader lack a
/// committed entry. `LeaderCompleteness`. Reference: Raft §5.4.2, Figure 8.
#[test]
fn shuttle_finds_figure8_commit() {
    assert_finds("figure8-commit");
}

/// Voting without the up-to-date check elects a leader that lacks committed entries.
/// `LeaderCompleteness`. Reference: Raft §5.4.1.
#[test]
fn shuttle_finds_no_up_to_date_check() {
    assert_finds("no-up-to-date-check");
}

/// Truncating without a conflict erases entries a majority was counted on.
/// `LeaderCompleteness`. Reference: Raft Figure 2, AppendEntries receiver rule 3.
#[test]
fn shuttle_finds_truncate_without_conflict() {
    assert_finds("truncate-without-conflict");
}

/// The committed counterexamples are exactly what the searches produce now. With
/// `COORDLAB_BLESS=1`, (re)writes them instead.
#[test]
fn committed_counterexamples_are_current() {
    ce::assert_committed_current(&targets());
}

/// Every committed counterexample replays: `shuttle::replay` of its schedule reproduces the
/// same violation and the same record.
#[test]
fn committed_counterexamples_replay() {
    ce::assert_committed_replay(&targets());
}

// ---- The Markdown ----

fn definition(property: &str) -> &'static str {
    match property {
        property::ELECTION_SAFETY => "at most one leader can be elected in a given term.",
        property::LEADER_APPEND_ONLY => {
            "a leader never overwrites or deletes entries in its log; it only appends new entries."
        }
        property::LOG_MATCHING => {
            "if two logs contain an entry with the same index and term, then the logs are identical in all entries up through the given index."
        }
        property::LEADER_COMPLETENESS => {
            "if a log entry is committed in a given term, then that entry will be present in the logs of the leaders for all higher-numbered terms."
        }
        _ => {
            "if a server has applied a log entry at a given index to its state machine, no other server will ever apply a different log entry for the same index."
        }
    }
}

fn describe(e: &Event) -> String {
    match e {
        Event::Timeout { term } => format!("`Timeout`: candidate of term {term}"),
        Event::RequestVote { to, .. } => format!("`RequestVote` → {to}"),
        Event::BecomeLeader { term } => format!("**`BecomeLeader` of term {term}**"),
        Event::ClientRequest { index, term, noop } => format!(
            "`ClientRequest`: appends {} at index {index} (term {term})",
            if *noop { "a no-op" } else { "a client's entry" }
        ),
        Event::AppendEntries {
            to,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            ..
        } => format!(
            "`AppendEntries` → {to} (prev {prev_log_index}/t{prev_log_term}, {entries} entr{}, commit {leader_commit})",
            if *entries == 1 { "y" } else { "ies" }
        ),
        Event::AdvanceCommitIndex { commit } => {
            format!("**`AdvanceCommitIndex` to {commit}**")
        }
        Event::HandleRequestVoteRequest {
            from,
            term,
            granted,
        } => format!(
            "`HandleRequestVoteRequest` from {from} (term {term}): {}",
            if *granted { "granted" } else { "refused" }
        ),
        Event::HandleRequestVoteResponse {
            from,
            term,
            granted,
        } => format!(
            "`HandleRequestVoteResponse` from {from} (term {term}): {}",
            if *granted { "granted" } else { "refused" }
        ),
        Event::HandleAppendEntriesRequest {
            from,
            success,
            match_index,
            truncated_from,
            commit,
            ..
        } => {
            let mut s = format!(
                "`HandleAppendEntriesRequest` from {from}: {}",
                if *success {
                    format!("accepted, match {match_index}, commit {commit}")
                } else {
                    "refused".to_owned()
                }
            );
            if let Some(t) = truncated_from {
                let _ = write!(s, ", **removed its entries from index {t}**");
            }
            s
        }
        Event::HandleAppendEntriesResponse {
            from,
            success,
            match_index,
            ..
        } => format!(
            "`HandleAppendEntriesResponse` from {from}: {}",
            if *success {
                format!("match {match_index}")
            } else {
                "refused".to_owned()
            }
        ),
        Event::UpdateTerm { term } => format!("`UpdateTerm` to {term}"),
        Event::Restart { term } => format!("`Restart` (term {term} from storage)"),
    }
}

fn log_terms(s: &Snapshot) -> String {
    if s.log.is_empty() {
        return "—".to_owned();
    }
    s.log
        .iter()
        .map(|e| e.term.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The record for a person: every server step that did something, and every crash,
/// restart and cut; messages the network lost are noted, deliveries are not.
fn story(records: &[Record]) -> String {
    let mut md = String::new();
    for (k, r) in records.iter().enumerate() {
        let line = match r {
            Record::Step {
                node,
                events,
                state,
                applied,
            } => {
                if events.is_empty() && applied.is_empty() {
                    continue;
                }
                let mut what: Vec<String> = events.iter().map(describe).collect();
                if !applied.is_empty() {
                    what.push(format!(
                        "applies {}",
                        applied
                            .iter()
                            .map(|(i, e)| format!("{i}/t{}", e.term))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                format!(
                    "s{node} ({} of term {}; log {}; commit {}): {}",
                    state.role,
                    state.term,
                    log_terms(state),
                    state.commit,
                    what.join("; ")
                )
            }
            Record::Net { envelope: e, fate } => match fate {
                coordlab_impls::raft::NetFate::Delivered => continue,
                other => format!(
                    "network: {} {}→{} (term {}) {other:?}",
                    e.message.kind(),
                    e.from,
                    e.to,
                    e.message.term()
                ),
            },
            Record::Crash { node } => format!("**s{node} crashes**"),
            Record::Restart { node } => format!("**s{node} restarts**"),
            Record::Partition { isolated } => format!(
                "**the network cuts {} off from the others**",
                isolated
                    .iter()
                    .map(|n| format!("s{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Record::Mute { mute } => format!(
                "**the network loses s{mute}'s messages to the others (one way: s{mute} still hears them)**"
            ),
            Record::Heal => "**the network heals**".to_owned(),
        };
        let _ = writeln!(md, "{}. {line}", k + 1);
    }
    md
}

/// The servers' logs after the record's step `upto`: one row per server, one column per
/// index, each cell the entry's term (`*`: committed as far as that server knows).
fn matrix(records: &[Record]) -> String {
    let mut latest: BTreeMap<u32, &Snapshot> = BTreeMap::new();
    for r in records {
        if let Record::Step { node, state, .. } = r {
            latest.insert(*node, state);
        }
    }
    let width = latest.values().map(|s| s.log.len()).max().unwrap_or(0);
    let mut md = String::from("| server | role | term |");
    for i in 1..=width {
        let _ = write!(md, " {i} |");
    }
    md.push_str("\n|---|---|---|");
    for _ in 1..=width {
        md.push_str("---|");
    }
    md.push('\n');
    for (node, s) in latest {
        let role = match s.role {
            Role::Leader => "**leader**",
            Role::Candidate => "candidate",
            Role::Follower => "follower",
        };
        let _ = write!(md, "| s{node} | {role} | {} |", s.term);
        for i in 0..width {
            match s.log.get(i) {
                Some(e) if (i as u64) < s.commit => {
                    let _ = write!(md, " {}* |", e.term);
                }
                Some(e) => {
                    let _ = write!(md, " {} |", e.term);
                }
                None => md.push_str("   |"),
            }
        }
        md.push('\n');
    }
    md
}

fn render_md(file: &CounterexampleFile<Raft>, target: &Target<Raft>) -> String {
    let s = &file.scenario;
    let step = file
        .violation
        .split("at record ")
        .nth(1)
        .and_then(|t| t.split(':').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(file.events.len())
        .min(file.events.len());
    let story_records = &file.events[..step];
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# raft / {}: {} violated (implementation, shuttle)\n",
        file.variant, file.property
    );
    let _ = writeln!(
        md,
        "> `{}` (Raft, Figure 3): {}\n",
        file.property,
        definition(&file.property)
    );
    let _ = writeln!(md, "**What goes wrong:** {}.\n", file.violation);
    let _ = writeln!(
        md,
        "The bug: {} (`Deviation::{:?}` of the core, the model's `{}`).\n",
        target.bug,
        s.deviation.expect("a deviation"),
        target.variant
    );
    md.push_str(&ce::reproduce_section(target));
    let _ = writeln!(
        md,
        "Found by shuttle {} ({:?} scheduler): run {} of the search from seed {}, the shortest record among the first failing runs from seeds {}..={}.\n",
        file.shuttle_version,
        file.scheduler,
        file.iteration,
        file.seed,
        target.seeds.start(),
        target.seeds.end()
    );
    let _ = writeln!(md, "## The workload\n");
    let _ = writeln!(
        md,
        "{} servers on an in-process network that drops {}‰, duplicates {}‰, reorders {}‰ and delays {}‰ of messages (up to {} ticks); {} clients doing {} operations each on {} key(s); {} chaos steps (crash {}‰, reboot {}‰, partition {}‰ — half of them one way —, cut off the leader {}‰). Election timeout {}..={} ticks, heartbeat every {} ticks, at most {} entr{} per AppendEntries, {} no-op at the start of a term. Time is logical: a tick whenever shuttle runs the ticker thread.\n",
        s.servers,
        s.faults.drop,
        s.faults.duplicate,
        s.faults.reorder,
        s.faults.delay,
        s.faults.max_delay_ticks,
        s.clients,
        s.ops_per_client,
        s.keys,
        s.chaos_steps,
        s.crash_per_mille,
        s.reboot_per_mille,
        s.partition_per_mille,
        s.isolate_leader_per_mille,
        s.election_timeout.0,
        s.election_timeout.1,
        s.heartbeat,
        s.max_entries_per_message,
        if s.max_entries_per_message == 1 {
            "y"
        } else {
            "ies"
        },
        if s.noop_on_election { "a" } else { "no" },
    );
    let _ = writeln!(md, "## Steps\n");
    let _ = writeln!(
        md,
        "The run's record up to the violation (record {step} of {}), numbered as in the JSON.\n",
        file.events.len()
    );
    md.push_str(&story(story_records));
    let detail = file
        .violation
        .split_once(": ")
        .map_or(file.violation.as_str(), |(_, d)| d)
        .to_owned();
    let _ = writeln!(md, "\n**`{}` is violated:** {detail}.", file.property);
    let _ = writeln!(
        md,
        "\n## The logs at the violation\n\nEach cell is the term of the entry at that index; `*` marks entries the server knows are committed.\n"
    );
    md.push_str(&matrix(story_records));
    let _ = writeln!(md, "\n## Sequence diagram\n");
    let _ = writeln!(
        md,
        "```mermaid\n{}```",
        mermaid(story_records, s.servers, &file.property, &detail)
    );
    md
}

/// The record as a sequence diagram: every message a server sends as an arrow (requests
/// solid, answers dashed), every other step a note over its server, chaos over all of
/// them; numbered like the record, ending with a note that states the violation.
fn mermaid(records: &[Record], servers: u32, property: &str, detail: &str) -> String {
    let name = |n: u32| format!("s{n}");
    let all: Vec<String> = (0..servers).map(name).collect();
    let mut d = SequenceDiagram::new(all.clone());
    for (k, r) in records.iter().enumerate() {
        let arrows: Vec<Arrow> = match r {
            Record::Step { node, events, .. } => {
                let me = name(*node);
                events
                    .iter()
                    .filter_map(|e| match e {
                        Event::Timeout { term } => Some(Arrow::note(
                            [me.clone()],
                            format!("times out: candidate of term {term}"),
                        )),
                        Event::RequestVote { to, term } => Some(Arrow::call(
                            me.clone(),
                            name(to.0),
                            format!("RequestVote (term {term})"),
                        )),
                        Event::BecomeLeader { term } => {
                            Some(Arrow::note([me.clone()], format!("leader of term {term}")))
                        }
                        Event::ClientRequest { index, term, .. } => Some(Arrow::note(
                            [me.clone()],
                            format!("appends index {index} (term {term})"),
                        )),
                        Event::AppendEntries {
                            to,
                            prev_log_index,
                            prev_log_term,
                            entries,
                            leader_commit,
                            ..
                        } => Some(Arrow::call(
                            me.clone(),
                            name(to.0),
                            format!(
                                "AppendEntries (prev {prev_log_index}/t{prev_log_term}, {entries} entries, commit {leader_commit})"
                            ),
                        )),
                        Event::AdvanceCommitIndex { commit } => {
                            Some(Arrow::note([me.clone()], format!("commits up to {commit}")))
                        }
                        Event::HandleRequestVoteRequest { from, granted, .. } => Some(Arrow::reply(
                            me.clone(),
                            name(from.0),
                            if *granted { "vote granted" } else { "vote refused" },
                        )),
                        Event::HandleAppendEntriesRequest {
                            from,
                            success,
                            match_index,
                            ..
                        } => Some(Arrow::reply(
                            me.clone(),
                            name(from.0),
                            if *success {
                                format!("accepted, match {match_index}")
                            } else {
                                "refused".to_owned()
                            },
                        )),
                        Event::Restart { term } if *term > 0 => Some(Arrow::note(
                            [me.clone()],
                            format!("restarts in term {term}"),
                        )),
                        _ => None,
                    })
                    .collect()
            }
            Record::Crash { node } => vec![Arrow::note([name(*node)], "crashes")],
            Record::Partition { isolated } => vec![Arrow::note(
                all.clone(),
                format!(
                    "the network cuts {} off",
                    isolated
                        .iter()
                        .map(|&n| name(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )],
            Record::Mute { mute } => vec![Arrow::note(
                all.clone(),
                format!("the network loses {}'s messages to the others", name(*mute)),
            )],
            Record::Heal => vec![Arrow::note(all.clone(), "the network heals")],
            Record::Net { .. } | Record::Restart { .. } => Vec::new(),
        };
        if !arrows.is_empty() {
            d.step(k + 1, arrows);
        }
    }
    d.push(Arrow::note(all, format!("{property} violated: {detail}")));
    d.render()
}
