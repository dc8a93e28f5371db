//! Ending sessions: a password change ends every other sign-in of the user and keeps the
//! one it was made from; a role change and disabling end them all. "Ended" covers refresh
//! tokens, web UI sessions, provider (hosted sign-in) sessions, and access tokens already
//! issued, which the revocation epoch refuses.

use std::time::Duration;

use cairn_domain::Role;
use cairn_testkit::browser::{Browser, Page};
use cairn_testkit::rp::{MEMBER, PASSWORD, RelyingParty, jwt_claims};
use cairn_testkit::{Backend, TestApp, backend_test, eventually};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "lilac pepper harbor";
/// How long an ended session's access token may still pass in one process (the change's
/// own process refuses it at once; this is the deadline of waiting for that).
const AT_ONCE: Duration = Duration::from_secs(5);

async fn refresh(rp: &RelyingParty, tokens: &Value) -> reqwest::Response {
    rp.refresh(tokens["refresh_token"].as_str().unwrap()).await
}

/// The status of `GET /api/v1/me` with `tokens`' access token.
async fn me(rp: &RelyingParty, tokens: &Value) -> u16 {
    let access = tokens["access_token"].as_str().unwrap();
    rp.app.get("/api/v1/me", access).send().await.unwrap().status().as_u16()
}

/// Waits until `tokens`' access token is refused, as the epoch makes it at once in the
/// process that ended the sessions.
async fn refused(rp: &RelyingParty, tokens: &Value, what: &str) {
    eventually(what, AT_ONCE, || async { (me(rp, tokens).await == 401).then_some(()) }).await;
}

/// Ann signs in to the web UI in `browser`; returns the first page.
async fn web_sign_in(browser: &Browser) -> Page {
    let page = browser.web_sign_in("acme", MEMBER, PASSWORD).await;
    assert!(page.body.contains("<h1>Numbers</h1>"), "{}", page.body);
    page
}

/// The details of the newest audit entry of `action`.
async fn audited(rp: &RelyingParty, action: &str) -> Value {
    let resp = rp.app.get(&format!("/api/v1/audit?action={action}"), &rp.admin()).send().await.unwrap();
    let entries: Value = resp.json().await.unwrap();
    entries["items"][0]["details"].clone()
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

async fn a_password_change_on_the_profile_page_ends_the_other_sessions_and_keeps_this_one(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let here = Browser::new(&rp.app.base_url);
    let page = web_sign_in(&here).await;
    let there = Browser::new(&rp.app.base_url);
    web_sign_in(&there).await;
    let elsewhere = rp.tokens().await;
    assert_eq!(me(&rp, &elsewhere).await, 200);

    let csrf = page.input("csrf").unwrap();
    let changed = here
        .post_form(
            "/app/profile/password",
            &[("csrf", &csrf), ("current_password", PASSWORD), ("new_password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);

    // This browser stays signed in, to the web UI and at the provider (no password asked).
    assert_eq!(here.get("/app/numbers").await.status, 200);
    let back = here.follow(here.get("/t/acme/").await).await;
    assert!(back.body.contains("<h1>Numbers</h1>"), "{}", back.body);
    // The other browser is signed out of both.
    assert!(signed_out(&rp.app, &there).await, "the other browser's web session survived");
    // The application's sign-in is over: its refresh token and its access token.
    assert!(invalid_grant(refresh(&rp, &elsewhere).await).await, "the other refresh token still works");
    refused(&rp, &elsewhere, "the other sign-in's access token to be refused").await;
    // Two sign-ins ended, each a refresh-token family and a provider session.
    assert_eq!(audited(&rp, "user.password_changed").await["sessions_revoked"], 4);
}
backend_test!(a_password_change_on_the_profile_page_ends_the_other_sessions_and_keeps_this_one);

async fn a_password_change_through_the_api_keeps_only_the_callers_sign_in(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let mine = rp.tokens().await;
    let other = rp.tokens().await;
    let access = mine["access_token"].as_str().unwrap();
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let resp =
        rp.app.client.put(rp.app.url("/api/v1/me/password")).bearer_auth(access).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 204);

    // The caller's token keeps working, and so does its refresh, at once (same second).
    assert_eq!(me(&rp, &mine).await, 200);
    let refreshed = refresh(&rp, &mine).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(me(&rp, &refreshed).await, 200, "a token issued right after the change works");
    // The other sign-in ended: refresh, API, userinfo and introspection all say so.
    assert!(invalid_grant(refresh(&rp, &other).await).await, "the other refresh token still works");
    refused(&rp, &other, "the other access token to be refused").await;
    let other_access = other["access_token"].as_str().unwrap();
    let info = rp.app.client.get(rp.app.url("/oauth2/userinfo")).bearer_auth(other_access).send().await.unwrap();
    assert_eq!(info.status(), 401);
    let introspected: Value = rp
        .app
        .client
        .post(rp.app.url("/oauth2/introspect"))
        .basic_auth(&rp.client_id, rp.secret.as_deref())
        .form(&[("token", other_access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false);
    assert_eq!(
        audited(&rp, "user.password_changed").await["sessions_revoked"],
        3,
        "the other family, two provider sessions"
    );
}
backend_test!(a_password_change_through_the_api_keeps_only_the_callers_sign_in);

async fn a_role_change_ends_every_session_of_the_user(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let browser = Browser::new(&rp.app.base_url);
    web_sign_in(&browser).await;
    let before = rp.tokens().await;
    assert_eq!(me(&rp, &before).await, 200);
    let resp = rp
        .app
        .client
        .put(rp.app.url(&format!("/api/v1/users/{}/roles", rp.member.id)))
        .bearer_auth(rp.admin())
        .json(&json!({"roles": ["readonly"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    assert!(invalid_grant(refresh(&rp, &before).await).await, "the refresh token survived a role change");
    refused(&rp, &before, "the member's access token to be refused").await;
    assert!(signed_out(&rp.app, &browser).await, "the web session survived a role change");
    // Signing in again right away works, with the new role.
    let after = rp.tokens().await;
    assert_eq!(me(&rp, &after).await, 200, "a token issued right after the change works");
    let claims = jwt_claims(after["access_token"].as_str().unwrap());
    assert_eq!(claims["cairn/roles"], json!(["readonly"]));
    assert_eq!(audited(&rp, "user.role_changed").await["sessions_revoked"], 4);
}
backend_test!(a_role_change_ends_every_session_of_the_user);

async fn disabling_refuses_the_users_access_tokens(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let before = rp.tokens().await;
    assert_eq!(me(&rp, &before).await, 200);
    let disable = rp.app.url(&format!("/api/v1/users/{}/disable", rp.member.id));
    assert_eq!(rp.app.client.post(disable).bearer_auth(rp.admin()).send().await.unwrap().status(), 200);

    refused(&rp, &before, "the disabled user's access token to be refused").await;
    assert!(invalid_grant(refresh(&rp, &before).await).await);
    assert_eq!(audited(&rp, "user.disabled").await["sessions_revoked"], 2);
    // Enabled again, ann signs in and her new token works; the old one stays refused.
    let enable = rp.app.url(&format!("/api/v1/users/{}/enable", rp.member.id));
    assert_eq!(rp.app.client.post(enable).bearer_auth(rp.admin()).send().await.unwrap().status(), 200);
    let after = rp.tokens().await;
    assert_eq!(me(&rp, &after).await, 200);
    assert_eq!(me(&rp, &before).await, 401);
}
backend_test!(disabling_refuses_the_users_access_tokens);

async fn a_live_stream_ends_when_its_users_sessions_end(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let tokens = rp.tokens().await;
    let mut stream =
        rp.app.get("/api/v1/events/stream", tokens["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let disable = rp.app.url(&format!("/api/v1/users/{}/disable", rp.member.id));
    assert_eq!(rp.app.client.post(disable).bearer_auth(rp.admin()).send().await.unwrap().status(), 200);
    // The stream would run until the token expires (15 minutes); the epoch ends it.
    let ended = tokio::time::timeout(AT_ONCE, async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the live stream outlived its user's sessions");
}
backend_test!(a_live_stream_ends_when_its_users_sessions_end);

async fn another_replica_refuses_the_tokens_too(backend: Backend) {
    // Two replicas on the same databases, behind one public URL (the tokens' issuer).
    let rp = RelyingParty::on(
        TestApp::spawn_with(backend, |c| c.public_url = Some("http://cairn.test".parse().unwrap())).await,
        false,
    )
    .await;
    let replica = TestApp::spawn_config(backend, rp.app.config.clone(), tempfile::tempdir().unwrap()).await;
    let tokens = rp.tokens().await;
    let access = tokens["access_token"].as_str().unwrap();
    let on_replica = || async { replica.get("/api/v1/me", access).send().await.unwrap().status().as_u16() };
    // The replica reads acme's epochs at this first check, and holds them.
    assert_eq!(on_replica().await, 200);
    let disable = rp.app.url(&format!("/api/v1/users/{}/disable", rp.member.id));
    assert_eq!(rp.app.client.post(disable).bearer_auth(rp.admin()).send().await.unwrap().status(), 200);
    // PostgreSQL tells the replica (NOTIFY); SQLite has no notification between processes,
    // so this is the missed-notification case: the replica re-reads within REREAD_EVERY.
    let deadline = match backend {
        cairn_testkit::Backend::Postgres => AT_ONCE,
        cairn_testkit::Backend::Sqlite => cairn_identity::revocation::REREAD_EVERY + AT_ONCE,
    };
    eventually("the other replica to refuse the token", deadline, || async {
        (on_replica().await == 401).then_some(())
    })
    .await;
}
backend_test!(another_replica_refuses_the_tokens_too);

// A sign-in whose password check passed just before the password changed (the attacker who
// knew the old one, racing the owner's change) gets no session: the grant is written only
// while the account is as the check saw it.
async fn a_sign_in_that_raced_a_password_change_gets_no_session(backend: Backend) {
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
}
backend_test!(a_sign_in_that_raced_a_password_change_gets_no_session);
