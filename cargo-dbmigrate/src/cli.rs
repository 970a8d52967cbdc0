//! The command line: every clap type of `cargo dbmigrate`, whose doc comments are the help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::render;

/// Cargo runs `cargo-dbmigrate dbmigrate <args>` for `cargo dbmigrate <args>`, so the parser starts at
/// the `dbmigrate` word, as cargo's own external subcommands do.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = render::CLAP_STYLES)]
pub enum Cli {
    /// Revision-based database migrations: create, check and inspect revision files, and upgrade,
    /// downgrade or inspect a database.
    #[command(
        version,
        after_long_help = format!("{EXAMPLES_TOP}\n\n{}", crate::exit::help_list()),
        after_help = format!("{EXAMPLES_TOP}\n\n{}", crate::exit::help_list()),
        long_about = "Revision-based database migrations: create, check and inspect revision files, and \
            upgrade, downgrade or inspect a database.\n\n\
            Every revision names its parent (`Revises:`), so a history forked by two pull requests is \
            caught by `cargo dbmigrate check` and repaired with `merge` or `rebase`. `init`, `new`, \
            `merge`, `check`, `heads`, `history`, `show` and `rebase` work on the files alone; `upgrade`, \
            `downgrade`, `current`, `status`, `stamp`, `resolve` and `repair` connect to the database in \
            DATABASE_URL (or `.env`), with refinery's history table."
    )]
    Dbmigrate(Args),
}

const EXAMPLES_TOP: &str = "\
Examples:
  cargo dbmigrate init
  cargo dbmigrate new \"create users\"
  cargo dbmigrate check --format github
  cargo dbmigrate history -v
  DATABASE_URL=sqlite://app.db?mode=rwc cargo dbmigrate upgrade
  cargo dbmigrate status --check";

/// `cargo dbmigrate`'s arguments after the `dbmigrate` word.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Output options shared by every command.
    #[command(flatten)]
    pub output: OutputOptions,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options about how results are printed; accepted before or after the command name.
#[derive(Debug, Clone, Copy, ClapArgs)]
pub struct OutputOptions {
    /// When to colour the output: `auto` colours a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true, value_name = "WHEN")]
    pub color: ColorWhen,
}

/// The values of `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces colour).
    Auto,
    /// Always colour, even when piped or when NO_COLOR is set.
    Always,
    /// Never colour.
    Never,
}

/// Which package and revision directory a command works on.
#[derive(Debug, Clone, Default, ClapArgs)]
#[command(next_help_heading = "Project")]
pub struct ProjectOptions {
    /// The package's Cargo.toml (default: the one cargo would pick in the current directory).
    #[command(flatten)]
    pub manifest: clap_cargo::Manifest,
    /// The package whose revisions to use, in a workspace with several packages.
    #[arg(short, long, value_name = "SPEC")]
    pub package: Option<String>,
    /// Use this revision directory instead of the configured one. Without `-p`, `cargo metadata` is not
    /// run and no Cargo.toml is needed: the other settings come from the nearest Cargo.toml's
    /// [package.metadata.dbmigrate] when there is one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The commands: offline ones work on the files, online ones on a database as well.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the revision directory and wire build-time embedding into the package.
    #[command(after_help = EXAMPLES_INIT, after_long_help = EXAMPLES_INIT)]
    Init(InitArgs),
    /// Write a new revision file revising the current head.
    #[command(after_help = EXAMPLES_NEW, after_long_help = EXAMPLES_NEW)]
    New(NewArgs),
    /// Write a merge revision that joins the current heads into one.
    #[command(after_help = EXAMPLES_MERGE, after_long_help = EXAMPLES_MERGE)]
    Merge(MergeArgs),
    /// Verify every revision file and the `Revises:` chain, listing every problem.
    #[command(after_help = EXAMPLES_CHECK, after_long_help = EXAMPLES_CHECK)]
    Check(CheckArgs),
    /// List the heads: revisions that no other revision revises.
    #[command(after_help = EXAMPLES_HEADS, after_long_help = EXAMPLES_HEADS)]
    Heads(HeadsArgs),
    /// List revisions in upgrade order, newest first.
    #[command(after_help = EXAMPLES_HISTORY, after_long_help = EXAMPLES_HISTORY)]
    History(HistoryArgs),
    /// Show one revision: header, parents, children, file, checksum and sections.
    #[command(after_help = EXAMPLES_SHOW, after_long_help = EXAMPLES_SHOW)]
    Show(ShowArgs),
    /// Move the branch ending at a revision onto another revision, renumbering where needed, so a
    /// forked history is linear again.
    #[command(
        long_about = "Move the branch ending at a revision onto another revision, renumbering where needed, \
            so a forked history is linear again.\n\n\
            As with `git rebase`, what moves is the revision and its ancestors that the new parent's \
            history lacks; the first of them is pointed at the new parent (its `Revises:` line is \
            rewritten), and everything that depends on them follows. A revision is renumbered to the \
            next free version, and its file renamed, only when it must be: when another file has its \
            version, or when its version would no longer be above a parent's. Header-less (adopted \
            refinery) files get a header when they must be re-parented.\n\n\
            This rewrites files, which changes their checksums: use it only on revisions that no \
            database has applied yet (the branch of an unmerged pull request, typically). It works \
            offline and cannot check what any database has applied.",
        after_help = EXAMPLES_REBASE,
        after_long_help = EXAMPLES_REBASE
    )]
    Rebase(RebaseArgs),
    /// Apply revisions up to a target (default: head), each with its history row.
    #[command(
        long_about = "Apply revisions up to a target (default: head), each in a transaction with its history \
            row where the database allows it. Runs the Rust data steps too, with the same code the \
            application binary runs: for a package with `.rs` revisions, a small runner is built \
            with cargo around the package's own dependencies (the first build takes a while).\n\n\
            With --sql, nothing is connected: the SQL is printed, with the history statements, for \
            review or for running by hand; a range `FROM:TO` starts after FROM instead of from base.",
        after_help = EXAMPLES_UPGRADE,
        after_long_help = EXAMPLES_UPGRADE
    )]
    Upgrade(UpgradeArgs),
    /// Revert revisions, newest first, down to a target (`base`, a version, `-N`).
    #[command(after_help = EXAMPLES_DOWNGRADE, after_long_help = EXAMPLES_DOWNGRADE)]
    Downgrade(DowngradeArgs),
    /// Print the revisions the database is at.
    #[command(after_help = EXAMPLES_CURRENT, after_long_help = EXAMPLES_CURRENT)]
    Current(CurrentArgs),
    /// Print applied, pending, divergent, missing and unfinished revisions, and what to do.
    #[command(after_help = EXAMPLES_STATUS, after_long_help = EXAMPLES_STATUS)]
    Status(StatusArgs),
    /// Mark the database as being at a revision without running anything (adopt an existing schema).
    #[command(after_help = EXAMPLES_STAMP, after_long_help = EXAMPLES_STAMP)]
    Stamp(StampArgs),
    /// Settle a revision that was started and not finished: failed part-way, or cut short.
    #[command(
        long_about = "Settle a revision that was started and not finished: one that failed after some of its \
            statements committed (MySQL DDL, `Transaction: none`), or whose run was cut short. \
            `status` lists them and says which resolution fits. Nothing else may be applied until \
            they are settled.",
        after_help = EXAMPLES_RESOLVE,
        after_long_help = EXAMPLES_RESOLVE
    )]
    Resolve(ResolveArgs),
    /// Record the current checksum of revisions whose files differ from what was applied only in
    /// their line endings (CRLF against LF); nothing else is touched.
    #[command(after_help = EXAMPLES_REPAIR, after_long_help = EXAMPLES_REPAIR)]
    Repair(RepairArgs),
    /// Create or drop the database a URL names (PostgreSQL, MariaDB/MySQL, or a SQLite file).
    #[command(after_help = EXAMPLES_DATABASE, after_long_help = EXAMPLES_DATABASE)]
    Database(DatabaseArgs),
    /// Print a shell completion script for `cargo dbmigrate`.
    #[command(
        long_about = "Print a shell completion script for `cargo dbmigrate` on standard output.\n\n\
            The script completes `cargo dbmigrate`, its commands and their options. It is registered \
            for the `cargo` command (that is what you type), so in a shell that loads it, it can take \
            the place of the completion of cargo's other commands.",
        after_help = EXAMPLES_COMPLETIONS,
        after_long_help = EXAMPLES_COMPLETIONS
    )]
    Completions(CompletionsArgs),
}

const EXAMPLES_DATABASE: &str = "\
Examples:
  DATABASE_URL=postgres://localhost/app cargo dbmigrate database create
  cargo dbmigrate database create --database-url mysql://root@localhost/app
  cargo dbmigrate database create --database-url sqlite://app.db
  cargo dbmigrate database drop --yes";

const EXAMPLES_COMPLETIONS: &str = "\
Examples:
  cargo dbmigrate completions bash > ~/.local/share/bash-completion/completions/cargo
  cargo dbmigrate completions zsh > ~/.zfunc/_cargo
  cargo dbmigrate completions fish > ~/.config/fish/conf.d/cargo-dbmigrate.fish
  cargo dbmigrate completions powershell >> $PROFILE";

const EXAMPLES_UPGRADE: &str = "\
Examples:
  DATABASE_URL=sqlite://app.db?mode=rwc cargo dbmigrate upgrade
  cargo dbmigrate upgrade 12 --database-url postgres://localhost/app
  cargo dbmigrate upgrade +1 --dry-run
  cargo dbmigrate upgrade --sql --backend postgres > upgrade.sql
  cargo dbmigrate upgrade 4:head --sql --backend mysql";

const EXAMPLES_DOWNGRADE: &str = "\
Examples:
  cargo dbmigrate downgrade -1
  cargo dbmigrate downgrade 3
  cargo dbmigrate downgrade base --dry-run
  cargo dbmigrate downgrade 7:3 --sql --backend postgres";

const EXAMPLES_CURRENT: &str = "\
Examples:
  cargo dbmigrate current
  cargo dbmigrate current --format json";

const EXAMPLES_STATUS: &str = "\
Examples:
  cargo dbmigrate status
  cargo dbmigrate status --check      # exits with 7 unless the database is at head
  cargo dbmigrate status --format json";

const EXAMPLES_STAMP: &str = "\
Examples:
  cargo dbmigrate stamp head          # the schema already matches every revision
  cargo dbmigrate stamp 4";

const EXAMPLES_RESOLVE: &str = "\
Examples:
  cargo dbmigrate resolve 5 --resume      # after fixing the statement that failed
  cargo dbmigrate resolve 5 --applied     # you finished it by hand
  cargo dbmigrate resolve 5 --reverted    # you undid it by hand; the next upgrade runs it again";

const EXAMPLES_REPAIR: &str = "\
Examples:
  cargo dbmigrate repair";

const EXAMPLES_INIT: &str = "\
Examples:
  cargo dbmigrate init
  cargo dbmigrate init --timestamp    # versions are UTC times, for teams with parallel branches
  cargo dbmigrate init --dir db/revisions
  cargo dbmigrate init -p server";

const EXAMPLES_NEW: &str = "\
Examples:
  cargo dbmigrate new \"create users\"
  cargo dbmigrate new \"backfill emails\" --rust
  cargo dbmigrate new \"add index\" --revises 4
  cargo dbmigrate new \"add teams\" --timestamp";

const EXAMPLES_MERGE: &str = "\
Examples:
  cargo dbmigrate merge
  cargo dbmigrate merge \"join the billing branch\"
  cargo dbmigrate merge --revises 7,9";

const EXAMPLES_CHECK: &str = "\
Examples:
  cargo dbmigrate check
  cargo dbmigrate check --format json
  cargo dbmigrate check --format github --dir migrations
  cargo dbmigrate check --backend postgres
  cargo dbmigrate check --database-url postgres://localhost/app   # which branch of a fork to move

Exits with 0 when the revisions are sound (warnings allowed) and 1 when any error is found.";

const EXAMPLES_HEADS: &str = "\
Examples:
  cargo dbmigrate heads
  cargo dbmigrate heads --format json";

const EXAMPLES_HISTORY: &str = "\
Examples:
  cargo dbmigrate history
  cargo dbmigrate history -r 3:head -v
  cargo dbmigrate history --format json";

const EXAMPLES_SHOW: &str = "\
Examples:
  cargo dbmigrate show 3
  cargo dbmigrate show head
  cargo dbmigrate show migrations/V3__add_teams.sql --format json";

const EXAMPLES_REBASE: &str = "\
Examples:
  cargo dbmigrate rebase 6 --onto 5 --dry-run
  cargo dbmigrate rebase 6 --onto 5
  cargo dbmigrate rebase migrations/V3__add_teams.sql --onto 3";

/// `init`.
#[derive(Debug, ClapArgs)]
pub struct InitArgs {
    /// Number revisions with the UTC time (`YYYYMMDDHHMMSS`) instead of max + 1: writes
    /// `versioning = "timestamp"` and `version-width = "i64"`. Two branches then never pick the same
    /// version; choose it when several people add revisions in parallel.
    #[arg(long)]
    pub timestamp: bool,
    /// Which package, and where to create the revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `new`.
#[derive(Debug, ClapArgs)]
pub struct NewArgs {
    /// What the revision does; becomes the `Message:` line and, as a slug, the file name.
    pub message: String,
    /// Write a Rust data step (`.rs`) instead of SQL.
    #[arg(long)]
    pub rust: bool,
    /// The parent version(s), comma-separated (default: the single head).
    #[arg(long, value_name = "VERSION", value_delimiter = ',')]
    pub revises: Vec<String>,
    /// Number the revision with the UTC time (`YYYYMMDDHHMMSS`) instead of max + 1; needs
    /// `version-width = "i64"`.
    #[arg(long)]
    pub timestamp: bool,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `merge`.
#[derive(Debug, ClapArgs)]
pub struct MergeArgs {
    /// What the merge joins (default: `merge <heads>`).
    pub message: Option<String>,
    /// The heads to join, comma-separated (default: every head).
    #[arg(long, value_name = "VERSION", value_delimiter = ',')]
    pub revises: Vec<String>,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// How `check` prints problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Compiler-style messages with the file, line, problem and what to do.
    Human,
    /// A JSON array of {code, severity, file, line, message, help}.
    Json,
    /// GitHub Actions workflow annotations (`::error file=...,line=...::...`).
    Github,
}

/// `check`.
#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// The databases whose SQL dialects the revisions are read in (repeat it, or separate them with
    /// commas). Default: `backends` in [package.metadata.dbmigrate], else the backend features the
    /// package enables on dbmigrate-runtime, else all three.
    #[arg(long, value_enum, value_name = "KIND", value_delimiter = ',')]
    pub backend: Vec<BackendArg>,
    /// A database whose history tells which branch of a fork (or which of two files with one
    /// version) it has applied, so the advice moves the other one. Read only when there is a fork or
    /// a duplicate version; read-only, without the migration lock. Read from DATABASE_URL, or from
    /// `.env`, when not given.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// How listings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Lines for people.
    Human,
    /// A JSON array, one object per revision.
    Json,
}

/// `heads`.
#[derive(Debug, ClapArgs)]
pub struct HeadsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `history`.
#[derive(Debug, ClapArgs)]
pub struct HistoryArgs {
    /// Only revisions from A to B inclusive (`A:B`, `3:`, `:head`, `base:7`): descendants of A that
    /// are ancestors of B.
    #[arg(short = 'r', long, value_name = "A:B")]
    pub rev_range: Option<String>,
    /// Show every header field, the file and the parents of each revision.
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `show`.
#[derive(Debug, ClapArgs)]
pub struct ShowArgs {
    /// The revision: a version (`3` or `V3`), `head`, or a file name.
    pub revision: String,
    /// Output format (JSON: an array with one object per file the argument names, two when two
    /// files share a version).
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// Options of the commands that connect to a database.
#[derive(Debug, Clone, ClapArgs)]
#[command(next_help_heading = "Database")]
pub struct DatabaseOptions {
    /// The database: postgres://, mysql://, mariadb:// or sqlite: (`sqlite://app.db?mode=rwc` creates
    /// the file). Read from DATABASE_URL, or from `.env`, when not given.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The history table (default: the configured one, `refinery_schema_history`).
    #[arg(long, value_name = "TABLE", value_parser = table_name)]
    pub table: Option<String>,
    /// Seconds to wait for another process's migration lock before giving up (default 600).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub lock_timeout: Option<Duration>,
    /// Seconds to keep retrying while the database refuses connections (default 30).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub connect_timeout: Option<Duration>,
    /// Seconds one revision may take on PostgreSQL or MySQL before dbmigrate gives up on it,
    /// closes its connection (the server rolls back what it had not committed) and reports what
    /// did commit (default: no limit).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub revision_timeout: Option<Duration>,
    /// Apply unapplied revisions older than the newest applied one instead of refusing.
    #[arg(long)]
    pub allow_out_of_order: bool,
    /// Go on although applied revisions' files changed (refinery's abort_divergent off).
    #[arg(long)]
    pub ignore_divergent: bool,
    /// Go on although applied revisions have no file (refinery's abort_missing off).
    #[arg(long)]
    pub ignore_missing: bool,
    /// Output format (with `json`, an error is a JSON object {code, kind, message, hints} on
    /// standard output too).
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Print more while running: every connection retry, and the runtime's log at level info
    /// (RUST_LOG, when set, chooses instead).
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print nothing while running: no revision lines, no progress; results and errors only.
    #[arg(short, long)]
    pub quiet: bool,
}

impl Command {
    /// The database options of an online command.
    fn database(&self) -> Option<&DatabaseOptions> {
        match self {
            Self::Upgrade(args) => Some(&args.database),
            Self::Downgrade(args) => Some(&args.database),
            Self::Current(args) => Some(&args.database),
            Self::Status(args) => Some(&args.database),
            Self::Stamp(args) => Some(&args.database),
            Self::Resolve(args) => Some(&args.database),
            Self::Repair(args) => Some(&args.database),
            Self::Init(_)
            | Self::New(_)
            | Self::Merge(_)
            | Self::Check(_)
            | Self::Heads(_)
            | Self::History(_)
            | Self::Show(_)
            | Self::Rebase(_)
            | Self::Database(_)
            | Self::Completions(_) => None,
        }
    }

    /// Whether the command prints JSON (`--format json`), so that an error is printed as JSON too.
    pub fn json(&self) -> bool {
        match self {
            Self::Check(args) => args.format == CheckFormat::Json,
            Self::Heads(args) => args.format == ListFormat::Json,
            Self::History(args) => args.format == ListFormat::Json,
            Self::Show(args) => args.format == ListFormat::Json,
            other => other
                .database()
                .is_some_and(|d| d.format == ReportFormat::Json),
        }
    }

    /// Whether `-v` asks an online command for more.
    pub fn verbose(&self) -> bool {
        self.database().is_some_and(|d| d.verbose)
    }
}

impl DatabaseOptions {
    /// How much the command prints while it runs.
    pub fn verbosity(&self) -> crate::progress::Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => crate::progress::Verbosity::Quiet,
            (false, true) => crate::progress::Verbosity::Verbose,
            (false, false) => crate::progress::Verbosity::Normal,
        }
    }
}

/// A number of seconds (`2`, `0.5`), as a duration.
fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds (e.g. 30 or 0.5)"))
}

/// `--table`, checked by the rule the configuration and the runtime use.
fn table_name(text: &str) -> Result<String, String> {
    dbmigrate_runtime::config::check_table_name(text)
        .map(|()| text.to_string())
        .map_err(|error| format!("{}; {}", error.reason, error.help()))
}

/// How the online commands print their result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Text for people.
    Human,
    /// One JSON document, for programs.
    Json,
}

/// The databases `--sql` can print for, and `check` can read the SQL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    /// SQLite.
    Sqlite,
}

impl From<BackendArg> for dbmigrate_runtime::Backend {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Postgres => Self::Postgres,
            BackendArg::Mysql => Self::MySql,
            BackendArg::Sqlite => Self::Sqlite,
        }
    }
}

/// What `--sql` needs besides the database options.
#[derive(Debug, Clone, ClapArgs)]
pub struct ScriptOptions {
    /// Print the SQL (with the history statements) instead of running it; no connection is made.
    #[arg(long)]
    pub sql: bool,
    /// With --sql: the database to print for (default: the kind DATABASE_URL names).
    #[arg(long, value_enum, value_name = "KIND", requires = "sql")]
    pub backend: Option<BackendArg>,
}

/// `upgrade`.
#[derive(Debug, ClapArgs)]
pub struct UpgradeArgs {
    /// Where to go: head, heads, a version, +N, V+N; with --sql also FROM:TO.
    #[arg(default_value = "head", allow_hyphen_values = true)]
    pub target: String,
    /// Report what would be applied, without applying it.
    #[arg(long, conflicts_with = "sql")]
    pub dry_run: bool,
    /// Printing instead of running.
    #[command(flatten)]
    pub script: ScriptOptions,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `downgrade`.
#[derive(Debug, ClapArgs)]
pub struct DowngradeArgs {
    /// Where to go: base, a version, -N, V-N; with --sql FROM:TO (what the database is at, and where to go).
    #[arg(allow_hyphen_values = true)]
    pub target: String,
    /// Report what would be reverted, without reverting it.
    #[arg(long, conflicts_with = "sql")]
    pub dry_run: bool,
    /// Printing instead of running.
    #[command(flatten)]
    pub script: ScriptOptions,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `current`.
#[derive(Debug, ClapArgs)]
pub struct CurrentArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `status`.
#[derive(Debug, ClapArgs)]
pub struct StatusArgs {
    /// Exit with 7 unless every revision is applied and nothing is wrong (for CI and deploy checks).
    #[arg(long)]
    pub check: bool,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `stamp`.
#[derive(Debug, ClapArgs)]
pub struct StampArgs {
    /// The revision the database's schema is at: head, heads, a version, base, +N, -N.
    #[arg(allow_hyphen_values = true)]
    pub target: String,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `resolve`.
#[derive(Debug, ClapArgs)]
#[command(group(clap::ArgGroup::new("resolution").required(true).args(["applied", "reverted", "resume"])))]
pub struct ResolveArgs {
    /// The unfinished revision (`status` lists them).
    pub version: String,
    /// Its effects are complete (you finished it by hand): record it as applied.
    #[arg(long)]
    pub applied: bool,
    /// Its effects are undone (you undid them by hand): record it as not applied.
    #[arg(long)]
    pub reverted: bool,
    /// Run the rest of it from the file as it is now: the statement that failed or was cut short, and
    /// those after it. The statements that completed must be unchanged.
    #[arg(long)]
    pub resume: bool,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `repair`.
#[derive(Debug, ClapArgs)]
pub struct RepairArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `rebase`.
#[derive(Debug, ClapArgs)]
pub struct RebaseArgs {
    /// The revision to move (with its branch): a version, or a file name or path when two files
    /// share the version.
    pub revision: String,
    /// The new parent: usually the head of the branch that was merged first.
    #[arg(long, value_name = "VERSION")]
    pub onto: String,
    /// Print what would change without touching any file.
    #[arg(long)]
    pub dry_run: bool,
    /// Which package and revision directory.
    #[command(flatten)]
    pub project: ProjectOptions,
}

/// `database`.
#[derive(Debug, ClapArgs)]
pub struct DatabaseArgs {
    /// Create or drop.
    #[command(subcommand)]
    pub action: DatabaseAction,
    /// The database: postgres://, mysql://, mariadb:// or sqlite:. Read from DATABASE_URL, or from
    /// `.env`, when not given.
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<String>,
}

/// What `database` does.
#[derive(Debug, Subcommand)]
pub enum DatabaseAction {
    /// Create the database (nothing happens when it exists).
    Create,
    /// Drop the database and all its data (nothing happens when it does not exist).
    Drop {
        /// Drop it without asking (required when standard input is not a terminal).
        #[arg(short, long)]
        yes: bool,
    },
}

/// `completions`.
#[derive(Debug, ClapArgs)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_parse_after_the_command_as_the_benchmark_passes_them() {
        let Cli::Dbmigrate(args) = Cli::try_parse_from([
            "cargo-dbmigrate",
            "dbmigrate",
            "check",
            "--dir",
            "m",
            "--color",
            "never",
        ])
        .unwrap();
        assert_eq!(args.output.color, ColorWhen::Never);
        let Command::Check(check) = args.command else {
            panic!("parsed {:?}", args.command)
        };
        assert_eq!(check.project.dir, Some(PathBuf::from("m")));
        assert_eq!(check.format, CheckFormat::Human);
    }

    #[test]
    fn the_top_level_is_the_cargo_form() {
        let parsed = Cli::try_parse_from(["cargo-dbmigrate", "check"]);
        assert_eq!(
            parsed.unwrap_err().kind(),
            clap::error::ErrorKind::InvalidSubcommand
        );
    }

    #[test]
    fn revises_takes_a_comma_separated_list() {
        let Cli::Dbmigrate(args) =
            Cli::try_parse_from(["cargo", "dbmigrate", "new", "m", "--revises", "3,5"]).unwrap();
        let Command::New(new) = args.command else {
            panic!("parsed {:?}", args.command)
        };
        assert_eq!(new.revises, ["3", "5"]);
        // The list is one value, so the message may come after it.
        let Cli::Dbmigrate(args) = Cli::try_parse_from([
            "cargo",
            "dbmigrate",
            "new",
            "--revises",
            "3",
            "add teams",
            "--revises",
            "4",
        ])
        .unwrap();
        let Command::New(new) = args.command else {
            panic!("parsed {:?}", args.command)
        };
        assert_eq!(
            (new.message.as_str(), new.revises.as_slice()),
            ("add teams", &["3".to_string(), "4".to_string()][..])
        );
    }
}
