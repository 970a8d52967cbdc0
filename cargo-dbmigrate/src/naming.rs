//! How new revisions are named: the next version (max + 1 or a UTC timestamp), the file-name slug of
//! a message, and the clock behind `Created:` (which `DBMIGRATE_NOW` pins for reproducible output).

use dbmigrate_runtime::VersionWidth;
use dbmigrate_runtime::config::Versioning;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::error::Error;

/// The environment variable that fixes the clock (an RFC 3339 time), for tests and reproducible docs.
pub const NOW_VARIABLE: &str = "DBMIGRATE_NOW";

/// Longest slug kept in a file name: long enough to stay readable, short enough for every file system.
const LONGEST_SLUG: usize = 64;

/// The current time in UTC, or the time `DBMIGRATE_NOW` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    now: OffsetDateTime,
}

impl Clock {
    /// Reads `DBMIGRATE_NOW`, falling back to the system clock.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(NOW_VARIABLE) {
            Ok(text) => Self::parse(&text),
            Err(_) => Ok(Self {
                now: OffsetDateTime::now_utc(),
            }),
        }
    }

    /// A clock stopped at an RFC 3339 time.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let now = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| Error::Settings {
            message: format!("{NOW_VARIABLE}={text} is not an RFC 3339 time"),
            help: format!("write it like 2026-11-24T21:08:43Z, or unset {NOW_VARIABLE} to use the system clock"),
        })?;
        Ok(Self {
            now: now.to_offset(time::UtcOffset::UTC),
        })
    }

    /// The `Created:` value: RFC 3339 in UTC, to the second.
    pub fn created(&self) -> String {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        self.now.format(&format).unwrap_or_default()
    }

    /// The time as a version, `YYYYMMDDHHMMSS`.
    pub fn timestamp_version(&self) -> i64 {
        let format = format_description!("[year][month][day][hour][minute][second]");
        self.now
            .format(&format)
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_default()
    }
}

/// How versions are chosen for one command: the configured scheme, or timestamps when asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbering {
    /// Sequential or timestamp.
    pub versioning: Versioning,
    /// The width versions must fit.
    pub width: VersionWidth,
}

impl Numbering {
    /// The scheme for these settings; `--timestamp` overrides `versioning`, and timestamps need
    /// 64-bit versions.
    pub fn new(
        versioning: Versioning,
        width: VersionWidth,
        timestamp_flag: bool,
    ) -> Result<Self, Error> {
        let versioning = if timestamp_flag {
            Versioning::Timestamp
        } else {
            versioning
        };
        if versioning == Versioning::Timestamp && width == VersionWidth::I32 {
            return Err(Error::Settings {
                message: "timestamp versions (YYYYMMDDHHMMSS) do not fit the project's 32-bit versions".into(),
                help: "set `version-width = \"i64\"` in [package.metadata.dbmigrate] (the history table's version \
                       column must be INT8, as with refinery's int8-versions feature)"
                    .into(),
            });
        }
        Ok(Self { versioning, width })
    }

    /// The version after `max`: max + 1, or the current time when that is later (two revisions made in
    /// the same second still get distinct, increasing versions).
    pub fn next(&self, max: Option<i64>, clock: &Clock) -> Result<i64, Error> {
        let after_max = max.map_or(Some(1), |m| m.checked_add(1));
        let next = match self.versioning {
            Versioning::Sequential => after_max,
            Versioning::Timestamp => after_max.map(|v| v.max(clock.timestamp_version())),
        };
        next.filter(|v| self.width.fits(*v))
            .ok_or_else(|| Error::Settings {
                message: format!(
                    "the next version after {} does not fit in {}",
                    max.unwrap_or_default(),
                    self.width.as_str()
                ),
                help: "set `version-width = \"i64\"` in [package.metadata.dbmigrate]".into(),
            })
    }
}

/// The file-name part for a message: lowercase letters and digits, everything else one `_`, no
/// leading or trailing `_`. Unicode letters are kept (lowercased), exactly the characters the file
/// name rule (`\w+`, letters, digits and `_`) accepts. `None` when nothing is left.
pub fn slug(message: &str) -> Option<String> {
    let mut slug = String::new();
    for c in message.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
        if slug.chars().count() >= LONGEST_SLUG {
            break;
        }
    }
    let slug = slug.trim_end_matches('_');
    (!slug.is_empty()).then(|| slug.to_string())
}

/// The message as one header line: control characters and runs of whitespace become one space, so a
/// pasted multi-line message cannot end the header early.
pub fn header_message(message: &str) -> String {
    message
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_file_name_rule() {
        for (message, expected) in [
            ("create users", Some("create_users")),
            ("  Add   Teams!! ", Some("add_teams")),
            ("backfill e-mails (v2)", Some("backfill_e_mails_v2")),
            ("Ajouter l'été", Some("ajouter_l_été")),
            ("ÉTÉ", Some("été")),
            ("__x__", Some("x")),
            ("!!!", None),
            ("", None),
        ] {
            assert_eq!(slug(message).as_deref(), expected, "{message:?}");
        }
        let long = slug(&"word ".repeat(40)).unwrap();
        assert!(
            long.chars().count() <= LONGEST_SLUG && !long.ends_with('_'),
            "{long}"
        );
    }

    #[test]
    fn every_slug_is_a_valid_revision_name() {
        for message in ["a b", "İstanbul ǅ", "x\u{301}y", "日本語 テーブル", "1 2 3"] {
            let slug = slug(message).unwrap();
            let name = format!("V1__{slug}.sql");
            let parsed = dbmigrate_runtime::revision::parse_file_name(
                std::path::Path::new(&name),
                VersionWidth::I32,
            );
            assert!(
                matches!(parsed, Ok(Some(_))),
                "{message:?} gave {name}: {parsed:?}"
            );
        }
    }

    #[test]
    fn header_messages_are_one_line() {
        assert_eq!(header_message(" add\nteams\r\n\tnow "), "add teams now");
    }

    #[test]
    fn versions_are_max_plus_one_or_the_time() {
        let clock = Clock::parse("2026-11-24T21:08:43+01:00").unwrap();
        assert_eq!(clock.created(), "2026-11-24T20:08:43Z");
        let sequential = Numbering::new(Versioning::Sequential, VersionWidth::I32, false).unwrap();
        assert_eq!(sequential.next(None, &clock).unwrap(), 1);
        assert_eq!(sequential.next(Some(41), &clock).unwrap(), 42);
        assert!(sequential.next(Some(i64::from(i32::MAX)), &clock).is_err());
        let timestamp = Numbering::new(Versioning::Sequential, VersionWidth::I64, true).unwrap();
        assert_eq!(timestamp.next(Some(3), &clock).unwrap(), 20261124200843);
        assert_eq!(
            timestamp.next(Some(20261124200843), &clock).unwrap(),
            20261124200844
        );
        assert!(Numbering::new(Versioning::Timestamp, VersionWidth::I32, false).is_err());
        assert!(Clock::parse("yesterday").is_err());
    }
}
