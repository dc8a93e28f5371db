//! The web UI through a cookie-keeping browser: it signs in through the provider, and
//! its pages (numbers, users, profile, audit log) change data only through CSRF-checked
//! forms.

use cairn_domain::Role;
use cairn_testkit::browser::{Browser, Page};
use cairn_testkit::rp::PASSWORD;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::Value;

fn csrf(page: &Page) -> String {
    page.input("csrf").expect("the page has a CSRF token")
}

async fn app_with_admin(backend: cairn_testkit::Backend) -> (TestApp, cairn_testkit::TestTenant) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "ada@acme.test", PASSWORD, &[Role::Admin]).await;
    app.create_user(&acme, "bob@acme.test", PASSWORD, &[Role::Member]).await;
    (app, acme)
}

async fn signed_out_visitors_go_to_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = Browser::new(&app.base_url);
    for path in ["/app/numbers", "/app/users", "/app/profile", "/app/audit"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some(app.url("/").as_str()), "{path}");
    }
    let home = browser.get("/").await;
    assert!(home.body.contains("Sign in to your organization"));
    assert!(home.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let unknown = browser.get("/t/nope/").await;
    assert_eq!(unknown.status, 404);
}
backend_test!(signed_out_visitors_go_to_sign_in);

async fn the_session_cookie_is_httponly_lax_and_sealed(backend: Backend) {
    let (app, _) = app_with_admin(backend).await;
    let browser = Browser::new(&app.base_url);
    let start = browser.get("/t/acme/").await;
    let form = browser.follow(start).await;
    let done = browser.sign_in(&form, "ada@acme.test", PASSWORD).await;
    let callback = browser.get(done.location.as_deref().unwrap()).await;
    let set = callback.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let web = set.iter().find(|c| c.starts_with("cairn_web=")).expect("session cookie");
    assert!(web.contains("HttpOnly") && web.contains("SameSite=Lax"), "{web}");
    assert!(!web.contains("Secure"), "plain-http loopback: no Secure flag");
    assert!(!web.contains("eyJ"), "tokens are sealed, not readable: {web}");
    // Sealed with the master key: it opens to the session, whose tokens the cookie does not show.
    let value = web.trim_start_matches("cairn_web=").split(';').next().unwrap();
    let opened = app.store.master_key().open(value, "cairn-web-session").expect("the cookie opens with the master key");
    let session: Value = serde_json::from_slice(&opened).unwrap();
    let refresh = session["refresh"].as_str().expect("the session holds its refresh token");
    assert!(!web.contains(refresh), "{web}");
    assert_eq!(browser.get("/app/numbers").await.status, 200);
    // One character changed, and it is no session at all.
    let mut altered = value.to_owned().into_bytes();
    let at = altered.len() / 2;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let forger = Browser::new(&app.base_url);
    forger.set_cookie("cairn_web", std::str::from_utf8(&altered).unwrap());
    assert_eq!(forger.get("/app/numbers").await.status, 303);
}
backend_test!(the_session_cookie_is_httponly_lax_and_sealed);

async fn numbers_page_adds_with_csrf_only(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = Browser::new(&app.base_url);
    let page = browser.web_sign_in("acme", "bob@acme.test", PASSWORD).await;
    assert!(page.body.contains("<h1>Numbers</h1>"), "{}", page.body);
    assert!(!page.body.contains("/app/users"), "members see no users link");
    let token = csrf(&page);
    let forged = browser.post_form("/app/numbers", &[("value", "5")]).await;
    assert_eq!(forged.status, 403);
    let bad = browser.post_form("/app/numbers", &[("csrf", &token), ("value", "lots")]).await;
    assert_eq!(bad.status, 400);
    let ok = browser.post_form("/app/numbers", &[("csrf", &token), ("value", "12")]).await;
    assert_eq!(ok.status, 303);
    let reader = app.token(&acme, Role::Readonly);
    assert_eq!(crate::count(&app, &reader).await, 1);
    let listed = browser.get("/app/numbers").await;
    assert!(listed.body.contains(">12<"), "{}", listed.body);
    // A member is refused the admin pages.
    assert_eq!(browser.get("/app/users").await.status, 403);
    assert_eq!(browser.get("/app/audit").await.status, 403);
}
backend_test!(numbers_page_adds_with_csrf_only);

async fn admins_manage_users_on_the_users_page(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let page = browser.get("/app/users").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("bob@acme.test"));
    let token = csrf(&page);
    let created = browser
        .post_form(
            "/app/users",
            &[("csrf", &token), ("email", "cat@acme.test"), ("given_name", "Cat"), ("role", "readonly")],
        )
        .await;
    assert_eq!(created.status, 303);
    let listed = browser.follow(created).await;
    assert!(listed.body.contains("the invitation is on its way"), "{}", listed.body);
    assert!(listed.body.contains("cat@acme.test") && listed.body.contains("Invited"));
    let dup = browser.post_form("/app/users", &[("csrf", &token), ("email", "CAT@acme.test")]).await;
    assert_eq!(dup.status, 409);
    let admin = app.token(&acme, Role::Admin);
    let users: Value = app.get("/api/v1/users", &admin).send().await.unwrap().json().await.unwrap();
    let bob = users["items"].as_array().unwrap().iter().find(|u| u["email"] == "bob@acme.test").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let roles = browser.post_form(&format!("/app/users/{bob}/roles"), &[("csrf", &token), ("role", "admin")]).await;
    assert_eq!(roles.status, 303);
    let disabled = browser.post_form(&format!("/app/users/{bob}/disable"), &[("csrf", &token)]).await;
    assert_eq!(disabled.status, 303);
    let user: Value = app.get(&format!("/api/v1/users/{bob}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!((user["status"].as_str(), user["roles"].clone()), (Some("DISABLED"), serde_json::json!(["admin"])));
    let unknown = browser.post_form(&format!("/app/users/{bob}/promote"), &[("csrf", &token)]).await;
    assert_eq!(unknown.status, 404);
    // The changes are in the audit log page, by ada, with readable names and a detail view.
    let audit = browser.get("/app/audit?action=user.*").await;
    assert!(audit.body.contains("User disabled") && audit.body.contains("User role changed"), "{}", audit.body);
    assert!(audit.body.contains("ada@acme.test"));
    let detail_link = audit.body.split("href=\"/app/audit/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let detail = browser.get(&format!("/app/audit/{detail_link}")).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("Request id") && detail.body.contains("127.0.0.1"), "{}", detail.body);
    let bad_filter = browser.get("/app/audit?action=Not%20An%20Action").await;
    assert_eq!(bad_filter.status, 400);
}
backend_test!(admins_manage_users_on_the_users_page);

async fn the_profile_page_saves_names_subscriptions_and_password(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = Browser::new(&app.base_url);
    let page = browser.web_sign_in("acme", "bob@acme.test", PASSWORD).await;
    let token = csrf(&page);
    let saved = browser
        .post_form(
            "/app/profile",
            &[("csrf", &token), ("given_name", "Bobby"), ("family_name", "Tables"), ("publish_history", "on")],
        )
        .await;
    assert_eq!(saved.status, 303);
    let profile = browser.follow(saved).await;
    assert!(
        profile.body.contains("Profile saved")
            && profile.body.contains("value=\"Bobby\"")
            && profile.body.contains(" checked")
    );
    let admin = app.token(&acme, Role::Admin);
    let users: Value = app.get("/api/v1/users", &admin).send().await.unwrap().json().await.unwrap();
    let bob = users["items"].as_array().unwrap().iter().find(|u| u["email"] == "bob@acme.test").unwrap().clone();
    assert_eq!(bob["user_metadata"]["publish_history"], true);
    // Unticking turns the subscription off.
    browser.post_form("/app/profile", &[("csrf", &token), ("given_name", "Bobby"), ("family_name", "Tables")]).await;
    let bob: Value = app
        .get(&format!("/api/v1/users/{}", bob["id"].as_str().unwrap()), &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bob["user_metadata"]["publish_history"], false);
    let wrong = browser
        .post_form(
            "/app/profile/password",
            &[("csrf", &token), ("current_password", "nope"), ("new_password", "lilac pepper harbor")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    let ok = browser
        .post_form(
            "/app/profile/password",
            &[("csrf", &token), ("current_password", PASSWORD), ("new_password", "lilac pepper harbor")],
        )
        .await;
    assert_eq!(ok.status, 303);
}
backend_test!(the_profile_page_saves_names_subscriptions_and_password);

async fn switching_organization_signs_in_to_the_other_tenant(backend: Backend) {
    let (app, _) = app_with_admin(backend).await;
    let globex = app.create_tenant("globex").await;
    app.create_user(&globex, "ada@acme.test", "another pass phrase", &[Role::Member]).await;
    let browser = Browser::new(&app.base_url);
    let acme_page = browser.web_sign_in("acme", "ada@acme.test", PASSWORD).await;
    assert!(acme_page.body.contains("<strong>acme</strong>"));
    let switch = browser.get("/signin?org=globex").await;
    assert_eq!(switch.location.as_deref(), Some(app.url("/t/globex/").as_str()));
    // The acme session does not sign anyone in to globex: the form asks again.
    let globex_page = browser.web_sign_in("globex", "ada@acme.test", "another pass phrase").await;
    assert!(globex_page.body.contains("<strong>globex</strong>"), "{}", globex_page.body);
    assert!(!globex_page.body.contains("/app/users"), "a member in globex");
}
backend_test!(switching_organization_signs_in_to_the_other_tenant);

async fn signing_out_ends_the_session_and_its_refresh_token(backend: Backend) {
    let (app, _) = app_with_admin(backend).await;
    let browser = Browser::new(&app.base_url);
    let page = browser.web_sign_in("acme", "ada@acme.test", PASSWORD).await;
    let stolen = browser.cookie("cairn_web").unwrap();
    let out = browser.post_form("/app/signout", &[("csrf", &csrf(&page))]).await;
    assert_eq!(out.status, 303);
    let landed = browser.follow(out).await;
    assert!(landed.body.contains("Sign in to your organization"), "{}", landed.body);
    assert!(browser.cookie("cairn_web").is_none());
    assert_eq!(browser.get("/app/numbers").await.status, 303);
    // The provider session is gone too: signing in again asks for the password.
    let again = browser.follow(browser.get("/t/acme/").await).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("name=\"password\""));
    // Replaying the old cookie gets nowhere: its grant is revoked.
    let replay = Browser::new(&app.base_url);
    replay.set_cookie("cairn_web", &stolen);
    assert_eq!(replay.get("/app/numbers").await.status, 303);
    // Nor does its refresh token work at the token endpoint.
    let sealed = app.store.master_key().open(&stolen, "cairn-web-session").unwrap();
    let session: Value = serde_json::from_slice(&sealed).unwrap();
    let tenant = session["tenant"].as_str().unwrap().replace('-', "");
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", session["refresh"].as_str().unwrap()),
            ("client_id", &format!("{tenant}.web")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "invalid_grant");
}
backend_test!(signing_out_ends_the_session_and_its_refresh_token);

async fn admins_register_applications_and_see_each_secret_once(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let page = browser.get("/app/clients").await;
    assert_eq!(page.status, 200);
    let token = csrf(&page);
    let secret_of = |p: &Page| p.body.split("id=\"secret\">").nth(1).map(|r| r.split('<').next().unwrap().to_owned());
    let insecure = browser
        .post_form(
            "/app/clients",
            &[
                ("csrf", &token),
                ("name", "Portal"),
                ("kind", "confidential"),
                ("redirect_uris", "http://portal.example/cb"),
            ],
        )
        .await;
    assert_eq!(insecure.status, 400);
    assert!(insecure.body.contains("value=\"Portal\""), "the form keeps what was typed");
    let created = browser
        .post_form(
            "/app/clients",
            &[
                ("csrf", &token),
                ("name", "Portal"),
                ("kind", "confidential"),
                ("redirect_uris", "https://portal.example/cb\nhttps://portal.example/cb2"),
                ("post_logout_uris", ""),
            ],
        )
        .await;
    // Post/redirect/get: the secret rides a one-time flash to the page the form redirects to.
    assert_eq!(created.status, 303, "{}", created.body);
    assert!(created.location.as_deref().is_some_and(|l| l.ends_with("/app/clients")), "{:?}", created.location);
    let created = browser.follow(created).await;
    let secret = secret_of(&created).expect("the secret is shown");
    assert!(secret_of(&browser.get("/app/clients").await).is_none(), "a refresh does not show it again");
    let admin = app.token(&acme, Role::Admin);
    let clients: Value = app.get("/api/v1/clients", &admin).send().await.unwrap().json().await.unwrap();
    let id = clients["items"][0]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(clients["items"][0]["redirect_uris"].as_array().unwrap().len(), 2);
    let introspect = |s: String| {
        app.client.post(app.url("/oauth2/introspect")).basic_auth(&id, Some(s)).form(&[("token", "x")]).send()
    };
    assert_eq!(introspect(secret.clone()).await.unwrap().status(), 200);
    // The list never shows it again.
    assert!(secret_of(&browser.get("/app/clients").await).is_none());
    let ask = browser.get(&format!("/app/clients/{id}/rotate")).await;
    assert!(ask.status == 200 && ask.body.contains("stops working at once"), "rotating asks first: {}", ask.body);
    assert_eq!(introspect(secret.clone()).await.unwrap().status(), 200, "asking changes nothing");
    let rotated =
        browser.follow(browser.post_form(&format!("/app/clients/{id}/rotate"), &[("csrf", &csrf(&ask))]).await).await;
    let new_secret = secret_of(&rotated).unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(introspect(secret).await.unwrap().status(), 401);
    let public = browser
        .post_form(
            "/app/clients",
            &[("csrf", &token), ("name", "SPA"), ("kind", "public"), ("redirect_uris", "http://localhost:3000/cb")],
        )
        .await;
    assert_eq!(public.status, 303);
    assert!(secret_of(&browser.follow(public).await).is_none(), "a public client has no secret");
    let service = browser
        .post_form(
            "/app/clients",
            &[("csrf", &token), ("name", "Importer"), ("kind", "service"), ("service_role", "member")],
        )
        .await;
    assert_eq!(service.status, 303);
    assert!(browser.get(&format!("/app/clients/{id}/delete")).await.body.contains("Delete Portal?"));
    assert_eq!(browser.get("/app/clients/nope/delete").await.status, 404);
    let deleted = browser.post_form(&format!("/app/clients/{id}/delete"), &[("csrf", &token)]).await;
    assert_eq!(deleted.status, 303);
    let clients: Value = app.get("/api/v1/clients", &admin).send().await.unwrap().json().await.unwrap();
    // The API lists clients by client id.
    let mut names: Vec<&str> =
        clients["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Importer", "SPA"]);
    // Members cannot reach the page.
    let member = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    assert_eq!(member.get("/app/clients").await.status, 403);
}
backend_test!(admins_register_applications_and_see_each_secret_once);

async fn disabling_a_user_ends_their_web_session_at_once(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    assert_eq!(browser.get("/app/numbers").await.status, 200);
    let admin = app.token(&acme, Role::Admin);
    let users: Value = app.get("/api/v1/users", &admin).send().await.unwrap().json().await.unwrap();
    let bob = users["items"].as_array().unwrap().iter().find(|u| u["email"] == "bob@acme.test").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.client.post(app.url(&format!("/api/v1/users/{bob}/disable"))).bearer_auth(&admin).send().await.unwrap();
    let page = browser.get("/app/numbers").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some(app.url("/t/acme/").as_str()));
    // And bob cannot come back through the provider session either.
    let again = browser.follow(browser.get("/t/acme/").await).await;
    assert!(again.location.as_deref().is_none_or(|l| !l.contains("/auth/callback")), "{:?}", again.location);
}
backend_test!(disabling_a_user_ends_their_web_session_at_once);

async fn a_revoked_grant_signs_in_again_through_the_provider_session(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    // Two tabs refreshing at once would trip reuse detection; simulate the revoked family.
    let sealed = app.store.master_key().open(&browser.cookie("cairn_web").unwrap(), "cairn-web-session").unwrap();
    let session: Value = serde_json::from_slice(&sealed).unwrap();
    let tenant = session["tenant"].as_str().unwrap().replace('-', "");
    app.client
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", session["refresh"].as_str().unwrap()), ("client_id", &format!("{tenant}.web"))])
        .send()
        .await
        .unwrap();
    let page = browser.get("/app/numbers").await;
    assert_eq!(page.location.as_deref(), Some(app.url("/t/acme/").as_str()));
    // The provider session is still good: no password asked, straight back to the app.
    let back = browser.follow(page).await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert!(back.body.contains("<h1>Numbers</h1>"), "{}", back.body);
}
backend_test!(a_revoked_grant_signs_in_again_through_the_provider_session);

async fn signing_out_is_audited(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = Browser::new(&app.base_url);
    let page = browser.web_sign_in("acme", "bob@acme.test", PASSWORD).await;
    browser.follow(browser.post_form("/app/signout", &[("csrf", &csrf(&page))]).await).await;
    let admin = app.token(&acme, Role::Admin);
    let entries: Value =
        app.get("/api/v1/audit?action=auth.logged_out", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(entries["items"].as_array().unwrap().len(), 1, "{entries}");
    assert_eq!(entries["items"][0]["actor"]["email"], "bob@acme.test");
}
backend_test!(signing_out_is_audited);

async fn records_pages_create_edit_publish_and_delete(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let browser = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    let list = browser.get("/app/records").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("No records yet"));
    assert!(list.body.contains("/static/live.js"), "the list updates live");
    let token = csrf(&list);
    let bad = browser.post_form("/app/records", &[("csrf", &token), ("title", " "), ("tags", ""), ("body", "")]).await;
    assert_eq!(bad.status, 400);
    let created = browser
        .post_form(
            "/app/records",
            &[("csrf", &token), ("title", "Field guide"), ("tags", "ops, guide"), ("body", "Step one")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let path = created.location.clone().expect("the new record's page");
    let record = browser.follow(created).await;
    assert!(record.body.contains("Field guide") && record.body.contains("Never published"), "{}", record.body);
    let saved = browser
        .post_form(&path, &[("csrf", &token), ("title", "Field guide 2"), ("tags", "ops"), ("body", "Step one, two")])
        .await;
    assert_eq!(saved.status, 303);
    let published = browser.post_form(&format!("{path}/publish"), &[("csrf", &token), ("note", "First release")]).await;
    assert_eq!(published.status, 303, "a refresh does not publish again");
    let published = browser.follow(published).await;
    assert!(
        published.body.contains("Published version 1") && published.body.contains("First release"),
        "{}",
        published.body
    );
    let forged = browser.post_form(&format!("{path}/publish"), &[("csrf", "forged"), ("note", "x")]).await;
    assert_eq!(forged.status, 403);
    let list = browser.get("/app/records").await;
    assert!(list.body.contains("Field guide 2") && list.body.contains("v1"), "{}", list.body);
    let ask = browser.get(&format!("{path}/delete")).await;
    assert!(ask.status == 200 && ask.body.contains("Delete “Field guide 2”?"), "deleting asks first: {}", ask.body);
    assert!(browser.get("/app/records").await.body.contains("Field guide 2"), "asking changes nothing");
    let deleted = browser.post_form(&format!("{path}/delete"), &[("csrf", &token)]).await;
    assert_eq!(deleted.status, 303);
    let gone = browser.get(&path).await;
    assert_eq!(gone.status, 404, "an unknown record says so");
    assert!(gone.body.contains("No such record"), "{}", gone.body);
    assert!(browser.get("/app/records").await.body.contains("No records yet"));
    // Members do not see failed deliveries; the page is for admins, and the refusal is audited.
    assert_eq!(browser.get("/app/events").await.status, 403);
    let admin = app.token(&acme, Role::Admin);
    let denied: Value =
        app.get("/api/v1/audit?action=access.denied", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(denied["items"][0]["details"]["reason"], "requires the admin role", "{denied}");
    assert_eq!(denied["items"][0]["details"]["attempted"], "GET /app/events", "{denied}");
    let script = browser.get("/static/live.js").await;
    assert!(script.body.contains("EventSource"));
}
backend_test!(records_pages_create_edit_publish_and_delete);

async fn admins_replay_failed_deliveries_from_their_page(backend: Backend) {
    use cairn_testkit::receiver::Receiver;
    let app = TestApp::spawn_with(backend, |c| c.events.max_attempts = 1).await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "ada@acme.test", PASSWORD, &[Role::Admin]).await;
    let receiver = Receiver::start().await;
    receiver.set_default(500);
    app.add_webhook(&acme, &receiver.url, &["records_created"]).await;
    app.create_record(&app.token(&acme, Role::Member), "x").await;
    receiver.wait_for(1, std::time::Duration::from_secs(20)).await;

    let browser = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let page = cairn_testkit::eventually("the failed delivery listed", std::time::Duration::from_secs(20), || async {
        let page = browser.get("/app/events").await;
        page.body.contains("the receiver answered 500").then_some(page)
    })
    .await;
    assert!(page.body.contains("records_created"), "{}", page.body);
    // The receiver's URL, not the consumer's internal name.
    assert!(
        page.body.contains(&format!("title=\"{}\"", receiver.url)) && !page.body.contains("webhook:"),
        "{}",
        page.body
    );
    receiver.set_default(200);
    let token = csrf(&page);
    let forged = browser.post_form("/app/events/all/replay", &[("csrf", "nope")]).await;
    assert_eq!(forged.status, 403);
    let ask = browser.get("/app/events/all/replay").await;
    assert!(ask.status == 200 && ask.body.contains("Queue all 1 failed deliveries again?"), "{}", ask.body);
    let done = browser.post_form("/app/events/all/replay", &[("csrf", &token)]).await;
    assert_eq!(done.status, 303, "a refresh of the result does not replay again");
    let done = browser.follow(done).await;
    assert!(done.body.contains("1 queued again"), "{}", done.body);
    let got = receiver.wait_for(2, std::time::Duration::from_secs(20)).await;
    assert_eq!(got[1].status, 200);
    assert!(
        cairn_testkit::eventually("an empty page", std::time::Duration::from_secs(20), || async {
            let page = browser.get("/app/events").await;
            page.body.contains("Nothing failed").then_some(true)
        })
        .await
    );
}
backend_test!(admins_replay_failed_deliveries_from_their_page);

async fn admins_add_webhooks_see_the_secret_once_and_read_the_log(backend: Backend) {
    use cairn_testkit::receiver::Receiver;
    let (app, acme) = app_with_admin(backend).await;
    let receiver = Receiver::start().await;
    let browser = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let page = browser.get("/app/webhooks").await;
    assert_eq!(page.status, 200);
    let token = csrf(&page);
    let bad = browser
        .post_form("/app/webhooks", &[("csrf", &token), ("url", "ftp://x.test/"), ("events", "records_created")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("must be http or https"), "{}", bad.body);
    let none =
        browser.post_form("/app/webhooks", &[("csrf", &token), ("url", &receiver.url), ("url", &receiver.url)]).await;
    assert_eq!(none.status, 400, "at least one event type");
    let added = browser
        .post_form(
            "/app/webhooks",
            &[("csrf", &token), ("url", &receiver.url), ("events", "records_created"), ("events", "record_published")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let added = browser.follow(added).await;
    let secret = added.body.split("<code id=\"secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let again = browser.get("/app/webhooks").await;
    assert!(!again.body.contains(&secret), "shown once");
    assert!(again.body.contains("records_created, record_published"));

    let member = app.token(&acme, Role::Member);
    app.create_record(&member, "x").await;
    receiver.wait_for(1, std::time::Duration::from_secs(20)).await;
    let admin = app.token(&acme, Role::Admin);
    let hooks: Value = app.get("/api/v1/webhooks", &admin).send().await.unwrap().json().await.unwrap();
    let id = hooks["items"][0]["id"].as_str().unwrap().to_owned();
    let log = cairn_testkit::eventually("the attempt logged", std::time::Duration::from_secs(20), || async {
        let log = browser.get(&format!("/app/webhooks/{id}")).await;
        log.body.contains("records_created").then_some(log)
    })
    .await;
    assert!(log.body.contains(">200<"), "{}", log.body);
    let ask = browser.get(&format!("/app/webhooks/{id}/delete")).await;
    assert!(ask.body.contains(&format!("Delete the webhook to {}", receiver.url)), "{}", ask.body);
    assert_eq!(browser.get("/app/webhooks/01900000-0000-7000-8000-000000000000").await.status, 404);
    let deleted = browser.post_form(&format!("/app/webhooks/{id}/delete"), &[("csrf", &token)]).await;
    assert_eq!(deleted.status, 303);
    assert!(browser.get("/app/webhooks").await.body.contains("No webhooks yet"));
    // Members may not manage webhooks.
    let other = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    assert_eq!(other.get("/app/webhooks").await.status, 403);
}
backend_test!(admins_add_webhooks_see_the_secret_once_and_read_the_log);

async fn the_records_list_pages_to_older_records(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let member = app.token(&acme, Role::Member);
    let first: Vec<Value> = (0..100).map(|i| serde_json::json!({"title": format!("record {i:03}")})).collect();
    let resp = app.post("/api/v1/records/bulk", &member, &serde_json::json!({"records": first})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    app.create_record(&member, "newest").await;
    let browser = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    let page = browser.get("/app/records").await;
    assert!(page.body.contains("newest") && !page.body.contains("record 000"), "100 a page, newest first");
    let older = page
        .body
        .split("href=\"/app/records?cursor=")
        .nth(1)
        .expect("a link to older records")
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let page2 = browser.get(&format!("/app/records?cursor={older}")).await;
    assert!(page2.body.contains("record 000") && !page2.body.contains("newest"), "{}", page2.body);
    assert!(
        page2.body.contains(&format!("data-list=\"/app/records/list?cursor={older}\"")),
        "live updates keep the page"
    );
    assert!(!page2.body.contains("Older records"));
    let fragment = browser.get(&format!("/app/records/list?cursor={older}")).await;
    assert!(fragment.body.contains("record 000"));
}
backend_test!(the_records_list_pages_to_older_records);

async fn a_page_opened_on_another_loopback_name_moves_to_the_public_url_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The public URL says 127.0.0.1; the person typed localhost.
    let port = app.base_url.rsplit(':').next().unwrap().to_owned();
    let client = cairn_testkit::http_client().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = client.get(format!("http://localhost:{port}/t/default/?x=1")).send().await.unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(resp.headers()["location"], format!("{}/t/default/?x=1", app.base_url));
    assert!(resp.headers().get("set-cookie").is_none(), "no cookie for the wrong name");
    // The API and the probes answer on any name.
    let resp = client.get(format!("http://localhost:{port}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client.get(format!("http://localhost:{port}/api/v1/numbers")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    // The public URL's own name is served as it is.
    let resp = client.get(app.url("/t/default/")).send().await.unwrap();
    assert_ne!(resp.status(), 307);
}
backend_test!(a_page_opened_on_another_loopback_name_moves_to_the_public_url_first);

/// Users of `tenant` by email, as the API lists them.
async fn user_ids(app: &TestApp, admin: &str) -> std::collections::HashMap<String, String> {
    let users: Value = app.get("/api/v1/users", admin).send().await.unwrap().json().await.unwrap();
    let items = users["items"].as_array().or_else(|| users.as_array()).cloned().unwrap_or_default();
    items.iter().map(|u| (u["email"].as_str().unwrap().to_owned(), u["id"].as_str().unwrap().to_owned())).collect()
}

async fn page_guards_refuse_and_audit_before_anything_changes(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let ids = user_ids(&app, &admin).await;
    // A member posting an admin form with a valid token: 403, audited, nothing created.
    let bob = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    let token = csrf(&bob.get("/app/numbers").await);
    let invite = bob.post_form("/app/users", &[("csrf", &token), ("email", "eve@acme.test")]).await;
    assert_eq!(invite.status, 403, "{}", invite.body);
    assert!(!user_ids(&app, &admin).await.contains_key("eve@acme.test"), "the refused form created nothing");
    let denied: Value =
        app.get("/api/v1/audit?action=access.denied", &admin).send().await.unwrap().json().await.unwrap();
    let entry = &denied["items"][0];
    assert_eq!(
        (&entry["details"]["attempted"], &entry["actor"]["id"]),
        (&serde_json::json!("POST /app/users"), &serde_json::json!(ids["bob@acme.test"])),
        "{denied}"
    );
    // A form without this session's token changes nothing, whatever the role.
    let ada = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let forged = ada.post_form("/app/numbers", &[("csrf", &token), ("value", "7")]).await;
    assert_eq!(forged.status, 403, "bob's token is not ada's");
    let stats: Value = app.get("/api/v1/numbers/stats", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["count"], 0, "{stats}");
    let added = ada.post_form("/app/numbers", &[("csrf", &csrf(&ada.get("/app/numbers").await)), ("value", "7")]).await;
    assert_eq!(added.status, 303);
    // The admin is not offered to disable, reset or re-role themselves; others, after asking.
    let users = ada.get("/app/users").await;
    let (me, other) = (&ids["ada@acme.test"], &ids["bob@acme.test"]);
    assert!(
        !users.body.contains(&format!("/app/users/{me}/disable"))
            && !users.body.contains(&format!("/app/users/{me}/roles")),
        "{}",
        users.body
    );
    assert!(users.body.contains(&format!("/app/users/{other}/disable")));
    let ask = ada.get(&format!("/app/users/{other}/disable")).await;
    assert!(ask.status == 200 && ask.body.contains("Disable bob@acme.test?"), "{}", ask.body);
    let user: Value = app.get(&format!("/api/v1/users/{other}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_ne!(user["status"], "DISABLED", "asking changes nothing");
    let done = ada.post_form(&format!("/app/users/{other}/disable"), &[("csrf", &csrf(&ask))]).await;
    assert_eq!(done.status, 303);
    let user: Value = app.get(&format!("/api/v1/users/{other}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(user["status"], "DISABLED", "{user}");
    assert_eq!(ada.get("/app/users/nobody/disable").await.status, 404);
}
backend_test!(page_guards_refuse_and_audit_before_anything_changes);

/// The newest audit entry of `action`.
async fn last_entry(app: &TestApp, admin: &str, action: &str) -> Value {
    let entries: Value =
        app.get(&format!("/api/v1/audit?action={action}&limit=1"), admin).send().await.unwrap().json().await.unwrap();
    entries["items"][0].clone()
}

/// A member is refused `path` (GET) and a post to it with their own valid token; each
/// refusal is audited with what was attempted, as the route names it.
async fn refused_to_members(app: &TestApp, admin: &str, path: &str, route: &str, form: &[(&str, &str)]) {
    let bob = Browser::new(&app.base_url);
    bob.web_sign_in("acme", "bob@acme.test", PASSWORD).await;
    let token = csrf(&bob.get("/app/numbers").await);
    assert_eq!(bob.get(path).await.status, 403, "GET {path}");
    let entry = last_entry(app, admin, "access.denied").await;
    assert_eq!(entry["details"]["attempted"], format!("GET {route}"), "{entry}");
    let mut fields = vec![("csrf", token.as_str())];
    fields.extend_from_slice(form);
    assert_eq!(bob.post_form(path, &fields).await.status, 403, "POST {path}");
    let entry = last_entry(app, admin, "access.denied").await;
    assert_eq!(entry["details"]["attempted"], format!("POST {route}"), "{entry}");
    assert_eq!(entry["details"]["reason"], "requires the admin role", "{entry}");
}

/// The message shown beside the field whose error id is `id` (`<p class="field-error" id="…">`).
fn field_error(page: &Page, id: &str) -> Option<String> {
    let at = page.body.find(&format!("class=\"field-error\" id=\"{id}\">"))?;
    let rest = &page.body[at..];
    let start = rest.find('>')? + 1;
    Some(rest[start..start + rest[start..].find('<')?].to_owned())
}

/// The text of the textarea named `name`.
fn textarea(page: &Page, name: &str) -> Option<String> {
    let at = page.body.find(&format!("name=\"{name}\""))?;
    let rest = &page.body[at..];
    let start = rest.find('>')? + 1;
    Some(rest[start..start + rest[start..].find("</textarea>")?].replace("&quot;", "\"").replace("&#34;", "\""))
}

async fn admins_edit_a_user_on_their_page(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let ids = user_ids(&app, &admin).await;
    let bob = &ids["bob@acme.test"];
    let path = format!("/app/users/{bob}");
    refused_to_members(&app, &admin, &path, "/app/users/{id}", &[("given_name", "Mallory")]).await;
    let ada = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let page = ada.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("bob@acme.test") && page.body.contains(&format!("action=\"/app/users/{bob}/roles\"")),
        "{}",
        page.body
    );
    let token = csrf(&page);
    // A form without this session's token changes nothing.
    let forged = ada.post_form(&path, &[("csrf", "forged"), ("given_name", "Mallory")]).await;
    assert_eq!(forged.status, 403);
    // A bad field comes back beside the field, with what was typed.
    let bad = ada
        .post_form(
            &path,
            &[("csrf", &token), ("given_name", "Robert"), ("family_name", "Tables"), ("app_metadata", "{plan: pro")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(field_error(&bad, "app_metadata-error").is_some_and(|m| m.contains("JSON object")), "{}", bad.body);
    assert_eq!(textarea(&bad, "app_metadata").as_deref(), Some("{plan: pro"));
    assert_eq!(bad.input("given_name").as_deref(), Some("Robert"));
    let reserved = ada
        .post_form(&path, &[("csrf", &token), ("given_name", "Robert"), ("app_metadata", r#"{"roles": ["admin"]}"#)])
        .await;
    assert_eq!(reserved.status, 400);
    assert_eq!(
        field_error(&reserved, "app_metadata-error").as_deref(),
        Some("is a reserved claim name"),
        "{}",
        reserved.body
    );
    let user: Value = app.get(&format!("/api/v1/users/{bob}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (user["given_name"].as_str(), user["app_metadata"].clone()),
        (Some("Test"), serde_json::json!({})),
        "refusals change nothing"
    );
    // A good change: 303 back to the page, saved as the API would, audited.
    let saved = ada
        .post_form(
            &path,
            &[
                ("csrf", &token),
                ("given_name", "Robert"),
                ("family_name", "Tables"),
                ("app_metadata", r#"{"plan": "pro"}"#),
                ("sso_required", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some(app.url(&format!("{path}?done=saved")).as_str()));
    let user: Value = app.get(&format!("/api/v1/users/{bob}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (user["given_name"].as_str(), user["family_name"].as_str(), user["sso_required"].as_bool()),
        (Some("Robert"), Some("Tables"), Some(true))
    );
    assert_eq!(user["app_metadata"], serde_json::json!({"plan": "pro"}));
    let entry = last_entry(&app, &admin, "user.updated").await;
    assert_eq!(
        (entry["actor"]["email"].as_str(), entry["resource"]["id"].as_str()),
        (Some("ada@acme.test"), Some(bob.as_str())),
        "{entry}"
    );
    assert_eq!(
        entry["details"]["changed"],
        serde_json::json!(["given_name", "family_name", "app_metadata", "sso_required"]),
        "{entry}"
    );
    let shown = ada.follow(saved).await;
    assert!(
        shown.body.contains("Profile saved")
            && shown.body.contains("value=\"Robert\"")
            && shown.body.contains(" checked"),
        "{}",
        shown.body
    );
    // The role has its own form on the page, with its mistake beside it.
    let bad_role = ada.post_form(&format!("{path}/roles"), &[("csrf", &token), ("role", "emperor")]).await;
    assert_eq!(bad_role.status, 400);
    assert_eq!(
        field_error(&bad_role, "role-error").as_deref(),
        Some("choose a role from the list"),
        "{}",
        bad_role.body
    );
    let role = ada.post_form(&format!("{path}/roles"), &[("csrf", &token), ("role", "readonly")]).await;
    assert_eq!(role.status, 303);
    assert_eq!(role.location.as_deref(), Some(app.url(&format!("{path}?done=roles")).as_str()));
    let entry = last_entry(&app, &admin, "user.role_changed").await;
    assert_eq!(entry["resource"]["id"], bob.as_str(), "{entry}");
    // Ada's own page offers no role form: the server refuses removing her own admin role.
    let me = ada.get(&format!("/app/users/{}", ids["ada@acme.test"])).await;
    assert!(!me.body.contains("/roles\"") && !me.body.contains("/disable\""), "{}", me.body);
    assert_eq!(ada.get("/app/users/nobody").await.status, 404);
}
backend_test!(admins_edit_a_user_on_their_page);

async fn admins_edit_an_application_on_its_page(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let new = cairn_identity::NewClient {
        name: "Portal".into(),
        redirect_uris: vec!["https://portal.example/cb".into()],
        post_logout_uris: vec![],
        public: false,
        service_role: None,
    };
    let (id, _) = app.create_client(&acme, new).await;
    let path = format!("/app/clients/{id}");
    refused_to_members(
        &app,
        &admin,
        &path,
        "/app/clients/{id}",
        &[("name", "Evil"), ("redirect_uris", "https://evil.example/cb")],
    )
    .await;
    let ada = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let page = ada.get(&path).await;
    assert_eq!(page.status, 200);
    assert_eq!(textarea(&page, "redirect_uris").as_deref(), Some("https://portal.example/cb"));
    let token = csrf(&page);
    let forged = ada
        .post_form(&path, &[("csrf", "forged"), ("name", "Evil"), ("redirect_uris", "https://evil.example/cb")])
        .await;
    assert_eq!(forged.status, 403);
    let typed = "https://portal.example/cb\nhttp://portal.example/insecure";
    let bad = ada
        .post_form(&path, &[("csrf", &token), ("name", "Portal 2"), ("redirect_uris", typed), ("post_logout_uris", "")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        field_error(&bad, "redirect_uris-error").is_some_and(|m| m.contains("may use http only on a loopback host")),
        "{}",
        bad.body
    );
    assert_eq!(textarea(&bad, "redirect_uris").as_deref(), Some(typed));
    assert_eq!(bad.input("name").as_deref(), Some("Portal 2"));
    let none = ada.post_form(&path, &[("csrf", &token), ("name", "Portal"), ("redirect_uris", "  ")]).await;
    assert_eq!(none.status, 400);
    assert_eq!(field_error(&none, "redirect_uris-error").as_deref(), Some("at least one is required"));
    let nameless =
        ada.post_form(&path, &[("csrf", &token), ("name", " "), ("redirect_uris", "https://portal.example/cb")]).await;
    assert_eq!(field_error(&nameless, "name-error").as_deref(), Some("is required"), "{}", nameless.body);
    let client: Value = app.get(&format!("/api/v1/clients/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (client["name"].as_str(), client["redirect_uris"].clone()),
        (Some("Portal"), serde_json::json!(["https://portal.example/cb"])),
        "refusals change nothing"
    );
    let saved = ada
        .post_form(
            &path,
            &[
                ("csrf", &token),
                ("name", "Portal 2"),
                ("redirect_uris", "https://portal.example/cb\nhttps://portal.example/cb2"),
                ("post_logout_uris", "https://portal.example/bye"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let client: Value = app.get(&format!("/api/v1/clients/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(client["name"], "Portal 2");
    assert_eq!(client["redirect_uris"], serde_json::json!(["https://portal.example/cb", "https://portal.example/cb2"]));
    assert_eq!(client["post_logout_redirect_uris"], serde_json::json!(["https://portal.example/bye"]));
    let entry = last_entry(&app, &admin, "client.updated").await;
    assert_eq!(
        (entry["actor"]["email"].as_str(), entry["resource"]["id"].as_str()),
        (Some("ada@acme.test"), Some(id.as_str())),
        "{entry}"
    );
    assert_eq!(entry["details"]["changed"]["redirect_uris"], client["redirect_uris"], "{entry}");
    assert!(ada.follow(saved).await.body.contains("Application saved"));
    // The new redirect URI works at once.
    let (_, challenge) = cairn_testkit::browser::pkce();
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fportal.example%2Fcb2&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256"
    );
    assert_eq!(Browser::new(&app.base_url).get(&authorize).await.status, 200, "the sign-in form, not an error");
    assert_eq!(ada.get("/app/clients/nope").await.status, 404);
}
backend_test!(admins_edit_an_application_on_its_page);

async fn admins_edit_test_and_roll_a_webhook_on_its_page(backend: Backend) {
    use cairn_testkit::receiver::Receiver;
    let (app, acme) = app_with_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let receiver = Receiver::start().await;
    let created: Value = app
        .post("/api/v1/webhooks", &admin, &serde_json::json!({"url": receiver.url, "events": ["records_created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned());
    let path = format!("/app/webhooks/{id}");
    refused_to_members(
        &app,
        &admin,
        &path,
        "/app/webhooks/{id}",
        &[("url", "https://evil.example/"), ("events", "records_created")],
    )
    .await;
    let ada = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let page = ada.get(&path).await;
    assert_eq!(page.status, 200);
    let token = csrf(&page);
    let forged = ada
        .post_form(&path, &[("csrf", "forged"), ("url", "https://evil.example/"), ("events", "records_created")])
        .await;
    assert_eq!(forged.status, 403);
    let bad = ada.post_form(&path, &[("csrf", &token), ("url", "ftp://x.test/"), ("events", "record_published")]).await;
    assert_eq!(bad.status, 400);
    assert!(field_error(&bad, "w-url-error").is_some_and(|m| m.contains("must be http or https")), "{}", bad.body);
    assert_eq!(bad.input("url").as_deref(), Some("ftp://x.test/"));
    assert!(bad.body.contains("value=\"record_published\" checked"), "the ticked types stay ticked");
    let none = ada.post_form(&path, &[("csrf", &token), ("url", &receiver.url)]).await;
    assert_eq!(none.status, 400);
    assert!(field_error(&none, "w-events-error").is_some(), "{}", none.body);
    let hook: Value = app.get(&format!("/api/v1/webhooks/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(hook["events"], serde_json::json!(["records_created"]), "refusals change nothing");
    let saved = ada
        .post_form(
            &path,
            &[("csrf", &token), ("url", &receiver.url), ("events", "records_created"), ("events", "record_published")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let hook: Value = app.get(&format!("/api/v1/webhooks/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(hook["events"], serde_json::json!(["records_created", "record_published"]));
    let entry = last_entry(&app, &admin, "webhook.updated").await;
    assert_eq!(
        (entry["actor"]["email"].as_str(), entry["resource"]["id"].as_str()),
        (Some("ada@acme.test"), Some(id.as_str())),
        "{entry}"
    );

    // A test event goes to this receiver alone, signed with its secret, and shows in the log.
    assert_eq!(ada.post_form(&format!("{path}/test"), &[("csrf", "forged")]).await.status, 403);
    let test = ada.post_form(&format!("{path}/test"), &[("csrf", &token)]).await;
    assert_eq!(test.status, 303);
    assert_eq!(test.location.as_deref(), Some(app.url(&format!("{path}?done=test")).as_str()));
    let got = receiver.wait_for(1, std::time::Duration::from_secs(20)).await;
    let body = got[0].json();
    assert_eq!(
        (body["type"].as_str(), body["resource"]["id"].as_str()),
        (Some("webhook.test"), Some(id.as_str())),
        "{body}"
    );
    let signed = cairn_events::webhooks::sign(
        &secret,
        got[0].header("webhook-id"),
        got[0].header("webhook-timestamp").parse().unwrap(),
        &got[0].body,
    )
    .unwrap();
    assert_eq!(got[0].header("webhook-signature"), signed);
    let entry = last_entry(&app, &admin, "webhook.test_sent").await;
    assert_eq!(
        (entry["resource"]["id"].as_str(), entry["details"]["event_id"].as_str()),
        (Some(id.as_str()), body["id"].as_str()),
        "{entry}"
    );
    cairn_testkit::eventually("the test in the log", std::time::Duration::from_secs(20), || async {
        ada.get(&path).await.body.contains("webhook.test</code>").then_some(())
    })
    .await;

    // Rolling the secret asks first, then shows the new one once, on this page.
    let ask = ada.get(&format!("{path}/rotate")).await;
    assert!(ask.status == 200 && ask.body.contains("Give the webhook to"), "{}", ask.body);
    assert_eq!(ada.post_form(&format!("{path}/rotate"), &[("csrf", "forged")]).await.status, 403);
    let rolled = ada.post_form(&format!("{path}/rotate"), &[("csrf", &token)]).await;
    assert_eq!(rolled.status, 303);
    let shown = ada.follow(rolled).await;
    let new_secret = shown
        .body
        .split("<code id=\"secret\">")
        .nth(1)
        .expect("the new secret is shown")
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(shown.body.contains("data-copy=\"secret\""), "with a copy button");
    assert!(!ada.get(&path).await.body.contains(&new_secret), "shown once");
    let entry = last_entry(&app, &admin, "webhook.secret_rotated").await;
    assert_eq!(entry["resource"]["id"], id.as_str(), "{entry}");
    // Deliveries from now on are signed with the new secret.
    assert_eq!(ada.post_form(&format!("{path}/test"), &[("csrf", &token)]).await.status, 303);
    let got = receiver.wait_for(2, std::time::Duration::from_secs(20)).await;
    let signed = cairn_events::webhooks::sign(
        &new_secret,
        got[1].header("webhook-id"),
        got[1].header("webhook-timestamp").parse().unwrap(),
        &got[1].body,
    )
    .unwrap();
    assert_eq!(got[1].header("webhook-signature"), signed);
    assert_eq!(
        ada.post_form("/app/webhooks/01900000-0000-7000-8000-000000000000/test", &[("csrf", &token)]).await.status,
        404
    );
}
backend_test!(admins_edit_test_and_roll_a_webhook_on_its_page);

async fn refused_forms_keep_what_was_typed_beside_their_field(backend: Backend) {
    let (app, _) = app_with_admin(backend).await;
    let ada = Browser::new(&app.base_url);
    let page = ada.web_sign_in("acme", "ada@acme.test", PASSWORD).await;
    let token = csrf(&page);
    let number = ada.post_form("/app/numbers", &[("csrf", &token), ("value", "lots")]).await;
    assert_eq!(number.status, 400);
    assert!(field_error(&number, "value-error").is_some_and(|m| m.contains("finite number")), "{}", number.body);
    assert_eq!(number.input("value").as_deref(), Some("lots"));
    let invite = ada
        .post_form(
            "/app/users",
            &[("csrf", &token), ("email", "not-an-email"), ("given_name", "Cat"), ("role", "member")],
        )
        .await;
    assert_eq!(invite.status, 400);
    assert_eq!(field_error(&invite, "new-email-error").as_deref(), Some("must contain @"), "{}", invite.body);
    assert_eq!(
        (invite.input("email").as_deref(), invite.input("given_name").as_deref()),
        (Some("not-an-email"), Some("Cat"))
    );
    assert!(invite.body.contains("<option value=\"member\" selected>"), "the chosen role stays chosen");
    let taken = ada.post_form("/app/users", &[("csrf", &token), ("email", "BOB@acme.test")]).await;
    assert_eq!(taken.status, 409);
    assert!(field_error(&taken, "new-email-error").is_some(), "{}", taken.body);
    let record = ada
        .post_form("/app/records", &[("csrf", &token), ("title", " "), ("tags", "ops, guide"), ("body", "Kept")])
        .await;
    assert_eq!(record.status, 400);
    assert!(field_error(&record, "title-error").is_some(), "{}", record.body);
    assert_eq!(
        (record.input("tags").as_deref(), textarea(&record, "body").as_deref()),
        (Some("ops, guide"), Some("Kept"))
    );
    let app_form = ada
        .post_form(
            "/app/clients",
            &[("csrf", &token), ("name", "Portal"), ("kind", "confidential"), ("redirect_uris", "nope")],
        )
        .await;
    assert_eq!(app_form.status, 400);
    assert!(
        field_error(&app_form, "redirect_uris-error").is_some_and(|m| m.contains("is not an absolute URL")),
        "{}",
        app_form.body
    );
    let password = ada
        .post_form(
            "/app/profile/password",
            &[("csrf", &token), ("current_password", "wrong"), ("new_password", "lilac pepper harbor")],
        )
        .await;
    assert_eq!(password.status, 400);
    assert_eq!(
        field_error(&password, "current_password-error").as_deref(),
        Some("is not your current password"),
        "{}",
        password.body
    );
    let org = Browser::new(&app.base_url).get("/signin?org=Not%20A%20Slug").await;
    assert_eq!(org.status, 400);
    assert_eq!(org.input("org").as_deref(), Some("Not A Slug"));
    let audit = ada.get("/app/audit?action=Not%20An%20Action").await;
    assert_eq!(audit.status, 400);
    assert!(field_error(&audit, "f-action-error").is_some(), "{}", audit.body);
    assert_eq!(audit.input("action").as_deref(), Some("Not An Action"));
}
backend_test!(refused_forms_keep_what_was_typed_beside_their_field);

async fn pages_show_times_in_the_viewers_zone_and_people_by_name(backend: Backend) {
    let (app, acme) = app_with_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let ids = user_ids(&app, &admin).await;
    let bob = &ids["bob@acme.test"];
    let as_bob = app.token_for(&acme, Role::Member, bob);
    assert_eq!(app.add_number(&as_bob, serde_json::json!(7)).await.status(), 201);
    let created: Value = app
        .post("/api/v1/records", &as_bob, &serde_json::json!({"title": "Field guide"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ada = Browser::new(&app.base_url);
    let numbers = ada.web_sign_in("acme", "ada@acme.test", PASSWORD).await;
    // The user's name (the test kit's "Test User"), with the email on hover; never the id.
    for page in [
        numbers,
        ada.get("/app/records").await,
        ada.get(&format!("/app/records/{}", created["id"].as_str().unwrap())).await,
    ] {
        assert!(page.body.contains("<span title=\"bob@acme.test\">Test User</span>"), "{}", page.body);
        assert!(!page.body.contains(&format!(">{bob}<")), "{}", page.body);
        // UTC in the markup, for the script to show in the viewer's zone.
        let time = page.body.split("<time datetime=\"").nth(1).expect("a time").split('"').next().unwrap().to_owned();
        assert!(time.ends_with('Z') && page.body.contains(" UTC</time>"), "{}", page.body);
        assert!(page.body.contains("<script src=\"/static/cairn.js\" defer></script>"));
    }
    let script = ada.get("/static/cairn.js").await;
    assert_eq!(script.status, 200);
    assert!(script.headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.body.contains("RelativeTimeFormat") && script.body.contains("clipboard"));
    // The organization and sign-out sit in the account menu; the navigation collapses without a script.
    let page = ada.get("/app/numbers").await;
    let menu = page
        .body
        .split("<details class=\"account\">")
        .nth(1)
        .expect("an account menu")
        .split("</details>")
        .next()
        .unwrap()
        .to_owned();
    assert!(menu.contains("<strong>acme</strong>") && menu.contains("action=\"/app/signout\""), "{menu}");
    assert!(page.body.contains("<details class=\"nav-toggle\">"));
}
backend_test!(pages_show_times_in_the_viewers_zone_and_people_by_name);
