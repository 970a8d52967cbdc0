//! Timing contenders alternately over several rounds, and turning the medians into ratios, target
//! verdicts and a markdown table.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One way of doing the workload: ours, a peer's, the limit, or a figure shown for context only.
pub struct Contender<'a> {
    pub name: String,
    pub role: Role,
    /// Runs the workload once. Per-round setup and cleanup happen inside, untimed: the contender
    /// returns the time of the part that is measured.
    pub run: Box<dyn FnMut() -> anyhow::Result<Sample> + 'a>,
}

impl<'a> Contender<'a> {
    pub fn new(
        name: impl Into<String>,
        role: Role,
        run: impl FnMut() -> anyhow::Result<Sample> + 'a,
    ) -> Self {
        Self {
            name: name.into(),
            role,
            run: Box::new(run),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Ours,
    Peer,
    Limit,
    /// Shown beside the others (a peer's process start-up, say) but not used in any ratio.
    Context,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Ours => "ours",
            Role::Peer => "peer",
            Role::Limit => "limit",
            Role::Context => "context",
        }
    }
}

/// One timed run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub elapsed: Duration,
    /// Rows the run wrote, for a rows-per-second column.
    pub rows: Option<u64>,
    /// The longest single transaction the run held open.
    pub longest_transaction: Option<Duration>,
}

impl Sample {
    pub fn of(elapsed: Duration) -> Self {
        Self {
            elapsed,
            ..Self::default()
        }
    }

    /// Times `work` alone.
    pub fn time(work: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Self> {
        let started = Instant::now();
        work()?;
        Ok(Self::of(started.elapsed()))
    }

    pub fn with_rows(mut self, rows: u64) -> Self {
        self.rows = Some(rows);
        self
    }

    pub fn with_longest_transaction(mut self, longest: Duration) -> Self {
        self.longest_transaction = Some(longest);
        self
    }
}

/// A contender's medians over the measured rounds.
#[derive(Clone, Debug)]
pub struct Measured {
    pub name: String,
    pub role: Role,
    pub median: Duration,
    pub fastest: Duration,
    pub slowest: Duration,
    pub rows: Option<u64>,
    pub longest_transaction: Option<Duration>,
    /// How many rounds were measured.
    pub rounds: usize,
    /// Each round's time, in round order (contenders alternate within a round, so the same index
    /// of two contenders was measured under the same load).
    pub by_round: Vec<Duration>,
}

/// Only contenders whose name contains one of these texts run (`--only`, for profiling one of them
/// or comparing a few).
static ONLY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

pub fn run_only(name_parts: Vec<String>) {
    let _ = ONLY.set(name_parts);
}

/// Runs every contender once to warm up, then `rounds` times in alternation (so drift in the
/// machine's load hits all of them alike) and in a rotating order, and returns the medians.
pub fn alternate(contenders: &mut [Contender<'_>], rounds: usize) -> anyhow::Result<Vec<Measured>> {
    let rounds = rounds.max(1);
    let selected = |c: &Contender<'_>| {
        ONLY.get()
            .is_none_or(|parts| parts.iter().any(|part| c.name.contains(part.as_str())))
    };
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); contenders.len()];
    for round in 0..=rounds {
        let what = if round == 0 {
            "warm-up".to_string()
        } else {
            format!("round {round}/{rounds}")
        };
        // Each round runs the contenders in a different order, so none always runs right after
        // the same one (paying for its database drop, say) or always first.
        for index in round_order(contenders.len(), round) {
            let (contender, samples) = (&mut contenders[index], &mut samples[index]);
            if !selected(contender) {
                continue;
            }
            eprint!("\r  {what}: {:<60}", contender.name);
            let sample = (contender.run)().map_err(|error| {
                eprintln!();
                error.context(format!("{} ({what})", contender.name))
            })?;
            if round > 0 {
                samples.push(sample);
            }
        }
    }
    eprintln!("\r{:<80}", "");
    Ok(contenders
        .iter()
        .zip(samples)
        .filter(|(contender, _)| selected(contender))
        .map(|(contender, samples)| {
            let mut times: Vec<Duration> = samples.iter().map(|s| s.elapsed).collect();
            let mut longest: Vec<Duration> = samples
                .iter()
                .filter_map(|s| s.longest_transaction)
                .collect();
            Measured {
                name: contender.name.clone(),
                role: contender.role,
                median: median(&mut times),
                fastest: times[0],
                slowest: times[times.len() - 1],
                rows: samples.iter().find_map(|s| s.rows),
                longest_transaction: (!longest.is_empty()).then(|| median(&mut longest)),
                rounds: samples.len(),
                by_round: samples.iter().map(|s| s.elapsed).collect(),
            }
        })
        .collect())
}

/// The order of the contenders in `round`: a shuffle that depends only on the round, so a run can
/// be repeated exactly. A rotation would keep every contender behind the same one.
fn round_order(count: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    // xorshift64*, seeded by the round.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (round as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for i in (1..count).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    order
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2
    } else {
        values[middle]
    }
}

/// A bound on one of our ratios.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    /// Strictly below: "ahead of every peer" is below 1.
    Below(f64),
    /// At most: "within 1.5x of the limit".
    AtMost(f64),
}

impl Bound {
    fn holds(self, ratio: f64) -> bool {
        match self {
            Bound::Below(x) => ratio < x,
            Bound::AtMost(x) => ratio <= x,
        }
    }

    fn describe(self) -> String {
        match self {
            Bound::Below(x) => format!("< {x:.2}x"),
            Bound::AtMost(x) => format!("<= {x:.2}x"),
        }
    }
}

/// The workload's targets, from the issue.
#[derive(Clone, Copy, Debug, Default)]
pub struct Targets {
    pub vs_best_peer: Option<Bound>,
    pub vs_limit: Option<Bound>,
}

/// A ratio of ours to a reference, and whether it meets its target.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub against: &'static str,
    pub ratio: f64,
    pub reference: String,
    pub bound: Option<Bound>,
    /// The median of the round-by-round ratios, which the machine's drift between rounds does not
    /// move; shown beside the ratio of medians, which the target is judged on.
    pub paired: Option<f64>,
}

/// The median over rounds of ours ÷ other in the same round; `None` unless both ran every round.
fn paired_ratio(ours: &Measured, other: &Measured) -> Option<f64> {
    if ours.by_round.len() != other.by_round.len() || ours.by_round.is_empty() {
        return None;
    }
    let mut ratios: Vec<f64> = ours
        .by_round
        .iter()
        .zip(&other.by_round)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64().max(1e-12))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let middle = ratios.len() / 2;
    Some(if ratios.len().is_multiple_of(2) {
        (ratios[middle - 1] + ratios[middle]) / 2.0
    } else {
        ratios[middle]
    })
}

impl Verdict {
    pub fn met(&self) -> Option<bool> {
        self.bound.map(|b| b.holds(self.ratio))
    }
}

/// One table of results: a workload on one backend.
pub struct Table {
    pub title: String,
    pub results: Vec<Measured>,
    pub targets: Targets,
    /// Why ours has no figure, when it could not run (the placeholder CLI, say).
    pub ours_missing: Option<String>,
}

impl Table {
    pub fn new(title: impl Into<String>, results: Vec<Measured>, targets: Targets) -> Self {
        Self {
            title: title.into(),
            results,
            targets,
            ours_missing: None,
        }
    }

    fn best(&self, role: Role) -> Option<&Measured> {
        self.results
            .iter()
            .filter(|m| m.role == role)
            .min_by_key(|m| m.median)
    }

    /// Our ratio to the best peer and to the limit.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let Some(ours) = self.best(Role::Ours) else {
            return Vec::new();
        };
        let ratio = |other: &Measured| ours.median.as_secs_f64() / other.median.as_secs_f64();
        let mut verdicts = Vec::new();
        if let Some(peer) = self.best(Role::Peer) {
            verdicts.push(Verdict {
                against: "best peer",
                ratio: ratio(peer),
                reference: peer.name.clone(),
                bound: self.targets.vs_best_peer,
                paired: paired_ratio(ours, peer),
            });
        }
        if let Some(limit) = self.best(Role::Limit) {
            verdicts.push(Verdict {
                against: "limit",
                ratio: ratio(limit),
                reference: limit.name.clone(),
                bound: self.targets.vs_limit,
                paired: paired_ratio(ours, limit),
            });
        }
        verdicts
    }

    /// Prints the table to the terminal.
    pub fn print(&self) {
        println!("\n{}", self.title);
        let ours = self.best(Role::Ours).map(|m| m.median);
        for m in &self.results {
            let mut line = format!(
                "  {:<46} {:>7} {:>12}",
                m.name,
                m.role.label(),
                format_duration(m.median)
            );
            if let Some(ours) = ours.filter(|_| m.role != Role::Ours) {
                let _ = write!(line, "   ours is {}", relative(ours, m.median));
            }
            if let Some(rows) = m.rows {
                let _ = write!(
                    line,
                    "   {} rows/s",
                    thousands(rows_per_second(rows, m.median))
                );
            }
            if let Some(longest) = m.longest_transaction {
                let _ = write!(line, "   longest tx {}", format_duration(longest));
            }
            println!("{line}");
        }
        if let Some(reason) = &self.ours_missing {
            println!("  ours: not measured: {reason}");
        }
        for verdict in self.verdicts() {
            println!(
                "  ours / {}: {:.2}x{}{}",
                verdict.against,
                verdict.ratio,
                match (verdict.bound, verdict.met()) {
                    (Some(bound), Some(true)) => format!(" (target {}: met)", bound.describe()),
                    (Some(bound), _) => format!(" (target {}: MISSED)", bound.describe()),
                    _ => String::new(),
                },
                verdict
                    .paired
                    .map(|p| format!("; round by round: {p:.2}x"))
                    .unwrap_or_default()
            );
        }
    }

    /// The table in markdown, for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let rounds = self.results.iter().map(|m| m.rounds).max().unwrap_or(0);
        let with_rows = self.results.iter().any(|m| m.rows.is_some());
        let with_longest = self.results.iter().any(|m| m.longest_transaction.is_some());
        let ours = self.best(Role::Ours).map(|m| m.median);
        let mut out = format!("#### {}\n\n", self.title);
        out.push_str("| contender | role | median | fastest – slowest | ours vs this |");
        if with_rows {
            out.push_str(" rows/s |");
        }
        if with_longest {
            out.push_str(" longest transaction |");
        }
        out.push_str("\n| --- | --- | ---: | ---: | ---: |");
        if with_rows {
            out.push_str(" ---: |");
        }
        if with_longest {
            out.push_str(" ---: |");
        }
        out.push('\n');
        for m in &self.results {
            let versus = match ours {
                Some(ours) if m.role != Role::Ours => relative(ours, m.median),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "| {} | {} | {} | {} – {} | {} |",
                m.name,
                m.role.label(),
                format_duration(m.median),
                format_duration(m.fastest),
                format_duration(m.slowest),
                versus
            );
            if with_rows {
                let rate = m
                    .rows
                    .map(|rows| thousands(rows_per_second(rows, m.median)))
                    .unwrap_or_default();
                let _ = write!(out, " {rate} |");
            }
            if with_longest {
                let longest = m
                    .longest_transaction
                    .map(format_duration)
                    .unwrap_or_default();
                let _ = write!(out, " {longest} |");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "\nMedians of {rounds} rounds after a warm-up round; contenders alternate within each round."
        );
        if let Some(reason) = &self.ours_missing {
            let _ = writeln!(out, "\n**Ours was not measured:** {reason}.");
            for (against, bound) in [
                ("best peer", self.targets.vs_best_peer),
                ("limit", self.targets.vs_limit),
            ] {
                if let Some(bound) = bound {
                    let _ = writeln!(
                        out,
                        "- ours / {against}: target {}: **not measured**",
                        bound.describe()
                    );
                }
            }
        }
        for verdict in self.verdicts() {
            let target = match (verdict.bound, verdict.met()) {
                (Some(bound), Some(true)) => format!("target {}: **met**", bound.describe()),
                (Some(bound), _) => format!("target {}: **missed**", bound.describe()),
                _ => "no target".to_string(),
            };
            let paired = verdict
                .paired
                .map(|p| format!("; median of the round-by-round ratios: {p:.2}x"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- ours / {} ({}): **{:.2}x** ({target}){paired}",
                verdict.against, verdict.reference, verdict.ratio
            );
        }
        out.push('\n');
        out
    }
}

fn rows_per_second(rows: u64, elapsed: Duration) -> u64 {
    (rows as f64 / elapsed.as_secs_f64().max(1e-9)) as u64
}

/// "2.3x faster" or "1.4x slower": how ours compares with `other`.
fn relative(ours: Duration, other: Duration) -> String {
    let ratio = other.as_secs_f64() / ours.as_secs_f64().max(1e-12);
    if ratio >= 1.0 {
        format!("{ratio:.2}x faster")
    } else {
        format!("{:.2}x slower", 1.0 / ratio)
    }
}

/// A duration with a unit that keeps three significant digits or so.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 10.0 {
        format!("{secs:.1} s")
    } else if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.1} µs", secs * 1e6)
    }
}

/// 1234567 as "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(name: &str, role: Role, millis: u64) -> Measured {
        let d = Duration::from_millis(millis);
        Measured {
            name: name.into(),
            role,
            median: d,
            fastest: d,
            slowest: d,
            rows: None,
            longest_transaction: None,
            rounds: 5,
            by_round: vec![d; 5],
        }
    }

    #[test]
    fn every_contender_follows_each_other_in_some_round() {
        let mut followed = std::collections::BTreeSet::new();
        for round in 0..9 {
            let order = round_order(4, round);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3], "round {round}: {order:?}");
            followed.extend(order.windows(2).map(|pair| (pair[0], pair[1])));
        }
        // All twelve ordered pairs occur within the nine rounds of a published run.
        assert_eq!(followed.len(), 12, "{followed:?}");
        assert_eq!(round_order(4, 3), round_order(4, 3));
    }

    #[test]
    fn the_round_by_round_ratio_ignores_drift_between_rounds() {
        // The machine slows down in the later rounds; within each round ours takes 90% of the peer.
        let by_round = |ms: &[u64]| ms.iter().map(|&m| Duration::from_millis(m)).collect();
        let ours = Measured {
            by_round: by_round(&[90, 180, 360, 90, 900]),
            ..measured("ours", Role::Ours, 180)
        };
        let peer = Measured {
            by_round: by_round(&[100, 200, 400, 100, 1000]),
            ..measured("peer", Role::Peer, 200)
        };
        let paired = paired_ratio(&ours, &peer).unwrap();
        assert!((paired - 0.9).abs() < 1e-9, "{paired}");
        let fewer = Measured {
            by_round: by_round(&[100]),
            ..measured("peer", Role::Peer, 100)
        };
        assert_eq!(paired_ratio(&ours, &fewer), None);
    }

    #[test]
    fn medians_take_the_middle_or_the_mean_of_the_two_middles() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(
            median(&mut [ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
    }

    #[test]
    fn alternation_warms_up_once_and_keeps_the_measured_rounds() {
        let mut calls = 0;
        let mut contenders = [Contender::new("counted", Role::Ours, || {
            calls += 1;
            Ok(Sample::of(Duration::from_millis(calls)))
        })];
        let results = alternate(&mut contenders, 3).unwrap();
        drop(contenders);
        assert_eq!(calls, 4);
        // The warm-up (1 ms) is dropped; rounds took 2, 3, 4 ms.
        assert_eq!(results[0].median, Duration::from_millis(3));
        assert_eq!(results[0].fastest, Duration::from_millis(2));
    }

    #[test]
    fn verdicts_compare_ours_with_the_best_peer_and_the_limit() {
        let table = Table::new(
            "t",
            vec![
                measured("ours", Role::Ours, 30),
                measured("slow peer", Role::Peer, 90),
                measured("fast peer", Role::Peer, 60),
                measured("limit", Role::Limit, 25),
                measured("start-up", Role::Context, 1),
            ],
            Targets {
                vs_best_peer: Some(Bound::Below(1.0)),
                vs_limit: Some(Bound::AtMost(1.1)),
            },
        );
        let verdicts = table.verdicts();
        assert_eq!(verdicts[0].reference, "fast peer");
        assert!((verdicts[0].ratio - 0.5).abs() < 1e-9);
        assert_eq!(verdicts[0].met(), Some(true));
        assert!((verdicts[1].ratio - 1.2).abs() < 1e-9);
        assert_eq!(verdicts[1].met(), Some(false));
        let markdown = table.markdown();
        assert!(
            markdown.contains("| fast peer | peer | 60.00 ms |"),
            "{markdown}"
        );
        assert!(markdown.contains("**missed**"), "{markdown}");
    }

    #[test]
    fn numbers_read_easily() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.50 ms");
        assert_eq!(format_duration(Duration::from_secs(12)), "12.0 s");
    }
}
