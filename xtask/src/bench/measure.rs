//! Timing contenders alternately over several rounds and reporting medians and ratios.

use std::time::{Duration, Instant};

/// One way of doing the workload: ours, a peer's, or the limit.
pub struct Contender<'a> {
    pub name: &'static str,
    pub role: Role,
    pub run: Box<dyn FnMut() -> anyhow::Result<()> + 'a>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Ours,
    Peer,
    Limit,
}

/// A contender's median time.
pub struct Measured {
    pub name: &'static str,
    pub role: Role,
    pub median: Duration,
}

/// Runs every contender once to warm up, then `rounds` times in alternation (so drift in the machine's
/// load hits all of them alike), and returns the medians.
pub fn alternate(contenders: &mut [Contender<'_>], rounds: usize) -> anyhow::Result<Vec<Measured>> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for round in 0..=rounds {
        for (contender, samples) in contenders.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            (contender.run)()?;
            if round > 0 {
                samples.push(start.elapsed());
            }
        }
    }
    Ok(contenders
        .iter()
        .zip(samples)
        .map(|(c, mut s)| {
            s.sort();
            Measured {
                name: c.name,
                role: c.role,
                median: s[s.len() / 2],
            }
        })
        .collect())
}

/// Prints a table of medians with our ratio to the best peer and to the limit.
pub fn report(title: &str, results: &[Measured]) {
    println!("\n{title}");
    for m in results {
        let role = match m.role {
            Role::Ours => "ours",
            Role::Peer => "peer",
            Role::Limit => "limit",
        };
        println!(
            "  {:<32} {:>6} {:>12.3} ms",
            m.name,
            role,
            m.median.as_secs_f64() * 1e3
        );
    }
    let best = |role| {
        results
            .iter()
            .filter(|m| m.role == role)
            .map(|m| m.median)
            .min()
    };
    if let Some(ours) = best(Role::Ours) {
        if let Some(peer) = best(Role::Peer) {
            println!(
                "  ours / best peer: {:.2}x",
                ours.as_secs_f64() / peer.as_secs_f64()
            );
        }
        if let Some(limit) = best(Role::Limit) {
            println!(
                "  ours / limit:     {:.2}x",
                ours.as_secs_f64() / limit.as_secs_f64()
            );
        }
    }
}
