//! Problems a set of revision files can have, each naming the files (and lines) involved and what to do.

use std::fmt;
use std::path::PathBuf;

use crate::backend::Backend;
use crate::config::TableNameError;
use crate::sql::Construct;

/// Where in a revision file a problem is: the file and, when known, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Path of the revision file, as it was read (relative to the working directory or embedded root).
    pub path: PathBuf,
    /// 1-based line, when the problem is on a particular line.
    pub line: Option<u32>,
}

impl Location {
    /// A location covering a whole file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            line: None,
        }
    }

    /// A location on one line of a file.
    pub fn line(path: impl Into<PathBuf>, line: u32) -> Self {
        Self {
            path: path.into(),
            line: Some(line),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// A revision and the file that defines it, for messages that name both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionRef {
    /// The revision's version.
    pub version: i64,
    /// The file defining it.
    pub path: PathBuf,
}

impl fmt::Display for RevisionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.version, self.path.display())
    }
}

/// ` (in PostgreSQL and SQLite)` for a problem only some dialects have; nothing when all have it.
fn in_dialects(dialects: &[Backend]) -> String {
    if dialects.is_empty() || Backend::ALL.iter().all(|b| dialects.contains(b)) {
        return String::new();
    }
    let names: Vec<String> = dialects.iter().map(ToString::to_string).collect();
    format!(" (in {})", names.join(" and "))
}

fn list(revisions: &[RevisionRef]) -> String {
    revisions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn cycle(revisions: &[RevisionRef]) -> String {
    let mut text: Vec<String> = revisions.iter().map(|r| r.version.to_string()).collect();
    if let Some(first) = revisions.first() {
        text.push(first.version.to_string());
    }
    text.join(" -> ")
}

/// One problem in a revision directory. `check` collects every one of them; startup refuses on any.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevisionError {
    /// A file could not be read.
    #[error("{path}: cannot read: {message}", path = path.display())]
    Unreadable {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A `.sql` or `.rs` file whose name does not follow `V{version}__{name}.sql`.
    #[error("{path}: bad file name: {reason}", path = path.display())]
    BadFileName {
        /// The file.
        path: PathBuf,
        /// What is wrong with the name.
        reason: String,
    },
    /// The version does not fit the configured version width.
    #[error("{path}: version {version} does not fit in {width}", path = path.display())]
    VersionOutOfRange {
        /// The file.
        path: PathBuf,
        /// The version as written in the file name.
        version: String,
        /// `i32` or `i64`.
        width: &'static str,
    },
    /// The file is not valid UTF-8.
    #[error("{location}: the file is not valid UTF-8")]
    InvalidUtf8 {
        /// The file and the line of the first invalid byte.
        location: Location,
    },
    /// The header is malformed.
    #[error("{location}: bad header: {reason}")]
    BadHeader {
        /// The file and line of the offending header line.
        location: Location,
        /// What is wrong.
        reason: String,
    },
    /// Two files have the same version.
    #[error("version {version} is defined twice: {first} and {second}", first = first.display(), second = second.display())]
    DuplicateVersion {
        /// The version.
        version: i64,
        /// The file that was kept.
        first: PathBuf,
        /// The duplicate.
        second: PathBuf,
    },
    /// A revision names a parent that no file defines.
    #[error(
        "{location}: revision {version} revises {parent}, but no file defines version {parent}"
    )]
    MissingParent {
        /// The `Revises:` line.
        location: Location,
        /// The revision.
        version: i64,
        /// The missing parent.
        parent: i64,
    },
    /// A revision names itself as its parent.
    #[error("{location}: revision {version} revises itself")]
    SelfLoop {
        /// The `Revises:` line.
        location: Location,
        /// The revision.
        version: i64,
    },
    /// A revision names a parent with a higher version than its own.
    #[error(
        "{location}: revision {version} revises {parent}, a later version; parents must have lower versions"
    )]
    ParentAfterChild {
        /// The `Revises:` line.
        location: Location,
        /// The revision.
        version: i64,
        /// The later parent.
        parent: i64,
    },
    /// The `Revises:` chain loops.
    #[error("the revisions form a cycle: {}", cycle(revisions))]
    Cycle {
        /// The revisions in the cycle, each revising the next.
        revisions: Vec<RevisionRef>,
    },
    /// A revision whose upgrade holds nothing but blank lines and comments (a warning: it applies, and does nothing).
    #[error("{location}: revision {version} has no SQL to run on upgrade")]
    EmptyRevision {
        /// Where the upgrade section starts.
        location: Location,
        /// The revision.
        version: i64,
    },
    /// A file named like a revision resolves (through symlinks) to a file outside the revision
    /// directory. It is not read, so its contents never reach the output.
    #[error(
        "{path}: it resolves to {target}, outside the revision directory; it was not read",
        path = path.display(),
        target = target.display()
    )]
    OutsideDirectory {
        /// The file in the revision directory.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
    },
    /// A FIFO, socket or device named like a revision. It is not read (reading a FIFO could wait
    /// forever).
    #[error("{path}: it is {kind}, not a regular file; it was not read", path = path.display())]
    NotARegularFile {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A comment line that looks like a section marker but is not one: the SQL after it would run as
    /// part of the section above (a `DROP` right after its `CREATE`).
    #[error(
        "{location}: `{found}` looks like a section marker but is not one, so the SQL below it would run as part of the section above it"
    )]
    BadSectionMarker {
        /// The line.
        location: Location,
        /// The line as written.
        found: String,
        /// What to write instead.
        suggestion: String,
    },
    /// SQL that ends inside a block comment, string, quoted identifier or dollar quote: everything
    /// after its opening would be swallowed by it.
    #[error(
        "{location}: this {construct} is never closed{}, so everything after it to the end of the section is part of it",
        in_dialects(dialects)
    )]
    UnterminatedSql {
        /// Where it opens.
        location: Location,
        /// What it is.
        construct: Construct,
        /// The dialects that read the text this way.
        dialects: Vec<Backend>,
    },
    /// A `DELIMITER` line: a command of the mysql client, which no database understands.
    #[error(
        "{location}: `{command}` is a command of the mysql client, not SQL{}",
        in_dialects(dialects)
    )]
    DelimiterCommand {
        /// The line.
        location: Location,
        /// The line as written.
        command: String,
        /// The dialects that read the line this way (not inside a string or comment).
        dialects: Vec<Backend>,
    },
    /// `BEGIN`, `COMMIT`, `ROLLBACK`... in a revision that runs in a transaction with its history row.
    #[error(
        "{location}: `{statement}` takes over the transaction of revision {version}{}: what runs before it \
         could commit without the revision's history row, and a later failure could not undo it",
        in_dialects(dialects)
    )]
    TransactionControl {
        /// The statement's first line.
        location: Location,
        /// The revision.
        version: i64,
        /// The statement's leading keywords, such as `COMMIT` or `START TRANSACTION`.
        statement: String,
        /// The dialects in which the statement controls the transaction.
        dialects: Vec<Backend>,
    },
    /// The history table's name is not one dbmigrate can use (see [`crate::config::check_table_name`]).
    #[error(transparent)]
    BadTableName(TableNameError),
    /// The history forked: more than one revision is revised by nobody.
    #[error("the history has {} heads: {}", heads.len(), list(heads))]
    MultipleHeads {
        /// Every head.
        heads: Vec<RevisionRef>,
    },
}

impl RevisionError {
    /// The file and line the problem is reported at (for compiler-style output and CI annotations).
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Unreadable { path, .. }
            | Self::BadFileName { path, .. }
            | Self::VersionOutOfRange { path, .. }
            | Self::OutsideDirectory { path, .. }
            | Self::NotARegularFile { path, .. } => Some(Location::file(path)),
            Self::DuplicateVersion { second, .. } => Some(Location::file(second)),
            Self::InvalidUtf8 { location }
            | Self::BadHeader { location, .. }
            | Self::MissingParent { location, .. }
            | Self::SelfLoop { location, .. }
            | Self::ParentAfterChild { location, .. }
            | Self::EmptyRevision { location, .. }
            | Self::BadSectionMarker { location, .. }
            | Self::UnterminatedSql { location, .. }
            | Self::DelimiterCommand { location, .. }
            | Self::TransactionControl { location, .. } => Some(location.clone()),
            Self::BadTableName(_) => None,
            Self::Cycle { revisions } => revisions.first().map(|r| Location::file(&r.path)),
            Self::MultipleHeads { heads } => heads.last().map(|r| Location::file(&r.path)),
        }
    }

    /// Whether the problem is only a warning: reported by `check`, but no reason to refuse the revisions.
    pub fn is_warning(&self) -> bool {
        matches!(self, Self::EmptyRevision { .. })
    }

    /// Whether the problem makes the revisions impossible to apply. A fork (several heads) does not:
    /// `check` and the build refuse it, but a loaded set can still go to `heads` or to a version,
    /// and the `head` target reports the fork with the same advice.
    pub fn blocks_applying(&self) -> bool {
        !self.is_warning() && !matches!(self, Self::MultipleHeads { .. })
    }

    /// A short, stable identifier for machine-readable output (`check --format json`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "unreadable",
            Self::BadFileName { .. } => "bad-file-name",
            Self::VersionOutOfRange { .. } => "version-out-of-range",
            Self::InvalidUtf8 { .. } => "invalid-utf8",
            Self::BadHeader { .. } => "bad-header",
            Self::DuplicateVersion { .. } => "duplicate-version",
            Self::MissingParent { .. } => "missing-parent",
            Self::SelfLoop { .. } => "self-loop",
            Self::ParentAfterChild { .. } => "parent-after-child",
            Self::Cycle { .. } => "cycle",
            Self::EmptyRevision { .. } => "empty-revision",
            Self::OutsideDirectory { .. } => "outside-revision-directory",
            Self::NotARegularFile { .. } => "not-a-regular-file",
            Self::BadSectionMarker { .. } => "bad-section-marker",
            Self::UnterminatedSql { .. } => "unterminated-sql",
            Self::DelimiterCommand { .. } => "delimiter-command",
            Self::TransactionControl { .. } => "transaction-control",
            Self::BadTableName(_) => "bad-table-name",
            Self::MultipleHeads { .. } => "multiple-heads",
        }
    }

    /// What the user should do about the problem.
    pub fn help(&self) -> String {
        match self {
            Self::Unreadable { .. } => "check the file's permissions, or remove it from the revision directory".into(),
            Self::BadFileName { .. } => {
                "name revision files V{version}__{name}.sql or V{version}__{name}.rs (name: letters, digits, underscores), \
                 or move the file out of the revision directory"
                    .into()
            }
            Self::VersionOutOfRange { width, .. } => {
                if *width == "i32" {
                    "use a smaller version, or set `version-width = \"i64\"` in [package.metadata.dbmigrate] for timestamp versions".into()
                } else {
                    "use a version below 9223372036854775808".into()
                }
            }
            Self::InvalidUtf8 { .. } => "save the file as UTF-8".into(),
            Self::BadHeader { .. } => {
                "a header is leading comment lines `Revises: <versions>` (required), `Message: <text>`, \
                 `Created: <RFC 3339 time>`, `Transaction: none`; see README.md"
                    .into()
            }
            Self::DuplicateVersion { version, first, second } => format!(
                "give the file no database has applied yet a new version: `cargo dbmigrate rebase {} --onto {version}` \
                 renumbers it (or name {} instead, if that is the unapplied one); with --database-url, \
                 `cargo dbmigrate check` reads which one a database has applied",
                second.display(),
                first.display()
            ),
            Self::MissingParent { parent, .. } => {
                format!("restore the file for version {parent}, or change the `Revises:` line to an existing version")
            }
            Self::SelfLoop { .. } => "change the `Revises:` line to the previous revision's version".into(),
            Self::ParentAfterChild { .. } => {
                "a revision must revise lower versions; renumber it with `cargo dbmigrate rebase`".into()
            }
            Self::EmptyRevision { .. } => {
                "write the SQL below `-- migrate:upgrade`, or delete the file if the revision is not needed".into()
            }
            Self::OutsideDirectory { .. } => {
                "copy the revision into the revision directory, or point the symlink at a file inside it".into()
            }
            Self::NotARegularFile { .. } => {
                "replace it with a regular file, or rename it so it does not end in .sql or .rs".into()
            }
            Self::BadSectionMarker { suggestion, .. } => suggestion.clone(),
            Self::UnterminatedSql { construct, dialects, .. } => unterminated_help(*construct, dialects),
            Self::DelimiterCommand { .. } => {
                "remove the DELIMITER lines and end the routine with `END;`: dbmigrate keeps a `BEGIN ... END` body \
                 whole, semicolons inside it included"
                    .into()
            }
            Self::TransactionControl { statement, .. } => format!(
                "dbmigrate already runs the revision in a transaction: remove `{statement}`, or write `Transaction: none` \
                 in the header to run its statements one by one as written, or split the revision in two"
            ),
            Self::BadTableName(error) => error.help(),
            Self::Cycle { .. } => "break the cycle by pointing one `Revises:` line at an earlier revision".into(),
            Self::MultipleHeads { heads } => {
                let versions: Vec<String> = heads.iter().map(|h| h.version.to_string()).collect();
                let (first, last) = (
                    versions.first().map(String::as_str).unwrap_or("<head>"),
                    versions.last().map(String::as_str).unwrap_or("<head>"),
                );
                format!(
                    "join the branches with `cargo dbmigrate merge`, or move the branch no database has applied \
                     yet onto the other: `cargo dbmigrate rebase {last} --onto {first}` if {last}'s branch is \
                     unapplied everywhere, `cargo dbmigrate rebase {first} --onto {last}` if {first}'s is; merge if \
                     both are applied somewhere (with --database-url, `cargo dbmigrate check` reads which one a \
                     database has applied)"
                )
            }
        }
    }
}

fn unterminated_help(construct: Construct, dialects: &[Backend]) -> String {
    match construct {
        Construct::BlockComment
            if dialects
                .iter()
                .any(|b| b.dialect().lexical.nested_block_comments) =>
        {
            "close it with `*/`; PostgreSQL nests block comments, so every `/*` inside it needs its own `*/`".into()
        }
        Construct::BlockComment => "close it with `*/`".into(),
        Construct::String
            if dialects
                .iter()
                .any(|b| b.dialect().lexical.backslash_escapes) =>
        {
            "close it with the quote it opens with; a quote inside a string is written twice (`''`), and on \
             MySQL/MariaDB a backslash escapes the character after it, so `\\'` does not close the string"
                .into()
        }
        Construct::String => {
            "close it with the quote it opens with; a quote inside a string is written twice (`''`)".into()
        }
        Construct::QuotedIdentifier => "close it with the quote it opens with (`\"`, `` ` `` or `]`)".into(),
        Construct::DollarQuote => "end the body with the same `$tag$` it opens with".into(),
    }
}

/// Every problem found in a revision set; returned when the set cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{} problem(s) in the revisions:\n{}", problems.len(), problems.iter().map(|p| format!("  {p}\n    help: {}", p.help())).collect::<Vec<_>>().join("\n"))]
pub struct Problems {
    /// The problems, in the order they were found (files in version order, then graph checks).
    pub problems: Vec<RevisionError>,
}

impl Problems {
    /// `Err` with every problem when any of them makes the revisions impossible to apply.
    pub fn refuse_if_unusable(problems: Vec<RevisionError>) -> Result<(), Problems> {
        if problems.iter().any(RevisionError::blocks_applying) {
            Err(Problems { problems })
        } else {
            Ok(())
        }
    }

    /// `Err` with every problem when any of them is an error; warnings alone pass.
    pub fn refuse_on_errors(problems: Vec<RevisionError>) -> Result<(), Problems> {
        if problems.iter().all(RevisionError::is_warning) {
            Ok(())
        } else {
            Err(Problems { problems })
        }
    }
}
