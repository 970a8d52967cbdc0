//! The topologies are what they claim to be: PgBouncer pools per transaction, the Galera cluster has
//! three nodes that see each other's writes (and lock only locally with `GET_LOCK`), the standby and
//! the replica replay what their primary commits and accept no writes of their own.

use std::time::{Duration, Instant};

use dbmigrate_test_support::topology::{Component, TopologyDb};
use sqlx::{Connection as _, MySqlConnection, PgConnection};

async fn pg(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

async fn my(url: &str) -> MySqlConnection {
    MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Polls `read` until it returns `expected`, for at most 20 seconds.
async fn eventually<T, F>(what: &str, expected: T, mut read: impl FnMut() -> F)
where
    T: PartialEq + std::fmt::Debug,
    F: Future<Output = T>,
{
    let started = Instant::now();
    loop {
        let value = read().await;
        if value == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: still {value:?} after 20 s, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pgbouncer_pools_server_connections_per_transaction() {
    use sqlx::Row as _;
    let db = TopologyDb::new(Component::PgBouncer).await;
    let admin = dbmigrate_test_support::with_database(db.first_url(), "pgbouncer");
    let mut console = pg(&admin).await;
    // The admin console speaks only the simple query protocol.
    let config = sqlx::raw_sql("SHOW CONFIG")
        .fetch_all(&mut console)
        .await
        .expect("SHOW CONFIG");
    let mode = config
        .iter()
        .find_map(|row| (row.get::<String, _>(0) == "pool_mode").then(|| row.get::<String, _>(1)));
    assert_eq!(mode.as_deref(), Some("transaction"));

    // A session setting made by one client outside a transaction stays on the server connection,
    // which the next transaction of another client gets: what pooling per transaction means. (The
    // simple query protocol: sqlx's named prepared statements would collide on the shared server
    // connection, PgBouncer 1.18 does not track them.)
    let mut first = pg(db.first_url()).await;
    let first_pid: i32 = sqlx::raw_sql(
        "SELECT pg_backend_pid() FROM (SELECT set_config('dbmigrate.marker', 'first client', false)) s",
    )
    .fetch_one(&mut first)
    .await
    .expect("set a session setting")
    .get(0);
    let mut second = pg(db.first_url()).await;
    let mut tx = second.begin().await.expect("begin");
    let row = sqlx::raw_sql("SELECT pg_backend_pid(), current_setting('dbmigrate.marker', true)")
        .fetch_one(&mut *tx)
        .await
        .expect("read the setting");
    let (second_pid, marker): (i32, Option<String>) = (row.get(0), row.get(1));
    tx.commit().await.expect("commit");
    assert_eq!(second_pid, first_pid, "the same server connection");
    assert_eq!(marker.as_deref(), Some("first client"));
}

#[tokio::test]
async fn galera_has_three_nodes_and_a_write_on_node_1_is_read_on_node_3() {
    let db = TopologyDb::new(Component::Galera).await;
    assert_eq!(db.urls.len(), 3);
    for url in &db.urls {
        let mut node = my(url).await;
        let (_, size): (String, String) = sqlx::query_as("SHOW STATUS LIKE 'wsrep_cluster_size'")
            .fetch_one(&mut node)
            .await
            .expect("cluster size");
        assert_eq!(size, "3", "{url}");
    }
    let mut node1 = my(&db.urls[0]).await;
    sqlx::raw_sql(
        "CREATE TABLE t (id INT PRIMARY KEY, note TEXT); INSERT INTO t VALUES (1, 'from node 1')",
    )
    .execute(&mut node1)
    .await
    .expect("write on node 1");
    let mut node3 = my(&db.urls[2]).await;
    // Causal reads: the read waits until node 3 has applied what the cluster committed before it.
    sqlx::raw_sql("SET SESSION wsrep_sync_wait = 1")
        .execute(&mut node3)
        .await
        .expect("wsrep_sync_wait");
    let note: String = sqlx::query_scalar("SELECT note FROM t WHERE id = 1")
        .fetch_one(&mut node3)
        .await
        .expect("read on node 3");
    assert_eq!(note, "from node 1");
}

#[tokio::test]
async fn galera_get_lock_is_local_to_a_node() {
    // Why an advisory lock cannot serialize runners spread over the cluster: both nodes grant it.
    let db = TopologyDb::new(Component::Galera).await;
    let name = format!("dbmigrate-test:{}", db.primary.name());
    let mut node1 = my(&db.urls[0]).await;
    let mut node2 = my(&db.urls[1]).await;
    for node in [&mut node1, &mut node2] {
        let granted: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
            .bind(&name)
            .fetch_one(&mut *node)
            .await
            .expect("GET_LOCK");
        assert_eq!(granted, Some(1));
    }
}

#[tokio::test]
async fn the_postgres_standby_is_in_recovery_and_replays_what_the_primary_commits() {
    let db = TopologyDb::new(Component::PostgresStandby).await;
    let mut standby = pg(db.second_url()).await;
    let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut standby)
        .await
        .expect("pg_is_in_recovery");
    assert!(recovering);
    let refused = sqlx::raw_sql("CREATE TABLE refused (id INT)")
        .execute(&mut standby)
        .await
        .expect_err("a standby accepts no writes");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("25006"),
        "{refused}"
    );

    db.primary
        .execute("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (7)")
        .await;
    let url = db.second_url().to_string();
    eventually("the row on the standby", Some(7), || {
        let url = url.clone();
        async move {
            let mut standby = pg(&url).await;
            sqlx::query_scalar::<_, i32>("SELECT id FROM t")
                .fetch_optional(&mut standby)
                .await
                .ok()
                .flatten()
        }
    })
    .await;
}

#[tokio::test]
async fn the_mariadb_replica_is_read_only_and_replays_what_the_primary_commits() {
    let db = TopologyDb::new(Component::MariaDbReplica).await;
    let mut replica = my(db.second_url()).await;
    let read_only: i64 = sqlx::query_scalar("SELECT @@global.read_only")
        .fetch_one(&mut replica)
        .await
        .expect("read_only");
    assert_eq!(read_only, 1);

    db.primary
        .execute("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (7)")
        .await;
    let url = db.second_url().to_string();
    eventually("the row on the replica", Some(7), || {
        let url = url.clone();
        async move {
            let mut replica = my(&url).await;
            sqlx::query_scalar::<_, i32>("SELECT id FROM t")
                .fetch_optional(&mut replica)
                .await
                .ok()
                .flatten()
        }
    })
    .await;
}
