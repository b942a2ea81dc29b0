//! A faithful emulator of the parts of the Kestra REST API that kestra-sync uses, served over
//! real HTTP on loopback. It exists for tests (integration, fault injection), the README demo
//! and the benchmark; it is never shipped. It follows the real server as documented in
//! `shared/docs/kestra.md` and the official OpenAPI specs — never our client's habits: paths
//! per version, auth with empty 401 bodies, revisions and soft delete, the `---` splitting of
//! `/flows/validate`, 2.0 ignoring flat query parameters, both error body generations.
//! On top of that it injects faults (statuses, 429, dropped connections, stalls) and latency.
//!
//! Modules: `store` (flows and revisions), `nsfiles` (namespace files and their revisions), `flowcheck` (what the server validates),
//! `query` (filters), `api` (routes), `errors` (error bodies), `server` (accept loop,
//! auth, faults, counters), `version`.

mod api;
mod errors;
mod flowcheck;
mod nsfiles;
mod query;
mod server;
mod store;
mod version;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use rand::SeedableRng;

pub use nsfiles::StoredFile;
pub use store::StoredFlow;
use version::Version;

/// How clients must authenticate.
#[derive(Clone, Default)]
pub enum Auth {
    /// Everything is open.
    #[default]
    None,
    /// HTTP Basic (Kestra OSS, mandatory since 0.24).
    Basic { username: String, password: String },
    /// `Authorization: Bearer <token>` (EE API tokens).
    Bearer(String),
    /// EE: Basic or Bearer both accepted.
    BasicOrBearer {
        username: String,
        password: String,
        token: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::BasicOrBearer { username, .. } => write!(f, "BasicOrBearer({username}, ***)"),
        }
    }
}

/// One kind of injected fault.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer this status (500/502/503) without performing anything.
    Status(u16),
    /// Answer 429 with `Retry-After: <secs>` without performing anything.
    TooManyRequests { retry_after_secs: u64 },
    /// Close the connection without any response; nothing is performed.
    DropBeforeHandling,
    /// Perform the request (the write happens), then close the connection without answering.
    DropAfterHandling,
    /// Reset the connection (TCP RST, as a crashed proxy or a load balancer does) without
    /// any response; nothing is performed.
    ResetBeforeHandling,
    /// Perform the request (the write happens), then reset the connection (TCP RST).
    ResetAfterHandling,
    /// Sleep this long before handling.
    Stall(Duration),
}

/// Fault injection: each request (of `only_methods` and `only_paths`, if given) gets a fault with probability
/// `rate`, the kind picked uniformly from `kinds`, both drawn from an RNG seeded with `seed`:
/// the same seed and request order give the same faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub rate: f64,
    pub seed: u64,
    pub kinds: Vec<FaultKind>,
    /// Upper-case method names (`"POST"`, `"PUT"`…); `None` = every method.
    pub only_methods: Option<Vec<String>>,
    /// Path endings (`"/flows"`, `"/flows/prod/a"`): only requests whose path ends with one
    /// of them; `None` = every path. Lets a test aim a fault at one write and its read-back.
    pub only_paths: Option<Vec<String>>,
    /// At most this many faults in all (`None`: no limit): "the first create's answer is
    /// lost, the next goes through".
    pub limit: Option<usize>,
}

/// What the emulated server is.
#[derive(Debug, Clone)]
pub struct Options {
    /// Kestra version: `"1.3.0"` (default); `"2.0.0"` => 2.0 behaviour (problem+json errors,
    /// flat query parameters ignored); `"0.22.0"` => untenanted paths only.
    pub version: String,
    /// `"OSS"` (every tenant in a path resolves to `main`, as on the real OSS server) or `"EE"`.
    pub edition: String,
    pub auth: Auth,
    /// Added to every request.
    pub latency: Duration,
    pub faults: Faults,
    /// `false` => the export endpoint answers 404 (to test a client's fallback).
    pub export_enabled: bool,
    /// A misbehaving server: search, export and the namespace listing answer with the whole
    /// tenant whatever the query says (filters, flat `namespace=`/`q=`), as Kestra 2.0 does
    /// with parameters it no longer reads, or as a proxy that strips the query string would.
    /// Paging and sorting still apply. For tests of a client's own scope checks.
    pub ignore_namespace_filters: bool,
    /// `false` => export entries are stored, not deflated. Kestra deflates (the default);
    /// the benchmark turns it off because the zip crate allocates a fresh compressor per
    /// entry (~25 µs each), which would make the emulator, not the client, the cost of a
    /// 10,000-flow export.
    pub export_deflate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            version: "1.3.0".to_string(),
            edition: "OSS".to_string(),
            auth: Auth::None,
            latency: Duration::ZERO,
            faults: Faults::default(),
            export_enabled: true,
            ignore_namespace_filters: false,
            export_deflate: true,
        }
    }
}

/// One request as received, with what was answered (`None`: the connection was dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Raw query string (still percent-encoded), empty when there was none.
    pub query: String,
    pub status: Option<u16>,
}

/// Mutable knobs, changed while running.
pub(crate) struct Knobs {
    pub latency: Duration,
    pub faults: Faults,
    pub rng: rand::rngs::StdRng,
    /// Faults injected since the last [`Emulator::set_faults`] (for [`Faults::limit`]).
    pub faults_injected: usize,
}

/// State shared by the accept loop, the handlers and the [`Emulator`] handle.
pub(crate) struct Shared {
    pub version: Version,
    pub version_text: String,
    pub edition: String,
    pub auth: Auth,
    pub export_enabled: bool,
    pub export_deflate: bool,
    pub ignore_namespace_filters: bool,
    pub knobs: Mutex<Knobs>,
    pub store: Mutex<store::Store>,
    /// Namespace files, per tenant and namespace.
    pub files: Mutex<nsfiles::FileStore>,
    pub requests: Mutex<Vec<Recorded>>,
    pub request_count: AtomicU64,
    pub write_count: AtomicU64,
    /// Stored source -> its parsed JSON map: listings of 10,000 flows would otherwise parse
    /// every flow's YAML on every page (the benchmark measures the client, not this).
    pub parsed:
        Mutex<std::collections::HashMap<String, Arc<serde_json::Map<String, serde_json::Value>>>>,
}

impl Shared {
    /// The store; a poisoned lock (a handler panicked) still gives the data.
    pub fn store(&self) -> MutexGuard<'_, store::Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The namespace-file storage; a poisoned lock still gives the data.
    pub fn files(&self) -> MutexGuard<'_, nsfiles::FileStore> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.knobs.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn record(&self, r: Recorded) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r);
    }
    /// The JSON map of a stored source (empty when it does not parse), cached.
    pub fn parsed_json(&self, source: &str) -> Arc<serde_json::Map<String, serde_json::Value>> {
        let mut cache = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(source) {
            return hit.clone();
        }
        let map = Arc::new(flowcheck::parse(source).map(|p| p.json).unwrap_or_default());
        if cache.len() >= 100_000 {
            cache.clear();
        }
        cache.insert(source.to_string(), map.clone());
        map
    }
    pub fn count_write(&self) {
        self.write_count.fetch_add(1, Ordering::SeqCst);
    }
    /// What the validation of flows depends on: the version and the edition.
    pub fn rules(&self) -> flowcheck::Rules {
        flowcheck::Rules {
            reserved_ids: self.version.reserved_ids(),
            enterprise: !self.edition.eq_ignore_ascii_case("OSS"),
        }
    }
    /// Tenant a request acts on: OSS always resolves `main` (as the real server's
    /// `TenantService`), untenanted paths (≤ 0.22) too.
    pub fn resolve_tenant(&self, from_path: Option<&str>) -> String {
        match from_path {
            Some(t) if !self.edition.eq_ignore_ascii_case("OSS") => t.to_string(),
            _ => "main".to_string(),
        }
    }
}

/// A running emulator. Dropping it stops accepting connections.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish()
    }
}

fn build_shared(opts: Options) -> anyhow::Result<Arc<Shared>> {
    let version = Version::parse(&opts.version)
        .with_context(|| format!("invalid emulator version {:?}", opts.version))?;
    let rng = rand::rngs::StdRng::seed_from_u64(opts.faults.seed);
    Ok(Arc::new(Shared {
        version,
        version_text: opts.version.clone(),
        edition: opts.edition.clone(),
        auth: opts.auth.clone(),
        export_enabled: opts.export_enabled,
        export_deflate: opts.export_deflate,
        ignore_namespace_filters: opts.ignore_namespace_filters,
        knobs: Mutex::new(Knobs {
            latency: opts.latency,
            faults: opts.faults,
            rng,
            faults_injected: 0,
        }),
        store: Mutex::new(store::Store::default()),
        files: Mutex::new(nsfiles::FileStore::default()),
        requests: Mutex::new(Vec::new()),
        request_count: AtomicU64::new(0),
        write_count: AtomicU64::new(0),
        parsed: Mutex::new(std::collections::HashMap::new()),
    }))
}

/// Every `(METHOD, path template)` an emulator with these options serves, in the OpenAPI
/// spelling (`/api/v1/{tenant}/flows/{namespace}/{id}`): for conformance tests.
pub fn served_routes(opts: &Options) -> anyhow::Result<Vec<(String, String)>> {
    let version = Version::parse(&opts.version)
        .with_context(|| format!("invalid emulator version {:?}", opts.version))?;
    Ok(api::served_routes(version)
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect())
}

impl Emulator {
    /// Bind `127.0.0.1:0` and serve on the current tokio runtime.
    pub async fn start(opts: Options) -> anyhow::Result<Emulator> {
        Self::start_on(opts, "127.0.0.1:0").await
    }

    /// Bind `addr` (e.g. `127.0.0.1:8080`) and serve on the current tokio runtime.
    pub async fn start_on(opts: Options, addr: &str) -> anyhow::Result<Emulator> {
        let shared = build_shared(opts)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        tokio::spawn(server::serve(listener, shared.clone(), stopped));
        Ok(Emulator {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// Serve from a runtime of its own on a background thread: for synchronous tests
    /// (e.g. `assert_cmd`). The runtime ends when the returned handle is dropped.
    pub fn start_in_background(opts: Options) -> anyhow::Result<Emulator> {
        let shared = build_shared(opts)?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("kestra-emulator")
            .build()?;
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("kestra-emulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(listener) => server::serve(listener, thread_shared, stopped).await,
                        Err(e) => tracing::error!("kestra-emulator: cannot listen: {e}"),
                    }
                });
                // connections still open die with the runtime
                runtime.shutdown_background();
            })?;
        Ok(Emulator {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every HTTP request received (dropped ones and 401s included).
    pub fn request_count(&self) -> u64 {
        self.shared.request_count.load(Ordering::SeqCst)
    }

    /// Every request received so far, in the order their handling ended.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Writes that changed state: creates, updates that made a new revision, deletes.
    pub fn write_count(&self) -> u64 {
        self.shared.write_count.load(Ordering::SeqCst)
    }

    /// Store `source` directly (no validation; `namespace` and `id` are read from it), with
    /// the server's revision rules. Returns the revision. Panics when the source has no
    /// readable `id`/`namespace` (a broken test fixture); see [`Emulator::try_seed_flow`].
    pub fn seed_flow(&self, tenant: &str, source: &str) -> u64 {
        match self.try_seed_flow(tenant, source) {
            Ok(rev) => rev,
            Err(e) => panic!("seed_flow: {e:#}"),
        }
    }

    /// [`Emulator::seed_flow`] returning an error instead of panicking.
    pub fn try_seed_flow(&self, tenant: &str, source: &str) -> anyhow::Result<u64> {
        let parsed = flowcheck::parse(source).map_err(|e| anyhow::anyhow!("{e}"))?;
        let namespace = parsed
            .namespace
            .context("the source has no string `namespace`")?;
        let id = parsed.id.context("the source has no string `id`")?;
        let mut store = self.shared.store();
        Ok(store.save(tenant, &namespace, &id, source).revision)
    }

    /// Live (non-deleted) flows of `tenant`, sorted by namespace then id.
    pub fn flows(&self, tenant: &str) -> Vec<StoredFlow> {
        self.shared.store().live_flows(tenant)
    }

    /// Store a namespace file directly (a new revision, parents created, as an upload).
    /// Panics on a path the server refuses (a broken test fixture).
    pub fn seed_file(&self, tenant: &str, namespace: &str, path: &str, bytes: &[u8]) -> u32 {
        match self
            .shared
            .files()
            .put(tenant, namespace, path, bytes.to_vec())
        {
            Ok(rev) => rev,
            Err(e) => panic!("seed_file {path}: {}", e.0),
        }
    }

    /// Delete a namespace file or folder directly, as the server's delete does.
    pub fn delete_file(&self, tenant: &str, namespace: &str, path: &str) {
        if let Err(e) = self.shared.files().delete(tenant, namespace, path) {
            panic!("delete_file {path}: {}", e.0);
        }
    }

    /// Current namespace files of `namespace`, sorted by path.
    pub fn files(&self, tenant: &str, namespace: &str) -> Vec<StoredFile> {
        self.shared.files().files(tenant, namespace)
    }

    pub fn set_latency(&self, d: Duration) {
        self.shared.knobs().latency = d;
    }

    /// Replace the fault settings; the RNG is re-seeded with `f.seed`.
    pub fn set_faults(&self, f: Faults) {
        let mut knobs = self.shared.knobs();
        knobs.rng = rand::rngs::StdRng::seed_from_u64(f.seed);
        knobs.faults = f;
        knobs.faults_injected = 0;
    }

    /// Zero the request and write counters and forget the recorded requests.
    pub fn reset_counts(&self) {
        self.shared.request_count.store(0, Ordering::SeqCst);
        self.shared.write_count.store(0, Ordering::SeqCst);
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
