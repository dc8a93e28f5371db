//! Server-side request forgery, replayed as an attacker would: every spelling of an address
//! inside the network, through webhooks and SSO connections, against a Cairn that allows
//! neither private addresses nor plain http (the production default).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn_audit::{Actor, RequestMeta};
use cairn_domain::Role;
use cairn_identity::sso::NewConnection;
use cairn_outbound::{Outbound, Policy};
use cairn_testkit::browser::Browser;
use cairn_testkit::receiver::Receiver;
use cairn_testkit::rp::RelyingParty;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test, eventually};
use serde_json::{Value, json};

/// Hosts inside the network (or no server's), each spelled as the security test did.
const INSIDE: &[&str] = &[
    "https://127.0.0.1:8443",
    "https://2130706433",
    "https://0x7f.0.0.1",
    "https://localhost",
    "https://LOCALHOST.",
    "https://metadata.localhost",
    "https://169.254.169.254",
    "https://10.0.0.1",
    "https://172.16.5.4",
    "https://192.168.0.1",
    "https://100.64.0.1",
    "https://[::1]",
    "https://[fd00::1]",
    "https://[fe80::1]",
    "https://[fec0::1]",
    "https://[::7f00:1]",
    "https://[::ffff:127.0.0.1]",
    "https://[::ffff:0:7f00:1]",
    "https://[64:ff9b::a9fe:a9fe]",
    "https://[2002:a00:1::1]",
    "https://198.18.0.1",
    "https://240.0.0.1",
    "https://192.0.0.170",
    "https://192.0.2.1",
    "https://203.0.113.7",
    "https://0.0.0.0",
    "https://[::]",
];

/// A Cairn with the production default: only public https servers are reached.
async fn strict(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| c.outbound = Policy::default()).await
}

/// A listener on loopback that counts the connections made to it.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("https://{addr}"), seen)
}

async fn webhook_receivers_inside_the_network_are_refused(backend: Backend) {
    let app = strict(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let plain_http = "http://hooks.example.com";
    for base in INSIDE.iter().chain([&plain_http]) {
        let url = format!("{base}/hook");
        let resp = app
            .post("/api/v1/webhooks", &admin, &json!({"url": url, "events": ["records_created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{url}");
        assert_eq!(body["error"]["field"], "url", "{url}: {body}");
    }
    let list: Value = app.get("/api/v1/webhooks", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]), "nothing was stored");

    // A public receiver is accepted, and cannot be moved inside afterwards.
    let created = app
        .post("/api/v1/webhooks", &admin, &json!({"url": "https://hooks.example.com/x", "events": ["records_created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let moved = app
        .client
        .patch(app.url(&format!("/api/v1/webhooks/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"url": "https://[::ffff:0:a9fe:a9fe]/latest/meta-data"}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 400);
    let hook: Value = app.get(&format!("/api/v1/webhooks/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(hook["url"], "https://hooks.example.com/x");
}
backend_test!(webhook_receivers_inside_the_network_are_refused);

async fn a_webhook_stored_before_the_guard_reaches_nothing_inside(backend: Backend) {
    let app = strict(backend).await;
    let acme = app.create_tenant("acme").await;
    let receiver = Receiver::start().await;
    // Registered before the operator turned private receivers off: stored, never reached.
    let hook = stored_webhook(&app, &acme, &receiver.url).await;
    let dead = first_dead_letter(&app, &acme).await;
    let admin = app.token(&acme, Role::Admin);
    assert_eq!(dead[0]["attempts"], 1, "a refused address is not retried");
    let error = dead[0]["last_error"].as_str().unwrap();
    assert!(error.contains("outbound_allow_http") || error.contains("outbound_allow_private"), "{error}");
    assert_eq!(receiver.started(), 0, "no request reached the receiver");
    let log: Value = app
        .get(&format!("/api/v1/webhooks/{}/deliveries", hook.id), &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "the refusal is in the delivery log: {log}");
    assert!(log["items"][0]["error"].as_str().unwrap().contains("outbound_allow"), "{log}");
}
backend_test!(a_webhook_stored_before_the_guard_reaches_nothing_inside);

// A name that resolves inside the network is refused when the connection is made, and the
// delivery ends at once: no retry would change it.
async fn a_receiver_whose_name_resolves_inside_is_a_dead_letter_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.outbound = Policy { allow_private: false, allow_http: true }).await;
    let acme = app.create_tenant("acme").await;
    let receiver = Receiver::start().await;
    let port = receiver.url.rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    // This machine's own name: the system resolves it to loopback; only the resolver's
    // guard can refuse it.
    stored_webhook(&app, &acme, &format!("http://{}:{port}/hook", own_loopback_name())).await;
    let dead = first_dead_letter(&app, &acme).await;
    assert_eq!(dead[0]["attempts"], 1, "not retried");
    assert!(dead[0]["last_error"].as_str().unwrap().contains("resolves to no allowed address"), "{dead:?}");
    assert_eq!(receiver.started(), 0);
}
backend_test!(a_receiver_whose_name_resolves_inside_is_a_dead_letter_at_once);

/// A webhook for `records_created` at `url`, registered under a policy that allowed any
/// address (as one registered before the operator's policy changed).
async fn stored_webhook(app: &TestApp, tenant: &TestTenant, url: &str) -> cairn_events::webhooks::Webhook {
    use cairn_events::webhooks::{EventTypes, WebhookUrl};
    let (_, db) = app.tenant(tenant).await;
    let actor = Actor { id: "admin".into(), email: None };
    let then = Outbound::new(Policy { allow_private: true, allow_http: true });
    let url = WebhookUrl::parse(url, &then).unwrap();
    let events = EventTypes::parse(&["records_created".into()], &cairn_domain::events::ALL).unwrap();
    cairn_events::webhooks::create(&db, app.store.master_key(), url, events, &actor, &RequestMeta::default())
        .await
        .unwrap()
        .0
}

/// Creates a record, and waits for its delivery to end as a dead letter; the dead letters.
async fn first_dead_letter(app: &TestApp, tenant: &TestTenant) -> Vec<Value> {
    app.create_record(&app.token(tenant, Role::Member), "t").await;
    let admin = app.token(tenant, Role::Admin);
    eventually("the delivery to end as a dead letter", Duration::from_secs(20), || async {
        let list: Value = app.get("/api/v1/events/dead", &admin).send().await.unwrap().json().await.unwrap();
        list["items"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await
}

/// A name of this machine that the system resolves to loopback and the URL check does not
/// special-case (`localhost` is refused before any lookup): the host's own name.
fn own_loopback_name() -> String {
    std::fs::read_to_string("/etc/hosts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let ip: std::net::IpAddr = words.next()?.parse().ok()?;
            ip.is_loopback().then(|| words.find(|w| !w.contains("localhost")).map(str::to_owned)).flatten()
        })
        .next()
        .expect("/etc/hosts names this machine on loopback")
}

async fn sso_issuers_inside_the_network_are_refused(backend: Backend) {
    let app = strict(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let plain_http = "http://idp.example.com";
    for issuer in INSIDE.iter().chain([&plain_http]) {
        let resp = app
            .post(
                "/api/v1/sso-connections",
                &admin,
                &json!({
                    "name": "Evil", "issuer": issuer, "client_id": "cairn", "client_secret": "s3cret-s3cret",
                }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{issuer}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], "issuer", "{issuer}: {body}");
    }
    let list: Value = app.get("/api/v1/sso-connections", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]), "nothing was stored");
    let resp = app.post("/api/v1/sso-connections", &admin, &json!({
        "name": "Acme IdP", "issuer": "https://idp.example.com/realms/acme", "client_id": "cairn", "client_secret": "s3cret-s3cret",
    })).send().await.unwrap();
    assert_eq!(resp.status(), 201, "a public https issuer is accepted");
}
backend_test!(sso_issuers_inside_the_network_are_refused);

async fn an_anonymous_visitor_cannot_make_cairn_fetch_an_issuer_inside(backend: Backend) {
    let rp = RelyingParty::on(strict(backend).await, true).await;
    let app = &rp.app;
    // A connection whose issuer is inside, stored as if before the guard (its discovery
    // document would name the token endpoint that receives the client secret).
    let (issuer, connections) = counting_listener().await;
    let mut lenient = (*app.identity).clone();
    lenient.outbound = Outbound::new(Policy { allow_private: true, allow_http: true });
    let (_, db) = app.tenant(&rp.tenant).await;
    let new = NewConnection {
        name: "Inside".into(),
        issuer,
        client_id: "cairn".into(),
        client_secret: "the-client-secret".into(),
    };
    lenient
        .create_connection(&db, new, &Actor { id: "admin".into(), email: None }, &RequestMeta::default())
        .await
        .unwrap();

    let browser = Browser::new(&app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    assert!(form.body.contains("Continue with Inside"), "{}", form.body);
    let start = format!(
        "/oauth2/sso?request={}&connection={}",
        url::form_urlencoded::byte_serialize(form.input("request").unwrap().as_bytes()).collect::<String>(),
        form.input("connection").unwrap()
    );
    let page = browser.get(&start).await;
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.location.is_none(), "no redirect to anything the issuer named");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "Cairn never connected to the issuer");
}
backend_test!(an_anonymous_visitor_cannot_make_cairn_fetch_an_issuer_inside);
