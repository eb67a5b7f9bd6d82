//! A portal client as a browser or app would be: it holds a DPoP key, signs a proof for
//! every request (RFC 9449), keeps its tokens, and computes TOTP codes like an
//! authenticator app.
//!
//! It is test support: a portal that misbehaves should fail the test at once, so it panics.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64ct::{Base64UrlUnpadded, Encoding};
use portal_auth::totp::{self, TotpSecret};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The host's test clock offset, shared by every client of one portal, so proofs and TOTP
/// codes use the time the components see. It also carries the HTTP client those clients
/// share, which trusts the portal's certificate when it serves HTTPS.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
    http: reqwest::Client,
}

impl Clock {
    /// A clock whose clients connect with `http`, such as a client that trusts a test
    /// certificate.
    pub fn with_http(http: reqwest::Client) -> Self {
        Self {
            offset_secs: Arc::default(),
            http,
        }
    }

    /// The portal's current Unix time.
    pub fn now(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or_default();
        real + self.offset_secs.load(Ordering::SeqCst)
    }

    /// Moves the portal's clock forward through the host's test clock route.
    pub async fn advance(&self, base_url: &str, seconds: i64) {
        let response = self
            .http
            .post(format!(
                "{base_url}/.well-known/portal-host/test-clock?advance_secs={seconds}"
            ))
            .send()
            .await
            .expect("test clock reachable");
        assert_eq!(response.status(), 200, "test clock must be enabled");
        self.offset_secs.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// An Ed25519 DPoP key. A clone is the same device, as two tabs of one browser are.
#[derive(Clone)]
pub struct DpopKey {
    pair: ed25519_compact::KeyPair,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey").finish_non_exhaustive()
    }
}

impl Default for DpopKey {
    fn default() -> Self {
        Self::generate()
    }
}

impl DpopKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self {
            pair: ed25519_compact::KeyPair::generate(),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": Base64UrlUnpadded::encode_string(self.pair.pk.as_ref()),
        })
    }

    /// The key's JWK SHA-256 thumbprint (RFC 7638), as access tokens carry it in `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        portal_tokens::jwk_thumbprint(&self.jwk().to_string()).expect("valid JWK")
    }

    /// Signs a proof for `method` and `url` at `iat`, bound to `access_token` if given.
    pub fn proof(&self, method: &str, url: &str, iat: i64, access_token: Option<&str>) -> String {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).expect("randomness");
        let header = json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": self.jwk() });
        let mut claims = json!({
            "jti": Base64UrlUnpadded::encode_string(&jti),
            "htm": method,
            "htu": url,
            "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = json!(Base64UrlUnpadded::encode_string(&Sha256::digest(
                token.as_bytes()
            )));
        }
        let input = format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(header.to_string().as_bytes()),
            Base64UrlUnpadded::encode_string(claims.to_string().as_bytes())
        );
        let signature = self.pair.sk.sign(input.as_bytes(), None);
        format!(
            "{input}.{}",
            Base64UrlUnpadded::encode_string(signature.as_ref())
        )
    }
}

/// A response as the tests inspect it.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body parsed as JSON, or `Value::Null` when empty or not JSON.
    pub body: Value,
}

impl Reply {
    /// The problem type's slug, such as `unauthenticated`, for problem responses.
    pub fn problem_type(&self) -> &str {
        self.body["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:portal:problem:")
    }
}

/// One user's client on one device.
pub struct Client {
    /// Base URL of the portal, such as `http://127.0.0.1:1234`.
    pub base: String,
    /// The portal's clock.
    pub clock: Clock,
    /// The device key.
    pub key: DpopKey,
    http: reqwest::Client,
    /// Current access token.
    pub access_token: Option<String>,
    /// Current refresh token.
    pub refresh_token: Option<String>,
    /// TOTP secret, once enrolled.
    pub totp: Option<TotpSecret>,
    /// Recovery codes, once enrolled.
    pub recovery_codes: Vec<String>,
    /// The origin proofs name, when the portal is configured with a public origin other than
    /// the address the client connects to.
    pub proof_origin: Option<String>,
}

impl Client {
    /// A client with a new device key.
    pub fn new(base: &str, clock: &Clock) -> Self {
        Self {
            base: base.to_owned(),
            clock: clock.clone(),
            key: DpopKey::generate(),
            http: clock.http.clone(),
            access_token: None,
            refresh_token: None,
            totp: None,
            recovery_codes: Vec::new(),
            proof_origin: None,
        }
    }

    /// Sends a request with a DPoP proof, and the access token if the client has one.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.base);
        let origin = self.proof_origin.as_deref().unwrap_or(&self.base);
        let proof_url = format!("{origin}{}", path.split('?').next().unwrap_or(path));
        let token = self.access_token.as_deref();
        let proof = self.key.proof(method, &proof_url, self.clock.now(), token);
        self.send_raw(method, &url, body, token, Some(&proof)).await
    }

    /// Sends a request with exactly the credentials given.
    pub async fn send_raw(
        &self,
        method: &str,
        url: &str,
        body: Option<Value>,
        token: Option<&str>,
        proof: Option<&str>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.header("authorization", format!("DPoP {token}"));
        }
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("portal reachable");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends `body` as raw bytes with `headers`, with the client's credentials, and returns
    /// the reply parsed as JSON.
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let (status, response_headers, bytes) =
            self.exchange(method, path, Some(body), headers).await;
        Reply {
            status,
            headers: response_headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Sends a GET with credentials and returns the status, headers and raw body.
    pub async fn fetch(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        self.exchange("GET", path, None, &[]).await
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let url = format!("{}{path}", self.base);
        let origin = self.proof_origin.as_deref().unwrap_or(&self.base);
        let proof_url = format!("{origin}{}", path.split('?').next().unwrap_or(path));
        let token = self.access_token.as_deref();
        let proof = self.key.proof(method, &proof_url, self.clock.now(), token);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, &url).header("dpop", proof);
        if let Some(token) = token {
            request = request.header("authorization", format!("DPoP {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("portal reachable");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        (status, headers, bytes.to_vec())
    }

    /// Sends a GET with credentials and returns the status and the body as text, for
    /// responses that are not JSON.
    pub async fn send_text(&self, path: &str) -> (u16, String) {
        let url = format!("{}{path}", self.base);
        let origin = self.proof_origin.as_deref().unwrap_or(&self.base);
        let proof_url = format!("{origin}{}", path.split('?').next().unwrap_or(path));
        let token = self.access_token.as_deref();
        let proof = self.key.proof("GET", &proof_url, self.clock.now(), token);
        let mut request = self.http.get(&url).header("dpop", proof);
        if let Some(token) = token {
            request = request.header("authorization", format!("DPoP {token}"));
        }
        let response = request.send().await.expect("portal reachable");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// The current TOTP code, as an authenticator app shows it.
    pub fn totp_code(&self) -> String {
        let secret = self.totp.as_ref().expect("TOTP enrolled");
        totp::code_at_step(secret, totp::step_at(self.clock.now()))
    }

    /// Keeps the tokens from a sign-in or refresh reply.
    pub fn keep_tokens(&mut self, reply: &Reply) {
        if let Some(token) = reply.body["access_token"].as_str() {
            self.access_token = Some(token.to_owned());
        }
        if let Some(token) = reply.body["refresh_token"].as_str() {
            self.refresh_token = Some(token.to_owned());
        }
    }

    /// Signs in with password and, if enrolled, the current TOTP code.
    pub async fn login(&mut self, email: &str, password: &str) -> Reply {
        let mut body = json!({ "email": email, "password": password });
        if self.totp.is_some() {
            body["totp_code"] = json!(self.totp_code());
        }
        let saved = self.access_token.take();
        let reply = self.send("POST", "/auth/login", Some(body)).await;
        if reply.status == 200 {
            self.keep_tokens(&reply);
        } else {
            self.access_token = saved;
        }
        reply
    }

    /// Enrols TOTP and confirms it, keeping the secret, recovery codes and new token.
    pub async fn enrol_totp(&mut self) -> Reply {
        let started = self.send("POST", "/auth/totp/enrol", None).await;
        assert_eq!(started.status, 200, "enrol: {:?}", started.body);
        let uri = started.body["otpauth_uri"].as_str().expect("otpauth URI");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        let secret = started.body["secret"].as_str().expect("secret");
        let bytes = data_encoding::BASE32_NOPAD
            .decode(secret.as_bytes())
            .expect("base32 secret");
        self.totp = Some(TotpSecret::from_bytes(&bytes));
        let code = self.totp_code();
        let confirmed = self
            .send(
                "POST",
                "/auth/totp/confirm",
                Some(json!({ "totp_code": code })),
            )
            .await;
        if confirmed.status == 200 {
            self.keep_tokens(&confirmed);
            self.recovery_codes = confirmed.body["recovery_codes"]
                .as_array()
                .expect("recovery codes")
                .iter()
                .map(|code| code.as_str().unwrap_or_default().to_owned())
                .collect();
        }
        confirmed
    }

    /// Refreshes the tokens with the stored refresh token.
    pub async fn refresh(&mut self) -> Reply {
        let token = self.refresh_token.clone().expect("refresh token");
        let saved = self.access_token.take();
        let reply = self
            .send(
                "POST",
                "/auth/token",
                Some(json!({ "refresh_token": token })),
            )
            .await;
        if reply.status == 200 {
            self.keep_tokens(&reply);
        } else {
            self.access_token = saved;
        }
        reply
    }
}
