//! Sends notifications through the configured email/SMS gateway webhook.
//!
//! The text is always one of the generic messages written in the callers' source code: no
//! names, subjects, bodies, diagnoses or patient ids. The gateway learns only where to send
//! the message and a link to the portal.

/// Attempts per notification before it is dropped (and logged without its destination).
pub const MAX_ATTEMPTS: usize = 3;

/// How a notification reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An email address.
    Email,
    /// A phone number for SMS, in E.164 form.
    Sms,
}

/// Posts `{channel, to, text, link}` to the `notification_webhook_url` variable. An unset or
/// empty variable turns notifications off. Failures are retried up to [`MAX_ATTEMPTS`] times
/// and then logged. The function returns no error, so a failure cannot fail the caller's
/// action; it returns whether the gateway accepted the notice.
pub async fn send(channel: Channel, destination: &str, text: &'static str) -> bool {
    let Ok(url) = spin_sdk::variables::get("notification_webhook_url").await else {
        return false;
    };
    if url.is_empty() {
        return false;
    }
    let link = spin_sdk::variables::get("portal_public_url")
        .await
        .unwrap_or_default();
    let body =
        serde_json::json!({ "channel": channel, "to": destination, "text": text, "link": link })
            .to_string();
    for _ in 0..MAX_ATTEMPTS {
        let Ok(request) = http::Request::post(url.as_str())
            .header("content-type", "application/json")
            .body(spin_sdk::http::FullBody::new(bytes::Bytes::from(
                body.clone(),
            )))
        else {
            eprintln!("notification webhook URL is invalid");
            return false;
        };
        match spin_sdk::http::send(request).await {
            Ok(response) if response.status().is_success() => return true,
            Ok(response) => eprintln!(
                "notification webhook returned status {}",
                response.status().as_u16()
            ),
            Err(_) => eprintln!("notification webhook unreachable"),
        }
    }
    eprintln!("notification dropped after {MAX_ATTEMPTS} attempts");
    false
}
