//! Delivery: publish notices (subscribers only, once), webhooks (signatures, retries, the
//! delivery log, dead letters and replay), the live stream, and workers that die or race.

use std::time::Duration;

use base64::Engine;
use cairn_domain::Role;
use cairn_store::sqlx;
use cairn_testkit::receiver::{Received, Receiver};
use cairn_testkit::{Backend, TestApp, backend_test, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn publish_mails<'a>(all: &'a [String], to: &str) -> Vec<&'a String> {
    all.iter().filter(|m| m.contains(&format!("To: {to}")) && m.contains("Subject: Published:")).collect()
}

/// Asserts the request carries the Standard Webhooks signature made with `secret`:
/// `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, checked here with ring.
fn assert_signed(request: &Received, secret: &str) {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut content = format!("{}.{}.", request.header("webhook-id"), request.header("webhook-timestamp")).into_bytes();
    content.extend_from_slice(&request.body);
    let mac = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), &content);
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.as_ref()));
    assert_eq!(request.header("webhook-signature"), expected);
}

async fn publish_mails_subscribers_once_and_unsubscribe_stops_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let ann = app.create_user(&acme, "ann@acme.test", "correct horse battery", &[Role::Member]).await;
    let bob = app.create_user(&acme, "bob@acme.test", "correct horse battery", &[Role::Member]).await;
    let cy = app.create_user(&acme, "cy@acme.test", "correct horse battery", &[Role::Member]).await;
    for user in [&ann, &cy] {
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
        assert_eq!(resp.json::<Value>().await.unwrap(), json!({"publish_history": true}));
    }
    let bob_token = app.token_for(&acme, Role::Member, &bob.id);
    let resp = app
        .client
        .put(app.url("/api/v1/me/subscriptions"))
        .bearer_auth(&bob_token)
        .json(&json!({"publish_history": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let got: Value = app.get("/api/v1/me/subscriptions", &bob_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, json!({"publish_history": false}));

    let member = app.token(&acme, Role::Member);
    let id = app.create_record(&member, "Release notes").await;
    let resp = app
        .post(&format!("/api/v1/records/{id}/publish"), &member, &json!({"note": "Ready for review"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    app.settled(&acme).await;
    // The tenant's mark in the control database, which every worker polls, is cleared.
    eventually("the tenant's event work cleared", WAIT, || async {
        let marks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_work WHERE tenant_id = $1")
            .bind(acme.id.to_string())
            .fetch_one(app.store.control().reader())
            .await
            .unwrap();
        (marks == 0).then_some(())
    })
    .await;
    let mail = app.mail();
    let to_ann = publish_mails(&mail, "ann@acme.test");
    assert_eq!(
        (to_ann.len(), publish_mails(&mail, "cy@acme.test").len(), publish_mails(&mail, "bob@acme.test").len()),
        (1, 1, 0)
    );
    let m = to_ann[0].replace("=\r\n", "");
    assert!(m.contains("Subject: Published: Release notes (version 1)"), "{m}");
    assert!(m.contains("Ready for review"), "{m}");
    assert!(m.contains(&format!("/t/acme/records/{id}")), "{m}");
    assert!(m.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{m}");
    let unsubscribe =
        m.lines().find_map(|l| l.strip_prefix("List-Unsubscribe: <")).unwrap().trim_end_matches('>').to_owned();
    assert!(unsubscribe.starts_with(&app.url("/unsubscribe/")), "{unsubscribe}");

    // The event is delivered again (as after a lease expired, its tenant still marked due):
    // no second mail.
    let (_, db) = app.tenant(&acme).await;
    let again = sqlx::query("UPDATE deliveries SET state = 'pending', next_at = 0 WHERE consumer = 'publish_history'")
        .execute(db.writer())
        .await
        .unwrap();
    assert_eq!(again.rows_affected(), 1);
    sqlx::query("INSERT INTO event_work (tenant_id, due_at) VALUES ($1, 0)")
        .bind(acme.id.to_string())
        .execute(app.store.control().writer())
        .await
        .unwrap();
    eventually("the fan-out to run again", WAIT, || async {
        let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM deliveries WHERE consumer = 'publish_history'")
            .fetch_one(db.reader())
            .await
            .unwrap();
        (attempts == 2).then_some(())
    })
    .await;
    app.settled(&acme).await;
    assert_eq!(publish_mails(&app.mail(), "ann@acme.test").len(), 1, "a redelivered event mails nobody twice");

    // One-click unsubscribe (RFC 8058): a GET only asks; the POST unsubscribes.
    let page = app.client.get(&unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("ann@acme.test"));
    let resp = app.client.post(&unsubscribe).form(&[("List-Unsubscribe", "One-Click")]).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let forged =
        app.client.post(format!("{unsubscribe}x")).form(&[("List-Unsubscribe", "One-Click")]).send().await.unwrap();
    assert_eq!(forged.status(), 404);

    let resp =
        app.post(&format!("/api/v1/records/{id}/publish"), &member, &json!({"note": "Final"})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    app.settled(&acme).await;
    let mail = app.mail();
    assert_eq!(publish_mails(&mail, "ann@acme.test").len(), 1, "unsubscribed: nothing further");
    assert_eq!(publish_mails(&mail, "cy@acme.test").len(), 2);
}
backend_test!(publish_mails_subscribers_once_and_unsubscribe_stops_them);

async fn webhooks_are_signed_retried_and_logged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let receiver = Receiver::start().await;
    receiver.script(&[500, 500]);
    let (hook, secret) = app.add_webhook(&acme, &receiver.url, &["record_updated"]).await;
    assert!(secret.starts_with("whsec_"));
    let member = app.token(&acme, Role::Member);
    let id = app.create_record(&member, "Budget").await;
    let resp = app
        .client
        .patch(app.url(&format!("/api/v1/records/{id}")))
        .bearer_auth(&member)
        .json(&json!({"title": "Budget 2027"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 500, 200]);
    let last = &got[2];
    let body = last.json();
    assert_eq!(body["type"], "record_updated", "only subscribed types arrive");
    assert_eq!(body["payload"]["changed"], json!({"title": "Budget 2027"}));
    assert_eq!(last.header("webhook-id"), body["id"].as_str().unwrap());
    assert_signed(last, &secret);
    let ts: i64 = last.header("webhook-timestamp").parse().unwrap();
    assert!((ts - cairn_domain::now_ms() / 1000).abs() < 60);

    let admin = app.token(&acme, Role::Admin);
    app.settled(&acme).await;
    let log: Value =
        app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), &admin).send().await.unwrap().json().await.unwrap();
    let items = log["items"].as_array().unwrap();
    let seen: Vec<(i64, i64)> =
        items.iter().map(|a| (a["attempt"].as_i64().unwrap(), a["status"].as_i64().unwrap())).collect();
    assert_eq!(seen, [(3, 200), (2, 500), (1, 500)]);
    assert!(items.iter().all(|a| a["duration_ms"].as_i64().unwrap() >= 0 && a["event_type"] == "record_updated"));
    let metrics = app.metrics().await;
    for line in
        ["cairn_event_deliveries_total{outcome=\"delivered\"} 1", "cairn_event_deliveries_total{outcome=\"retried\"} 2"]
    {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }

    // Change the types and roll the secret: the next delivery follows both.
    let patch = |body: Value| {
        app.client.patch(app.url(&format!("/api/v1/webhooks/{hook}"))).bearer_auth(&admin).json(&body).send()
    };
    assert_eq!(patch(json!({"url": "ftp://x.test/"})).await.unwrap().status(), 400);
    assert_eq!(patch(json!({"events": []})).await.unwrap().status(), 400);
    let changed: Value = patch(json!({"events": ["records_created"]})).await.unwrap().json().await.unwrap();
    assert_eq!(changed["events"], json!(["records_created"]));
    let rolled: Value = app
        .post(&format!("/api/v1/webhooks/{hook}/rotate-secret"), &admin, &json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = rolled["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    app.create_record(&member, "Forecast").await;
    let got = receiver.wait_for(4, WAIT).await;
    let last = &got[3];
    assert_eq!(last.json()["type"], "records_created");
    assert_signed(last, &new_secret);
    assert_eq!(app.post("/api/v1/webhooks/nope/rotate-secret", &admin, &json!({})).send().await.unwrap().status(), 404);

    // Listing never shows the secret; deleting stops deliveries.
    let list: Value = app.get("/api/v1/webhooks", &admin).send().await.unwrap().json().await.unwrap();
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains(&new_secret));
    assert_eq!(app.get("/api/v1/webhooks", &member).send().await.unwrap().status(), 403);
    assert_eq!(app.delete(&format!("/api/v1/webhooks/{hook}"), &admin).send().await.unwrap().status(), 204);
    assert_eq!(app.get(&format!("/api/v1/webhooks/{hook}"), &admin).send().await.unwrap().status(), 404);
}
backend_test!(webhooks_are_signed_retried_and_logged);

async fn dead_letters_replay_and_discard(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.events.max_attempts = 2).await;
    let acme = app.create_tenant("acme").await;
    let receiver = Receiver::start().await;
    receiver.set_default(503);
    app.add_webhook(&acme, &receiver.url, &["records_created"]).await;
    let member = app.token(&acme, Role::Member);
    app.create_record(&member, "one").await;
    app.create_record(&member, "two").await;
    let admin = app.token(&acme, Role::Admin);
    let dead = eventually("two dead letters", WAIT, || async {
        let list: Value = app.get("/api/v1/events/dead", &admin).send().await.unwrap().json().await.unwrap();
        let items = list["items"].as_array().unwrap().clone();
        (items.len() == 2).then_some(items)
    })
    .await;
    assert_eq!(dead[0]["attempts"], 2);
    assert_eq!(dead[0]["last_error"], "the receiver answered 503");
    assert!(dead[0]["consumer"].as_str().unwrap().starts_with("webhook:"));
    assert_eq!(receiver.answered().len(), 4);
    assert_eq!(app.get("/api/v1/events/dead", &member).send().await.unwrap().status(), 403);

    receiver.set_default(200);
    let first = dead[0]["id"].as_str().unwrap();
    let resp = app.post(&format!("/api/v1/events/dead/{first}/replay"), &admin, &json!({})).send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["count"], 1);
    let ok = receiver.wait_for(5, WAIT).await;
    assert_eq!(ok[4].status, 200);
    assert_eq!(ok[4].header("webhook-id"), dead[0]["event_id"].as_str().unwrap());
    let second = dead[1]["id"].as_str().unwrap();
    let resp = app.post(&format!("/api/v1/events/dead/{second}/discard"), &admin, &json!({})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.post(&format!("/api/v1/events/dead/{second}/discard"), &admin, &json!({})).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    app.settled(&acme).await;
    let list: Value = app.get("/api/v1/events/dead", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    assert_eq!(receiver.answered().len(), 5, "the discarded letter was not sent again");
    let audit: Value = app.get("/api/v1/audit?action=event.*", &admin).send().await.unwrap().json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["event.discarded", "event.replayed"]);

    // Retention: events whose deliveries all ended go, with their deliveries and the log.
    let (_, db) = app.tenant(&acme).await;
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db.reader()).await.unwrap()
        }
    };
    assert_eq!(
        cairn_events::sweep(&db, cairn_domain::now_ms() - 60_000, 500).await.unwrap(),
        0,
        "nothing is old enough"
    );
    assert!(cairn_events::sweep(&db, cairn_domain::now_ms() + 1000, 500).await.unwrap() >= 2);
    assert_eq!((count("outbox").await, count("deliveries").await, count("webhook_attempts").await), (0, 0, 0));
}
backend_test!(dead_letters_replay_and_discard);

async fn webhooks_to_private_addresses_are_refused_unless_allowed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.outbound.allow_private = false).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/latest",
        "ftp://example.com/",
        "http://user:pw@example.com/",
    ] {
        let resp = app
            .post("/api/v1/webhooks", &admin, &json!({"url": url, "events": ["records_created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "url", "{url}");
    }
    let resp = app
        .post("/api/v1/webhooks", &admin, &json!({"url": "https://hooks.example.com/x", "events": ["nope"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "events");
    let list: Value = app.get("/api/v1/webhooks", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]));

    // Where the operator allows private receivers (as the tests' own configuration does),
    // the same addresses are accepted; an address of no server, another scheme or
    // credentials in the URL still are not.
    let allowing = TestApp::spawn(backend).await;
    assert!(allowing.config.outbound.allow_private);
    let acme = allowing.create_tenant("acme").await;
    let admin = allowing.token(&acme, Role::Admin);
    for url in ["http://127.0.0.1:9/hook", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest"] {
        let resp = allowing
            .post("/api/v1/webhooks", &admin, &json!({"url": url, "events": ["records_created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{url}");
    }
    for url in ["http://0.0.0.0/", "ftp://example.com/", "http://user:pw@example.com/"] {
        let resp = allowing
            .post("/api/v1/webhooks", &admin, &json!({"url": url, "events": ["records_created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{url}");
    }
    let list: Value = allowing.get("/api/v1/webhooks", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
}
backend_test!(webhooks_to_private_addresses_are_refused_unless_allowed);

async fn the_live_stream_says_it_is_open_before_any_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let reader = app.token(&acme, Role::Readonly);
    let mut stream = app.get("/api/v1/events/stream", &reader).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let chunk =
        tokio::time::timeout(WAIT, stream.chunk()).await.expect("a first line without any event").unwrap().unwrap();
    assert_eq!(std::str::from_utf8(&chunk).unwrap(), ": connected\n\n");
}
backend_test!(the_live_stream_says_it_is_open_before_any_event);

async fn the_live_stream_carries_events_as_they_commit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let reader = app.token(&acme, Role::Readonly);
    let member = app.token(&acme, Role::Member);
    app.create_record(&member, "before").await;
    let mut stream = app.get("/api/v1/events/stream", &reader).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let id = app.create_record(&member, "after").await;
    let mut text = String::new();
    while !text.contains("\n\n") || !text.contains("data:") {
        let chunk =
            tokio::time::timeout(WAIT, stream.chunk()).await.expect("an event within the wait").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(text.contains("event: records_created"), "{text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let envelope: Value = serde_json::from_str(data).unwrap();
    assert_eq!(envelope["payload"]["ids"], json!([id]), "only events after connecting: {text}");
    let event_id = envelope["id"].as_str().unwrap().to_owned();
    drop(stream);

    // Reconnecting after that event resumes with the next one.
    app.create_record(&member, "later").await;
    let mut stream = app.get("/api/v1/events/stream", &reader).header("last-event-id", &event_id).send().await.unwrap();
    let mut text = String::new();
    while !text.contains("data:") {
        let chunk =
            tokio::time::timeout(WAIT, stream.chunk()).await.expect("an event within the wait").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(!text.contains(&event_id), "{text}");
    assert_eq!(app.get("/api/v1/events/stream", "nope").send().await.unwrap().status(), 401);

    // An event whose id is older than one already streamed (its transaction committed
    // later) is still streamed, once.
    let mut stream = app.get("/api/v1/events/stream", &reader).send().await.unwrap();
    let early = uuid::Uuid::now_v7().to_string();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let a = app.create_record(&member, "a").await;
    let (_, db) = app.tenant(&acme).await;
    sqlx::query(
        "INSERT INTO outbox (id, type, time, actor_id, actor_email, resource_type, resource_id, payload, schema_version, dispatched_at) \
         VALUES ($1, 'records_created', $2, 'late', NULL, 'record', 'late', '{\"ids\":[\"late\"]}', 1, $2)",
    )
    .bind(&early)
    .bind(cairn_domain::now_ms())
    .execute(db.writer())
    .await
    .unwrap();
    let b = app.create_record(&member, "b").await;
    let mut text = String::new();
    while !(text.contains(&a) && text.contains(&b) && text.contains("late")) {
        let chunk = tokio::time::timeout(WAIT, stream.chunk()).await.expect("events within the wait").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(text.matches(&format!("\"ids\":[\"{a}\"]")).count(), 1, "{text}");
    drop(stream);

    // A stream ends when the token that opened it expires.
    let grant =
        cairn_identity::AccessGrant::Tenant { id: acme.id, slug: acme.slug.clone(), roles: vec![Role::Readonly] };
    let short = app.tokens().issue_access("reader@acme", &grant, "cairn-test", Duration::from_secs(2)).unwrap();
    let mut stream = app.get("/api/v1/events/stream", &short).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while stream.chunk().await.unwrap().is_some() {} }).await;
    assert!(ended.is_ok(), "the stream outlived its token");
}
backend_test!(the_live_stream_carries_events_as_they_commit);

async fn two_workers_never_deliver_one_event_at_once(backend: Backend) {
    // Two replicas on the same databases, each with its own worker, behind one public URL.
    let first = TestApp::spawn_with(backend, |c| c.public_url = Some("http://cairn.test".parse().unwrap())).await;
    let second = TestApp::spawn_config(backend, first.config.clone(), tempfile::tempdir().unwrap()).await;
    let acme = first.create_tenant("acme").await;
    let receiver = Receiver::start().await;
    receiver.set_delay(Duration::from_millis(150));
    first.add_webhook(&acme, &receiver.url, &["records_created"]).await;
    let member = first.token(&acme, Role::Member);
    for i in 0..16 {
        let app = if i % 2 == 0 { &first } else { &second };
        app.create_record(&member, &format!("r{i}")).await;
    }
    let got = receiver.wait_for(16, Duration::from_secs(60)).await;
    first.settled(&acme).await;
    assert_eq!(receiver.overlaps(), 0);
    let mut ids: Vec<String> = got.iter().map(|r| r.header("webhook-id").to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), receiver.answered().len()), (16, 16), "each event exactly once");
    let (_, db) = first.tenant(&acme).await;
    let owners: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT lease_owner FROM deliveries").fetch_all(db.reader()).await.unwrap();
    assert_eq!(owners.len(), 2, "both workers delivered: {owners:?}");
    second.stop().await;
}
backend_test!(two_workers_never_deliver_one_event_at_once);

async fn a_worker_that_dies_mid_delivery_loses_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = cairn_testkit::fresh_config(backend, dir.path());
    // The worker stops within half the lease (a consumer's time limit), holding its leases.
    config.events.lease = Duration::from_secs(6);
    let app = TestApp::spawn_config(backend, config.clone(), dir).await;
    let acme = app.create_tenant("acme").await;
    let receiver = Receiver::start().await;
    receiver.set_delay(Duration::from_secs(30));
    app.add_webhook(&acme, &receiver.url, &["records_created"]).await;
    let member = app.token(&acme, Role::Member);
    for i in 0..3 {
        app.create_record(&member, &format!("r{i}")).await;
    }
    eventually("the worker to be mid-delivery", WAIT, || async { (receiver.started() == 3).then_some(()) }).await;
    // The worker dies holding its leases: nothing was answered.
    let restarted = app.restart().await;
    assert!(receiver.answered().is_empty());
    receiver.set_delay(Duration::ZERO);
    let got = receiver.wait_for(3, WAIT).await;
    assert!(got.iter().all(|r| r.status == 200));
    restarted.settled(&acme).await;
    let (_, db) = restarted.tenant(&acme).await;
    let attempts: Vec<i64> =
        sqlx::query_scalar("SELECT attempts FROM deliveries ORDER BY attempts").fetch_all(db.reader()).await.unwrap();
    assert_eq!(attempts, [2, 2, 2], "each delivery was taken over once its lease ended");
}
backend_test!(a_worker_that_dies_mid_delivery_loses_nothing);
