//! Cairn against peers no one here wrote: the certified openid-client relying party, a real
//! SMTP server, and headless Chromium. Each runs on SQLite and on PostgreSQL.

use cairn_domain::Role;
use cairn_identity::NewClient;
use cairn_testkit::{TestApp, backend_test, peers};

const PASSWORD: &str = "velvet orbit canyon";

async fn relying_party(backend: cairn_testkit::Backend, public: bool) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "ann@acme.test", PASSWORD, &[Role::Member]).await;
    let redirect = "http://127.0.0.1:9/callback";
    let bye = "http://127.0.0.1:9/bye";
    let new = NewClient {
        name: "openid-client".into(),
        redirect_uris: vec![redirect.into()],
        post_logout_uris: vec![bye.into()],
        public,
        service_role: None,
    };
    let (client_id, secret) = app.create_client(&acme, new).await;
    let secret = secret.unwrap_or_default();
    let out = peers::node(
        "rp.mjs",
        &[
            ("CAIRN_ISSUER", app.issuer()),
            ("CLIENT_ID", &client_id),
            ("CLIENT_SECRET", &secret),
            ("REDIRECT_URI", redirect),
            ("POST_LOGOUT_URI", bye),
            ("EMAIL", "ann@acme.test"),
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

backend_test!(async fn openid_client_completes_the_flow_as_a_confidential_client(backend) {
    relying_party(backend, false).await;
});

backend_test!(async fn openid_client_completes_the_flow_as_a_public_client(backend) {
    relying_party(backend, true).await;
});

/// A line's value after `prefix` in a mail's plain-text part.
fn mail_value(mail: &str, prefix: &str) -> String {
    let text = mail.replace("=\r\n", "").replace("=\n", "");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("{prefix} in {mail}"))
        .trim()
        .to_owned()
}

backend_test!(async fn invitation_first_sign_in_and_forgot_password_through_a_real_smtp_server(backend) {
    use cairn_testkit::browser::{Browser, pkce};
    use cairn_testkit::smtp::SmtpServer;
    use serde_json::json;
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_with(backend, |c| c.mail_url = smtp.url()).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let resp = app.post("/api/v1/users", &admin, &json!({"email": "eve@acme.test", "given_name": "Eve"})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let invitation = smtp.wait_for(1).await.remove(0);
    assert!(invitation.contains("To: eve@acme.test"), "{invitation}");
    assert!(invitation.contains("From: Cairn <no-reply@localhost>"), "{invitation}");
    assert!(invitation.contains("Content-Type: text/html"), "both parts: {invitation}");
    let temporary = mail_value(&invitation, "Your temporary password is:");

    let redirect = "http://127.0.0.1:9/cb";
    let (client_id, _) = app.create_client(&acme, NewClient {
        name: "App".into(), redirect_uris: vec![redirect.into()], public: true, ..Default::default()
    }).await;
    let (_, challenge) = pkce();
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&code_challenge={challenge}&code_challenge_method=S256&prompt=login",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let browser = Browser::new(&app.base_url);
    let form = browser.get(&authorize).await;
    let change = browser.sign_in(&form, "eve@acme.test", &temporary).await;
    assert!(change.body.contains("Choose your password"), "{}", change.body);
    let done = browser.post_form("/oauth2/change-password", &[
        ("request", &change.input("request").unwrap()), ("csrf", &change.input("csrf").unwrap()),
        ("new_password", "harbor violet engine"),
    ]).await;
    assert!(done.redirect_param("code").is_some(), "{}", done.body);
    let form = browser.get(&authorize).await;
    assert!(browser.sign_in(&form, "eve@acme.test", "harbor violet engine").await.redirect_param("code").is_some());

    // Forgot password: the code arrives by SMTP and works once.
    let page = browser.get("/t/acme/forgot").await;
    let csrf = page.input("csrf").unwrap();
    browser.post_form("/t/acme/forgot", &[("csrf", &csrf), ("email", "eve@acme.test")]).await;
    let reset = smtp.wait_for(2).await.remove(1);
    assert!(reset.contains("password reset code"), "{reset}");
    let code = reset
        .replace("=\r\n", "")
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("a six-digit code")
        .to_owned();
    let ok = browser.post_form("/t/acme/reset", &[("csrf", &csrf), ("email", "eve@acme.test"), ("code", &code), ("new_password", "copper lagoon summit")]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let form = browser.get(&authorize).await;
    assert!(browser.sign_in(&form, "eve@acme.test", "copper lagoon summit").await.redirect_param("code").is_some());
});

backend_test!(async fn a_person_signs_in_adds_a_number_and_signs_out_in_chromium(backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.bootstrap.as_ref().expect("a fresh app bootstraps");
    let out = peers::node("browser.mjs", &[
        ("CAIRN_URL", &app.base_url),
        ("ORG", &first.tenant),
        ("EMAIL", &first.email),
        ("TEMPORARY_PASSWORD", &first.temporary_password),
        ("NEW_PASSWORD", "meadow granite compass"),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("signed in again"), "{stdout}");
});
