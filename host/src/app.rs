//! The loaded application: one engine, one pre-instantiated component per manifest entry, and
//! the per-request path that instantiates a fresh guest, runs it, and streams its response.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::body::{self, BodyError, HostBody, LimitFlag};
use crate::client_tls::ClientTls;
use crate::clock::TestClock;
use crate::compose;
use crate::dependencies;
use crate::kv::{self, KvState, StoreManager};
use crate::manifest::Manifest;
use crate::objects::EmbeddedS3;
use crate::outbound::{AllowedHosts, OutboundHooks};
use crate::problem;
use crate::routes::{RouteMatch, Router};
use crate::runtime_config::RuntimeConfig;
use crate::variables::{self, Resolved, VariablesState};

/// How often the epoch advances; request deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every request.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_request_body: u64,
    /// Largest linear memory one guest instance may grow to, in bytes.
    pub max_memory: usize,
    /// Wall-clock time a request may run, guest and outbound calls included.
    pub request_timeout: Duration,
    /// Component instances that may exist at once (pooling allocator slots).
    pub max_instances: u32,
}

impl Limits {
    /// Default request body limit: uploads accept 25 MiB files, and the rest covers framing.
    pub const DEFAULT_MAX_REQUEST_BODY: u64 = 32 << 20;
    /// Default memory per instance: Argon2id at OWASP's 19 MiB, or a 25 MiB upload with its
    /// encrypted and cleaned copies, fit with room to spare.
    pub const DEFAULT_MAX_MEMORY: usize = 256 << 20;
    /// Default request deadline.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default number of instances alive at once.
    pub const DEFAULT_MAX_INSTANCES: u32 = 256;
}

impl Limits {
    /// Bytes of host memory a guest may make the host allocate in one call to an imported
    /// function: enough for a component dependency call that carries a whole request body.
    ///
    /// NOTE: a dependency that is not composed into its importer is called through the host
    /// as dynamic values, one `Val` (tens of bytes) per list element. A 25 MiB byte list then
    /// makes the host allocate about 1 GiB for the duration of the call.
    pub fn hostcall_fuel(&self) -> usize {
        let body = usize::try_from(self.max_request_body).unwrap_or(usize::MAX);
        body.saturating_add(1 << 20)
            .saturating_mul(size_of::<wasmtime::component::Val>())
            .max(128 << 20)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_body: Self::DEFAULT_MAX_REQUEST_BODY,
            max_memory: Self::DEFAULT_MAX_MEMORY,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_instances: Self::DEFAULT_MAX_INSTANCES,
        }
    }
}

/// Everything needed to load an application.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Path of `spin.toml`.
    pub manifest: PathBuf,
    /// Path of `runtime-config.toml`, if any.
    pub runtime_config: Option<PathBuf>,
    /// Directory for SQLite stores and other state.
    pub state_dir: PathBuf,
    /// Request limits.
    pub limits: Limits,
    /// Whether tests may move the guests' wall clock.
    pub danger_test_clock: bool,
    /// Whether to start the embedded S3 endpoint when the manifest declares `s3_endpoint` and
    /// nothing else sets it.
    pub embedded_s3: bool,
    /// Components to run, with what they depend on; empty runs them all.
    pub components: Vec<String>,
}

/// A component ready to serve requests.
pub struct LoadedComponent {
    /// Component id from the manifest.
    pub id: String,
    pre: ServicePre<HostState>,
    capabilities: Capabilities,
}

/// Capabilities granted to each instance of one component.
#[derive(Clone, Default)]
pub struct Capabilities {
    /// Outbound allowlist.
    pub allowed_hosts: Arc<AllowedHosts>,
    /// Outbound TLS settings that name this component.
    pub client_tls: Arc<Vec<ClientTls>>,
    /// Key-value labels the component may open.
    pub kv_labels: Arc<HashSet<String>>,
    /// The component's expanded variables.
    pub variables: Arc<BTreeMap<String, variables::Value>>,
    /// Guest environment variables.
    pub environment: Arc<Vec<(String, String)>>,
}

/// The running application.
pub struct App {
    /// Application name.
    pub name: String,
    engine: Engine,
    components: HashMap<String, Arc<LoadedComponent>>,
    router: Router,
    kv: Arc<StoreManager>,
    limits: Limits,
    clock: TestClock,
    danger_test_clock: bool,
    embedded_s3: Option<EmbeddedS3>,
    this: Weak<App>,
}

/// Per-store state of one guest instance.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    kv: KvState,
    variables: VariablesState,
    limiter: MemoryLimiter,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl HostState {
    /// Returns the instance's memory limiter.
    pub(crate) fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }
}

/// Caps linear memory growth and records that the cap was hit, so the response can report it.
pub(crate) struct MemoryLimiter {
    max: usize,
    hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max;
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Origin of a request, for the `spin-*` headers and logs.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Client address, or the loopback address for chained calls.
    pub client: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Authority the client used, such as `localhost:3000`.
    pub authority: String,
}

impl App {
    /// Loads the manifest, compiles every component and checks that every store and variable
    /// resolves.
    pub async fn load(options: &LoadOptions) -> anyhow::Result<Arc<App>> {
        let mut manifest = Manifest::load(&options.manifest)?;
        manifest.retain_components(&options.components)?;
        let base = options
            .manifest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let runtime_config =
            RuntimeConfig::load(options.runtime_config.as_deref(), &options.state_dir)?;
        let environment = |name: &str| std::env::var(name).ok();
        // The embedded S3 endpoint starts only for an application that declares `s3_endpoint`
        // and whose operator named no endpoint of their own.
        let mut embedded_s3 = if options.embedded_s3
            && manifest.variables.contains_key("s3_endpoint")
            && variables::provided(
                "s3_endpoint",
                &runtime_config.variables_providers,
                &environment,
            )
            .is_none()
        {
            Some(EmbeddedS3::start(&options.state_dir.join("objects")).await?)
        } else {
            None
        };
        let host_defaults = embedded_s3
            .as_ref()
            .map(EmbeddedS3::variables)
            .unwrap_or_default();
        let resolved = Resolved::resolve(
            &manifest,
            &runtime_config.variables_providers,
            &environment,
            &host_defaults,
        )?;

        let labels: HashSet<&String> = manifest
            .components
            .values()
            .flat_map(|c| &c.key_value_stores)
            .collect();
        let kv = Arc::new(StoreManager::new(
            labels,
            &runtime_config,
            &options.state_dir,
        )?);
        kv.check().await?;

        let engine = build_engine(&options.limits)?;
        let router = Router::build(&manifest.triggers.http)?;
        let clock = TestClock::default();

        let mut capabilities = HashMap::new();
        for (id, component) in &manifest.components {
            let variables = resolved.component_values(&component.variables)?;
            let mut allowed_entries = Vec::new();
            for template in &component.allowed_outbound_hosts {
                let entry = resolved
                    .expand_template(template)
                    .with_context(|| format!("component {id:?}: allowed_outbound_hosts"))?;
                // A template that uses a secret variable is reported unexpanded and without
                // the parser's detail, which could quote the secret.
                if let Err(error) = AllowedHosts::parse(std::slice::from_ref(&entry)) {
                    if resolved.template_is_secret(template) {
                        anyhow::bail!(
                            "component {id:?}: invalid allowed_outbound_hosts entry {template:?} \
                             (it uses a secret variable, so the value is not shown)"
                        );
                    }
                    return Err(error.context(format!("component {id:?}")));
                }
                allowed_entries.push(entry);
            }
            let allowed_hosts = AllowedHosts::parse(&allowed_entries)
                .with_context(|| format!("component {id:?}"))?;
            capabilities.insert(
                id.clone(),
                Capabilities {
                    allowed_hosts: Arc::new(allowed_hosts),
                    client_tls: Arc::new(
                        runtime_config
                            .client_tls
                            .iter()
                            .filter(|tls| tls.component_ids.contains(id))
                            .cloned()
                            .collect(),
                    ),
                    kv_labels: Arc::new(component.key_value_stores.iter().cloned().collect()),
                    variables: Arc::new(variables),
                    environment: Arc::new(component.environment.clone().into_iter().collect()),
                },
            );
        }

        let mut failure = None;
        let app = Arc::new_cyclic(|this: &Weak<App>| {
            let mut components = HashMap::new();
            for id in router.components().collect::<HashSet<_>>() {
                let component = &manifest.components[id];
                let source = base.join(&component.source);
                match load_component(
                    &engine,
                    id,
                    &source,
                    component,
                    &manifest,
                    &base,
                    &capabilities,
                    this,
                    &kv,
                    &clock,
                ) {
                    Ok(loaded) => {
                        components.insert(id.to_owned(), Arc::new(loaded));
                    }
                    Err(error) => {
                        failure.get_or_insert(error);
                    }
                }
            }
            App {
                name: manifest.application.name.clone(),
                engine: engine.clone(),
                components,
                router,
                kv: kv.clone(),
                limits: options.limits.clone(),
                clock: clock.clone(),
                danger_test_clock: options.danger_test_clock,
                embedded_s3: embedded_s3.take(),
                this: this.clone(),
            }
        });
        match failure {
            Some(error) => Err(error),
            None => Ok(app),
        }
    }

    /// Returns the embedded S3 endpoint, when this application started one.
    pub fn embedded_s3(&self) -> Option<&EmbeddedS3> {
        self.embedded_s3.as_ref()
    }

    /// Returns the engine, for the epoch ticker.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Returns the request limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Returns the guests' wall clock when tests may move it.
    pub fn test_clock(&self) -> Option<&TestClock> {
        self.danger_test_clock.then_some(&self.clock)
    }

    /// Routes a request from the public listener.
    pub async fn handle_public(
        &self,
        mut request: Request<HostBody>,
        origin: Origin,
    ) -> Response<HostBody> {
        strip_untrusted_headers(request.headers_mut());
        let path = request.uri().path().to_owned();
        let Some(matched) = self.router.route(&path) else {
            return problem::response(StatusCode::NOT_FOUND, "no route matches this path");
        };
        let Some(component) = self.components.get(&matched.component).cloned() else {
            return problem::response(StatusCode::NOT_FOUND, "no route matches this path");
        };
        self.invoke(&component, request, Some(matched), origin)
            .await
    }

    /// Dispatches a chained request to `http://<component>.spin.internal/...`, private routes
    /// included.
    ///
    /// As in Spin, the component receives a synthetic match: route `/...`, the whole path as
    /// `spin-path-info`, and client address `0.0.0.0:0`, whatever its public routes are.
    pub async fn handle_internal(
        &self,
        component_id: &str,
        mut request: Request<HostBody>,
    ) -> Option<Response<HostBody>> {
        let component = self.components.get(component_id)?.clone();
        strip_untrusted_headers(request.headers_mut());
        let matched = RouteMatch {
            component: component_id.to_owned(),
            raw_route: "/...".to_owned(),
            route_prefix: String::new(),
            path_info: request.uri().path().to_owned(),
            named: Vec::new(),
        };
        let origin = Origin {
            client: SocketAddr::from(([0, 0, 0, 0], 0)),
            scheme: "http",
            authority: format!("{component_id}.spin.internal"),
        };
        Some(
            self.invoke(&component, request, Some(matched), origin)
                .await,
        )
    }

    /// Runs one request through a fresh instance of `component`.
    async fn invoke(
        &self,
        component: &Arc<LoadedComponent>,
        request: Request<HostBody>,
        matched: Option<RouteMatch>,
        origin: Origin,
    ) -> Response<HostBody> {
        let started = Instant::now();
        let method = request.method().clone();
        let route = matched
            .as_ref()
            .map(|m| m.raw_route.clone())
            .unwrap_or_else(|| "<internal>".to_owned());

        let response = match self.run_guest(component, request, matched, &origin).await {
            Ok(response) => response,
            Err(failure) => failure.into_response(&component.id),
        };

        tracing::info!(
            component = %component.id,
            %method,
            route = %route,
            status = response.status().as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        response
    }

    async fn run_guest(
        &self,
        component: &Arc<LoadedComponent>,
        request: Request<HostBody>,
        matched: Option<RouteMatch>,
        origin: &Origin,
    ) -> Result<Response<HostBody>, GuestFailure> {
        if let Some(length) = content_length(&request)
            && length > self.limits.max_request_body
        {
            return Err(GuestFailure::BodyTooLarge(self.limits.max_request_body));
        }
        let request =
            prepare_request(request, matched.as_ref(), origin).map_err(GuestFailure::BadRequest)?;
        let limit_hit = LimitFlag::default();
        let request =
            request.map(|b| body::limited(b, self.limits.max_request_body, limit_hit.clone()));

        let state = self.new_state(&component.id, &component.capabilities);
        let (head_tx, head_rx) = oneshot::channel();
        let (frame_tx, frame_rx) = mpsc::channel(4);
        let pre = component.pre.clone();
        let engine = self.engine.clone();
        let timeout = self.limits.request_timeout;
        let hostcall_fuel = self.limits.hostcall_fuel();
        let component_id = component.id.clone();

        let task = tokio::spawn(async move {
            let mut store = Store::new(&engine, state);
            store.limiter(|state| &mut state.limiter);
            store.set_hostcall_fuel(hostcall_fuel);
            // The guest yields to the executor every epoch tick, so a guest that never returns
            // cannot starve other requests. The timeout below drops it at the deadline.
            store.epoch_deadline_async_yield_and_update(1);
            let run = run_service(&mut store, pre, request, head_tx, frame_tx);
            let outcome = match tokio::time::timeout(timeout, run).await {
                Ok(result) => result,
                Err(_) => Err(anyhow::Error::new(wasmtime::Trap::Interrupt)),
            };
            let memory_hit = store.data().limiter.hit;
            if let Err(error) = &outcome {
                tracing::warn!(component = %component_id, error = %format!("{error:#}"), "guest failed");
            }
            (outcome, memory_hit)
        });

        match head_rx.await {
            Ok(Ok(parts)) => {
                let body = body::channel(frame_rx);
                if limit_hit.is_set() {
                    return Err(GuestFailure::BodyTooLarge(self.limits.max_request_body));
                }
                Ok(Response::from_parts(parts, body))
            }
            Ok(Err(code)) => {
                if limit_hit.is_set() {
                    return Err(GuestFailure::BodyTooLarge(self.limits.max_request_body));
                }
                Err(GuestFailure::ErrorCode(format!("{code:?}")))
            }
            Err(_) => {
                if limit_hit.is_set() {
                    return Err(GuestFailure::BodyTooLarge(self.limits.max_request_body));
                }
                let (outcome, memory_hit) = task.await.map_err(|error| {
                    tracing::error!(component = %component.id, %error, "guest task failed");
                    GuestFailure::Trap
                })?;
                match outcome {
                    _ if memory_hit => Err(GuestFailure::OutOfMemory),
                    Err(error) if is_instance_limit(&error) => Err(GuestFailure::Busy),
                    Err(error) if is_deadline(&error) => Err(GuestFailure::Deadline),
                    Err(_) => Err(GuestFailure::Trap),
                    Ok(()) => {
                        tracing::error!(component = %component.id, "guest returned no response");
                        Err(GuestFailure::Trap)
                    }
                }
            }
        }
    }

    /// Builds the store state of one instance of `component_id` with `capabilities`.
    pub(crate) fn new_state(&self, component_id: &str, capabilities: &Capabilities) -> HostState {
        new_state(
            component_id,
            capabilities,
            &self.this,
            &self.kv,
            &self.clock,
            self.limits.max_memory,
        )
    }
}

fn new_state(
    component_id: &str,
    capabilities: &Capabilities,
    app: &Weak<App>,
    kv: &Arc<StoreManager>,
    clock: &TestClock,
    max_memory: usize,
) -> HostState {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stderr();
    wasi.wall_clock(clock.clone());
    // TCP is on so that allowlisted raw connections (Redis, databases) work; every address still
    // goes through the check below. UDP and name lookups stay off.
    wasi.allow_ip_name_lookup(false);
    wasi.allow_tcp(true);
    wasi.allow_udp(false);
    for (key, value) in capabilities.environment.iter() {
        wasi.env(key, value);
    }
    let allowed = capabilities.allowed_hosts.clone();
    wasi.socket_addr_check(move |address, usage| {
        let allowed = allowed.clone();
        Box::pin(async move {
            match usage {
                // Connecting binds implicitly to the wildcard address and an ephemeral port,
                // which reaches nothing by itself; an explicit bind to a chosen port is refused.
                SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                    address.ip().is_unspecified() && address.port() == 0
                }
                // Components serve requests through the HTTP trigger only, so they never listen.
                SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => false,
                SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                    allowed.allows_socket(address)
                }
            }
        })
    });
    HostState {
        table: ResourceTable::new(),
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        hooks: OutboundHooks::new(
            component_id,
            capabilities.allowed_hosts.clone(),
            capabilities.client_tls.clone(),
            app.clone(),
        ),
        kv: KvState::new(capabilities.kv_labels.clone(), kv.clone()),
        variables: VariablesState::new(capabilities.variables.clone()),
        limiter: MemoryLimiter {
            max: max_memory,
            hit: false,
        },
    }
}

/// Instantiates the service, calls it and forwards the response head and body frames.
async fn run_service(
    store: &mut Store<HostState>,
    pre: ServicePre<HostState>,
    request: Request<HostBody>,
    head_tx: oneshot::Sender<
        Result<http::response::Parts, wasmtime_wasi_http::p3::bindings::http::types::ErrorCode>,
    >,
    frame_tx: mpsc::Sender<Result<http_body::Frame<Bytes>, BodyError>>,
) -> anyhow::Result<()> {
    let service = pre.instantiate_async(&mut *store).await?;
    let request = request.map(|body| {
        body.map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))
    });
    let (request, _io) =
        wasmtime_wasi_http::p3::Request::from_http(&mut store.data_mut().hooks, request);
    store
        .run_concurrent(async |accessor| -> anyhow::Result<()> {
            let response = match service.handle(accessor, request).await? {
                Ok(response) => response,
                Err(code) => {
                    let _ = head_tx.send(Err(code));
                    return Ok(());
                }
            };
            let response = accessor.with(|store| response.into_http(store, async { Ok(()) }))?;
            let (parts, mut body) = response.into_parts();
            if head_tx.send(Ok(parts)).is_err() {
                return Ok(());
            }
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| BodyError::from(format!("guest body failed: {e:?}")));
                let failed = frame.is_err();
                if frame_tx.send(frame).await.is_err() || failed {
                    break;
                }
            }
            Ok(())
        })
        .await?
}

/// Reasons a request produced no guest response.
enum GuestFailure {
    BodyTooLarge(u64),
    Busy,
    BadRequest(anyhow::Error),
    Deadline,
    OutOfMemory,
    ErrorCode(String),
    Trap,
}

impl GuestFailure {
    fn into_response(self, component: &str) -> Response<HostBody> {
        match self {
            GuestFailure::BodyTooLarge(limit) => problem::response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body exceeds the limit of {limit} bytes"),
            ),
            GuestFailure::BadRequest(error) => {
                tracing::debug!(component, error = %format!("{error:#}"), "rejected request");
                problem::response(StatusCode::BAD_REQUEST, "the request could not be parsed")
            }
            // The guest task has already logged the cause of Busy and Trap failures.
            GuestFailure::Busy => {
                let mut response = problem::response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is at its limit of concurrent requests; retry shortly",
                );
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            GuestFailure::Deadline => problem::response(
                StatusCode::GATEWAY_TIMEOUT,
                "the request took longer than the host allows and was stopped",
            ),
            GuestFailure::OutOfMemory => problem::response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request needed more memory than the host allows and was stopped",
            ),
            GuestFailure::ErrorCode(code) => {
                tracing::warn!(component, code, "guest returned an HTTP error code");
                problem::response(StatusCode::BAD_GATEWAY, "the component could not answer")
            }
            GuestFailure::Trap => {
                problem::response(StatusCode::INTERNAL_SERVER_ERROR, "the component failed")
            }
        }
    }
}

fn is_instance_limit(error: &anyhow::Error) -> bool {
    // NOTE: the error may arrive wrapped by wasmtime's own error type, so the message is
    // checked as well as the type.
    error.chain().any(|cause| {
        cause.is::<wasmtime::PoolConcurrencyLimitError>()
            || cause.to_string().contains("maximum concurrent limit")
    })
}

fn is_deadline(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    )
}

fn content_length<B>(request: &Request<B>) -> Option<u64> {
    request
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Removes headers a client must not set: the `spin-*` headers the host computes, and a `Host`
/// naming a chaining address.
fn strip_untrusted_headers(headers: &mut http::HeaderMap) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
    if headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            host.split(':')
                .next()
                .unwrap_or("")
                .ends_with(".spin.internal")
        })
    {
        headers.remove(http::header::HOST);
    }
    headers.remove(http::header::CONNECTION);
}

/// Makes the URI absolute and adds the `spin-*` headers Spin sets.
fn prepare_request(
    request: Request<HostBody>,
    matched: Option<&RouteMatch>,
    origin: &Origin,
) -> anyhow::Result<Request<HostBody>> {
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let full_url = format!("{}://{}{}", origin.scheme, origin.authority, path_and_query);
    parts.uri = full_url.parse().context("invalid request URI")?;

    let mut set = |name: &str, value: &str| -> anyhow::Result<()> {
        parts.headers.insert(
            HeaderName::try_from(name)?,
            HeaderValue::try_from(value).context("header value")?,
        );
        Ok(())
    };
    set("spin-full-url", &full_url)?;
    set("spin-client-addr", &origin.client.to_string())?;
    set("spin-base-path", "/")?;
    if let Some(matched) = matched {
        set("spin-path-info", &matched.path_info)?;
        set("spin-matched-route", &matched.raw_route)?;
        set("spin-raw-component-route", &matched.raw_route)?;
        set("spin-component-route", &matched.route_prefix)?;
        for (name, value) in &matched.named {
            set(
                &format!("spin-path-match-{}", name.to_ascii_lowercase()),
                value,
            )?;
        }
    } else {
        set("spin-path-info", parts.uri.path())?;
    }
    Ok(Request::from_parts(parts, body))
}

fn build_engine(limits: &Limits) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    config.epoch_interruption(true);

    let mut pooling = wasmtime::PoolingAllocationConfig::new();
    pooling.total_component_instances(limits.max_instances);
    pooling.total_core_instances(limits.max_instances * 4);
    pooling.total_memories(limits.max_instances * 2);
    pooling.total_tables(limits.max_instances * 4);
    pooling.max_memory_size(limits.max_memory);
    pooling.max_memories_per_component(4);
    pooling.max_tables_per_component(16);
    pooling.max_core_instances_per_component(16);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));

    Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("failed to create the wasmtime engine")
}

#[expect(clippy::too_many_arguments, reason = "one call site, during loading")]
fn load_component(
    engine: &Engine,
    id: &str,
    source: &Path,
    component: &crate::manifest::Component,
    manifest: &Manifest,
    base: &Path,
    capabilities: &HashMap<String, Capabilities>,
    app: &Weak<App>,
    kv: &Arc<StoreManager>,
    clock: &TestClock,
) -> anyhow::Result<LoadedComponent> {
    let composed = compose::compose(id, component, manifest, base, source)?;
    let compiled = match &composed {
        Some(composed) => Component::new(engine, &composed.bytes),
        None => Component::from_file(engine, source),
    }
    .map_err(anyhow::Error::from)
    .with_context(|| {
        format!(
            "failed to load component {id:?} from {}: run `portal-host build` first",
            source.display()
        )
    })?;
    let mut linker = base_linker(engine)?;
    let satisfied = composed
        .map(|composed| composed.satisfied)
        .unwrap_or_default();
    dependencies::link(
        &mut linker,
        engine,
        id,
        component,
        manifest,
        base,
        capabilities,
        app,
        kv,
        clock,
        &satisfied,
    )?;
    let pre = linker
        .instantiate_pre(&compiled)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("component {id:?} imports something the host does not provide"))?;
    let pre = ServicePre::new(pre)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("component {id:?} does not export wasi:http/handler@0.3.0"))?;
    Ok(LoadedComponent {
        id: id.to_owned(),
        pre,
        capabilities: capabilities.get(id).cloned().unwrap_or_default(),
    })
}

/// Builds a linker with every interface the host offers. Capabilities are decided per instance
/// by the state, so a capability-free component can still be instantiated and is denied at use.
pub(crate) fn base_linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    kv::add_to_linker(&mut linker, |state: &mut HostState| &mut state.kv)?;
    variables::add_to_linker(&mut linker, |state: &mut HostState| &mut state.variables)?;
    Ok(linker)
}

/// Builds the state of a dependency instance: no stores, no variables, no network.
pub(crate) fn capability_free_state(
    component_id: &str,
    kv: &Arc<StoreManager>,
    clock: &TestClock,
    max_memory: usize,
) -> HostState {
    new_state(
        component_id,
        &Capabilities::default(),
        &Weak::new(),
        kv,
        clock,
        max_memory,
    )
}
