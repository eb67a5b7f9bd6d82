//! A portal with its first admin, and helpers that add patients, clinicians and care teams,
//! for tests that need people before they can test anything.
#![expect(
    clippy::expect_used,
    reason = "test setup reports a failure by panicking"
)]

use serde_json::json;

use crate::Portal;
use crate::client::{Client, Clock};

/// The password every test user signs in with.
pub const PASSWORD: &str = "correct horse battery staple";

/// The bootstrap secret the world starts its portal with.
pub const BOOTSTRAP: &str = "bootstrap-secret-for-this-test-only";

/// A running portal, its test clock and its signed-in admin (with TOTP).
pub struct World {
    /// The portal.
    pub portal: Portal,
    /// The clock every client signs proofs with.
    pub clock: Clock,
    /// The first admin.
    pub admin: Client,
}

impl World {
    /// Starts a portal with `overrides` and the test clock, and bootstraps the admin.
    pub async fn start(overrides: &[(&str, &str)]) -> World {
        let mut all = vec![("bootstrap_secret", BOOTSTRAP)];
        all.extend_from_slice(overrides);
        let portal = Portal::start_with(&all, true).await.expect("portal starts");
        let clock = Clock::default();
        let mut admin = Client::new(&portal.url(""), &clock);
        let created = admin
            .send(
                "POST",
                "/auth/bootstrap",
                Some(json!({
                    "bootstrap_secret": BOOTSTRAP,
                    "email": "root@example.org",
                    "password": PASSWORD,
                })),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        assert_eq!(admin.login("root@example.org", PASSWORD).await.status, 200);
        assert_eq!(admin.enrol_totp().await.status, 200);
        World {
            portal,
            clock,
            admin,
        }
    }

    /// Returns a new client of this portal that is not signed in.
    pub fn client(&self) -> Client {
        Client::new(&self.portal.url(""), &self.clock)
    }

    /// Registers and signs in a patient; returns the client and the user id.
    pub async fn patient(&self, email: &str) -> (Client, String) {
        let mut client = self.client();
        let registered = client
            .send(
                "POST",
                "/auth/register",
                Some(json!({ "email": email, "password": PASSWORD })),
            )
            .await;
        assert_eq!(registered.status, 202);
        assert_eq!(client.login(email, PASSWORD).await.status, 200);
        let id = user_id(&client).await;
        (client, id)
    }

    /// Invites a user with `role`, who accepts, signs in and enrols TOTP.
    pub async fn staff(&self, email: &str, role: &str) -> (Client, String) {
        let invitation = self
            .admin
            .send(
                "POST",
                "/auth/invitations",
                Some(json!({ "email": email, "role": role })),
            )
            .await;
        assert_eq!(invitation.status, 201, "{:?}", invitation.body);
        let mut client = self.client();
        let accepted = client
            .send(
                "POST",
                "/auth/invitations/accept",
                Some(json!({ "invitation": invitation.body["invitation"], "password": PASSWORD })),
            )
            .await;
        assert_eq!(accepted.status, 201, "{:?}", accepted.body);
        assert_eq!(client.login(email, PASSWORD).await.status, 200);
        assert_eq!(client.enrol_totp().await.status, 200);
        let id = user_id(&client).await;
        (client, id)
    }

    /// Creates a care team with `members` (user ids of clinicians and patients).
    pub async fn care_team(&self, name: &str, members: &[&str]) -> String {
        let team = self
            .admin
            .send(
                "POST",
                "/auth/care-teams",
                Some(json!({ "name": name, "response_hours": 24 })),
            )
            .await;
        assert_eq!(team.status, 201, "{:?}", team.body);
        let id = team.body["id"].as_str().expect("team id").to_owned();
        for member in members {
            self.add_member(&id, member).await;
        }
        id
    }

    /// Adds a user to a care team.
    pub async fn add_member(&self, team: &str, member: &str) {
        let path = format!("/auth/care-teams/{team}/members/{member}");
        let added = self.admin.send("PUT", &path, None).await;
        assert_eq!(added.status, 200, "{:?}", added.body);
    }

    /// Removes a user from a care team.
    pub async fn remove_member(&self, team: &str, member: &str) {
        let path = format!("/auth/care-teams/{team}/members/{member}");
        let removed = self.admin.send("DELETE", &path, None).await;
        assert_eq!(removed.status, 200, "{:?}", removed.body);
    }
}

/// Returns the signed-in user's id, from `GET /auth/me`.
pub async fn user_id(client: &Client) -> String {
    let me = client.send("GET", "/auth/me", None).await;
    me.body["user_id"].as_str().expect("user id").to_owned()
}
