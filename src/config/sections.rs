//! Typed structs for the sections of Hive's JSON configuration: the original's eight (HIVE.md
//! 2.4-2.11) and the new `http`.
//!
//! Defaults are the original's *effective* defaults (HIVE.md 2.2), written out per field. Free-form
//! values (hook and action args, initial state) stay `serde_json::Value`; they are checked when the
//! hooks registry resolves them at load time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ordered::Ordered;

/// The whole, merged configuration document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Section `hive`.
    pub hive: HiveSection,
    /// Section `socketio`.
    #[serde(default)]
    pub socketio: SocketioSection,
    /// Section `clients`.
    pub clients: ClientsSection,
    /// Section `connectors`.
    #[serde(default)]
    pub connectors: ConnectorsSection,
    /// Section `pubsub`.
    #[serde(default)]
    pub pubsub: PubsubSection,
    /// Section `api`.
    pub api: ApiSection,
    /// Section `monitor`.
    #[serde(default)]
    pub monitor: MonitorSection,
    /// Section `log`.
    #[serde(default)]
    pub log: LogSection,
    /// Section `http` (new): the protections of the three HTTP listeners.
    #[serde(default)]
    pub http: HttpSection,
    /// Section `cluster` (new): several nodes acting as one through Redis; `None`: single node.
    #[serde(default)]
    pub cluster: Option<ClusterSection>,
}

/// Section `cluster` (new, docs/cluster.md): several nodes acting as one through Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSection {
    /// The cluster's name, prefixing every Redis key and stream; `None`: `hive.cluster_name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `redis://[:password@]host:port[/db]`, or a list of `host:port` seeds of a Redis Cluster.
    pub redis: ClusterRedis,
    /// This node's name, unique in the cluster; `None`: generated per process start.
    #[serde(default)]
    pub node: Option<String>,
    /// `host:port` other nodes reach this node's Socket.IO listener at; `None`: `hive.bind` and
    /// the listener's port.
    #[serde(default)]
    pub advertise: Option<String>,
    /// Number of publish streams.
    #[serde(default = "d_shards")]
    pub shards: u32,
    /// Stream trimming.
    #[serde(default)]
    pub retention: ClusterRetention,
    /// A node whose heartbeat is older than this is gone (ms).
    #[serde(default = "d_gone_after_ms")]
    pub gone_after_ms: u64,
}

/// `cluster.redis`: one server's URL, or the seeds of a Redis Cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClusterRedis {
    /// `redis://[:password@]host:port[/db]`.
    Url(String),
    /// `host:port` seed nodes of a Redis Cluster.
    Seeds(Vec<String>),
}

/// `cluster.retention`: how long publish streams keep their entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterRetention {
    /// Approximate number of entries each stream keeps (`XADD MAXLEN ~`).
    #[serde(default = "d_max_len")]
    pub max_len: u64,
}

impl Default for ClusterRetention {
    fn default() -> Self {
        Self {
            max_len: d_max_len(),
        }
    }
}

fn d_shards() -> u32 {
    8
}

fn d_gone_after_ms() -> u64 {
    10_000
}

fn d_max_len() -> u64 {
    100_000
}

/// Section `hive` (HIVE.md 2.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HiveSection {
    /// Acceptors of the Socket.IO listener (accepted, not acted on: tokio accepts on one task).
    #[serde(default = "d_acceptors")]
    pub acceptors: u32,
    /// Socket.IO listener port (0 = any free port).
    pub port: u16,
    /// Bind address of the three listeners (new key; default 127.0.0.1, see docs/compat.md).
    #[serde(default = "d_bind")]
    pub bind: String,
    /// Accepted `Origin` values; JSON `null` (None) matches a request without Origin.
    pub allowed_origins: Vec<Option<String>>,
    /// Time given to sessions to finish on stop/terminate (ms).
    pub graceful_termination_timeout: u64,
    /// Maximum concurrent sessions (the full number, not the original's half).
    pub max_client_slots: u32,
    /// Node name; salts session ids.
    #[serde(default = "d_name")]
    pub name: String,
    /// Cluster identifier (accepted; clustering is future work).
    #[serde(default = "d_cluster_name")]
    pub cluster_name: String,
    /// Nodes to connect to (accepted; clustering is future work).
    #[serde(default)]
    pub cluster_nodes: Vec<String>,
    /// Inter-node port range, lower bound (accepted, unused).
    #[serde(default = "d_cpmin")]
    pub cluster_port_min: u16,
    /// Inter-node port range, upper bound (accepted, unused).
    #[serde(default = "d_cpmax")]
    pub cluster_port_max: u16,
    /// Deliver WebSocket frames straight to the client actor instead of through the router.
    #[serde(default)]
    pub direct_websocket: bool,
    /// Pong deadline after each keep-alive ping on a WebSocket (ms).
    #[serde(default = "d_ws_ping")]
    pub websocket_ping_timeout: u64,
    /// Let channels and client actors write ready frames into an idle 0.9 WebSocket's socket, or
    /// an idle Engine.IO 4 session's WebSocket, themselves (`client::ws_writer`), instead of
    /// waking its connection or session task (default true).
    #[serde(default = "d_true")]
    pub websocket_direct_write: bool,
    /// The original's VM process limit; used here as a cap on live actors of the clients supervisor.
    #[serde(default = "d_max_processes")]
    pub max_processes: u64,
    /// Runtimes of the daemon (new): 0 = one work-stealing runtime over every core; N >= 1 = N
    /// single-threaded runtimes, each connection and its session on one of them.
    #[serde(default)]
    pub cores: u32,
    /// The most IO events a runtime worker that still has tasks takes from the kernel per poll
    /// (new; default 61; 0 = tokio's default, 1024 for every poll): ready sockets beyond it wait
    /// in the kernel's ready list, in arrival order, rather than in the overflow queue.
    #[serde(default = "d_io_busy")]
    pub io_events_per_busy_tick: u32,
}

/// Section `socketio` (HIVE.md 2.5).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SocketioSection {
    /// Keep-alive interval (ms).
    #[serde(default = "d_heartbeat")]
    pub heartbeat_timeout: u64,
    /// Advertised close timeout (ms).
    #[serde(default = "d_reconnect")]
    pub reconnect_timeout: u64,
    /// Outgoing batching window (ms); 0 hands each reply to the transport at once (the WebSocket writer still coalesces what queues up while it writes).
    #[serde(default = "d_poll")]
    pub poll_timeout: u64,
    /// Handshake-to-transport limit (ms).
    #[serde(default = "d_init")]
    pub init_timeout: u64,
    /// Client inactivity limit (ms).
    #[serde(default = "d_session")]
    pub session_timeout: u64,
    /// Enabled transports, in handshake order.
    #[serde(default = "d_transports")]
    pub transports: Vec<String>,
    /// Largest accepted incoming frame/body in bytes (new; default 1 MiB).
    #[serde(default = "d_max_frame")]
    pub max_frame_size: usize,
    /// Largest number of queued outgoing messages per session before the client is dropped (new).
    #[serde(default = "d_max_queue")]
    pub max_outgoing_queue: usize,
    /// Stacks the listener serves: `"0.9"` and/or `"v4"` (the modern Socket.IO 4/5 protocol).
    #[serde(default = "d_protocols")]
    pub protocols: Vec<String>,
    /// Engine.IO revisions accepted on the modern path (`3` serves socket.io-client 2.x).
    #[serde(default = "d_eio_versions")]
    pub engineio_versions: Vec<u8>,
    /// The modern protocol's request path.
    #[serde(default = "d_path")]
    pub path: String,
    /// The modern protocol's transports: `"polling"` and/or `"websocket"`.
    #[serde(default = "d_eio_transports")]
    pub engineio_transports: Vec<String>,
    /// Polling -> WebSocket upgrades.
    #[serde(default = "d_true")]
    pub allow_upgrades: bool,
    /// Engine.IO heartbeat period (ms).
    #[serde(default = "d_ping_interval")]
    pub ping_interval: u64,
    /// Engine.IO heartbeat deadline (ms).
    #[serde(default = "d_ping_timeout")]
    pub ping_timeout: u64,
    /// Time allowed to complete a polling -> WebSocket upgrade (ms).
    #[serde(default = "d_upgrade_timeout")]
    pub upgrade_timeout: u64,
    /// A modern session that joined no namespace within this time is closed (ms).
    #[serde(default = "d_connect_timeout")]
    pub connect_timeout: u64,
    /// Largest POST body / WebSocket frame of the modern protocol (bytes; advertised `maxPayload`).
    #[serde(default = "d_max_payload")]
    pub max_payload: usize,
    /// Binary attachments allowed per Socket.IO packet.
    #[serde(default = "d_max_attachments")]
    pub max_attachments: usize,
    /// CORS details of the modern protocol (origins come from `hive.allowed_origins`).
    #[serde(default)]
    pub cors: CorsOptions,
    /// Allowed namespaces of the modern protocol: name -> options (`{}`).
    #[serde(default = "d_namespaces")]
    pub namespaces: Ordered<Value>,
    /// Path of the raw Engine.IO echo (a diagnostic; `null` = off).
    #[serde(default)]
    pub engineio_echo_path: Option<String>,
    /// Path of a plain RFC 6455 echo endpoint on the Socket.IO listener, for WebSocket
    /// conformance runs (new; `None`, the default: no such endpoint).
    #[serde(default)]
    pub websocket_echo_path: Option<String>,
}

/// `socketio.cors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CorsOptions {
    /// Send `Access-Control-Allow-Credentials: true` (and never `*` as the allowed origin).
    #[serde(default = "d_true")]
    pub credentials: bool,
}

impl Default for CorsOptions {
    fn default() -> Self {
        Self { credentials: true }
    }
}

impl SocketioSection {
    /// Does the listener serve the modern protocol?
    pub fn serves_v4(&self) -> bool {
        self.protocols.iter().any(|p| p == "v4")
    }
    /// Does the listener serve Socket.IO 0.9?
    pub fn serves_09(&self) -> bool {
        self.protocols.iter().any(|p| p == "0.9")
    }
}

/// Section `clients` (HIVE.md 2.6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientsSection {
    /// State manager descriptor.
    pub state: StateDescriptor,
    /// alias -> dispatcher descriptors.
    #[serde(default)]
    pub actions: Ordered<Vec<ActionDescriptor>>,
    /// event -> hook descriptors.
    #[serde(default)]
    pub hooks: Ordered<Vec<HookDescriptor>>,
}

/// `clients.state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateDescriptor {
    /// `sm.local` or `sm.redis`.
    pub state_manager: String,
    /// Initial value (HIVE.md 4.7 mapping).
    #[serde(default)]
    pub initial_value: Value,
    /// Manager args.
    #[serde(default)]
    pub args: Value,
}

/// One element of a `clients.actions` alias array.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionDescriptor {
    /// Dispatcher name, e.g. `action.send_event`.
    pub action: String,
    /// Dispatcher args.
    #[serde(default)]
    pub args: Value,
}

/// One element of a `clients.hooks` event array.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookDescriptor {
    /// Hook name, e.g. `utils.echo`.
    pub hook: String,
    /// Hook args.
    #[serde(default)]
    pub args: Value,
}

/// Section `connectors` (HIVE.md 2.7).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorsSection {
    /// Max wait for a free worker (ms).
    #[serde(default = "d_rent")]
    pub rent_timeout: u64,
    /// Attempts for failing connector operations.
    #[serde(default = "d_backoff_num")]
    pub backoff_num: u32,
    /// Upper bound of the random sleep between attempts (ms).
    #[serde(default)]
    pub backoff_time: u64,
    /// Pools, started in this order.
    #[serde(default)]
    pub pools: Ordered<PoolDescriptor>,
}

/// A connector pool descriptor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolDescriptor {
    /// `connector.http`, `connector.tcp` or `connector.redis`.
    pub connector: String,
    /// Base size.
    #[serde(default)]
    pub size: u32,
    /// Extra capacity.
    #[serde(default)]
    pub overflow: u32,
    /// Connector args (typed by the connector).
    #[serde(default)]
    pub args: Value,
}

/// Section `pubsub` (HIVE.md 2.8).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PubsubSection {
    /// prefix -> template.
    #[serde(default)]
    pub channels: Ordered<ChannelTemplate>,
}

/// A channel template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelTemplate {
    /// `public` or `private`.
    pub privilege: String,
    /// Idle lifetime after the last subscriber left (ms); 0 = never expires.
    pub timeout: u64,
}

/// Section `api` (HIVE.md 2.9).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiSection {
    /// Acceptors (accepted, not acted on).
    #[serde(default = "d_acceptors")]
    pub acceptors: u32,
    /// Listener port.
    pub port: u16,
    /// Secret in every URL.
    pub hash: String,
    /// Largest accepted request body in bytes (new; default 1 MiB).
    #[serde(default = "d_max_body")]
    pub max_body_size: usize,
}

/// Section `monitor` (HIVE.md 2.9).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorSection {
    /// Acceptors (accepted, not acted on).
    #[serde(default = "d_acceptors")]
    pub acceptors: u32,
    /// Listener port.
    #[serde(default = "d_monitor_port")]
    pub port: u16,
    /// Secret in every URL.
    #[serde(default = "d_monitor_hash")]
    pub hash: String,
    /// Schema-only key of the original (accepted, never read).
    #[serde(default)]
    pub initialize_counters: bool,
    /// Per-actor figures and latency histograms on (new key; process-wide).
    #[serde(default = "d_true")]
    pub figures: bool,
}

/// Section `log` (HIVE.md 2.10).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSection {
    /// Directory for `hive.log` (created if missing).
    #[serde(default = "d_log_dir")]
    pub dir: String,
    /// Minimum level written to the file.
    #[serde(default = "d_level")]
    pub file_level: String,
    /// Minimum level on the console.
    #[serde(default = "d_level_console")]
    pub console_level: String,
}

/// Section `http` (new, see docs/compat.md): what every HTTP listener (Socket.IO, API, monitor)
/// allows a connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpSection {
    /// From accept (or from the first byte after an idle keep-alive) to the end of the request
    /// headers (ms).
    #[serde(default = "d_header_read_timeout")]
    pub header_read_timeout: u64,
    /// Keep-alive idle time between two requests on one connection (ms).
    #[serde(default = "d_idle_timeout")]
    pub idle_timeout: u64,
    /// Largest request head (start line and headers) in bytes.
    #[serde(default = "d_max_header_size")]
    pub max_header_size: usize,
    /// Most TCP connections open on the three listeners together; `None`: 2 x
    /// `hive.max_client_slots` + 1024. Always capped below the open-files limit.
    #[serde(default)]
    pub max_connections: Option<u64>,
    /// On shutdown, how long in-flight requests may take to finish (ms).
    #[serde(default = "d_drain_timeout")]
    pub drain_timeout: u64,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            header_read_timeout: d_header_read_timeout(),
            idle_timeout: d_idle_timeout(),
            max_header_size: d_max_header_size(),
            max_connections: None,
            drain_timeout: d_drain_timeout(),
        }
    }
}

impl Default for SocketioSection {
    fn default() -> Self {
        Self {
            heartbeat_timeout: d_heartbeat(),
            reconnect_timeout: d_reconnect(),
            poll_timeout: d_poll(),
            init_timeout: d_init(),
            session_timeout: d_session(),
            transports: d_transports(),
            max_frame_size: d_max_frame(),
            max_outgoing_queue: d_max_queue(),
            protocols: d_protocols(),
            engineio_versions: d_eio_versions(),
            path: d_path(),
            engineio_transports: d_eio_transports(),
            allow_upgrades: true,
            ping_interval: d_ping_interval(),
            ping_timeout: d_ping_timeout(),
            upgrade_timeout: d_upgrade_timeout(),
            connect_timeout: d_connect_timeout(),
            max_payload: d_max_payload(),
            max_attachments: d_max_attachments(),
            cors: CorsOptions::default(),
            namespaces: d_namespaces(),
            engineio_echo_path: None,
            websocket_echo_path: None,
        }
    }
}

impl Default for ConnectorsSection {
    fn default() -> Self {
        Self {
            rent_timeout: d_rent(),
            backoff_num: d_backoff_num(),
            backoff_time: 0,
            pools: Ordered::default(),
        }
    }
}

impl Default for MonitorSection {
    fn default() -> Self {
        Self {
            acceptors: d_acceptors(),
            port: d_monitor_port(),
            hash: d_monitor_hash(),
            initialize_counters: false,
            figures: true,
        }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            dir: d_log_dir(),
            file_level: d_level(),
            console_level: d_level_console(),
        }
    }
}

fn d_acceptors() -> u32 {
    100
}
fn d_bind() -> String {
    "127.0.0.1".into()
}
fn d_name() -> String {
    "hive".into()
}
fn d_cluster_name() -> String {
    "hive_cluster".into()
}
fn d_cpmin() -> u16 {
    9100
}
fn d_cpmax() -> u16 {
    9105
}
fn d_ws_ping() -> u64 {
    500
}
fn d_io_busy() -> u32 {
    otp::cores::IO_EVENTS_PER_BUSY_TICK as u32
}
fn d_max_processes() -> u64 {
    262_144
}
fn d_heartbeat() -> u64 {
    15_000
}
fn d_reconnect() -> u64 {
    120_000
}
fn d_poll() -> u64 {
    50
}
fn d_init() -> u64 {
    5_000
}
fn d_session() -> u64 {
    3_600_000
}
fn d_transports() -> Vec<String> {
    vec![
        "websocket".into(),
        "flashsocket".into(),
        "xhr-polling".into(),
    ]
}
fn d_max_frame() -> usize {
    1 << 20
}
fn d_max_queue() -> usize {
    10_000
}
fn d_protocols() -> Vec<String> {
    vec!["0.9".into(), "v4".into()]
}
fn d_eio_versions() -> Vec<u8> {
    vec![3, 4]
}
fn d_path() -> String {
    "/socket.io/".into()
}
fn d_eio_transports() -> Vec<String> {
    vec!["polling".into(), "websocket".into()]
}
fn d_true() -> bool {
    true
}
fn d_ping_interval() -> u64 {
    25_000
}
fn d_ping_timeout() -> u64 {
    20_000
}
fn d_upgrade_timeout() -> u64 {
    10_000
}
fn d_connect_timeout() -> u64 {
    45_000
}
fn d_max_payload() -> usize {
    1_000_000
}
fn d_max_attachments() -> usize {
    10
}
fn d_namespaces() -> Ordered<Value> {
    serde_json::from_value(serde_json::json!({"/": {}})).unwrap_or_default()
}
fn d_rent() -> u64 {
    5_000
}
fn d_backoff_num() -> u32 {
    1
}
fn d_max_body() -> usize {
    1 << 20
}
fn d_monitor_port() -> u16 {
    1234
}
fn d_monitor_hash() -> String {
    "12345abcde".into()
}
fn d_log_dir() -> String {
    "log/hive/".into()
}
fn d_level() -> String {
    "info".into()
}
fn d_level_console() -> String {
    "info".into()
}
fn d_header_read_timeout() -> u64 {
    10_000
}
fn d_idle_timeout() -> u64 {
    60_000
}
fn d_max_header_size() -> usize {
    16 * 1024
}
fn d_drain_timeout() -> u64 {
    5_000
}
