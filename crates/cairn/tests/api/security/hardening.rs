//! The smaller findings: formula cells in CSV exports, response headers, the framework's
//! own rejections, request ids, where metrics are served, cookies and CSRF binding, and
//! logout without a hint. Each test is the attack, and what Cairn answers.

use cairn_domain::Role;
use cairn_testkit::browser::{Browser, Page, pkce};
use cairn_testkit::rp::{PASSWORD, RelyingParty};
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use crate::error_code;

fn set_cookies(page: &Page) -> Vec<String> {
    page.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

// --- CSV export.

async fn csv_export_cells_never_start_a_formula(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token_for(&acme, Role::Admin, "+cmd|' /C calc'!A0");
    let entry = json!({
        "action": "invoice.approved",
        "resource_type": "invoice",
        "resource_id": "=HYPERLINK(\"http://evil.example\",\"open me\")",
        "details": {"note": "=1+2"},
    });
    let resp = app.post("/api/v1/audit", &admin, &entry).header("user-agent", "@SUM(1+1)").send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let resp = app.get("/api/v1/audit/export?format=csv&action=invoice.approved", &admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csv = resp.text().await.unwrap();
    assert!(csv.contains(r#","'=HYPERLINK(""http://evil.example"",""open me"")","#), "{csv}");
    assert!(csv.contains(",'@SUM(1+1),"), "{csv}");
    assert!(csv.contains(r#","'+cmd|' /C calc'!A0","#) || csv.contains(",'+cmd|' /C calc'!A0,"), "{csv}");
    let row = csv.lines().nth(1).unwrap();
    for cell in row.split(',') {
        let bare = cell.trim_start_matches('"');
        assert!(!bare.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell} in {row}");
    }
    // JSON lines are not read by spreadsheets: the values stay as recorded.
    let jsonl =
        app.get("/api/v1/audit/export?action=invoice.approved", &admin).send().await.unwrap().text().await.unwrap();
    let line: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(line["resource"]["id"], "=HYPERLINK(\"http://evil.example\",\"open me\")");
    assert_eq!(line["user_agent"], "@SUM(1+1)");
}
backend_test!(csv_export_cells_never_start_a_formula);

// --- Headers.

async fn every_response_is_nosniff_and_the_api_is_never_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let api = [
        app.client.get(app.url("/api/v1/numbers")).send().await.unwrap(),
        app.get("/api/v1/numbers", &member).send().await.unwrap(),
        app.add_number(&member, json!(7)).await,
        app.client.get(app.url("/api/openapi.json")).send().await.unwrap(),
        app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap(),
    ];
    for resp in &api {
        assert_eq!(header(resp, "x-content-type-options"), Some("nosniff"), "{}", resp.url());
        assert_eq!(header(resp, "cache-control"), Some("no-store"), "{}", resp.url());
        assert_eq!(header(resp, "strict-transport-security"), None, "plain http: no HSTS");
    }
    for path in ["/healthz", "/", "/static/cairn.css", "/.well-known/openid-configuration", "/nowhere"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(header(&resp, "x-content-type-options"), Some("nosniff"), "{path}");
    }
}
backend_test!(every_response_is_nosniff_and_the_api_is_never_cached);

/// A deployment whose public URL is https: HSTS on every response, and only
/// `__Host-`-prefixed cookies (Secure, Path=/, no Domain).
async fn https_app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| c.public_url = Some("https://cairn.test".parse().unwrap())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_deployments_send_hsts() {
    let app = https_app().await;
    for path in ["/healthz", "/api/v1/numbers", "/", "/static/cairn.css"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(header(&resp, "strict-transport-security"), Some("max-age=63072000; includeSubDomains"), "{path}");
    }
}

async fn framework_rejections_use_the_error_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let error_body = |what: &'static str, status: u16, code: &'static str| {
        move |resp: reqwest::Response| async move {
            assert_eq!(resp.status(), status, "{what}");
            assert!(header(&resp, "content-type").unwrap().starts_with("application/json"), "{what}");
            let request_id = header(&resp, "x-request-id").unwrap().to_owned();
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{what}: {body}");
            assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{what}: {body}");
            assert_eq!(body["error"]["request_id"], request_id.as_str(), "{what}: {body}");
        }
    };
    let c = &app.client;
    // A path segment that is not UTF-8.
    error_body("bad UTF-8 in the path", 400, "VALIDATION_ERROR")(
        app.get("/api/v1/numbers/%FF%FE", &admin).send().await.unwrap(),
    )
    .await;
    // A JSON body of the wrong shape, a body that is not JSON, a wrong content type.
    error_body("wrong JSON shape", 400, "VALIDATION_ERROR")(
        app.post("/api/v1/users", &admin, &json!({"email": 5})).send().await.unwrap(),
    )
    .await;
    error_body("not JSON", 400, "VALIDATION_ERROR")(
        c.post(app.url("/api/v1/numbers"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap(),
    )
    .await;
    error_body("wrong content type", 400, "VALIDATION_ERROR")(
        c.post(app.url("/api/v1/numbers"))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("{\"value\": 1}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Forms and queries of the provider and the pages, parsed by the framework.
    error_body("a form post that is JSON", 400, "VALIDATION_ERROR")(
        c.post(app.url("/oauth2/signin")).json(&json!({"email": "a@b.c"})).send().await.unwrap(),
    )
    .await;
    error_body("a query that does not parse", 400, "VALIDATION_ERROR")(
        c.get(app.url("/oauth2/logout?state=a&state=b")).send().await.unwrap(),
    )
    .await;
    error_body("an unknown method", 405, "METHOD_NOT_ALLOWED")(
        c.delete(app.url("/oauth2/token")).send().await.unwrap(),
    )
    .await;
    error_body("an unknown API route", 404, "NOT_FOUND")(c.get(app.url("/api/v2/numbers")).send().await.unwrap()).await;
    // The token endpoint keeps OAuth's error format (RFC 6749 §5.2), also for a JSON body.
    let resp =
        c.post(app.url("/oauth2/token")).json(&json!({"grant_type": "client_credentials"})).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}
backend_test!(framework_rejections_use_the_error_body);

// --- Request ids.

async fn unsafe_request_ids_are_replaced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long = "a".repeat(65);
    for bad in ["<script>alert(1)</script>", "a\"b", "=1+2", "id with spaces", "../../etc", long.as_str()] {
        let resp = app.client.get(app.url("/api/v1/numbers")).header("x-request-id", bad).send().await.unwrap();
        let id = header(&resp, "x-request-id").unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} came back as {id:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["request_id"], id.as_str());
    }
    let resp = app.client.get(app.url("/healthz")).header("x-request-id", "lb-7f.A_9-x").send().await.unwrap();
    assert_eq!(header(&resp, "x-request-id"), Some("lb-7f.A_9-x"));
}
backend_test!(unsafe_request_ids_are_replaced);

// --- Metrics.

async fn metrics_are_served_only_on_their_own_listener(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "NOT_FOUND");
    let text = app.metrics().await;
    assert!(text.contains(r#"cairn_http_requests_total{route="/metrics",method="GET",status="404"} 1"#), "{text}");
    // The metrics listener serves nothing else.
    let base = app.metrics_url.as_deref().unwrap().trim_end_matches("/metrics").to_owned();
    for path in ["/healthz", "/api/v1/numbers", "/"] {
        let resp = app.client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
}
backend_test!(metrics_are_served_only_on_their_own_listener);

async fn metrics_with_a_token_require_it(backend: Backend) {
    const TOKEN: &str = "prometheus-scrape-token-1";
    let app = TestApp::spawn_with(backend, |c| c.metrics_token = Some(TOKEN.into())).await;
    let metrics_url = app.metrics_url.clone().unwrap();
    for url in [app.url("/metrics"), metrics_url] {
        let resp = app.client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{url} without the token");
        assert_eq!(error_code(resp).await, "UNAUTHORIZED");
        let resp = app.client.get(&url).bearer_auth("prometheus-scrape-token-2").send().await.unwrap();
        assert_eq!(resp.status(), 401, "{url} with another token");
        let resp = app.client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url} with the token");
        assert!(resp.text().await.unwrap().contains("cairn_http_requests_total"));
    }
}
backend_test!(metrics_with_a_token_require_it);

// --- Cookies and CSRF.

async fn a_planted_csrf_cookie_is_refused(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let (_, challenge) = pkce();
    let params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    // The attacker's own visit gives them a valid authorization request blob.
    let attacker = Browser::new(&rp.app.base_url);
    let form = attacker.get(&rp.authorize_url(&params)).await;
    let request = form.input("request").unwrap();
    // The form's token is not the cookie's value: nothing on the page echoes the cookie.
    let cookie = attacker.cookie("cairn_csrf").unwrap();
    assert_ne!(form.input("csrf").unwrap(), cookie);
    assert!(!form.body.contains(&cookie));
    // The victim's browser carries a CSRF cookie the attacker planted, and the forged post
    // carries the same value (double submit's weakness).
    let planted = "attacker-chosen-csrf-value-0123456789";
    let victim = Browser::new(&rp.app.base_url);
    victim.set_cookie("cairn_csrf", planted);
    let forged = victim
        .post_form(
            "/oauth2/signin",
            &[("request", &request), ("csrf", planted), ("email", "ann@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(victim.cookie("cairn_session").is_none(), "no session was started");
    let forged = victim.post_form("/t/acme/forgot", &[("csrf", planted), ("email", "ann@acme.test")]).await;
    assert_eq!(forged.status, 403);
    // The token of the attacker's own cookie does not pass with the victim's cookie either.
    let forged = victim
        .post_form(
            "/oauth2/signin",
            &[
                ("request", &request),
                ("csrf", &form.input("csrf").unwrap()),
                ("email", "ann@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    // The page's own token, with its own cookie, signs in.
    let done = attacker.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
}
backend_test!(a_planted_csrf_cookie_is_refused);

/// Starts the web UI's sign-in to acme as `email` in `browser`; returns the provider's
/// redirect to the web UI's callback (not yet followed).
async fn web_sign_in_until_callback(browser: &Browser, email: &str) -> String {
    let form = browser.follow(browser.get("/t/acme/").await).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let done = browser.sign_in(&form, email, PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let callback = done.location.unwrap();
    assert!(callback.contains("/auth/callback?"), "{callback}");
    callback
}

async fn the_callback_needs_the_state_cookie_of_this_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "mallory@acme.test", PASSWORD, &[Role::Admin]).await;
    app.create_user(&acme, "victim@acme.test", PASSWORD, &[Role::Member]).await;
    // The attacker signs in to the point of the callback, and hands that URL to the victim.
    let attacker = Browser::new(&app.base_url);
    let callback = web_sign_in_until_callback(&attacker, "mallory@acme.test").await;
    // A browser that started no sign-in gets no session from it.
    let victim = Browser::new(&app.base_url);
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("not started in this browser"), "{}", page.body);
    assert!(victim.cookie("cairn_web").is_none());
    // Nor does one whose own sign-in is under way: its state cookie is its own.
    let form = victim.follow(victim.get("/t/acme/").await).await;
    assert_eq!(form.status, 200);
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("does not belong to this sign-in"), "{}", page.body);
    assert!(victim.cookie("cairn_web").is_none());
    // The browser that started it completes it.
    let page = attacker.follow(attacker.get(&callback).await).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(attacker.cookie("cairn_web").is_some());
}
backend_test!(the_callback_needs_the_state_cookie_of_this_browser);

/// The same path on the test server, for a URL under the https public URL.
fn local(app: &TestApp, url: &str) -> String {
    url.replace("https://cairn.test", &app.base_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_over_https_are_host_prefixed_and_only_those_are_read() {
    let app = https_app().await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "ada@acme.test", PASSWORD, &[Role::Admin]).await;
    let browser = Browser::new(&app.base_url);
    let start = browser.get("/t/acme/").await;
    let mut cookies = set_cookies(&start);
    let form = browser.get(&local(&app, start.location.as_deref().unwrap())).await;
    assert_eq!(form.status, 200, "{}", form.body);
    cookies.extend(set_cookies(&form));
    let done = browser.sign_in(&form, "ada@acme.test", PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
    cookies.extend(set_cookies(&done));
    let callback = browser.get(&local(&app, done.location.as_deref().unwrap())).await;
    assert_eq!(callback.status, 303, "{}", callback.body);
    cookies.extend(set_cookies(&callback));
    let names: Vec<&str> = cookies.iter().map(|c| c.split('=').next().unwrap()).collect();
    for name in ["__Host-cairn_web_login", "__Host-cairn_csrf", "__Host-cairn_session", "__Host-cairn_web"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // The device cookie is scoped to the organization's sign-in path, which `__Host-` does
    // not allow: it carries `__Secure-`.
    assert!(names.contains(&"__Secure-cairn_device"), "{names:?}");
    for c in &cookies {
        if c.starts_with("__Secure-cairn_device=") {
            assert!(c.contains("; Path=/t/acme/;"), "{c}");
        } else {
            assert!(c.starts_with("__Host-"), "{c}");
            assert!(c.contains("; Path=/;"), "{c}");
        }
        assert!(c.contains("; Secure") && c.contains("HttpOnly"), "{c}");
        assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
    }
    let numbers = browser.get("/app/numbers").await;
    assert_eq!(numbers.status, 200, "{}", numbers.body);
    // The same session under the unprefixed name (as a sibling subdomain or a plain-http
    // response could plant it) is not read.
    let session = browser.cookie("__Host-cairn_web").unwrap();
    let planted = Browser::new(&app.base_url);
    planted.set_cookie("cairn_web", &session);
    assert_eq!(planted.get("/app/numbers").await.status, 303);
}

// --- RP-initiated logout.

async fn logout_without_a_valid_hint_asks_first(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let (verifier, challenge) = pkce();
    let params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let done = rp.sign_in(&browser, &params).await;
    let code = done.redirect_param("code").unwrap();
    let tokens: Value = rp.exchange(&code, &verifier).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let silent = [params[0], params[1], ("prompt", "none")];
    let signed_in = |page: &Page| page.redirect_param("code").is_some();
    let bye = "http%3A%2F%2F127.0.0.1%3A9%2Fbye";

    // A link or an image on someone else's page: no hint, or a hint that does not verify.
    for hint in ["", "&id_token_hint=eyJhbGciOiJub25lIn0.e30.", "&id_token_hint=garbage"] {
        let ask = browser
            .get(&format!("/oauth2/logout?client_id={}&post_logout_redirect_uri={bye}&state=s{hint}", rp.client_id))
            .await;
        assert_eq!(ask.status, 200, "{hint}: {}", ask.body);
        assert!(ask.body.contains("Sign out?") && ask.body.contains("Acme app"), "{}", ask.body);
        assert!(ask.location.is_none());
        assert!(signed_in(&browser.get(&rp.authorize_url(&silent)).await), "{hint}: still signed in");
    }
    // The confirmation needs its CSRF token.
    let ask =
        browser.get(&format!("/oauth2/logout?client_id={}&post_logout_redirect_uri={bye}&state=s", rp.client_id)).await;
    let field = |name: &str| ask.input(name).unwrap_or_else(|| panic!("{name} in {}", ask.body));
    let (client_id, uri, state) = (field("client_id"), field("post_logout_redirect_uri"), field("state"));
    let forged =
        browser.post_form("/oauth2/logout", &[("client_id", &client_id), ("post_logout_redirect_uri", &uri)]).await;
    assert_eq!(forged.status, 403);
    assert!(signed_in(&browser.get(&rp.authorize_url(&silent)).await), "a forged confirmation signs no one out");
    let confirmed = browser
        .post_form(
            "/oauth2/logout",
            &[
                ("csrf", &field("csrf")),
                ("client_id", &client_id),
                ("post_logout_redirect_uri", &uri),
                ("state", &state),
            ],
        )
        .await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    assert_eq!(confirmed.location.as_deref(), Some("http://127.0.0.1:9/bye?state=s"));
    assert!(!signed_in(&browser.get(&rp.authorize_url(&silent)).await), "signed out");

    // A valid id token of someone else (the attacker's own) is no hint for this browser's user.
    rp.app.create_user(&rp.tenant, "mallory@acme.test", PASSWORD, &[Role::Member]).await;
    let mallory = Browser::new(&rp.app.base_url);
    let form = mallory.get(&rp.authorize_url(&params)).await;
    let theirs = mallory.sign_in(&form, "mallory@acme.test", PASSWORD).await.redirect_param("code").unwrap();
    let theirs: Value = rp.exchange(&theirs, &verifier).await.json().await.unwrap();
    rp.sign_in(&browser, &params).await;
    let ask = browser.get(&format!("/oauth2/logout?id_token_hint={}", theirs["id_token"].as_str().unwrap())).await;
    assert!(ask.body.contains("Sign out?"), "{}", ask.body);
    assert!(signed_in(&browser.get(&rp.authorize_url(&silent)).await), "another user's token signs no one out");

    // With a valid hint it signs out at once, to a URI registered for the hint's client only.
    let evil = browser
        .get(&format!("/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"))
        .await;
    assert_eq!(evil.status, 200);
    assert!(evil.location.is_none() && evil.body.contains("You are signed out"), "{}", evil.body);
    assert!(!signed_in(&browser.get(&rp.authorize_url(&silent)).await), "signed out");
    rp.sign_in(&browser, &params).await;
    let out =
        browser.get(&format!("/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={bye}&state=t")).await;
    assert_eq!(out.location.as_deref(), Some("http://127.0.0.1:9/bye?state=t"));
    assert!(!signed_in(&browser.get(&rp.authorize_url(&silent)).await), "signed out");
}
backend_test!(logout_without_a_valid_hint_asks_first);
