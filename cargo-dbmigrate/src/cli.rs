//! The command line: every clap type of `cargo dbmigrate`, whose doc comments are the help text.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::render;

/// Cargo runs `cargo-dbmigrate dbmigrate <args>` for `cargo dbmigrate <args>`, so the parser starts at
/// the `dbmigrate` word, as cargo's own external subcommands do.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = render::CLAP_STYLES)]
pub enum Cli {
    /// Revision-based database migrations: create, check and inspect revision files.
    #[command(
        version,
        after_long_help = EXAMPLES_TOP,
        after_help = EXAMPLES_TOP,
        long_about = "Revision-based database migrations: create, check and inspect revision files.\n\n\
            Every revision names its parent (`Revises:`), so a history forked by two pull requests is \
            caught by `cargo dbmigrate check` and repaired with `merge` or `rebase`. The commands here \
            work on the files alone and need no database."
    )]
    Dbmigrate(Args),
}

const EXAMPLES_TOP: &str = "\
Examples:
  cargo dbmigrate init
  cargo dbmigrate new \"create users\"
  cargo dbmigrate check --format github
  cargo dbmigrate history -v

Exit codes: 0 success, 1 the revisions have errors (or the command refused because of them),
2 usage error, 3 project, configuration or file error, 4 database error, 5 history mismatch,
6 lock timeout, 7 not at head, 8 building the Rust-step runner failed.";

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

/// The offline commands (online ones such as `upgrade` come with the database side).
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
}

const EXAMPLES_INIT: &str = "\
Examples:
  cargo dbmigrate init
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

Exits with 0 when the revisions are sound (warnings allowed) and 1 when any error is found.";

const EXAMPLES_HEADS: &str = "\
Examples:
  cargo dbmigrate heads";

const EXAMPLES_HISTORY: &str = "\
Examples:
  cargo dbmigrate history
  cargo dbmigrate history -r 3:head -v
  cargo dbmigrate history --format json";

const EXAMPLES_SHOW: &str = "\
Examples:
  cargo dbmigrate show 3
  cargo dbmigrate show head";

const EXAMPLES_REBASE: &str = "\
Examples:
  cargo dbmigrate rebase 6 --onto 5 --dry-run
  cargo dbmigrate rebase 6 --onto 5
  cargo dbmigrate rebase migrations/V3__add_teams.sql --onto 3";

/// `init`.
#[derive(Debug, ClapArgs)]
pub struct InitArgs {
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
