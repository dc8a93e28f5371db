//! Every list answers `{"items", "next_cursor"}`, honours `limit` and `cursor` (the last
//! item's id), and says `next_cursor: null` on its last page.

use std::time::Duration;

use cairn_domain::Role;
use cairn_identity::NewClient;
use cairn_testkit::receiver::Receiver;
use cairn_testkit::{Backend, TestApp, backend_test, eventually};
use serde_json::{Value, json};

async fn get(app: &TestApp, token: &str, url: &str) -> Value {
    let resp = app.get(url, token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let page: Value = resp.json().await.unwrap();
    let keys: Vec<&String> = page.as_object().expect("a page is an object").keys().collect();
    assert_eq!(keys, ["items", "next_cursor"], "{url}: {page}");
    page
}

/// Walks `path` one item a page: each page holds one item, and each page but the last a
/// `next_cursor` (the item's `key`) that fetches the next; the last page's is `null`. The
/// items are those of one page of them all, in the same order. A `limit` out of 1–500 is
/// a 400 naming `limit`.
async fn one_at_a_time(app: &TestApp, token: &str, path: &str, key: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let all = get(app, token, &format!("{path}{sep}limit=500")).await;
    assert!(all["next_cursor"].is_null(), "{path}: {all}");
    let mut seen = Vec::new();
    let mut url = format!("{path}{sep}limit=1");
    loop {
        let page = get(app, token, &url).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{url}: {page}");
        seen.push(items[0].clone());
        match &page["next_cursor"] {
            Value::Null => break,
            Value::String(cursor) => {
                let id = match &items[0][key] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(cursor, &id, "{url}: the cursor is the last item's {key}");
                url = format!("{path}{sep}limit=1&cursor={cursor}");
            }
            other => panic!("{url}: next_cursor {other}"),
        }
    }
    assert_eq!(&seen, all["items"].as_array().unwrap(), "{path}");
    for bad in ["limit=0", "limit=501", "limit=ten"] {
        let url = format!("{path}{sep}{bad}");
        let resp = app.get(&url, token).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{url}: {body}");
        assert_eq!(body["error"]["field"], "limit", "{url}: {body}");
    }
    seen
}

fn field<'a>(items: &'a [Value], key: &str) -> Vec<&'a str> {
    items.iter().map(|i| i[key].as_str().unwrap()).collect()
}

async fn tenant_lists_page_one_item_at_a_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);

    // Numbers, newest first, and the audit entries of their creation.
    let mut numbers = Vec::new();
    for v in [1, 2] {
        let resp = app.add_number(&admin, json!(v)).await;
        assert_eq!(resp.status(), 201);
        numbers.push(resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let items = one_at_a_time(&app, &admin, "/api/v1/numbers", "id").await;
    assert_eq!(field(&items, "id"), [&numbers[1], &numbers[0]]);
    let items = one_at_a_time(&app, &admin, "/api/v1/audit?action=number.created", "id").await;
    assert_eq!(
        items.iter().map(|e| e["resource"]["id"].as_str().unwrap()).collect::<Vec<_>>(),
        [&numbers[1], &numbers[0]]
    );

    // Records (also by tag) and their events, newest first.
    let mut records = Vec::new();
    for title in ["one", "two"] {
        let resp = app.post("/api/v1/records", &admin, &json!({"title": title, "tags": ["q3"]})).send().await.unwrap();
        assert_eq!(resp.status(), 201);
        records.push(resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(field(&one_at_a_time(&app, &admin, "/api/v1/records", "id").await, "id"), [&records[1], &records[0]]);
    assert_eq!(
        field(&one_at_a_time(&app, &admin, "/api/v1/records?tag=q3", "id").await, "id"),
        [&records[1], &records[0]]
    );
    let events = one_at_a_time(&app, &admin, "/api/v1/events", "id").await;
    assert_eq!(field(&events, "type"), ["records_created", "records_created"]);

    // Publish history, latest version first; the cursor is the version.
    for _ in 0..2 {
        let resp = app
            .client
            .post(app.url(&format!("/api/v1/records/{}/publish", records[0])))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let history =
        one_at_a_time(&app, &admin, &format!("/api/v1/records/{}/publish-history", records[0]), "version").await;
    assert_eq!(history.iter().map(|e| e["version"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 1]);
    let resp =
        app.get(&format!("/api/v1/records/{}/publish-history?cursor=latest", records[0]), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "cursor");

    // Users, oldest first.
    let ann = app.create_user(&acme, "ann@acme.test", "correct horse battery", &[Role::Member]).await;
    let bob = app.create_user(&acme, "bob@acme.test", "correct horse battery", &[Role::Member]).await;
    assert_eq!(field(&one_at_a_time(&app, &admin, "/api/v1/users", "id").await, "id"), [&ann.id, &bob.id]);

    // Clients, by client id.
    let mut clients = Vec::new();
    for name in ["Portal", "Shop"] {
        let new =
            NewClient { name: name.into(), redirect_uris: vec!["https://app.example/cb".into()], ..Default::default() };
        clients.push(app.create_client(&acme, new).await.0);
    }
    clients.sort();
    let items = one_at_a_time(&app, &admin, "/api/v1/clients", "client_id").await;
    assert_eq!(field(&items, "client_id"), [&clients[0], &clients[1]]);
    assert!(items.iter().all(|c| c.get("client_secret").is_none()));

    // SSO connections, oldest first.
    let mut connections = Vec::new();
    for name in ["Acme IdP", "Partner IdP"] {
        let resp = app.post("/api/v1/sso-connections", &admin, &json!({
            "name": name, "issuer": "https://idp.example.com/realms/acme", "client_id": "cairn", "client_secret": "s3cret-s3cret",
        })).send().await.unwrap();
        assert_eq!(resp.status(), 201);
        connections.push(resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        field(&one_at_a_time(&app, &admin, "/api/v1/sso-connections", "id").await, "id"),
        [&connections[0], &connections[1]]
    );
}
backend_test!(tenant_lists_page_one_item_at_a_time);

async fn webhooks_their_attempts_and_dead_letters_page_one_at_a_time(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.events.max_attempts = 2).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let receiver = Receiver::start().await;
    receiver.set_default(503);
    let mut hooks = Vec::new();
    for _ in 0..2 {
        hooks.push(app.add_webhook(&acme, &receiver.url, &["records_created"]).await.0);
    }
    let items = one_at_a_time(&app, &admin, "/api/v1/webhooks", "id").await;
    assert_eq!(field(&items, "id"), [&hooks[0], &hooks[1]]);
    assert!(items.iter().all(|h| h.get("secret").is_none()));

    // One event, two attempts at each webhook, then a dead letter for each.
    app.create_record(&admin, "fails").await;
    let dead = eventually("two dead letters", Duration::from_secs(20), || async {
        let list = get(&app, &admin, "/api/v1/events/dead").await;
        (list["items"].as_array().unwrap().len() == 2).then_some(list)
    })
    .await;
    assert!(dead["next_cursor"].is_null());
    let letters = one_at_a_time(&app, &admin, "/api/v1/events/dead", "id").await;
    let mut consumers: Vec<String> = field(&letters, "consumer").into_iter().map(str::to_owned).collect();
    consumers.sort();
    let mut expected: Vec<String> = hooks.iter().map(|h| format!("webhook:{h}")).collect();
    expected.sort();
    assert_eq!(consumers, expected);
    for hook in &hooks {
        let attempts = one_at_a_time(&app, &admin, &format!("/api/v1/webhooks/{hook}/deliveries"), "id").await;
        assert_eq!(attempts.iter().map(|a| a["attempt"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 1]);
    }
}
backend_test!(webhooks_their_attempts_and_dead_letters_page_one_at_a_time);

async fn tenants_page_one_at_a_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let op = app.operator_token();
    for slug in ["globex", "initech"] {
        assert_eq!(app.post("/api/v1/tenants", &op, &json!({"slug": slug})).send().await.unwrap().status(), 201);
    }
    let tenants = one_at_a_time(&app, &op, "/api/v1/tenants", "id").await;
    let slugs = field(&tenants, "slug");
    let (g, i) =
        (slugs.iter().position(|s| *s == "globex").unwrap(), slugs.iter().position(|s| *s == "initech").unwrap());
    assert!(g < i, "oldest first: {slugs:?}");
    let ids = field(&tenants, "id");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in id order");
}
backend_test!(tenants_page_one_at_a_time);
