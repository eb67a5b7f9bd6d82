//! The S3 calls a backup needs: list a bucket, get and put an object, signed with SigV4.

use std::time::SystemTime;

use anyhow::{Context, bail};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

/// An S3-compatible endpoint and the credentials to use it.
pub struct ObjectStore {
    endpoint: url::Url,
    region: String,
    identity: aws_smithy_runtime_api::client::identity::Identity,
    http: reqwest::Client,
}

impl ObjectStore {
    /// Creates a client of `endpoint` (path-style URLs) in `region`.
    pub fn new(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> anyhow::Result<Self> {
        let endpoint =
            url::Url::parse(endpoint).context("the s3_endpoint variable is not a URL")?;
        let identity = aws_credential_types::Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "portal-host",
        )
        .into();
        Ok(Self {
            endpoint,
            region: region.to_owned(),
            identity,
            http: reqwest::Client::new(),
        })
    }

    /// Returns the path-style URL of `bucket` or of `key` in it. Every segment is encoded
    /// as SigV4 encodes it for S3 (all but `A-Za-z0-9-._~`), so the path signed is the path
    /// the server rebuilds.
    fn url(&self, bucket: &str, key: Option<&str>) -> anyhow::Result<url::Url> {
        const SIGV4: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let mut path = self.endpoint.path().trim_end_matches('/').to_owned();
        for segment in std::iter::once(bucket).chain(key.into_iter().flat_map(|key| key.split('/')))
        {
            path.push('/');
            path.extend(percent_encoding::utf8_percent_encode(segment, SIGV4));
        }
        let mut url = self.endpoint.clone();
        url.set_path(&path);
        Ok(url)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<reqwest::Response> {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .context("S3 signing parameters")?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url.as_str(),
            headers.iter().map(|(name, value)| (*name, value.as_str())),
            SignableBody::Bytes(&body),
        )
        .context("S3 request cannot be signed")?;
        let (instructions, _) = sign(signable, &params)
            .context("S3 request signing failed")?
            .into_parts();
        let mut signed = http::Request::builder()
            .method(method.as_str())
            .uri(url.as_str())
            .body(())
            .context("S3 request")?;
        instructions.apply_to_request_http1x(&mut signed);
        let mut request = self.http.request(method, url.clone()).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        for (name, value) in signed.headers() {
            request = request.header(name, value);
        }
        request
            .send()
            .await
            .with_context(|| format!("object storage at {} unreachable", self.endpoint))
    }

    /// Lists every key in `bucket`, following continuation tokens.
    pub async fn list(&self, bucket: &str) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = self.url(bucket, None)?;
            url.query_pairs_mut().append_pair("list-type", "2");
            if let Some(token) = &token {
                url.query_pairs_mut()
                    .append_pair("continuation-token", token);
            }
            let response = self
                .send(reqwest::Method::GET, url, Vec::new(), &[])
                .await?;
            let status = response.status();
            let text = response.text().await?;
            if !status.is_success() {
                bail!("listing bucket {bucket:?} failed with status {status}");
            }
            let page = parse_listing(&text)
                .with_context(|| format!("unreadable listing of bucket {bucket:?}"))?;
            keys.extend(page.keys);
            match page.next {
                Some(next) if page.truncated => token = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    /// Reads one object.
    pub async fn get(&self, bucket: &str, key: &str) -> anyhow::Result<Vec<u8>> {
        let url = self.url(bucket, Some(key))?;
        let response = self
            .send(reqwest::Method::GET, url, Vec::new(), &[])
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!("reading object {key:?} from bucket {bucket:?} failed with status {status}");
        }
        Ok(response.bytes().await?.to_vec())
    }

    /// Writes one object only if the key is free, with its SHA-256 for the server to check
    /// (which buckets with Object Lock require).
    pub async fn put(&self, bucket: &str, key: &str, content: &[u8]) -> anyhow::Result<()> {
        let url = self.url(bucket, Some(key))?;
        let checksum = Base64::encode_string(&Sha256::digest(content));
        let headers = [
            ("if-none-match", "*".to_owned()),
            ("x-amz-checksum-sha256", checksum),
        ];
        let response = self
            .send(reqwest::Method::PUT, url, content.to_vec(), &headers)
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!("writing object {key:?} to bucket {bucket:?} failed with status {status}");
        }
        Ok(())
    }
}

struct Listing {
    keys: Vec<String>,
    truncated: bool,
    next: Option<String>,
}

/// Reads the keys, `IsTruncated` and `NextContinuationToken` of a ListObjectsV2 response.
fn parse_listing(xml: &str) -> anyhow::Result<Listing> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut listing = Listing {
        keys: Vec::new(),
        truncated: false,
        next: None,
    };
    // Text may arrive in pieces around entity references (`&amp;`), so it is collected per
    // element and used when the element ends.
    let mut text = String::new();
    loop {
        match reader.read_event()? {
            Event::Start(start) => {
                path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                text.clear();
            }
            Event::Text(piece) => text.push_str(&piece.decode()?),
            Event::GeneralRef(reference) => match reference.resolve_char_ref()? {
                Some(character) => text.push(character),
                None => {
                    let name = reference.decode()?;
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                        .with_context(|| format!("unknown entity &{name};"))?;
                    text.push_str(resolved);
                }
            },
            Event::End(_) => {
                let value = std::mem::take(&mut text);
                match path
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    [.., "Contents", "Key"] => listing.keys.push(value),
                    [_, "IsTruncated"] => listing.truncated = value.trim() == "true",
                    [_, "NextContinuationToken"] => listing.next = Some(value),
                    _ => {}
                }
                path.pop();
            }
            Event::Eof => return Ok(listing),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ObjectStore, parse_listing};

    #[test]
    fn object_paths_use_sigv4_encoding() -> anyhow::Result<()> {
        let store = ObjectStore::new("http://127.0.0.1:9000/base/", "us-east-1", "id", "secret")?;
        let url = store.url("portal", Some("files/a b+c!(1)~x.y_z-"))?;
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9000/base/portal/files/a%20b%2Bc%21%281%29~x.y_z-"
        );
        Ok(())
    }

    #[test]
    fn listing_keys_and_continuation_are_read() -> anyhow::Result<()> {
        let xml = "<?xml version=\"1.0\"?><ListBucketResult><Name>portal</Name>\
            <IsTruncated>true</IsTruncated><NextContinuationToken>abc</NextContinuationToken>\
            <Contents><Key>files/a&amp;b</Key><Size>3</Size></Contents>\
            <Contents><Key>audit-checkpoints/7</Key></Contents></ListBucketResult>";
        let listing = parse_listing(xml)?;
        assert_eq!(listing.keys, ["files/a&b", "audit-checkpoints/7"]);
        assert!(listing.truncated);
        assert_eq!(listing.next.as_deref(), Some("abc"));
        Ok(())
    }
}
