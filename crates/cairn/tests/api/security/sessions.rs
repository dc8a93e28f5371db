//! Ending sessions: a password change ends every other sign-in of the user and keeps the
//! one it was made from; a role change and disabling end them all. "Ended" covers refresh
//! tokens, web UI sessions, provider (hosted sign-in) sessions, and access tokens already
//! issued, which the revocation epoch refuses.

use std::time::Duration;

use cairn_domain::Role;
use cairn_identity::NewClient;
use cairn_testkit::browser::{Browser, Page};
use cairn_testkit::{TestApp, TestTenant, backend_test, eventually};
use serde_json::{Value, json};

const PASSWORD: &str = "velvet orbit canyon";
const NEW_PASSWORD: &str = "lilac pepper harbor";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// How long an ended session's access token may still pass in one process (the change's
/// own process refuses it at once; this is the deadline of waiting for that).
const AT_ONCE: Duration = Duration::from_secs(5);

/// A tenant with the member ann, and a confidential application ann signs in to.
struct Fixture {
    app: TestApp,
    acme: TestTenant,
    ann: String,
    client_id: String,
    secret: String,
}

async fn fixture(backend: cairn_testkit::Backend) -> Fixture {
    fixture_on(TestApp::spawn(backend).await).await
}

async fn fixture_on(app: TestApp) -> Fixture {
    let acme = app.create_tenant("acme").await;
    let ann = app.create_user(&acme, "ann@acme.test", PASSWORD, &[Role::Member]).await.id;
    let new = NewClient {
        name: "Acme app".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_uris: vec![],
        public: false,
        service_role: None,
    };
    let (client_id, secret) = app.create_client(&acme, new).await;
    Fixture { app, acme, ann, client_id, secret: secret.expect("a confidential client has a secret") }
}

impl Fixture {
    fn admin(&self) -> String {
        self.app.token(&self.acme, Role::Admin)
    }

    /// Ann signs in to the application in a browser of her own: a provider session and a
    /// refresh-token family. Returns the token response.
    async fn app_sign_in(&self) -> Value {
        let browser = Browser::new(&self.app.base_url);
        let mut u = url::Url::parse(&self.app.url("/oauth2/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid email profile");
        let form = browser.get(u.as_str()).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let done = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
        let code = done.redirect_param("code").unwrap_or_else(|| panic!("a code: {} {}", done.status, done.body));
        let resp =
            self.token(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    async fn token(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let url = self.app.url("/oauth2/token");
        self.app.client.post(url).basic_auth(&self.client_id, Some(&self.secret)).form(fields).send().await.unwrap()
    }

    async fn refresh(&self, tokens: &Value) -> reqwest::Response {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())])
            .await
    }

    /// The status of `GET /api/v1/me` with `tokens`' access token.
    async fn me(&self, tokens: &Value) -> u16 {
        let access = tokens["access_token"].as_str().unwrap();
        self.app.get("/api/v1/me", access).send().await.unwrap().status().as_u16()
    }

    /// Waits until `tokens`' access token is refused, as the epoch makes it at once in the
    /// process that ended the sessions.
    async fn refused(&self, tokens: &Value, what: &str) {
        eventually(what, AT_ONCE, || async { (self.me(tokens).await == 401).then_some(()) }).await;
    }

    /// Ann signs in to the web UI in `browser`; returns the first page.
    async fn web_sign_in(&self, browser: &Browser) -> Page {
        let form = browser.follow(browser.get("/t/acme/").await).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let done = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let page = browser.follow(done).await;
        assert!(page.body.contains("<h1>Numbers</h1>"), "{}", page.body);
        page
    }

    /// The details of the newest audit entry of `action`.
    async fn audited(&self, action: &str) -> Value {
        let resp = self.app.get(&format!("/api/v1/audit?action={action}"), &self.admin()).send().await.unwrap();
        let entries: Value = resp.json().await.unwrap();
        entries["items"][0]["details"].clone()
    }
}

async fn invalid_grant(resp: reqwest::Response) -> bool {
    resp.status() == 400 && resp.json::<Value>().await.unwrap()["error"] == "invalid_grant"
}

/// Whether the browser's web session is gone, and with it the provider session behind it:
/// the page sends it to sign in, and signing in asks for the password again.
async fn signed_out(app: &TestApp, browser: &Browser) -> bool {
    let page = browser.get("/app/numbers").await;
    if page.status != 303 || page.location.as_deref() != Some(app.url("/t/acme/").as_str()) {
        return false;
    }
    let again = browser.follow(page).await;
    again.status == 200 && again.body.contains("name=\"password\"")
}

backend_test!(async fn a_password_change_on_the_profile_page_ends_the_other_sessions_and_keeps_this_one(backend) {
    let f = fixture(backend).await;
    let here = Browser::new(&f.app.base_url);
    let page = f.web_sign_in(&here).await;
    let there = Browser::new(&f.app.base_url);
    f.web_sign_in(&there).await;
    let elsewhere = f.app_sign_in().await;
    assert_eq!(f.me(&elsewhere).await, 200);

    let csrf = page.input("csrf").unwrap();
    let changed = here
        .post_form("/app/profile/password", &[("csrf", &csrf), ("current_password", PASSWORD), ("new_password", NEW_PASSWORD)])
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);

    // This browser stays signed in, to the web UI and at the provider (no password asked).
    assert_eq!(here.get("/app/numbers").await.status, 200);
    let back = here.follow(here.get("/t/acme/").await).await;
    assert!(back.body.contains("<h1>Numbers</h1>"), "{}", back.body);
    // The other browser is signed out of both.
    assert!(signed_out(&f.app, &there).await, "the other browser's web session survived");
    // The application's sign-in is over: its refresh token and its access token.
    assert!(invalid_grant(f.refresh(&elsewhere).await).await, "the other refresh token still works");
    f.refused(&elsewhere, "the other sign-in's access token to be refused").await;
    // Two sign-ins ended, each a refresh-token family and a provider session.
    assert_eq!(f.audited("user.password_changed").await["sessions_revoked"], 4);
});

backend_test!(async fn a_password_change_through_the_api_keeps_only_the_callers_sign_in(backend) {
    let f = fixture(backend).await;
    let mine = f.app_sign_in().await;
    let other = f.app_sign_in().await;
    let access = mine["access_token"].as_str().unwrap();
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let resp = f.app.client.put(f.app.url("/api/v1/me/password")).bearer_auth(access).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 204);

    // The caller's token keeps working, and so does its refresh, at once (same second).
    assert_eq!(f.me(&mine).await, 200);
    let refreshed = f.refresh(&mine).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(f.me(&refreshed).await, 200, "a token issued right after the change works");
    // The other sign-in ended: refresh, API, userinfo and introspection all say so.
    assert!(invalid_grant(f.refresh(&other).await).await, "the other refresh token still works");
    f.refused(&other, "the other access token to be refused").await;
    let other_access = other["access_token"].as_str().unwrap();
    let info = f.app.client.get(f.app.url("/oauth2/userinfo")).bearer_auth(other_access).send().await.unwrap();
    assert_eq!(info.status(), 401);
    let introspected: Value = f
        .app
        .client
        .post(f.app.url("/oauth2/introspect"))
        .basic_auth(&f.client_id, Some(&f.secret))
        .form(&[("token", other_access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false);
    assert_eq!(f.audited("user.password_changed").await["sessions_revoked"], 3, "the other family, two provider sessions");
});

backend_test!(async fn a_role_change_ends_every_session_of_the_user(backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.app.base_url);
    f.web_sign_in(&browser).await;
    let before = f.app_sign_in().await;
    assert_eq!(f.me(&before).await, 200);
    let resp = f
        .app
        .client
        .put(f.app.url(&format!("/api/v1/users/{}/roles", f.ann)))
        .bearer_auth(f.admin())
        .json(&json!({"roles": ["readonly"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    assert!(invalid_grant(f.refresh(&before).await).await, "the refresh token survived a role change");
    f.refused(&before, "the member's access token to be refused").await;
    assert!(signed_out(&f.app, &browser).await, "the web session survived a role change");
    // Signing in again right away works, with the new role.
    let after = f.app_sign_in().await;
    assert_eq!(f.me(&after).await, 200, "a token issued right after the change works");
    let claims = jwt_claims(after["access_token"].as_str().unwrap());
    assert_eq!(claims["cairn/roles"], json!(["readonly"]));
    assert_eq!(f.audited("user.role_changed").await["sessions_revoked"], 4);
});

backend_test!(async fn disabling_refuses_the_users_access_tokens(backend) {
    let f = fixture(backend).await;
    let before = f.app_sign_in().await;
    assert_eq!(f.me(&before).await, 200);
    let disable = f.app.url(&format!("/api/v1/users/{}/disable", f.ann));
    assert_eq!(f.app.client.post(disable).bearer_auth(f.admin()).send().await.unwrap().status(), 200);

    f.refused(&before, "the disabled user's access token to be refused").await;
    assert!(invalid_grant(f.refresh(&before).await).await);
    assert_eq!(f.audited("user.disabled").await["sessions_revoked"], 2);
    // Enabled again, ann signs in and her new token works; the old one stays refused.
    let enable = f.app.url(&format!("/api/v1/users/{}/enable", f.ann));
    assert_eq!(f.app.client.post(enable).bearer_auth(f.admin()).send().await.unwrap().status(), 200);
    let after = f.app_sign_in().await;
    assert_eq!(f.me(&after).await, 200);
    assert_eq!(f.me(&before).await, 401);
});

backend_test!(async fn a_live_stream_ends_when_its_users_sessions_end(backend) {
    let f = fixture(backend).await;
    let tokens = f.app_sign_in().await;
    let mut stream = f.app.get("/api/v1/events/stream", tokens["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let disable = f.app.url(&format!("/api/v1/users/{}/disable", f.ann));
    assert_eq!(f.app.client.post(disable).bearer_auth(f.admin()).send().await.unwrap().status(), 200);
    // The stream would run until the token expires (15 minutes); the epoch ends it.
    let ended = tokio::time::timeout(AT_ONCE, async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the live stream outlived its user's sessions");
});

backend_test!(async fn another_replica_refuses_the_tokens_too(backend) {
    // Two replicas on the same databases, behind one public URL (the tokens' issuer).
    let f = fixture_on(TestApp::spawn_with(backend, |c| c.public_url = Some("http://cairn.test".parse().unwrap())).await).await;
    let replica = TestApp::spawn_config(backend, f.app.config.clone(), tempfile::tempdir().unwrap()).await;
    let tokens = f.app_sign_in().await;
    let access = tokens["access_token"].as_str().unwrap();
    let on_replica = || async { replica.get("/api/v1/me", access).send().await.unwrap().status().as_u16() };
    // The replica reads acme's epochs at this first check, and holds them.
    assert_eq!(on_replica().await, 200);
    let disable = f.app.url(&format!("/api/v1/users/{}/disable", f.ann));
    assert_eq!(f.app.client.post(disable).bearer_auth(f.admin()).send().await.unwrap().status(), 200);
    // PostgreSQL tells the replica (NOTIFY); SQLite has no notification between processes,
    // so this is the missed-notification case: the replica re-reads within REREAD_EVERY.
    let deadline = match backend {
        cairn_testkit::Backend::Postgres => AT_ONCE,
        cairn_testkit::Backend::Sqlite => cairn_identity::revocation::REREAD_EVERY + AT_ONCE,
    };
    eventually("the other replica to refuse the token", deadline, || async { (on_replica().await == 401).then_some(()) })
        .await;
});

fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

// A sign-in whose password check passed just before the password changed (the attacker who
// knew the old one, racing the owner's change) gets no session: the grant is written only
// while the account is as the check saw it.
backend_test!(async fn a_sign_in_that_raced_a_password_change_gets_no_session(backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "ann@acme.test", "velvet orbit canyon", &[Role::Member]).await;
    let (tenant, db) = app.tenant(&acme).await;
    let meta = cairn_audit::RequestMeta::default();
    let signed = app.identity.sign_in(&tenant, &db, "ann@acme.test", "velvet orbit canyon", &[], &meta).await.unwrap();
    let cairn_identity::SignIn::Success(user) = signed else { panic!("{signed:?}") };
    // The owner changes the password before the attacker's session is written.
    let owner = cairn_audit::Actor { id: user.id.clone(), email: None };
    app.identity.set_password(tenant.id, &db, &user.id, "quartz meadow falcon", true, &owner, &meta).await.unwrap();
    let granted = app.identity.start_session(&tenant, &db, &user).await;
    assert!(matches!(granted, Err(cairn_identity::IdentityError::Conflict(_))), "{granted:?}");
    // Signing in again with the new password works.
    let again = app.identity.sign_in(&tenant, &db, "ann@acme.test", "quartz meadow falcon", &[], &meta).await.unwrap();
    let cairn_identity::SignIn::Success(user) = again else { panic!("{again:?}") };
    assert!(app.identity.start_session(&tenant, &db, &user).await.is_ok());
});
