//! Database faults: the connection drops in the middle of a revision. (Refused connections at
//! startup are in `upgrade.rs`; hand-edited history rows in `history_checks.rs`.) SQLite has no
//! connection to lose, so these run on the two servers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbmigrate_runtime::data::{Context, StepFuture};
use dbmigrate_runtime::migrator::{Error, FailureCause};
use dbmigrate_runtime::{BackendPool, Migrator, RustStep};
use dbmigrate_test_support::Server;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::{TestDb, revisions};

/// A TCP proxy in front of a database server whose connections can all be cut at once.
struct Proxy {
    address: std::net::SocketAddr,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    listener: JoinHandle<()>,
}

impl Proxy {
    async fn to(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accepted = links.clone();
        let listener = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                accepted.lock().unwrap().push(tokio::spawn(async move {
                    let mut outbound = TcpStream::connect(upstream).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }));
            }
        });
        Self {
            address,
            links,
            listener,
        }
    }

    /// Drops every proxied connection, as a failing network or a restarted server would.
    fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.listener.abort();
    }
}

/// `url` with its host and port replaced by `address`.
fn through(url: &str, address: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.rsplit_once('@').map_or(("", rest), |(c, r)| (c, r));
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let at = if credentials.is_empty() {
        String::new()
    } else {
        format!("{credentials}@")
    };
    format!("{scheme}://{at}{address}{path}")
}

fn host_and_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap().to_string()
}

/// Writes a row, then waits long enough for the test to cut the connection, then writes again.
fn slow_writer<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO marks (id) VALUES (?)", &[1.into()])
            .await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cx.execute("INSERT INTO marks (id) VALUES (?)", &[2.into()])
            .await?;
        Ok(())
    })
}

async fn connection_lost_mid_revision(server: Server) {
    let db = TestDb::new(server).await;
    let migrations = revisions(&[
        (
            "V1__marks.sql",
            "CREATE TABLE marks (id INTEGER PRIMARY KEY);\n",
        ),
        ("V2__slow.rs", "//! Revises: 1\n"),
    ])
    .with_rust_steps(&[RustStep {
        version: 2,
        upgrade: slow_writer,
        downgrade: None,
    }]);
    let migrations: &'static dbmigrate_runtime::Migrations = Box::leak(Box::new(migrations));
    let proxy = Proxy::to(host_and_port(&db.url)).await;
    let pool = BackendPool::connect_lazy(&through(&db.url, proxy.address), 1).unwrap();
    let run = tokio::spawn(async move { Migrator::new(migrations).upgrade(&pool).await });
    db.wait_for_table("marks").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.cut();

    let error = run.await.unwrap().unwrap_err();
    let Error::Revision(failure) = &error else {
        panic!("expected the revision to fail, got: {error}")
    };
    assert_eq!(failure.version, 2);
    assert!(
        matches!(
            failure.cause,
            FailureCause::Step(_) | FailureCause::Database(_)
        ),
        "{error}"
    );
    // Nothing of revision 2 is recorded or left behind: the server rolled it back with the session.
    assert_eq!(db.applied_versions().await, [1]);
    let started = std::time::Instant::now();
    while db.integer("SELECT COUNT(*) FROM marks").await != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server kept the lost session's rows"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the next run (straight to the server) applies it, the lost session's lock long gone.
    let report = Migrator::new(migrations)
        .lock_timeout(Duration::from_secs(10))
        .upgrade(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_revision_is_a_clean_error_and_nothing_is_recorded_postgres() {
    connection_lost_mid_revision(Server::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_revision_is_a_clean_error_and_nothing_is_recorded_mysql() {
    connection_lost_mid_revision(Server::MySql).await;
}

/// Writes a row, tells the test it is under way, waits for the test to stall the network, then
/// sends a statement whose answer never comes.
fn stalled_writer<'a>(cx: &'a mut Context<'_>) -> StepFuture<'a> {
    Box::pin(async move {
        cx.execute("INSERT INTO marks (id) VALUES (?)", &[1.into()])
            .await?;
        tokio::time::sleep(Duration::from_millis(800)).await;
        cx.execute("INSERT INTO marks (id) VALUES (?)", &[2.into()])
            .await?;
        Ok(())
    })
}

async fn a_stalled_connection_is_given_up(server: Server) {
    use dbmigrate_runtime::migrator::{Committed, Recheck};
    use dbmigrate_test_support::fault_proxy::FaultProxy;

    let db = TestDb::new(server).await;
    let migrations = revisions(&[
        (
            "V1__marks.sql",
            "CREATE TABLE marks (id INTEGER PRIMARY KEY);\n",
        ),
        ("V2__stalls.rs", "//! Revises: 1\n"),
    ])
    .with_rust_steps(&[RustStep {
        version: 2,
        upgrade: stalled_writer,
        downgrade: None,
    }]);
    let migrations: &'static dbmigrate_runtime::Migrations = Box::leak(Box::new(migrations));
    let proxy = FaultProxy::in_front_of(&db.url).await;
    let pool = BackendPool::connect_lazy(&proxy.url(&db.url), 1).unwrap();
    let started = std::time::Instant::now();
    let run = tokio::spawn(async move {
        Migrator::new(migrations)
            .revision_timeout(Duration::from_secs(2))
            .upgrade(&pool)
            .await
    });
    db.wait_for_table("marks").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The network stops answering without closing: without a timeout the run would wait a minute.
    proxy.stall_open_connections(Duration::from_secs(60));
    let error = run.await.unwrap().unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "gave up after {took:?}");
    let Error::Revision(failure) = &error else {
        panic!("{error}")
    };
    let text = error.to_string();
    assert_eq!(failure.version, 2, "{text}");
    assert!(text.contains("revision timeout (2 s)"), "{text}");
    assert_eq!(failure.recheck, Some(Recheck::Confirmed), "{text}");
    assert_eq!(failure.committed, Committed::Nothing, "{text}");
    assert_eq!(db.applied_versions().await, [1]);
    // The lost session is gone, its row with it; the next run applies the revision.
    assert_eq!(db.integer("SELECT COUNT(*) FROM marks").await, 0);
    Migrator::new(migrations)
        .lock_timeout(Duration::from_secs(10))
        .upgrade(&db.pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_connection_is_given_up_after_the_revision_timeout_postgres() {
    a_stalled_connection_is_given_up(Server::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_connection_is_given_up_after_the_revision_timeout_mysql() {
    a_stalled_connection_is_given_up(Server::MySql).await;
}
