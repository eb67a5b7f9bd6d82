//! Test guest: each route exercises one host capability and reports the outcome.

use bytes::Bytes;
use http_body_util::BodyExt;
use spin_sdk::experimental::wasi::keyvalue::{atomics, store};
use spin_sdk::http::{FullBody, IntoResponse, Request, StatusCode};
use spin_sdk::http_service;

mod dep {
    wit_bindgen::generate!({
        world: "portal:probe/probe-client",
        path: "../wit",
    });
}

type Response = spin_sdk::http::Response<FullBody<Bytes>>;

fn reply(status: u16, body: impl Into<String>) -> Response {
    let mut response = http::Response::new(FullBody::new(Bytes::from(body.into())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
}

fn query(request: &Request, name: &str) -> String {
    request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_default()
        .to_owned()
}

/// Handles the request and names the matched route in `x-probe-route`, so tests can tell which
/// component instance served it.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let route = request
        .headers()
        .get("spin-matched-route")
        .cloned()
        .unwrap_or(http::HeaderValue::from_static("none"));
    let mut response = route_request(request).await;
    response.headers_mut().insert("x-probe-route", route);
    response
}

async fn route_request(request: Request) -> Response {
    let path = request
        .headers()
        .get("spin-path-info")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match path.as_str() {
        "/hello" => reply(200, "hello from probe"),
        "/headers" => headers(&request),
        "/kv/open" => kv_open(&query(&request, "label")).await,
        "/kv/incr" => kv_incr(&query(&request, "key")),
        "/kv/cas" => kv_cas(&query(&request, "key")),
        "/kv/set" => kv_set(&query(&request, "key"), &query(&request, "value")).await,
        "/kv/get" => kv_get(&query(&request, "key")).await,
        "/kv/keys" => kv_keys().await,
        "/var" => variable(&query(&request, "name")).await,
        "/outbound" => outbound(&query(&request, "url")).await,
        "/post" => {
            let url = query(&request, "url");
            forward_post(&url, request).await
        }
        "/loop" => spin_forever(),
        "/memory" => allocate(query(&request, "mib").parse().unwrap_or(0)),
        "/clock" => clock(),
        "/tcp" => tcp(&query(&request, "addr")),
        "/echo" => echo(request).await,
        "/dep/store" => reply(
            200,
            dep::portal::probe::dep::try_open_store(&query(&request, "label")),
        ),
        "/dep/config" => reply(
            200,
            dep::portal::probe::dep::try_read_config(&query(&request, "name")),
        ),
        "/dep/reverse" => reply(
            200,
            dep::portal::probe::dep::reverse(&query(&request, "text")),
        ),
        "" => reply(200, "probe root"),
        other => reply(404, format!("probe has no route {other}")),
    }
}

fn headers(request: &Request) -> Response {
    let mut map = serde_json::Map::new();
    for (name, value) in request.headers() {
        if name.as_str().starts_with("spin-") {
            map.insert(
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().into(),
            );
        }
    }
    map.insert("uri".into(), request.uri().to_string().into());
    reply(200, serde_json::Value::Object(map).to_string())
}

async fn kv_open(label: &str) -> Response {
    match spin_sdk::key_value::Store::open(label).await {
        Ok(_) => reply(200, "opened"),
        Err(spin_sdk::key_value::Error::AccessDenied) => reply(403, "access-denied"),
        Err(spin_sdk::key_value::Error::NoSuchStore) => reply(404, "no-such-store"),
        Err(error) => reply(500, format!("{error:?}")),
    }
}

fn kv_incr(key: &str) -> Response {
    let bucket = match store::open("default") {
        Ok(bucket) => bucket,
        Err(error) => return reply(500, format!("{error:?}")),
    };
    match atomics::increment(&bucket, key, 1) {
        Ok(value) => reply(200, value.to_string()),
        Err(error) => reply(409, format!("{error:?}")),
    }
}

/// Adds one to a decimal counter with compare-and-swap, retrying on conflict.
fn kv_cas(key: &str) -> Response {
    let bucket = match store::open("default") {
        Ok(bucket) => bucket,
        Err(error) => return reply(500, format!("{error:?}")),
    };
    let mut cas = match atomics::Cas::new(&bucket, key) {
        Ok(cas) => cas,
        Err(error) => return reply(500, format!("{error:?}")),
    };
    for attempt in 1..=10_000 {
        let current = match cas.current() {
            Ok(value) => value,
            Err(error) => return reply(500, format!("{error:?}")),
        };
        let number: u64 = current
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        match atomics::swap(cas, (number + 1).to_string().as_bytes()) {
            Ok(()) => return reply(200, format!("{} {attempt}", number + 1)),
            Err(atomics::CasError::CasFailed(retry)) => cas = retry,
            Err(atomics::CasError::StoreError(error)) => return reply(500, format!("{error:?}")),
        }
    }
    reply(503, "gave up after 10000 conflicts")
}

async fn kv_set(key: &str, value: &str) -> Response {
    let result = async {
        let store = spin_sdk::key_value::Store::open_default().await?;
        store.set(key, value.as_bytes()).await
    };
    match result.await {
        Ok(()) => reply(200, "set"),
        Err(error) => reply(500, format!("{error:?}")),
    }
}

async fn kv_get(key: &str) -> Response {
    let result = async {
        let store = spin_sdk::key_value::Store::open_default().await?;
        store.get(key).await
    };
    match result.await {
        Ok(Some(value)) => reply(200, String::from_utf8_lossy(&value).into_owned()),
        Ok(None) => reply(404, "absent"),
        Err(error) => reply(500, format!("{error:?}")),
    }
}

async fn kv_keys() -> Response {
    let result = async {
        let store = spin_sdk::key_value::Store::open_default().await?;
        store.get_keys().await.collect().await
    };
    match result.await {
        Ok(keys) => reply(200, keys.join(",")),
        Err(error) => reply(500, format!("{error:?}")),
    }
}

async fn variable(name: &str) -> Response {
    match spin_sdk::variables::get(name).await {
        Ok(value) => reply(200, value),
        Err(error) => reply(404, format!("{error:?}")),
    }
}

async fn outbound(url: &str) -> Response {
    match spin_sdk::http::get(url).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            reply(200, format!("{status} {}", String::from_utf8_lossy(&body)))
        }
        Err(error) => reply(502, format!("{error:?}")),
    }
}

/// Sends this request's body as a POST to `url` and returns the response status and body.
async fn forward_post(url: &str, request: Request) -> Response {
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return reply(400, format!("{error:?}")),
    };
    match spin_sdk::http::post(url, body).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            reply(200, format!("{status} {}", String::from_utf8_lossy(&body)))
        }
        Err(error) => reply(502, format!("{error:?}")),
    }
}

fn spin_forever() -> Response {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
        if counter == u64::MAX {
            break;
        }
    }
    reply(200, "unreachable")
}

fn allocate(mib: usize) -> Response {
    let mut block = Vec::<u8>::new();
    if block.try_reserve_exact(mib << 20).is_err() {
        return reply(507, "allocation failed");
    }
    block.resize(mib << 20, 1);
    reply(
        200,
        format!("allocated {}", std::hint::black_box(block).len()),
    )
}

/// Opens a raw TCP connection through wasi:sockets and reads the first bytes.
fn tcp(address: &str) -> Response {
    use std::io::Read;
    let address: std::net::SocketAddr = match address.parse() {
        Ok(address) => address,
        Err(_) => return reply(400, "give addr=IP:PORT"),
    };
    match std::net::TcpStream::connect(address) {
        Ok(mut stream) => {
            let _ = std::io::Write::write_all(&mut stream, b"GET / HTTP/1.0\r\n\r\n");
            let mut first = [0u8; 12];
            let read = stream.read(&mut first).unwrap_or(0);
            reply(200, String::from_utf8_lossy(&first[..read]).into_owned())
        }
        Err(error) => reply(502, format!("{:?}", error.kind())),
    }
}

fn clock() -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    reply(200, now.to_string())
}

async fn echo(request: Request) -> Response {
    match request.into_body().collect().await {
        Ok(collected) => reply(200, collected.to_bytes().len().to_string()),
        Err(error) => reply(400, format!("{error:?}")),
    }
}
