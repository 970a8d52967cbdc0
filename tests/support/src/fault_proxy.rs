//! A TCP proxy in front of a database server that injects faults at message boundaries: it reads
//! the wire protocol's framing (PostgreSQL messages, MySQL packets) and can cut the connection after
//! the k-th message the client sends or before the k-th message the server sends, stall it, or delay
//! every message. toxiproxy's vocabulary (reset-peer, timeout, latency), at the one granularity a
//! migration tool's correctness depends on: which messages reached which side.
//!
//! Messages are counted across every connection since the proxy was last armed, in the order they
//! pass; a run on a pool of one connection is deterministic, so a clean run's count tells how many
//! cut points there are.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The wire protocol, for finding message boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// PostgreSQL's frontend/backend protocol: a type byte and a 4-byte length, except the first
    /// messages of a connection (startup, SSL request), which have no type byte.
    Postgres,
    /// MySQL's client/server protocol: packets of a 3-byte length and a sequence byte.
    MySql,
}

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Forward the client's k-th message (1-based), then close both sides, as a network failure
    /// right after a request was sent would: the server may or may not have acted on it.
    CutAfterClientMessage(usize),
    /// Close both sides instead of forwarding the server's k-th message: the server acted on the
    /// request, and the client never hears how it went.
    CutBeforeServerMessage(usize),
    /// Forward the client's k-th message, then forward nothing more, either way, for the duration
    /// (a stalled network), then go on.
    StallAfterClientMessage(usize, Duration),
    /// Hold every message for the duration before forwarding it.
    Delay(Duration),
}

#[derive(Debug)]
struct Shared {
    fault: Mutex<Fault>,
    client_messages: AtomicUsize,
    server_messages: AtomicUsize,
    tripped: AtomicBool,
    /// New connections are closed at once.
    refusing: AtomicBool,
}

/// A running proxy; dropping it closes every connection through it.
pub struct FaultProxy {
    address: SocketAddr,
    protocol: Protocol,
    shared: Arc<Shared>,
    connections: Arc<Mutex<Vec<Link>>>,
    listener: JoinHandle<()>,
}

/// One proxied connection.
struct Link {
    task: JoinHandle<()>,
    /// Nothing is forwarded on it, either way, until then.
    stall: Stall,
}

type Stall = Arc<Mutex<Option<tokio::time::Instant>>>;

impl FaultProxy {
    /// Starts a proxy on a free local port, forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str, protocol: Protocol) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            fault: Mutex::new(Fault::None),
            client_messages: AtomicUsize::new(0),
            server_messages: AtomicUsize::new(0),
            tripped: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
        });
        let connections: Arc<Mutex<Vec<Link>>> = Arc::default();
        let upstream = upstream.to_string();
        let (accepting, registry) = (shared.clone(), connections.clone());
        let listener = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if accepting.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let stall = Stall::default();
                let task = tokio::spawn(relay(
                    client,
                    server,
                    protocol,
                    accepting.clone(),
                    stall.clone(),
                ));
                registry
                    .lock()
                    .expect("registry")
                    .push(Link { task, stall });
            }
        });
        Self {
            address,
            protocol,
            shared,
            connections,
            listener,
        }
    }

    /// Starts a proxy in front of the server of a database URL.
    pub async fn in_front_of(url: &str) -> Self {
        let protocol = if url.starts_with("postgres") {
            Protocol::Postgres
        } else {
            Protocol::MySql
        };
        Self::start(&host_and_port(url), protocol).await
    }

    /// Sets the fault for what comes next and starts counting messages from zero.
    pub fn arm(&self, fault: Fault) {
        *self.shared.fault.lock().expect("fault") = fault;
        self.shared.client_messages.store(0, Ordering::SeqCst);
        self.shared.server_messages.store(0, Ordering::SeqCst);
        self.shared.tripped.store(false, Ordering::SeqCst);
    }

    /// Messages the client sent since the proxy was armed.
    pub fn client_messages(&self) -> usize {
        self.shared.client_messages.load(Ordering::SeqCst)
    }

    /// Messages the server sent since the proxy was armed.
    pub fn server_messages(&self) -> usize {
        self.shared.server_messages.load(Ordering::SeqCst)
    }

    /// Whether the armed fault happened.
    pub fn tripped(&self) -> bool {
        self.shared.tripped.load(Ordering::SeqCst)
    }

    /// `url` pointed at the proxy, with TLS off so the proxy can read the messages.
    pub fn url(&self, url: &str) -> String {
        let routed = through(url, self.address);
        let no_tls = match self.protocol {
            Protocol::Postgres => "sslmode=disable",
            Protocol::MySql => "ssl-mode=disabled",
        };
        let separator = if routed.contains('?') { '&' } else { '?' };
        format!("{routed}{separator}{no_tls}")
    }

    /// From now on, closes every new connection at once (a server that went away for good), or,
    /// with `false`, forwards them again.
    pub fn refuse_new_connections(&self, refuse: bool) {
        self.shared.refusing.store(refuse, Ordering::SeqCst);
    }

    /// Closes every connection through the proxy at once, as a failing network would.
    pub fn cut_all(&self) {
        for link in self.connections.lock().expect("registry").drain(..) {
            link.task.abort();
        }
    }

    /// Forwards nothing more, either way, on the connections open now, for `pause` (a network
    /// that stops answering without closing); new connections are not affected.
    pub fn stall_open_connections(&self, pause: Duration) {
        let until = tokio::time::Instant::now() + pause;
        for link in self.connections.lock().expect("registry").iter() {
            *link.stall.lock().expect("stall") = Some(until);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut_all();
        self.listener.abort();
    }
}

/// Why a pump stopped.
enum Stop {
    /// One side closed or failed: the other is closed too.
    Closed,
    /// The fault cut the connection.
    Cut,
}

/// Relays one connection until either side closes or the fault cuts it; both sockets close when
/// this returns.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    protocol: Protocol,
    shared: Arc<Shared>,
    stall: Stall,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Set by the client side when it asked for TLS: the server answers that with one bare byte.
    let tls_requested = Arc::new(AtomicBool::new(false));
    let upstream = pump(
        client_read,
        server_write,
        Side::Client,
        protocol,
        shared.clone(),
        tls_requested.clone(),
        stall.clone(),
    );
    let downstream = pump(
        server_read,
        client_write,
        Side::Server,
        protocol,
        shared,
        tls_requested,
        stall,
    );
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    side: Side,
    protocol: Protocol,
    shared: Arc<Shared>,
    tls_requested: Arc<AtomicBool>,
    stall: Stall,
) -> Stop {
    // PostgreSQL's first client messages (SSL request, startup) and the answer to an SSL request
    // have no type byte.
    let mut untyped = protocol == Protocol::Postgres && side == Side::Client;
    let mut first = true;
    loop {
        let message =
            match read_message(&mut from, protocol, side, untyped, first, &tls_requested).await {
                Ok(Some(message)) => message,
                Ok(None) | Err(_) => return Stop::Closed,
            };
        if untyped && side == Side::Client {
            // A startup message (protocol 3.x) ends the untyped part; an SSL or GSS request does not.
            let code = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
            if code >> 16 == 3 {
                untyped = false;
            } else if code == 80_877_103 || code == 80_877_104 {
                tls_requested.store(true, Ordering::SeqCst);
            }
        }
        first = false;
        let number = match side {
            Side::Client => shared.client_messages.fetch_add(1, Ordering::SeqCst) + 1,
            Side::Server => shared.server_messages.fetch_add(1, Ordering::SeqCst) + 1,
        };
        let fault = *shared.fault.lock().expect("fault");
        let trip = || shared.tripped.store(true, Ordering::SeqCst);
        match (fault, side) {
            (Fault::CutBeforeServerMessage(k), Side::Server) if k == number => {
                trip();
                return Stop::Cut;
            }
            (Fault::Delay(delay), _) => tokio::time::sleep(delay).await,
            _ => {}
        }
        let stalled = *stall.lock().expect("stall");
        if let Some(until) = stalled {
            tokio::time::sleep_until(until).await;
        }
        if to.write_all(&message).await.is_err() {
            return Stop::Closed;
        }
        match (fault, side) {
            (Fault::CutAfterClientMessage(k), Side::Client) if k == number => {
                let _ = to.flush().await;
                trip();
                return Stop::Cut;
            }
            (Fault::StallAfterClientMessage(k, pause), Side::Client) if k == number => {
                trip();
                *stall.lock().expect("stall") = Some(tokio::time::Instant::now() + pause);
            }
            _ => {}
        }
    }
}

/// Reads one whole message; `None` at a clean end of stream.
async fn read_message(
    from: &mut OwnedReadHalf,
    protocol: Protocol,
    side: Side,
    untyped: bool,
    first: bool,
    tls_requested: &AtomicBool,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = [0_u8; 5];
    match protocol {
        Protocol::Postgres
            if side == Side::Server && first && tls_requested.load(Ordering::SeqCst) =>
        {
            // The answer to an SSL request: one byte.
            if from.read(&mut head[..1]).await? == 0 {
                return Ok(None);
            }
            Ok(Some(head[..1].to_vec()))
        }
        Protocol::Postgres => {
            let header = if untyped { 4 } else { 5 };
            if !read_exact_or_end(from, &mut head[..header]).await? {
                return Ok(None);
            }
            let length_at = header - 4;
            let length = u32::from_be_bytes([
                head[length_at],
                head[length_at + 1],
                head[length_at + 2],
                head[length_at + 3],
            ]) as usize;
            // The length counts itself, not the type byte.
            let mut message = head[..header].to_vec();
            message.resize(header + length.saturating_sub(4), 0);
            from.read_exact(&mut message[header..]).await?;
            Ok(Some(message))
        }
        Protocol::MySql => {
            if !read_exact_or_end(from, &mut head[..4]).await? {
                return Ok(None);
            }
            let length =
                usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
            let mut message = head[..4].to_vec();
            message.resize(4 + length, 0);
            from.read_exact(&mut message[4..]).await?;
            Ok(Some(message))
        }
    }
}

/// Fills `buffer`; `false` if the stream ended before its first byte.
async fn read_exact_or_end(from: &mut OwnedReadHalf, buffer: &mut [u8]) -> std::io::Result<bool> {
    let read = from.read(buffer).await?;
    if read == 0 {
        return Ok(false);
    }
    from.read_exact(&mut buffer[read..]).await?;
    Ok(true)
}

/// `host:port` of a database URL.
pub fn host_and_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// `url` with its host and port replaced by `address`.
pub fn through(url: &str, address: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (credentials, rest) = rest.rsplit_once('@').map_or(("", rest), |(c, r)| (c, r));
    let tail = rest.find(['/', '?']).map_or("", |i| &rest[i..]);
    let at = if credentials.is_empty() {
        String::new()
    } else {
        format!("{credentials}@")
    };
    format!("{scheme}://{at}{address}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_a_url_through_another_address() {
        let address: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            through("postgres://root@127.0.0.1:5432/test", address),
            "postgres://root@127.0.0.1:4000/test"
        );
        assert_eq!(
            through("mysql://u:p@db:3306/x?ssl-mode=required", address),
            "mysql://u:p@127.0.0.1:4000/x?ssl-mode=required"
        );
        assert_eq!(host_and_port("mysql://u:p@db:3306/x?a=b"), "db:3306");
    }
}
