//! The portal's manifest loads under the host, and every component responds on its prefix.

use portal_e2e::Portal;

#[tokio::test(flavor = "multi_thread")]
async fn every_component_answers_its_health_route() {
    let portal = Portal::start()
        .await
        .unwrap_or_else(|e| panic!("portal failed to start (build the components first): {e:#}"));
    let client = reqwest::Client::new();
    for (path, component) in [
        ("/auth/health", "auth"),
        ("/messages/health", "messaging"),
        ("/files/health", "uploads"),
        ("/audit/health", "audit"),
    ] {
        let response = client
            .get(portal.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(body["component"], component, "{path}");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_reaches_the_linked_sanitizer() {
    let portal = Portal::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    let body: serde_json::Value = reqwest::get(portal.url("/files/health"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    // The health route hands the sanitizer a short text through the WIT import.
    assert_eq!(body["sanitizer"]["verdict"], "clean");
    assert_eq!(
        body["sanitizer"]["detected_type"],
        "text/plain; charset=utf-8"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_get_problem_documents() {
    let portal = Portal::start().await.unwrap_or_else(|e| panic!("{e:#}"));
    for path in ["/auth/no-such-endpoint", "/nowhere"] {
        let response = reqwest::get(portal.url(path))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), 404, "{path}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(content_type, "application/problem+json", "{path}");
        let problem: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(problem["status"], 404, "{path}");
        assert!(problem["detail"].is_string(), "{path}");
    }
}
