//! A small S3 client: SigV4-signed `PUT`, `GET` and `DELETE` of whole objects over Spin
//! outbound HTTP.
//!
//! The endpoint, bucket, region and credentials come from the variables `s3_endpoint`,
//! `s3_bucket`, `s3_region`, `s3_access_key_id` and `s3_secret_access_key`; the endpoint's
//! origin must be in the component's `allowed_outbound_hosts`. Requests use path-style
//! addressing (`ENDPOINT/BUCKET/KEY`), which AWS S3, R2, MinIO and Garage all accept, and sign
//! the SHA-256 of the payload, so a proxy cannot swap an object's bytes on the way.
//!
//! Callers store only ciphertext: this client does not encrypt.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64ct::{Base64, Encoding};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The reason an object operation failed. The detail goes to the log, and callers return 503.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// A variable is missing or malformed.
    #[error("object storage is not configured: {0}")]
    Config(&'static str),
    /// Signing failed.
    #[error("could not sign the request")]
    Signing,
    /// The endpoint could not be reached.
    #[error("object storage unreachable")]
    Unreachable,
    /// A write-once key already has an object.
    #[error("object already exists")]
    Exists,
    /// The endpoint returned an unexpected status.
    #[error("object storage returned status {0}")]
    Status(u16),
}

/// A bucket on an S3-compatible endpoint, with the credentials that sign requests to it.
pub struct ObjectStore {
    endpoint: String,
    bucket: String,
    region: String,
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// Reads the store's settings from the component's variables.
    pub async fn from_variables() -> Result<Self, ObjectError> {
        let get = |name: &'static str| async move {
            spin_sdk::variables::get(name)
                .await
                .ok()
                .filter(|value| !value.is_empty())
                .ok_or(ObjectError::Config(name))
        };
        let endpoint = get("s3_endpoint").await?;
        let bucket = get("s3_bucket").await?;
        if !bucket
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b".-".contains(&byte))
        {
            return Err(ObjectError::Config("s3_bucket"));
        }
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            bucket,
            region: get("s3_region").await?,
            access_key_id: get("s3_access_key_id").await?,
            secret_access_key: Zeroizing::new(get("s3_secret_access_key").await?),
        })
    }

    /// Stores `body` under `key`. With `write_once`, the request carries `If-None-Match: *`,
    /// so an existing object is never replaced and [`ObjectError::Exists`] is returned.
    ///
    /// Every put carries the body's SHA-256 in `x-amz-checksum-sha256`: the server checks it
    /// before storing, and buckets with Object Lock refuse puts without such a checksum.
    pub async fn put(&self, key: &str, body: Vec<u8>, write_once: bool) -> Result<(), ObjectError> {
        let checksum = Base64::encode_string(&Sha256::digest(&body));
        let mut extra = vec![("x-amz-checksum-sha256", checksum.as_str())];
        if write_once {
            extra.push(("if-none-match", "*"));
        }
        let response = self.send("PUT", key, &extra, Bytes::from(body)).await?;
        match response.status().as_u16() {
            200 | 201 | 204 => Ok(()),
            412 | 409 if write_once => Err(ObjectError::Exists),
            status => Err(ObjectError::Status(status)),
        }
    }

    /// Reads the object under `key`; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        let response = self.send("GET", key, &[], Bytes::new()).await?;
        match response.status().as_u16() {
            200 => {
                let body = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .map_err(|_| ObjectError::Unreachable)?
                    .to_bytes();
                Ok(Some(body.to_vec()))
            }
            404 => Ok(None),
            status => Err(ObjectError::Status(status)),
        }
    }

    /// Deletes the object under `key`. Deleting a missing object succeeds, as in S3.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let response = self.send("DELETE", key, &[], Bytes::new()).await?;
        match response.status().as_u16() {
            200 | 204 | 404 => Ok(()),
            status => Err(ObjectError::Status(status)),
        }
    }

    async fn send(
        &self,
        method: &'static str,
        key: &str,
        extra_headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<spin_sdk::http::Response, ObjectError> {
        let url = self.url(key)?;
        // S3 refuses a chunked upload without a length, so every request states it.
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::CONTENT_LENGTH, body.len());
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        let mut request = request
            .body(spin_sdk::http::FullBody::new(body.clone()))
            .map_err(|_| ObjectError::Config("s3_endpoint"))?;
        self.sign(&mut request, &url, &body)?;
        spin_sdk::http::send(request).await.map_err(|_| {
            eprintln!("object storage unreachable");
            ObjectError::Unreachable
        })
    }

    fn url(&self, key: &str) -> Result<String, ObjectError> {
        // The components generate keys from [A-Za-z0-9/_-], so anything else is rejected
        // rather than percent-encoded.
        if key.is_empty()
            || !key
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"/_-".contains(&byte))
        {
            return Err(ObjectError::Config("object key"));
        }
        Ok(format!("{}/{}/{key}", self.endpoint, self.bucket))
    }

    fn sign<B>(
        &self,
        request: &mut http::Request<B>,
        url: &str,
        body: &[u8],
    ) -> Result<(), ObjectError> {
        let identity = Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.as_str().to_owned(),
            None,
            None,
            "portal-variables",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|_| ObjectError::Signing)?
            .into();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            url,
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|_| ObjectError::Signing)?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|_| ObjectError::Signing)?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}
