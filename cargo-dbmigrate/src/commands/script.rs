//! `--sql`: the SQL an upgrade or downgrade would run, printed without connecting.

use std::collections::BTreeSet;

use dbmigrate_runtime::sql::script::{ScriptDirection, script};
use dbmigrate_runtime::{Backend, Revision, Target};

use crate::cli::{DatabaseOptions, ProjectOptions, ScriptOptions};
use crate::directory::Revisions;
use crate::error::Error;
use crate::exit::Exit;
use crate::project::Project;
use crate::render::Output;

pub(crate) use dbmigrate_runtime::migrator::Direction;

fn target(text: &str) -> Result<Target, Error> {
    text.parse().map_err(
        |error: dbmigrate_runtime::GraphError| Error::InvalidArgument {
            message: error.to_string(),
            help: None,
        },
    )
}

/// Prints the script for `range` (`TO`, or `FROM:TO`).
pub(crate) fn print(
    direction: Direction,
    range: &str,
    options: &ScriptOptions,
    database: &DatabaseOptions,
    project_options: &ProjectOptions,
    output: &mut Output,
) -> Result<Exit, Error> {
    let backend: Backend = match (options.backend, &database.database_url) {
        (Some(backend), _) => backend.into(),
        (None, Some(url)) => Backend::from_url(url).ok_or_else(|| Error::InvalidArgument {
            message: format!(
                "DATABASE_URL does not name a database kind dbmigrate knows (`{}`)",
                url.split(':').next().unwrap_or("")
            ),
            help: Some("pass --backend postgres, mysql or sqlite".into()),
        })?,
        (None, None) => {
            return Err(Error::InvalidArgument {
                message: "--sql needs to know which database to print for".into(),
                help: Some("pass --backend postgres, mysql or sqlite (or set DATABASE_URL)".into()),
            });
        }
    };
    let project = Project::locate(project_options)?;
    let revisions = Revisions::load(&project)?;
    let command = match direction {
        Direction::Upgrade => "upgrade --sql",
        Direction::Downgrade => "downgrade --sql",
    };
    revisions.refuse_errors(command, &["multiple-heads"])?;
    let graph = &revisions.graph;
    let (from, to) = match range.split_once(':') {
        Some((from, to)) => (Some(target(from)?), target(to)?),
        None => (None, target(range)?),
    };
    // Offline, "applied" is what FROM implies: FROM and everything before it.
    let applied: BTreeSet<i64> = match &from {
        Some(from) => graph
            .upgrade_plan(from, &BTreeSet::new())?
            .iter()
            .map(|r| r.version)
            .collect(),
        None if direction == Direction::Downgrade => {
            return Err(Error::InvalidArgument {
                message: "an offline downgrade needs to know where the database is".into(),
                help: Some(format!(
                    "give the range as FROM:TO, e.g. `downgrade head:{range} --sql`"
                )),
            });
        }
        None => BTreeSet::new(),
    };
    let plan: Vec<&Revision> = match direction {
        Direction::Upgrade => graph.upgrade_plan(&to, &applied)?,
        Direction::Downgrade => graph.downgrade_plan(&to, &applied)?,
    };
    let table = database.table.as_deref().unwrap_or(&project.config.table);
    let script_direction = match direction {
        Direction::Upgrade => ScriptDirection::Upgrade,
        Direction::Downgrade => ScriptDirection::Downgrade,
    };
    let text = script(
        &plan,
        script_direction,
        backend,
        table,
        project.config.version_width,
    )
    .map_err(Error::Script)?;
    output.out.push_str(&text);
    Ok(Exit::Success)
}
