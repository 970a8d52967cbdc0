//! Targets of `upgrade`/`downgrade` (`head`, `heads`, `base`, a version, `+N`, `-N`, `V+N`) and the errors resolving them.

use std::fmt;
use std::str::FromStr;

/// Where to move the database to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The single head; an error when the history forked.
    Head,
    /// Every head.
    Heads,
    /// Nothing applied.
    Base,
    /// A revision, written `12` or `V12`.
    Version(i64),
    /// `+N` (the next N pending revisions) or `-N` (the last N applied revisions).
    Relative(i64),
    /// `V+N` / `V-N`: N revisions after (before) V in upgrade order.
    FromVersion {
        /// The starting revision.
        version: i64,
        /// Signed number of steps.
        steps: i64,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Head => f.write_str("head"),
            Self::Heads => f.write_str("heads"),
            Self::Base => f.write_str("base"),
            Self::Version(v) => write!(f, "{v}"),
            Self::Relative(n) => write!(f, "{n:+}"),
            Self::FromVersion { version, steps } => write!(f, "{version}{steps:+}"),
        }
    }
}

fn parse_version(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['V', 'v', 'U', 'u']).unwrap_or(text);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn parse_steps(sign: char, digits: &str) -> Option<i64> {
    let n: i64 = digits
        .parse()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?;
    Some(if sign == '-' { -n } else { n })
}

impl FromStr for Target {
    type Err = GraphError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || GraphError::InvalidTarget {
            text: text.to_string(),
        };
        match text.trim() {
            "head" => return Ok(Self::Head),
            "heads" => return Ok(Self::Heads),
            "base" => return Ok(Self::Base),
            _ => {}
        }
        let text_trimmed = text.trim();
        if let Some(first @ ('+' | '-')) = text_trimmed.chars().next() {
            return parse_steps(first, &text_trimmed[1..])
                .map(Self::Relative)
                .ok_or_else(invalid);
        }
        if let Some(at) = text_trimmed.find(['+', '-']) {
            let version = parse_version(&text_trimmed[..at]).ok_or_else(invalid)?;
            let sign = text_trimmed[at..].chars().next().unwrap_or('+');
            let steps = parse_steps(sign, &text_trimmed[at + 1..]).ok_or_else(invalid)?;
            return Ok(Self::FromVersion { version, steps });
        }
        parse_version(text_trimmed)
            .map(Self::Version)
            .ok_or_else(invalid)
    }
}

/// A target that cannot be resolved against the graph and the applied revisions.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    /// `head` with a forked history.
    #[error(
        "the history has {} heads ({}); upgrade to one of them, to `heads`, or join them with `cargo dbmigrate merge`",
        heads.len(),
        heads.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    MultipleHeads {
        /// Every head's version.
        heads: Vec<i64>,
    },
    /// There are no revisions at all.
    #[error("there are no revisions yet; create one with `cargo dbmigrate new <message>`")]
    Empty,
    /// No revision has this version.
    #[error("no revision has version {version}; `cargo dbmigrate history` lists them")]
    UnknownRevision {
        /// The version asked for.
        version: i64,
    },
    /// The target text is not a target.
    #[error(
        "`{text}` is not a target; use head, heads, base, a version (12 or V12), +N, -N or V+N"
    )]
    InvalidTarget {
        /// What was given.
        text: String,
    },
    /// More steps asked for than there are.
    #[error("{requested} step(s) asked for, but only {available} are possible")]
    NotEnoughRevisions {
        /// Steps asked for.
        requested: usize,
        /// Steps possible.
        available: usize,
    },
    /// An upgrade target used for a downgrade, or the other way round.
    #[error(
        "`{target}` points the wrong way here: upgrade takes head, heads, a version or +N; downgrade takes base, a version or -N"
    )]
    WrongDirection {
        /// The target given.
        target: Target,
    },
    /// A downgrade to a revision that is not applied.
    #[error(
        "revision {version} is not applied, so the database cannot be downgraded to it; upgrade to it instead"
    )]
    NotApplied {
        /// The version asked for.
        version: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_target_form() {
        for (text, target) in [
            ("head", Target::Head),
            ("heads", Target::Heads),
            ("base", Target::Base),
            ("12", Target::Version(12)),
            ("V12", Target::Version(12)),
            ("+2", Target::Relative(2)),
            ("-1", Target::Relative(-1)),
            (
                "12+1",
                Target::FromVersion {
                    version: 12,
                    steps: 1,
                },
            ),
            (
                "V12-3",
                Target::FromVersion {
                    version: 12,
                    steps: -3,
                },
            ),
        ] {
            assert_eq!(text.parse::<Target>(), Ok(target.clone()), "{text}");
            assert_eq!(
                target.to_string().parse::<Target>(),
                Ok(target),
                "round trip of {text}"
            );
        }
        for text in [
            "",
            "hed",
            "+",
            "1+",
            "V",
            "+-1",
            "1.5",
            "99999999999999999999",
        ] {
            assert!(text.parse::<Target>().is_err(), "{text:?}");
        }
    }
}
