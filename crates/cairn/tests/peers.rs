//! Cairn against peers no one here wrote: the certified openid-client relying party, a real
//! SMTP server, and headless Chromium. Each runs on SQLite and on PostgreSQL.

use cairn_domain::Role;
use cairn_testkit::rp::{self, MEMBER, PASSWORD, RelyingParty};
use cairn_testkit::{Backend, TestApp, backend_test, mail, peers};

/// openid-client signs the member in to the relying party's client, `public` or not.
async fn openid_client(backend: cairn_testkit::Backend, public: bool) {
    let rp = RelyingParty::spawn(backend, public).await;
    let out = peers::node(
        "rp.mjs",
        &[
            ("CAIRN_ISSUER", rp.app.issuer()),
            ("CLIENT_ID", &rp.client_id),
            ("CLIENT_SECRET", rp.secret.as_deref().unwrap_or_default()),
            ("REDIRECT_URI", rp::REDIRECT),
            ("POST_LOGOUT_URI", rp::POST_LOGOUT),
            ("EMAIL", MEMBER),
            ("PASSWORD", PASSWORD),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openid-client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(r#""ok":true"#), "{stdout}");
    println!("{stdout}");
    if !public {
        assert!(stdout.contains("introspection"), "{stdout}");
    }
}

async fn openid_client_completes_the_flow_as_a_confidential_client(backend: Backend) {
    openid_client(backend, false).await;
}
backend_test!(openid_client_completes_the_flow_as_a_confidential_client);

async fn openid_client_completes_the_flow_as_a_public_client(backend: Backend) {
    openid_client(backend, true).await;
}
backend_test!(openid_client_completes_the_flow_as_a_public_client);

async fn invitation_first_sign_in_and_forgot_password_through_a_real_smtp_server(backend: Backend) {
    use cairn_testkit::browser::Browser;
    use cairn_testkit::smtp::SmtpServer;
    use serde_json::json;
    let smtp = SmtpServer::start();
    let rp =
        RelyingParty::on(TestApp::spawn_with(backend, |c| c.mail_url = smtp.url().parse().unwrap()).await, true).await;
    let app = &rp.app;
    let admin = rp.admin();
    let resp = app
        .post("/api/v1/users", &admin, &json!({"email": "eve@acme.test", "given_name": "Eve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let invitation = smtp.wait_for(1).await.remove(0);
    assert!(invitation.contains("To: eve@acme.test"), "{invitation}");
    assert!(invitation.contains("From: Cairn <no-reply@localhost>"), "{invitation}");
    assert!(invitation.contains("Content-Type: text/html"), "both parts: {invitation}");
    let temporary = mail::value_after(&invitation, mail::TEMPORARY_PASSWORD);

    let browser = Browser::new(&app.base_url);
    let form = rp.sign_in_form(&browser, &[("prompt", "login")]).await;
    let change = browser.sign_in(&form, "eve@acme.test", &temporary).await;
    assert!(change.body.contains("Choose your password"), "{}", change.body);
    let done = browser
        .post_form(
            "/oauth2/change-password",
            &[
                ("request", &change.input("request").unwrap()),
                ("csrf", &change.input("csrf").unwrap()),
                ("new_password", "harbor violet engine"),
            ],
        )
        .await;
    assert!(done.redirect_param("code").is_some(), "{}", done.body);
    let form = rp.sign_in_form(&browser, &[("prompt", "login")]).await;
    assert!(browser.sign_in(&form, "eve@acme.test", "harbor violet engine").await.redirect_param("code").is_some());

    // Forgot password: the code arrives by SMTP and works once.
    let page = browser.get("/t/acme/forgot").await;
    let csrf = page.input("csrf").unwrap();
    browser.post_form("/t/acme/forgot", &[("csrf", &csrf), ("email", "eve@acme.test")]).await;
    let reset = smtp.wait_for(2).await.remove(1);
    assert!(reset.contains("password reset code"), "{reset}");
    let code = mail::reset_code(&reset).expect("an eight-symbol code, grouped as ABCD-EFGH");
    let ok = browser
        .post_form(
            "/t/acme/reset",
            &[("csrf", &csrf), ("email", "eve@acme.test"), ("code", &code), ("new_password", "copper lagoon summit")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let form = rp.sign_in_form(&browser, &[("prompt", "login")]).await;
    assert!(browser.sign_in(&form, "eve@acme.test", "copper lagoon summit").await.redirect_param("code").is_some());
}
backend_test!(invitation_first_sign_in_and_forgot_password_through_a_real_smtp_server);

async fn a_person_signs_in_adds_a_number_and_signs_out_in_chromium(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.bootstrap.as_ref().expect("a fresh app bootstraps");
    let tenant = app.store.tenant_by_slug(&cairn_domain::TenantSlug::parse(&first.tenant).unwrap()).await.unwrap();
    let robot = app.token_for(&cairn_testkit::TestTenant { id: tenant.id, slug: tenant.slug }, Role::Member, "robot");
    let out = peers::node(
        "browser.mjs",
        &[
            ("CAIRN_URL", &app.base_url),
            ("API_TOKEN", &robot),
            ("ORG", &first.tenant),
            ("EMAIL", &first.email),
            ("TEMPORARY_PASSWORD", &first.temporary_password),
            ("NEW_PASSWORD", "meadow granite compass"),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("saw a record appear live"), "{stdout}");
}
backend_test!(a_person_signs_in_adds_a_number_and_signs_out_in_chromium);

async fn sso_through_oidc_provider_links_by_verified_email_and_enforces_sso(backend: Backend) {
    use cairn_testkit::browser::{Browser, Page, pkce, query_param};
    use cairn_testkit::peers::NodeServer;
    use serde_json::{Value, json};
    let rp = RelyingParty::spawn(backend, true).await;
    let (app, ann, redirect) = (&rp.app, &rp.member, rp::REDIRECT);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let accounts = json!({
        "ann-upstream": {"email": "ann@acme.test", "email_verified": true},
        "ghost-upstream": {"email": "ghost@acme.test", "email_verified": true},
        "unverified-upstream": {"email": "ann@acme.test", "email_verified": false},
    })
    .to_string();
    let callback = app.url("/oauth2/sso/callback");
    let upstream = NodeServer::start(
        "upstream-idp.mjs",
        &[
            ("PORT", &port),
            ("REDIRECT_URI", &callback),
            ("CLIENT_ID", "cairn"),
            ("CLIENT_SECRET", "upstream-secret-0123456789"),
            ("ACCOUNTS", &accounts),
            ("NODE_ENV", "production"),
        ],
    );
    let admin = rp.admin();
    let created = app.post("/api/v1/sso-connections", &admin, &json!({
        "name": "Acme IdP", "issuer": upstream.url, "client_id": "cairn", "client_secret": "upstream-secret-0123456789",
    })).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let listed: Value = app.get("/api/v1/sso-connections", &admin).send().await.unwrap().json().await.unwrap();
    assert!(listed["items"][0].get("client_secret").is_none(), "the secret is write-only");

    let (verifier, challenge) = pkce();
    let authorize =
        rp.authorize_url(&[("code_challenge", &challenge), ("code_challenge_method", "S256"), ("state", "s1")]);
    // Signs in through the upstream provider as `account`; returns the redirect to the app.
    let sso = |account: &'static str| {
        let (upstream, authorize) = (&upstream, authorize.clone());
        async move {
            app.client.get(format!("{}/_login_as/{account}", upstream.url)).send().await.unwrap();
            let browser = Browser::new(&app.base_url);
            let form = browser.get(&authorize).await;
            assert!(form.body.contains("Continue with Acme IdP"), "{}", form.body);
            let start = format!(
                "/oauth2/sso?request={}&connection={}",
                url::form_urlencoded::byte_serialize(form.input("request").unwrap().as_bytes()).collect::<String>(),
                form.input("connection").unwrap()
            );
            let page: Page = browser.follow_until(browser.get(&start).await, redirect).await;
            page.location.unwrap_or_else(|| panic!("no redirect back: {} {}", page.status, page.body))
        }
    };

    // Rule 1: the first SSO sign-in links to the password user with the same verified email.
    let back = sso("ann-upstream").await;
    assert!(back.starts_with(redirect), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("s1"));
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let t: Value = rp.exchange(&code, &verifier).await.json().await.unwrap();
    let claims = rp::jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], ann.id.as_str(), "the password user stays primary");
    let audit: Value =
        app.get("/api/v1/audit?action=user.identity_linked", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(audit["items"][0]["resource"]["id"], ann.id.as_str());

    // No password user with that email, or an unverified email: denied, told to the app.
    for account in ["ghost-upstream", "unverified-upstream"] {
        let back = sso(account).await;
        assert_eq!(query_param(&back, "error").as_deref(), Some("access_denied"), "{account}: {back}");
        assert_eq!(query_param(&back, "error_description").as_deref(), Some("No authorized user found"), "{account}");
    }

    // Rule 3: a user flagged SSO may not sign in with a password, only through SSO.
    let flagged = app
        .client
        .patch(app.url(&format!("/api/v1/users/{}", ann.id)))
        .bearer_auth(&admin)
        .json(&json!({"sso_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(flagged.status(), 200);
    let browser = Browser::new(&app.base_url);
    let form = browser.get(&authorize).await;
    let denied = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(denied.redirect_param("error").as_deref(), Some("access_denied"));
    assert_eq!(
        denied.redirect_param("error_description").as_deref(),
        Some("Unsecure login detected, please login using SSO")
    );
    let back = sso("ann-upstream").await;
    assert!(query_param(&back, "code").is_some(), "{back}");
}
backend_test!(sso_through_oidc_provider_links_by_verified_email_and_enforces_sso);

async fn publish_notices_wait_out_an_smtp_outage_and_arrive_once(backend: Backend) {
    use cairn_store::sqlx;
    use cairn_testkit::smtp::SmtpServer;
    use serde_json::json;
    let mut smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, |c| c.mail_url = smtp.url().parse().unwrap()).await;
    let acme = app.create_tenant("acme").await;
    let mut subscribers = Vec::new();
    for name in ["ann", "bob", "cy"] {
        let user = app.create_user(&acme, &format!("{name}@acme.test"), "correct horse battery", &[Role::Member]).await;
        let token = app.token_for(&acme, Role::Member, &user.id);
        let resp = app
            .client
            .put(app.url("/api/v1/me/subscriptions"))
            .bearer_auth(&token)
            .json(&json!({"publish_history": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        subscribers.push(format!("{name}@acme.test"));
    }
    smtp.stop();
    let member = app.token(&acme, Role::Member);
    let id = app.create_record(&member, "Outage drill").await;
    for note in ["first", "second"] {
        let resp =
            app.post(&format!("/api/v1/records/{id}/publish"), &member, &json!({"note": note})).send().await.unwrap();
        assert_eq!(resp.status(), 201);
    }
    // Every mail delivery fails while the server is down, and is retried.
    let (_, db) = app.tenant(&acme).await;
    cairn_testkit::eventually("failed mail attempts", std::time::Duration::from_secs(20), || async {
        let failing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE consumer LIKE 'publish_mail:%' AND state = 'pending' AND attempts >= 2",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        (failing == 6).then_some(())
    })
    .await;
    assert!(smtp.messages().is_empty());
    smtp.restart();
    let got = smtp.wait_for(6).await;
    cairn_testkit::eventually("deliveries to settle", std::time::Duration::from_secs(20), || async {
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state <> 'done'")
            .fetch_one(db.reader())
            .await
            .unwrap();
        (open == 0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = if smtp.messages().len() > got.len() { smtp.messages() } else { got };
    assert_eq!(got.len(), 6, "each subscriber got each publication once");
    for to in &subscribers {
        for version in [1, 2] {
            let n = got
                .iter()
                .filter(|m| m.contains(&format!("To: {to}")) && m.contains(&format!("(version {version})")))
                .count();
            assert_eq!(n, 1, "{to}, version {version}");
        }
    }
}
backend_test!(publish_notices_wait_out_an_smtp_outage_and_arrive_once);

async fn account_mail_waits_out_an_smtp_outage_in_the_outbox(backend: Backend) {
    use cairn_store::sqlx;
    use cairn_testkit::smtp::SmtpServer;
    use serde_json::{Value, json};
    let mut smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, |c| c.mail_url = smtp.url().parse().unwrap()).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    smtp.stop();
    // An invitation and a reset code asked for while the mail server is down.
    let resp = app.post("/api/v1/users", &admin, &json!({"email": "dee@acme.test"})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let dee: Value = resp.json().await.unwrap();
    app.create_user(&acme, "eli@acme.test", "correct horse battery", &[Role::Member]).await;
    let browser = cairn_testkit::browser::Browser::new(&app.base_url);
    let form = browser.get("/t/acme/forgot").await;
    let sent = browser
        .post_form("/t/acme/forgot", &[("csrf", &form.input("csrf").unwrap()), ("email", "eli@acme.test")])
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let (_, db) = app.tenant(&acme).await;
    cairn_testkit::eventually("both mails failing and retried", std::time::Duration::from_secs(20), || async {
        let failing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE consumer = 'account_mail' AND state = 'pending' AND attempts >= 2",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        (failing == 2).then_some(())
    })
    .await;
    assert!(smtp.messages().is_empty());
    // The outbox holds neither the temporary password nor the code in the clear, and the
    // events are nobody's to list.
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload FROM outbox WHERE type LIKE 'internal.%'")
        .fetch_all(db.reader())
        .await
        .unwrap();
    assert_eq!(payloads.len(), 3, "an invitation, a reset request and its code's mail: {payloads:?}");
    assert!(payloads.iter().all(|p| !p.contains("eli@acme.test") && !p.contains("dee@acme.test")), "{payloads:?}");
    let listed: Value = app.get("/api/v1/events", &admin).send().await.unwrap().json().await.unwrap();
    assert!(!listed.to_string().contains("internal."), "internal events are not listed: {listed}");
    smtp.restart();
    let got = smtp.wait_for(2).await;
    let invitation = got.iter().find(|m| m.contains("To: dee@acme.test")).expect("the invitation");
    let reset = got.iter().find(|m| m.contains("To: eli@acme.test")).expect("the reset code");
    assert!(invitation.contains("temporary password") || invitation.contains("Temporary password"), "{invitation}");
    assert!(reset.to_lowercase().contains("code"), "{reset}");
    assert!(invitation.contains("Message-ID: <") || invitation.contains("Message-Id: <"), "{invitation}");
    cairn_testkit::eventually("the deliveries done", std::time::Duration::from_secs(20), || async {
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE consumer IN ('account_mail', 'password_reset') AND state <> 'done'",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        (open == 0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 2, "each mail once");
    assert_eq!(dee["status"], "FORCE_CHANGE_PASSWORD");
}
backend_test!(account_mail_waits_out_an_smtp_outage_in_the_outbox);

async fn account_mail_that_never_goes_out_is_a_failed_delivery(backend: Backend) {
    use serde_json::{Value, json};
    // Nothing listens on port 9 of loopback: every attempt fails; one attempt allowed.
    let app = TestApp::spawn_with(backend, |c| {
        c.mail_url = "smtp://127.0.0.1:9".parse().unwrap();
        c.events.max_attempts = 1;
    })
    .await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let resp = app.post("/api/v1/users", &admin, &json!({"email": "dee@acme.test"})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let dead = cairn_testkit::eventually(
        "the invitation among failed deliveries",
        std::time::Duration::from_secs(20),
        || async {
            let dead: Value = app.get("/api/v1/events/dead", &admin).send().await.unwrap().json().await.unwrap();
            dead["items"].as_array().and_then(|items| items.iter().find(|d| d["consumer"] == "account_mail").cloned())
        },
    )
    .await;
    assert_eq!(dead["event_type"], "internal.account_mail", "{dead}");
    assert!(dead["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{dead}");
}
backend_test!(account_mail_that_never_goes_out_is_a_failed_delivery);

async fn an_admin_reboots_an_instance_from_its_page_in_chromium(backend: Backend) {
    use cairn_testkit::moto::{ACCESS_KEY, MotoServer, SECRET_KEY};
    use serde_json::{Value, json};
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let ada = app.create_user(&acme, "ada@acme.test", PASSWORD, &[Role::Admin]).await;
    let admin = app.token_for(&acme, Role::Admin, &ada.id);
    let moto = MotoServer::start();
    let ids = moto.run_instances(ACCESS_KEY, "eu-west-1", 2, "web", &[("env", "prod")]).await;
    let account = json!({
        "name": "prod", "regions": ["eu-west-1"], "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY,
        "endpoint_url": moto.url(),
    });
    let resp = app.post("/api/v1/instances/accounts", &admin, &account).send().await.unwrap();
    assert_eq!(resp.status(), 201);

    let out = peers::node(
        "instances.mjs",
        &[
            ("CAIRN_URL", &app.base_url),
            ("ORG", "acme"),
            ("EMAIL", "ada@acme.test"),
            ("PASSWORD", PASSWORD),
            ("INSTANCE_ID", &ids[1]),
            ("INSTANCE_NAME", "web-1"),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("rebooted the instance"), "{stdout}");
    // The reboot reached AWS as Ada's, and is in the trail.
    let trail: Value =
        app.get("/api/v1/audit?action=instance.reboot", &admin).send().await.unwrap().json().await.unwrap();
    let entry = &trail["items"][0];
    assert_eq!((entry["outcome"].as_str(), entry["resource"]["id"].as_str()), (Some("success"), Some(ids[1].as_str())));
    assert_eq!(entry["actor"]["id"], ada.id.as_str());
}
backend_test!(an_admin_reboots_an_instance_from_its_page_in_chromium);

async fn every_page_reads_well_at_both_widths_in_both_schemes_in_chromium(backend: Backend) {
    use cairn_testkit::receiver::Receiver;
    use serde_json::{Value, json};
    let name = format!("{backend:?}").to_lowercase();
    // One attempt per delivery, so a failing receiver fills the failed deliveries page at once.
    let app = TestApp::spawn_with(backend, |c| c.events.max_attempts = 1).await;
    let acme = app.create_tenant("acme").await;
    let email = "ada.lovelace@analytical-engine-society.acme.test";
    let ada = app.create_user(&acme, email, PASSWORD, &[Role::Admin]).await;
    let admin = app.token_for(&acme, Role::Admin, &ada.id);
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        resp.json::<Value>().await.unwrap_or(Value::Null)
    };
    let patch = |path: &str, body: Value| app.client.patch(app.url(path)).bearer_auth(&admin).json(&body);
    send(patch(&format!("/api/v1/users/{}", ada.id), json!({"given_name": "Ada", "family_name": "Lovelace"}))).await;

    // People: long names and addresses, each status.
    let mut users = Vec::new();
    for (email, given, family, role) in [
        (
            "grace.brewster.murray.hopper@naval-research-laboratory.acme.test",
            "Grace Brewster Murray",
            "Hopper",
            "member",
        ),
        ("margaret.hamilton@apollo-guidance.acme.test", "Margaret", "Hamilton", "readonly"),
        ("katherine.johnson@acme.test", "Katherine", "Johnson", "admin"),
        ("no.name.given@acme.test", "", "", "member"),
    ] {
        let body = json!({"email": email, "given_name": given, "family_name": family, "roles": [role]});
        users.push(send(app.post("/api/v1/users", &admin, &body)).await["id"].as_str().unwrap().to_owned());
    }
    send(app.client.post(app.url(&format!("/api/v1/users/{}/disable", users[1]))).bearer_auth(&admin)).await;
    let member = app.token_for(&acme, Role::Member, &users[0]);

    // Applications with long redirect URIs, of each kind.
    let portal = send(app.post("/api/v1/clients", &admin, &json!({
        "name": "Customer portal (production, eu-west-1, behind the shared load balancer)",
        "redirect_uris": (1..=4).map(|i| format!("https://portal.customers.example-corporation.com/oauth2/callback/region-{i}/very/long/path?tenant=acme")).collect::<Vec<_>>(),
        "post_logout_redirect_uris": ["https://portal.customers.example-corporation.com/signed-out"],
    }))).await["client_id"].as_str().unwrap().to_owned();
    send(app.post(
        "/api/v1/clients",
        &admin,
        &json!({"name": "Field app", "public": true, "redirect_uris": ["http://localhost:5173/callback"]}),
    ))
    .await;
    send(app.post("/api/v1/clients", &admin, &json!({"name": "Nightly importer", "service_role": "member"}))).await;

    // Webhooks: one receiver answers, one fails (so deliveries fail), both with long URLs.
    let (good, bad) = (Receiver::start().await, Receiver::start().await);
    bad.set_default(500);
    let long = |r: &Receiver| {
        format!("{}?topic=records&tenant=acme-corporation-international&padding={}", r.url, "x".repeat(70))
    };
    let hook =
        send(app.post("/api/v1/webhooks", &admin, &json!({"url": long(&good), "events": cairn_domain::events::ALL})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    send(app.post(
        "/api/v1/webhooks",
        &admin,
        &json!({"url": long(&bad), "events": ["records_created", "record_published"]}),
    ))
    .await;

    // Records with long titles, many tags and bodies; one published twice, by two people.
    let records: Vec<Value> = (1..=6).map(|i| json!({
        "title": format!("Quarterly infrastructure review {i}: moving the remaining eu-west-1 workloads to the new cluster and retiring the bastion hosts"),
        "tags": ["infrastructure", "quarterly-review", "eu-west-1", "kubernetes", "migration", "security", "cost", "bastion", "networking", "observability", "on-call", "postmortem-follow-up"],
        "body": "Step one: inventory.\nStep two: migrate.\n".repeat(i),
    })).collect();
    let created = send(app.post("/api/v1/records/bulk", &member, &json!({"records": records}))).await;
    let record = created["items"].as_array().or(created.as_array()).unwrap()[0]["id"].as_str().unwrap().to_owned();
    send(app.post(
        &format!("/api/v1/records/{record}/publish"),
        &member,
        &json!({"note": "First release to every subscriber, with the migration plan and the rollback steps"}),
    ))
    .await;
    send(app.post(&format!("/api/v1/records/{record}/publish"), &admin, &json!({"note": "Second"}))).await;
    for v in [json!(42), json!(2.5), json!(-17), json!(123456789012345i64), json!(0.000123), json!(-999999999999999i64)]
    {
        assert_eq!(app.add_number(&admin, v).await.status(), 201);
    }
    // A team with long names and every identity, and one that is empty.
    let member = |i: usize| {
        json!({
            "name": format!("Alexandra Konstantinopolska-Vandenberghe {i}"),
            "email": format!("alexandra.konstantinopolska.vandenberghe.{i}@engineering.example.com"),
            "other_emails": [format!("a.k.v.{i}@personal-mail.example.org")],
            "github_login": format!("alexandra-konstantinopolska-{i}"),
            "jira_account_id": format!("557058:f58131cb-b67d-43c7-b30d-6b58d40bd07{i}"),
            "from": "2026-01-01",
            "to": if i == 0 { json!("2026-03-01") } else { Value::Null },
        })
    };
    let team = send(app.post(
        "/api/v1/metrics/teams",
        &admin,
        &json!({"name": "Platform reliability, developer experience and internal tooling of payments", "board": 12, "members": (0..3).map(member).collect::<Vec<_>>()}),
    ))
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(app.post("/api/v1/metrics/teams", &admin, &json!({"name": "Web"}))).await;
    // Metrics sources with long names and many repositories: one whose run finished, one
    // whose run waits out a spent rate limit (its page follows it live).
    let mut world = cairn_testkit::fixtures::GitHubWorld::new("ghp_screens");
    let repositories: Vec<String> = ["payments-reconciliation-service", "customer-portal-web", "billing", "ledger"]
        .iter()
        .map(|r| format!("acme-corporation-international/{r}"))
        .collect();
    for r in &repositories {
        world.repository(r, "main");
    }
    world.add_organization("acme-corporation-international");
    let day = 86_400_000;
    // Commits by two of the team's members, for the dashboards' charts.
    for i in 1..=6 {
        let commit = cairn_testkit::fixtures::NewCommit::on("main").at_ms(cairn_domain::now_ms() - i * 3 * day);
        let author = format!("alexandra.konstantinopolska.vandenberghe.{}@engineering.example.com", 1 + i % 2);
        world.commit(&repositories[0], commit.by_email("Alexandra", &author).lines(10 * i as u32, 2, 1));
    }
    let gh = cairn_testkit::fixtures::GitHubServer::start(world).await;
    let github = |name: &str| {
        json!({"kind": "github", "name": name, "base_url": gh.base_url, "graphql_url": gh.graphql_url,
            "token": "ghp_screens", "repositories": repositories, "organization": "acme-corporation-international"})
    };
    let source = send(app.post(
        "/api/v1/metrics/sources",
        &admin,
        &github("GitHub: payments, reconciliation and the customer-facing web applications"),
    ))
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = send(app.post("/api/v1/metrics/sources", &admin, &github("GitHub Enterprise"))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let finished = send(app.post(&format!("/api/v1/metrics/sources/{source}/runs"), &admin, &json!({}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cairn_testkit::eventually("the run to finish", std::time::Duration::from_secs(60), || async {
        let run = send(app.get(&format!("/api/v1/metrics/runs/{finished}"), &admin)).await;
        (run["status"] == "succeeded").then_some(())
    })
    .await;
    gh.fault(cairn_testkit::fixtures::Fault::PrimaryLimit { reset_in: std::time::Duration::from_secs(1800) });
    let live = send(app.post(&format!("/api/v1/metrics/sources/{waiting}/runs"), &admin, &json!({}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Cloud instances: two accounts (one whose endpoint stops answering), long names and
    // tags, a metric with data and one without.
    use cairn_testkit::moto::{ACCESS_KEY, MotoServer, SECRET_KEY};
    let moto = MotoServer::start();
    let mut gone = MotoServer::start();
    let long_tags = [("env", "production"), ("team", "payments-reconciliation-and-ledger"), ("cost-center", "4711")];
    let fleet =
        moto.run_instances(ACCESS_KEY, "eu-west-1", 3, "payments-reconciliation-worker-eu-west-1a", &long_tags).await;
    moto.run_instances(ACCESS_KEY, "us-east-1", 1, "ledger", &[]).await;
    gone.run_instances(ACCESS_KEY, "eu-west-1", 1, "lost", &[]).await;
    let now = cairn_domain::now_ms();
    let cpu: Vec<(i64, f64)> = (1..=50).map(|i| (now - i * 60_000, 20.0 + (i % 9) as f64 * 6.5)).collect();
    moto.put_metric(ACCESS_KEY, "eu-west-1", &fleet[0], "CPUUtilization", &cpu).await;
    let cloud_account = |name: &str, m: &MotoServer| {
        json!({"name": name, "regions": ["eu-west-1", "us-east-1"], "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY, "endpoint_url": m.url()})
    };
    let prod = send(app.post("/api/v1/instances/accounts", &admin, &cloud_account("production-payments", &moto))).await
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(app.post("/api/v1/instances/accounts", &admin, &cloud_account("legacy", &gone))).await;
    gone.stop();
    let instance = format!("/app/instances/production-payments/eu-west-1/{}", fleet[0]);

    // Reports: a schedule with long addresses, and a ready report to preview.
    let schedule = json!({
        "kind": "team", "team": team, "cron": "0 7 * * MON", "period": "last_week",
        "recipients": ["chief.technology.officer@customer-with-a-long-name.example.com", "lead@client.test"],
    });
    let schedule =
        send(app.post("/api/v1/reports/schedules", &admin, &schedule)).await["id"].as_str().unwrap().to_owned();
    let report =
        send(app.post("/api/v1/reports", &admin, &json!({"kind": "audit", "from": "2026-09-07", "to": "2026-12-07"})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    cairn_testkit::eventually("the report ready", std::time::Duration::from_secs(60), || async {
        let body = send(app.get(&format!("/api/v1/reports/{report}"), &admin)).await;
        (body["status"] == "ready").then_some(())
    })
    .await;
    let leave =
        cairn_reports::schedules::unsubscribe_token(app.store.master_key(), acme.id, &schedule, "lead@client.test");

    app.settled(&acme).await;
    let entry = send(app.get("/api/v1/audit?limit=1", &admin)).await["items"][0]["id"].as_str().unwrap().to_owned();

    let page = |name: &str, path: &str, status: u16| json!({"name": name, "path": path, "status": status});
    let signed_out = json!([
        page("choose-org", "/", 200),
        page("choose-org-refused", "/signin?org=Not%20A%20Slug", 400),
        page("sign-in", "/t/acme/", 200),
        page("forgot", "/t/acme/forgot", 200),
        page("reset", "/t/acme/reset", 200),
        page("no-such-org", "/t/nope/", 404),
        page("report-unsubscribe", &format!("/unsubscribe/reports/{leave}"), 200),
    ]);
    let mut records_page = page("records", "/app/records", 200);
    records_page["menus"] = json!(true);
    // Its duration goes on, so the page that follows it changes by itself.
    let mut live_run = page("metrics-run-live", &format!("/app/metrics/runs/{live}"), 200);
    live_run["follows"] = json!(true);
    let mut dashboard_team = page("dashboard-team", &format!("/app/dashboard/teams/{team}"), 200);
    dashboard_team["charts"] = json!(4);
    let mut dashboard_person = page("dashboard-person", "/app/dashboard/people/alexandra-konstantinopolska-1", 200);
    dashboard_person["charts"] = json!(2);
    let signed_in = json!([
        records_page,
        page("dashboard", "/app/dashboard", 200),
        dashboard_team,
        page("dashboard-team-cycle", &format!("/app/dashboard/teams/{team}/cycle-time"), 200),
        page("dashboard-team-dora", &format!("/app/dashboard/teams/{team}/dora"), 200),
        dashboard_person,
        page("dashboard-team-missing", "/app/dashboard/teams/01900000-0000-7000-8000-000000000000", 404),
        page("record", &format!("/app/records/{record}"), 200),
        page("record-delete", &format!("/app/records/{record}/delete"), 200),
        page("record-missing", "/app/records/01900000-0000-7000-8000-000000000000", 404),
        page("numbers", "/app/numbers", 200),
        page("users", "/app/users", 200),
        page("user", &format!("/app/users/{}", users[0]), 200),
        page("user-disabled", &format!("/app/users/{}", users[1]), 200),
        page("user-self", &format!("/app/users/{}", ada.id), 200),
        page("user-disable", &format!("/app/users/{}/disable", users[0]), 200),
        page("clients", "/app/clients", 200),
        page("client", &format!("/app/clients/{portal}"), 200),
        page("webhooks", "/app/webhooks", 200),
        page("reports", "/app/reports", 200),
        page("report-preview", &format!("/app/reports/{report}/preview"), 200),
        page("report-schedule-delete", &format!("/app/reports/schedules/{schedule}/delete"), 200),
        page("webhook", &format!("/app/webhooks/{hook}"), 200),
        page("events", "/app/events", 200),
        page("audit", "/app/audit", 200),
        page("audit-refused", "/app/audit?action=Not%20An%20Action", 400),
        page("audit-entry", &format!("/app/audit/{entry}"), 200),
        page("profile", "/app/profile", 200),
        page("metrics-teams", "/app/metrics/teams", 200),
        page("metrics-team", &format!("/app/metrics/teams/{team}"), 200),
        page("metrics-team-delete", &format!("/app/metrics/teams/{team}/delete"), 200),
        page("metrics-settings", "/app/metrics/settings", 200),
        page("metrics-sources", "/app/metrics/sources", 200),
        page("metrics-source", &format!("/app/metrics/sources/{source}"), 200),
        page("metrics-source-delete", &format!("/app/metrics/sources/{source}/delete"), 200),
        page("metrics-source-runs", &format!("/app/metrics/sources/{source}/runs"), 200),
        page("metrics-runs", "/app/metrics/runs", 200),
        page("metrics-run", &format!("/app/metrics/runs/{finished}"), 200),
        live_run,
        page("instances", "/app/instances?fresh=1", 200),
        page("instances-none-match", "/app/instances?state=terminated", 200),
        page("instance", &instance, 200),
        page("instance-week", &format!("{instance}?range=7d"), 200),
        page("instance-reboot", &format!("{instance}/reboot"), 200),
        page("instance-missing", "/app/instances/production-payments/eu-west-1/i-0123456789abcdef0", 404),
        page("instance-accounts", "/app/instances/accounts", 200),
        page("instance-account", &format!("/app/instances/accounts/{prod}"), 200),
        page("instance-account-delete", &format!("/app/instances/accounts/{prod}/delete"), 200),
    ]);
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screens").join(&name);
    let _ = std::fs::remove_dir_all(&out);
    let run = peers::node(
        "screens.mjs",
        &[
            ("CAIRN_URL", &app.base_url),
            ("ORG", "acme"),
            ("EMAIL", email),
            ("PASSWORD", PASSWORD),
            ("OUT", out.to_str().unwrap()),
            ("SIGNED_OUT", &signed_out.to_string()),
            ("SIGNED_IN", &signed_in.to_string()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("screenshots in {}", out.display());
    assert!(run.status.success(), "the pages fell short:\n{stdout}\n{stderr}");
    assert!(stdout.contains(r#""ok":true"#), "{stdout}");
}
backend_test!(every_page_reads_well_at_both_widths_in_both_schemes_in_chromium);

/// The bytes of a mail's PDF attachment (base64 in its MIME part).
fn pdf_attachment(mail: &str) -> Vec<u8> {
    use base64::Engine;
    let mail = mail.replace("\r\n", "\n");
    let part = mail.split("Content-Type: application/pdf").nth(1).unwrap_or_else(|| panic!("a PDF part in {mail}"));
    let body = part.split("\n\n").nth(1).unwrap();
    let text: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
    base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap()
}

async fn a_report_schedule_fires_once_across_schedulers_and_mails_each_recipient_once(backend: Backend) {
    use cairn_reports::schedules::queue_fires;
    use cairn_testkit::smtp::SmtpServer;
    use serde_json::{Value, json};
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, |c| c.mail_url = smtp.url().parse().unwrap()).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let resp = app.post("/api/v1/metrics/teams", &admin, &json!({"name": "Platform"})).send().await.unwrap();
    let team = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let body = json!({
        "kind": "team", "team": team, "cron": "0 7 * * MON", "period": "last_week",
        "recipients": ["cto@client.test", "Lead@Client.test", "lead@client.test"],
    });
    let resp = app.post("/api/v1/reports/schedules", &admin, &body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let schedule: Value = resp.json().await.unwrap();
    assert_eq!(schedule["recipients"], json!(["cto@client.test", "Lead@Client.test"]), "repeats dropped");
    let id = schedule["id"].as_str().unwrap().to_owned();
    let next = schedule["next_fire_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let zone = jiff::tz::TimeZone::get(schedule["time_zone"].as_str().unwrap()).unwrap();
    let local = next.to_zoned(zone.clone());
    assert_eq!((local.weekday(), local.hour(), local.minute()), (jiff::civil::Weekday::Monday, 7, 0));

    // Two schedulers see the fire at once: one report.
    let (_, db) = app.tenant(&acme).await;
    let after = next.as_millisecond() + 60_000;
    let (a, b) = tokio::join!(queue_fires(&db, after), queue_fires(&db, after));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(queue_fires(&db, after + 60_000).await.unwrap(), 0, "a fire is queued once");
    let list = app.get("/api/v1/reports", &admin).send().await.unwrap().json::<Value>().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let report = &items[0];
    assert_eq!(report["schedule"], json!(id));
    // Last week: the Monday before the fire's, to the fire's Monday.
    let monday = local.date();
    assert_eq!(report["to"], json!(monday.to_string()));
    assert_eq!(report["from"], json!(monday.checked_sub(jiff::Span::new().days(7)).unwrap().to_string()));

    // Rendered, then mailed: each recipient once, from the organization, the PDF attached.
    let got = smtp.wait_for(2).await;
    app.settled(&acme).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = if smtp.messages().len() > got.len() { smtp.messages() } else { got };
    assert_eq!(got.len(), 2, "one mail per recipient");
    for to in ["cto@client.test", "Lead@Client.test"] {
        let m = got.iter().find(|m| m.contains(&format!("To: {to}"))).unwrap_or_else(|| panic!("a mail to {to}"));
        assert!(m.contains("Subject: Team engineering report"), "{m}");
        let from = m.lines().find(|l| l.starts_with("From:")).unwrap();
        assert!(from.to_lowercase().contains("acme <"), "from the organization: {from}");
        assert!(m.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{m}");
        let pdf = pdf_attachment(m);
        assert!(pdf.starts_with(b"%PDF-"));
        let ready = app.get(&format!("/api/v1/reports/{}", report["id"].as_str().unwrap()), &admin).send().await;
        assert_eq!(pdf.len() as i64, ready.unwrap().json::<Value>().await.unwrap()["size"].as_i64().unwrap());
    }

    // The lead leaves with the link in their mail: a GET asks, the POST unsubscribes.
    let lead = got.iter().find(|m| m.contains("To: Lead@Client.test")).unwrap();
    let unsubscribe =
        lead.lines().find_map(|l| l.strip_prefix("List-Unsubscribe: <")).unwrap().trim_end_matches('>').to_owned();
    assert!(unsubscribe.starts_with(&app.url("/unsubscribe/reports/")), "{unsubscribe}");
    let page = app.client.get(&unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Stop this scheduled report?"));
    let resp = app.client.post(&unsubscribe).form(&[("List-Unsubscribe", "One-Click")]).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("You are unsubscribed"));
    let forged = app.client.post(format!("{unsubscribe}x")).send().await.unwrap();
    assert_eq!(forged.status(), 404);
    let now = app.get(&format!("/api/v1/reports/schedules/{id}"), &admin).send().await.unwrap();
    assert_eq!(now.json::<Value>().await.unwrap()["recipients"], json!(["cto@client.test"]));
    let path = format!("/api/v1/audit?resource_type=report_schedule&resource_id={id}");
    let trail = app.get(&path, &admin).send().await.unwrap().json::<Value>().await.unwrap();
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"report_schedule.created") && actions.contains(&"report_schedule.unsubscribed"));

    // The next week's fire mails only the one left.
    assert_eq!(queue_fires(&db, after + 7 * 86_400_000).await.unwrap(), 1);
    let got = smtp.wait_for(3).await;
    assert!(got[2].contains("To: cto@client.test"), "{}", got[2]);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(smtp.messages().len(), 3);
}
backend_test!(a_report_schedule_fires_once_across_schedulers_and_mails_each_recipient_once);
