//! `cargo dbmigrate merge [<message>]`: a revision that revises every head, joining a forked history.

use dbmigrate_runtime::RevisionKind;
use dbmigrate_runtime::revision::{FileName, Prefix};

use crate::cli::MergeArgs;
use crate::commands::new::{explicit_parents, write_new_file};
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::naming::{Clock, Numbering, header_message, slug};
use crate::project::Project;
use crate::render::Output;
use crate::template::{self, NewFile};

/// Writes the merge revision and prints its path.
pub fn run(args: &MergeArgs, output: &mut Output) -> Result<Exit, Error> {
    let project = Project::locate(&args.project)?;
    let numbering = Numbering::new(
        project.config.versioning,
        project.config.version_width,
        false,
    )?;
    let clock = Clock::from_env()?;
    let revisions = Revisions::load(&project)?;
    revisions.refuse_errors("merge", &["multiple-heads"])?;
    let parents = if args.revises.is_empty() {
        revisions.graph.heads().iter().map(|h| h.version).collect()
    } else {
        explicit_parents(&revisions, &args.revises)?
    };
    match parents.as_slice() {
        [] => {
            return Err(Error::NothingToMerge {
                reason: "there are no revisions".into(),
            });
        }
        [only] => {
            return Err(Error::NothingToMerge {
                reason: format!("the history has one head ({only}) already"),
            });
        }
        _ => {}
    }
    // Merging a revision with one of its own ancestors would join nothing: the branch is already there.
    for &parent in &parents {
        let ancestors = revisions.graph.ancestors(parent);
        if let Some(redundant) = parents.iter().find(|p| ancestors.contains(p)) {
            return Err(Error::InvalidArgument {
                message: format!(
                    "{redundant} is an ancestor of {parent}, so merging them joins nothing"
                ),
                help: Some("merge heads: `cargo dbmigrate heads` lists them".into()),
            });
        }
    }
    let default_message = default_message(&parents);
    let message = header_message(args.message.as_deref().unwrap_or(&default_message));
    let name = slug(&message).unwrap_or_else(|| "merge".to_string());
    let version = numbering.next(revisions.max_version(), &clock)?;
    let created = clock.created();
    let text = template::merge(&NewFile {
        message: &message,
        revises: &parents,
        created: &created,
    })?;
    let file_name = FileName {
        prefix: Prefix::Versioned,
        version,
        name,
        kind: RevisionKind::Sql,
    }
    .render();
    let path = write_new_file(&project.dir, &file_name, &text)?;
    output.note(format!(
        "created merge revision {version}, revising {}",
        template::revises_value(&parents)
    ));
    output.line(path.display());
    Ok(Exit::Success)
}

/// `merge 3 and 5`, `merge 3, 5 and 7`.
fn default_message(parents: &[i64]) -> String {
    let names: Vec<String> = parents.iter().map(ToString::to_string).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("merge {} and {last}", rest.join(", ")),
        _ => format!("merge {}", names.join("")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_messages_list_the_heads() {
        assert_eq!(super::default_message(&[3, 5]), "merge 3 and 5");
        assert_eq!(super::default_message(&[3, 5, 7]), "merge 3, 5 and 7");
    }
}
