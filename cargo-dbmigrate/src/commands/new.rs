//! `cargo dbmigrate new <message>`: a new SQL or Rust revision on top of the current head.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use dbmigrate_runtime::RevisionKind;
use dbmigrate_runtime::revision::{FileName, Prefix};

use crate::cli::NewArgs;
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::naming::{Clock, Numbering, header_message, slug};
use crate::project::Project;
use crate::render::Output;
use crate::template::{self, NewFile};

/// Writes the revision and prints its path.
pub fn run(args: &NewArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let numbering = Numbering::new(
        project.config.versioning,
        project.config.version_width,
        args.timestamp,
    )?;
    let clock = Clock::from_env()?;
    let message = header_message(&args.message);
    let name = slug(&message).ok_or_else(|| Error::InvalidArgument {
        message: format!(
            "the message {:?} has no letter or digit to name the file after",
            args.message
        ),
        help: Some("describe what the revision does, for example \"create users\"".into()),
    })?;
    let revisions = Revisions::load(&project)?;
    // Several heads are refused below, with their own advice, unless `--revises` picks the parent:
    // that is how one deliberately builds on one branch of a forked history.
    revisions.refuse_errors("new", &["multiple-heads"])?;
    let parents = if args.revises.is_empty() {
        default_parent(&revisions)?
    } else {
        explicit_parents(&revisions, &args.revises)?
    };
    let version = numbering.next(revisions.max_version(), &clock)?;
    let kind = if args.rust {
        RevisionKind::Rust
    } else {
        RevisionKind::Sql
    };
    let created = clock.created();
    let text = template::revision(
        &NewFile {
            message: &message,
            revises: &parents,
            created: &created,
        },
        kind,
    )?;
    let file_name = FileName {
        prefix: Prefix::Versioned,
        version,
        name,
        kind,
    }
    .render();
    let path = write_new_file(&project.dir, &file_name, &text)?;
    let parent_note = match parents.as_slice() {
        [] => "a first revision (a base)".to_string(),
        parents => format!("revising {}", template::revises_value(parents)),
    };
    output.note(format!("created revision {version}, {parent_note}"));
    output.line(path.display());
    Ok(Exit::Success)
}

/// The single head, or nothing for an empty directory; a forked history has no default parent.
fn default_parent(revisions: &Revisions) -> Result<Vec<i64>, Error> {
    match revisions.graph.heads().as_slice() {
        [] => Ok(Vec::new()),
        [head] => Ok(vec![head.version]),
        heads => Err(Error::MultipleHeads {
            heads: heads.iter().map(|h| h.version).collect(),
        }),
    }
}

/// The `--revises` versions, each an existing revision, none twice.
pub(crate) fn explicit_parents(revisions: &Revisions, specs: &[String]) -> Result<Vec<i64>, Error> {
    let mut parents: Vec<i64> = Vec::new();
    for spec in specs {
        let version = revisions.find_one(spec.trim())?.version;
        if parents.contains(&version) {
            return Err(Error::InvalidArgument {
                message: format!("--revises names {version} twice"),
                help: None,
            });
        }
        parents.push(version);
    }
    Ok(parents)
}

/// Creates `dir/file_name` with `text`, never overwriting an existing file; returns its path.
pub(crate) fn write_new_file(dir: &Path, file_name: &str, text: &str) -> Result<PathBuf, Error> {
    let path = dir.join(file_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(Error::io("create", &path))?;
    file.write_all(text.as_bytes())
        .map_err(Error::io("write", &path))?;
    Ok(path)
}
