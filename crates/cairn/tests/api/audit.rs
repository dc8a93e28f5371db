//! The audit trail: what is recorded, queries, export, retention, tamper evidence.

use cairn_audit::{AuditFilter, AuditService};
use cairn_domain::Role;
use cairn_store::sqlx;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

use crate::error_code;

/// Entries of the caller's trail matching `query`, newest first.
async fn audit(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let resp = app.get(&format!("/api/v1/audit?{query}"), token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{query}");
    resp.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

async fn verify(app: &TestApp, tenant: &TestTenant) -> cairn_audit::VerifyReport {
    let db = app.store.tenant_db(tenant.id).await.unwrap();
    AuditService::verify(&db, app.tokens(), &tenant.id.to_string()).await.unwrap()
}

async fn checkpoint(app: &TestApp, tenant: &TestTenant) {
    let db = app.store.tenant_db(tenant.id).await.unwrap();
    AuditService::checkpoint(&db, app.tokens(), &tenant.id.to_string()).await.unwrap();
}

/// Appends an entry by `actor` straight through the service, as a change would.
async fn record(db: &cairn_store::Db, actor: &str, action: &str) {
    let actor = cairn_audit::Actor { id: actor.into(), email: None };
    let action = cairn_audit::Action::parse(action).unwrap();
    let entry = cairn_audit::NewEntry::new(actor, action, cairn_audit::Outcome::Success, Default::default());
    AuditService::record_now(db, entry).await.unwrap();
}

async fn add_entries(app: &TestApp, token: &str, actions: &[&str]) {
    for a in actions {
        let resp = app.post("/api/v1/audit", token, &json!({"action": a})).send().await.unwrap();
        assert_eq!(resp.status(), 201, "{a}");
    }
}

async fn changes_are_recorded_with_actor_ip_and_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token_for(&acme, Role::Member, "ann");
    let admin = app.token(&acme, Role::Admin);
    let resp = app
        .client
        .post(app.url("/api/v1/numbers"))
        .bearer_auth(&member)
        .header("x-request-id", "req-create")
        .header("user-agent", "audit-test/1.0")
        .json(&json!({"value": 12.5}))
        .send()
        .await
        .unwrap();
    let id = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let resp = app
        .client
        .delete(app.url(&format!("/api/v1/numbers/{id}")))
        .bearer_auth(&admin)
        .header("x-request-id", "req-delete")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    let entries = audit(&app, &admin, "").await;
    assert_eq!(actions(&entries), ["number.deleted", "number.created"]);
    let created = &entries[1];
    assert_eq!(created["actor"], json!({"id": "ann", "email": null}));
    assert_eq!(created["resource"], json!({"type": "number", "id": id}));
    assert_eq!(created["outcome"], "success");
    assert_eq!(created["details"], json!({"value": 12.5}));
    assert_eq!(created["ip"], "127.0.0.1");
    assert_eq!(created["user_agent"], "audit-test/1.0");
    assert_eq!(created["request_id"], "req-create");
    assert_eq!(entries[0]["actor"]["id"], "admin@acme");
    assert_eq!(entries[0]["request_id"], "req-delete");
    // Reads and rejected input leave no entry.
    app.get("/api/v1/numbers", &admin).send().await.unwrap();
    assert_eq!(app.add_number(&member, json!("nope")).await.status(), 400);
    assert_eq!(audit(&app, &admin, "").await.len(), 2);
    let one: Value = app
        .get(&format!("/api/v1/audit/{}", created["id"].as_str().unwrap()), &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(&one, created);
    let resp = app.get("/api/v1/audit/01a2aaaa-0000-7000-8000-000000000000", &admin).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}
backend_test!(changes_are_recorded_with_actor_ip_and_request_id);

async fn denials_are_recorded_before_the_403(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let reader = app.token_for(&acme, Role::Readonly, "rita");
    let admin = app.token(&acme, Role::Admin);
    let resp = app
        .client
        .post(app.url("/api/v1/numbers"))
        .bearer_auth(&reader)
        .header("x-request-id", "req-denied")
        .json(&json!({"value": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A tenant token on the operator API is denied in its tenant's trail too.
    assert_eq!(app.get("/api/v1/tenants", &admin).send().await.unwrap().status(), 403);
    // Reading the audit trail needs admin; that denial is recorded as well.
    assert_eq!(app.get("/api/v1/audit", &reader).send().await.unwrap().status(), 403);

    let denied = audit(&app, &admin, "action=access.denied").await;
    assert_eq!(denied.len(), 3);
    let by_attempt = |a: &str| {
        denied.iter().find(|e| e["details"]["attempted"] == a).unwrap_or_else(|| panic!("{a}: {denied:?}")).clone()
    };
    let create = by_attempt("number.create");
    assert_eq!(create["actor"]["id"], "rita");
    assert_eq!(create["outcome"], "denied");
    assert_eq!(create["request_id"], "req-denied");
    assert_eq!(create["details"]["reason"], "requires the member role");
    assert_eq!(by_attempt("tenant.list")["actor"]["id"], "admin@acme");
    assert_eq!(by_attempt("audit.read")["actor"]["id"], "rita");

    // An operator reaching into a tenant is denied in the platform trail.
    let op = app.operator_token();
    assert_eq!(app.get("/api/v1/numbers", &op).send().await.unwrap().status(), 403);
    let platform = audit(&app, &op, "action=access.denied").await;
    assert_eq!(platform.len(), 1);
    assert_eq!(platform[0]["details"]["attempted"], "number.list");
}
backend_test!(denials_are_recorded_before_the_403);

async fn platform_actions_go_to_the_platform_trail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let op = app.operator_token();
    app.post("/api/v1/tenants", &op, &json!({"slug": "globex"})).send().await.unwrap();
    app.delete("/api/v1/tenants/globex", &op).send().await.unwrap();
    let entries = audit(&app, &op, "action=tenant.*").await;
    assert_eq!(actions(&entries), ["tenant.deleted", "tenant.created", "tenant.created"]);
    assert_eq!(entries[1]["actor"]["id"], "operator@test");
    assert_eq!(entries[1]["details"]["slug"], "globex");
    // First start created the bootstrap tenant, and says so.
    assert_eq!(entries[2]["actor"]["id"], "system:first-start");
    assert_eq!(entries[2]["details"]["slug"], "default");
    let report = AuditService::verify(app.store.control(), app.tokens(), "platform").await.unwrap();
    assert_eq!(report.violation, None);
}
backend_test!(platform_actions_go_to_the_platform_trail);

async fn filters_and_pagination(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (alice, bob) = (app.token_for(&acme, Role::Admin, "alice"), app.token_for(&acme, Role::Admin, "bob"));
    add_entries(&app, &alice, &["user.created", "user.role_changed", "invoice.paid"]).await;
    // Entry times have millisecond precision: keep clear of the boundary on both sides.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let before_bob = jiff::Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    add_entries(&app, &bob, &["user.created", "users.exported"]).await;
    let resp = app.post("/api/v1/audit", &bob, &json!({"action": "invoice.approved", "resource_type": "invoice", "resource_id": "inv-7", "details": {"amount": 12}})).send().await.unwrap();
    assert_eq!(resp.status(), 201);

    assert_eq!(
        actions(&audit(&app, &alice, "user=alice").await),
        ["invoice.paid", "user.role_changed", "user.created"]
    );
    assert_eq!(actions(&audit(&app, &alice, "action=user.created").await), ["user.created", "user.created"]);
    // A prefix matches whole segments: user.* is not users.*.
    assert_eq!(
        actions(&audit(&app, &alice, "action=user.*").await),
        ["user.created", "user.role_changed", "user.created"]
    );
    assert_eq!(actions(&audit(&app, &alice, "resource_type=invoice&resource_id=inv-7").await), ["invoice.approved"]);
    assert_eq!(actions(&audit(&app, &alice, "resource_type=invoice").await), ["invoice.approved"]);
    let from = before_bob.to_string();
    assert_eq!(audit(&app, &alice, &format!("from={from}")).await.len(), 3);
    assert_eq!(audit(&app, &alice, &format!("to={from}")).await.len(), 3);
    assert_eq!(actions(&audit(&app, &alice, &format!("user=bob&action=user.*&from={from}")).await), ["user.created"]);

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value =
            app.get(&format!("/api/v1/audit?limit=2{cursor}"), &alice).send().await.unwrap().json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [6, 5, 4, 3, 2, 1]);

    for bad in [
        "limit=0",
        "limit=501",
        "action=User",
        "action=*",
        "from=yesterday",
        "resource_id=x",
        "cursor=@@",
        &format!("from={}&to=2000-01-01T00:00:00Z", jiff::Timestamp::now()),
    ] {
        let resp = app.get(&format!("/api/v1/audit?{bad}"), &alice).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        assert_eq!(error_code(resp).await, "VALIDATION_ERROR");
    }
}
backend_test!(filters_and_pagination);

async fn every_filter_is_served_by_an_index(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let db = app.store.tenant_db(acme.id).await.unwrap();
    // Two actions under `user.`, enough entries for SQLite's batched indexes to hold some.
    for i in 0..40 {
        record(&db, "alice", if i % 2 == 0 { "user.created" } else { "user.deleted" }).await;
    }
    let filter = |f: fn(&mut AuditFilter)| {
        let mut filter = AuditFilter::default();
        f(&mut filter);
        filter
    };
    let cases: Vec<(AuditFilter, &str)> = vec![
        (filter(|_| {}), "audit_by_time"),
        (filter(|f| f.from = Some(1)), "audit_by_time"),
        (filter(|f| f.to = Some(1)), "audit_by_time"),
        (filter(|f| f.user = Some("alice".into())), "audit_by_actor"),
        (filter(|f| f.action = Some(cairn_audit::ActionPattern::parse("user.created").unwrap())), "audit_by_action"),
        (filter(|f| f.action = Some(cairn_audit::ActionPattern::parse("user.*").unwrap())), "audit_by_action"),
        (filter(|f| f.resource_type = Some("invoice".into())), "audit_by_resource"),
        (
            filter(|f| {
                f.resource_type = Some("invoice".into());
                f.resource_id = Some("7".into())
            }),
            "audit_by_resource",
        ),
    ];
    for (f, index) in cases {
        let plan = AuditService::explain(&db, &f).await.unwrap().join("\n");
        assert!(plan.contains(index), "{f:?} should use {index}:\n{plan}");
        if backend == Backend::Sqlite {
            // The newest entries, not yet in the batched indexes, come by a primary-key range.
            assert!(plan.contains("USING INTEGER PRIMARY KEY (rowid>?)"), "{f:?}:\n{plan}");
        }
        let full_scan = match backend {
            Backend::Sqlite => plan.lines().any(|l| l.contains("SCAN audit_entries") && !l.contains("INDEX")),
            Backend::Postgres => plan.contains("Seq Scan"),
        };
        assert!(!full_scan, "{f:?} scans the table:\n{plan}");
    }
    // A prefix reads one range per action under it, each in listing order, and merges them:
    // a page never sorts every match.
    let prefix = filter(|f| f.action = Some(cairn_audit::ActionPattern::parse("user.*").unwrap()));
    let plan = AuditService::explain(&db, &prefix).await.unwrap().join("\n");
    let ordered_ranges = match backend {
        Backend::Sqlite => plan.matches("USING INDEX audit_by_action (action=? AND").count(),
        Backend::Postgres => plan.matches("Index Scan Backward using audit_by_action").count(),
    };
    assert_eq!(ordered_ranges, 2, "one ordered range for user.created, one for user.deleted:\n{plan}");
    if backend == Backend::Postgres {
        assert!(plan.contains("Merge Append"), "{plan}");
    }
}
backend_test!(every_filter_is_served_by_an_index);

async fn custom_entries_take_the_caller_as_actor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token_for(&acme, Role::Admin, "svc-billing");
    let resp = app
        .post(
            "/api/v1/audit",
            &admin,
            &json!({"action": "invoice.approved", "outcome": "failure", "details": {"why": "limit"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["actor"]["id"], "svc-billing");
    assert_eq!(e["outcome"], "failure");
    for bad in [
        json!({"action": "Invoice.approved"}),
        json!({"action": "invoice"}),
        json!({"action": "a.b", "actor": "someone-else"}),
        json!({"action": "a.b", "details": [1]}),
        json!({"action": "a.b", "outcome": "meh"}),
        json!({"action": "a.b", "resource_id": "x"}),
        json!({"action": "a.b", "resource_type": "Bad Type"}),
        json!({"action": "a.b", "details": {"x": "y".repeat(17000)}}),
        json!({}),
    ] {
        let resp = app.post("/api/v1/audit", &admin, &bad).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    let member = app.token(&acme, Role::Member);
    assert_eq!(app.post("/api/v1/audit", &member, &json!({"action": "a.b"})).send().await.unwrap().status(), 403);
    let all = audit(&app, &admin, "").await;
    assert_eq!(actions(&all), ["access.denied", "invoice.approved"]);
}
backend_test!(custom_entries_take_the_caller_as_actor);

async fn export_streams_jsonl_and_csv_with_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    add_entries(&app, &admin, &["user.created", "user.deleted", "invoice.paid"]).await;
    let resp = app.get("/api/v1/audit/export?format=jsonl&action=user.*", &admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(actions(&lines), ["user.deleted", "user.created"]);
    let resp = app.get("/api/v1/audit/export?format=csv", &admin).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,seq,time,actor_id,actor_email,action,"), "{csv}");
    assert_eq!(rows.len(), 4);
    assert!(rows[1].contains(",invoice.paid,"));
    // The details column is JSON, quoted per RFC 4180.
    assert!(rows[1].contains(r#""{}""#) || rows[1].contains(",{},"), "{}", rows[1]);
    let resp = app.get("/api/v1/audit/export?format=xml", &admin).send().await.unwrap();
    assert_eq!(resp.status(), 400);
}
backend_test!(export_streams_jsonl_and_csv_with_filters);

async fn retention_settings_are_admin_only_and_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let got: Value = app.get("/api/v1/audit/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, json!({"retention_days": 30}));
    let resp = app
        .client
        .put(app.url("/api/v1/audit/settings"))
        .bearer_auth(&admin)
        .json(&json!({"retention_days": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for bad in
        [json!({"retention_days": 0}), json!({"retention_days": 3651}), json!({"retention_days": "7"}), json!({})]
    {
        let resp =
            app.client.put(app.url("/api/v1/audit/settings")).bearer_auth(&admin).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    let member = app.token_for(&acme, Role::Member, "mo");
    let resp = app
        .client
        .put(app.url("/api/v1/audit/settings"))
        .bearer_auth(&member)
        .json(&json!({"retention_days": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let got: Value = app.get("/api/v1/audit/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, json!({"retention_days": 7}));
    let denied = audit(&app, &admin, "action=access.denied").await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(
        (&denied[0]["actor"]["id"], &denied[0]["details"]["attempted"]),
        (&json!("mo"), &json!("audit.settings.write"))
    );
    let changed = audit(&app, &admin, "action=audit.settings_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["details"], json!({"retention_days": {"from": 30, "to": 7}}));
}
backend_test!(retention_settings_are_admin_only_and_audited);

async fn retention_pruning_keeps_the_chain_verifiable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let db = app.store.tenant_db(acme.id).await.unwrap();
    add_entries(&app, &admin, &["a.one", "a.two", "a.three", "a.four", "a.five"]).await;
    checkpoint(&app, &acme).await;
    add_entries(&app, &admin, &["b.six", "b.seven"]).await;
    // Three days on, with a one-day retention: only what the checkpoint covers may go.
    app.client
        .put(app.url("/api/v1/audit/settings"))
        .bearer_auth(&admin)
        .json(&json!({"retention_days": 1}))
        .send()
        .await
        .unwrap();
    let later = cairn_domain::now_ms() + 3 * 86_400_000;
    assert_eq!(AuditService::sweep(&db, later, 2).await.unwrap(), 5);
    let report = verify(&app, &acme).await;
    assert_eq!(report.violation, None, "{report:?}");
    assert_eq!((report.first_seq, report.entries), (Some(6), 3));
    // Nothing younger than the retention is touched.
    assert_eq!(AuditService::sweep(&db, cairn_domain::now_ms(), 2).await.unwrap(), 0);
    // Once checkpointed, the rest can go, and an empty remainder still verifies.
    checkpoint(&app, &acme).await;
    assert_eq!(AuditService::sweep(&db, later, 500).await.unwrap(), 3);
    let report = verify(&app, &acme).await;
    assert_eq!(report.violation, None, "{report:?}");
    assert_eq!(report.entries, 0);
    // And the chain continues.
    add_entries(&app, &admin, &["c.nine"]).await;
    assert_eq!(verify(&app, &acme).await.violation, None);
}
backend_test!(retention_pruning_keeps_the_chain_verifiable);

/// The `seq` of every entry matching `query`, newest first, read `limit` at a time.
async fn every_page(app: &TestApp, token: &str, query: &str, limit: usize) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!("/api/v1/audit?limit={limit}&{query}{cursor}");
        let page: Value = app.get(&url, token).send().await.unwrap().json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{url}");
        seen.extend(items.iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return seen,
        }
    }
}

/// Entry `i` (its seq, counting from 1) of the trail `seventy_entries` writes.
fn kind(i: i64) -> (&'static str, &'static str) {
    let user = if i % 2 == 0 { "alice" } else { "bob" };
    let action = ["x.alpha", "x.beta", "y.gamma"][(i % 3) as usize];
    (user, action)
}

/// Seventy custom entries by alice and bob: on SQLite, two runs of the batched indexes and
/// six newer entries outside them.
async fn seventy_entries(app: &TestApp, tenant: &TestTenant) {
    let alice = app.token_for(tenant, Role::Admin, "alice");
    let bob = app.token_for(tenant, Role::Admin, "bob");
    for i in 1..=70 {
        let (user, action) = kind(i);
        let token = if user == "alice" { &alice } else { &bob };
        let mut body = json!({"action": action});
        if i % 5 == 0 {
            body["resource_type"] = json!("doc");
            body["resource_id"] = json!(format!("d{}", i % 10));
        }
        assert_eq!(app.post("/api/v1/audit", token, &body).send().await.unwrap().status(), 201);
    }
}

async fn listings_read_indexed_and_newest_entries_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    seventy_entries(&app, &acme).await;
    let admin = app.token_for(&acme, Role::Admin, "alice");
    let newest_first = |keep: &dyn Fn(i64) -> bool| (1..=70).rev().filter(|i| keep(*i)).collect::<Vec<i64>>();
    assert_eq!(every_page(&app, &admin, "", 9).await, newest_first(&|_| true));
    assert_eq!(every_page(&app, &admin, "user=alice", 4).await, newest_first(&|i| kind(i).0 == "alice"));
    assert_eq!(every_page(&app, &admin, "action=x.beta", 5).await, newest_first(&|i| kind(i).1 == "x.beta"));
    assert_eq!(every_page(&app, &admin, "action=x.*", 7).await, newest_first(&|i| kind(i).1.starts_with("x.")));
    assert_eq!(every_page(&app, &admin, "resource_type=doc&resource_id=d0", 1).await, newest_first(&|i| i % 10 == 0));
    assert_eq!(
        every_page(&app, &admin, "user=bob&action=y.gamma", 3).await,
        newest_first(&|i| kind(i) == ("bob", "y.gamma"))
    );
    // By id, whether its entry is in the indexes or not.
    let all = audit(&app, &admin, "limit=500").await;
    for e in [&all[0], &all[69]] {
        let one: Value = app
            .get(&format!("/api/v1/audit/{}", e["id"].as_str().unwrap()), &admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(&one, e);
    }
    assert_eq!(verify(&app, &acme).await.violation, None);
    // Retention takes indexed and newest entries alike, a small batch at a time.
    app.client
        .put(app.url("/api/v1/audit/settings"))
        .bearer_auth(&admin)
        .json(&json!({"retention_days": 1}))
        .send()
        .await
        .unwrap();
    checkpoint(&app, &acme).await;
    let db = app.store.tenant_db(acme.id).await.unwrap();
    assert_eq!(AuditService::sweep(&db, cairn_domain::now_ms() + 3 * 86_400_000, 16).await.unwrap(), 71);
    let report = verify(&app, &acme).await;
    assert_eq!((&report.violation, report.entries), (&None, 0), "{report:?}");
}
backend_test!(listings_read_indexed_and_newest_entries_alike);

async fn a_prefix_over_many_actions_lists_them_all(backend: Backend) {
    // More actions under the prefix than a listing merges range by range.
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let db = app.store.tenant_db(acme.id).await.unwrap();
    for i in 0..80 {
        record(&db, "alice", &format!("many.a{i}")).await;
    }
    let admin = app.token(&acme, Role::Admin);
    assert_eq!(every_page(&app, &admin, "action=many.*", 30).await, (1..=80).rev().collect::<Vec<i64>>());
}
backend_test!(a_prefix_over_many_actions_lists_them_all);

/// On SQLite an entry joins the filter indexes when its run of 32 is complete (migration
/// 0002); clearing its mark would hide it from every filtered listing. PostgreSQL has no
/// such mark: its indexes take each entry as it is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_hidden_from_the_sqlite_indexes_is_detected() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let acme = app.create_tenant("acme").await;
    seventy_entries(&app, &acme).await;
    let admin = app.token(&acme, Role::Admin);
    let db = app.store.tenant_db(acme.id).await.unwrap();
    sqlx::query("UPDATE audit_entries SET indexed = 0 WHERE seq = 40").execute(db.writer()).await.unwrap();
    assert!(!every_page(&app, &admin, "", 100).await.contains(&40), "the entry is hidden");
    assert_eq!(broken_at(&app, &acme).await, 40);
}

async fn a_trail_from_before_the_batched_indexes_is_upgraded(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let config = cairn_testkit::fresh_config(backend, dir.path());
    let without_batches = |all: Vec<cairn_store::Migration>| {
        all.into_iter().filter(|m| (m.component, m.version) != ("audit", 2)).collect::<Vec<_>>()
    };
    let store_config = cairn_store::StoreConfig {
        data_dir: config.data_dir.clone(),
        database_url: config.database_url.clone(),
        control_max_connections: 2,
        tenant_max_connections: 2,
        max_open_tenant_pools: 4,
        acquire_timeout: std::time::Duration::from_secs(10),
    };
    let key = cairn::startup::master_key(&config).unwrap();
    let old = cairn_store::Store::open(
        store_config,
        key,
        without_batches(cairn::startup::control_migrations()),
        without_batches(cairn::startup::tenant_migrations()),
    )
    .await
    .unwrap();
    let slug = cairn_domain::TenantSlug::parse("acme").unwrap();
    let acme = old.create_tenant(&slug, "Acme", None).await.unwrap();
    let db = old.tenant_db(acme.id).await.unwrap();
    for i in 0..40 {
        record(&db, &format!("user-{}", i % 4), if i % 2 == 0 { "old.even" } else { "old.odd" }).await;
    }
    old.close().await;

    let app = TestApp::spawn_config(backend, config, dir).await;
    let acme = TestTenant { id: acme.id, slug: acme.slug };
    assert_eq!(verify(&app, &acme).await.violation, None);
    let admin = app.token(&acme, Role::Admin);
    assert_eq!(
        every_page(&app, &admin, "action=old.odd", 7).await,
        (1..=40).rev().filter(|i| i % 2 == 0).collect::<Vec<_>>()
    );
    assert_eq!(every_page(&app, &admin, "user=user-3", 100).await, [40, 36, 32, 28, 24, 20, 16, 12, 8, 4]);
    // The chain goes on past the next run of the batched indexes.
    add_entries(&app, &admin, &["new.one"; 30]).await;
    assert_eq!(every_page(&app, &admin, "action=new.one", 8).await, (41..=70).rev().collect::<Vec<_>>());
    assert_eq!(every_page(&app, &admin, "", 500).await, (1..=70).rev().collect::<Vec<_>>());
    assert_eq!(verify(&app, &acme).await.violation, None);
    assert_eq!(AuditService::verify(app.store.control(), app.tokens(), "platform").await.unwrap().violation, None);
}
backend_test!(a_trail_from_before_the_batched_indexes_is_upgraded);

/// A tenant whose trail holds five entries, verified intact.
async fn chain_with_entries(backend: Backend) -> (TestApp, TestTenant, cairn_store::Db) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    add_entries(&app, &admin, &["e.one", "e.two", "e.three", "e.four", "e.five"]).await;
    let db = app.store.tenant_db(acme.id).await.unwrap();
    assert_eq!(verify(&app, &acme).await.violation, None);
    (app, acme, db)
}

async fn broken_at(app: &TestApp, acme: &TestTenant) -> i64 {
    let report = verify(app, acme).await;
    report.violation.clone().unwrap_or_else(|| panic!("tampering not detected: {report:?}")).seq.unwrap()
}

async fn an_edited_entry_is_detected(backend: Backend) {
    let (app, acme, db) = chain_with_entries(backend).await;
    sqlx::query("UPDATE audit_entries SET actor_id = 'someone-else' WHERE seq = 3").execute(db.writer()).await.unwrap();
    assert_eq!(broken_at(&app, &acme).await, 3);
}
backend_test!(an_edited_entry_is_detected);

async fn a_deleted_entry_is_detected(backend: Backend) {
    let (app, acme, db) = chain_with_entries(backend).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq = 3").execute(db.writer()).await.unwrap();
    assert_eq!(broken_at(&app, &acme).await, 4);
    // Deleting the oldest entries without a checkpoint covering them is detected too.
    let (app, acme, db) = chain_with_entries(backend).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq <= 2").execute(db.writer()).await.unwrap();
    assert_eq!(broken_at(&app, &acme).await, 3);
    // As is removing the newest.
    let (app, acme, db) = chain_with_entries(backend).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq = 5").execute(db.writer()).await.unwrap();
    assert_eq!(broken_at(&app, &acme).await, 4);
}
backend_test!(a_deleted_entry_is_detected);

async fn an_inserted_entry_is_detected(backend: Backend) {
    let (app, acme, db) = chain_with_entries(backend).await;
    if backend == Backend::Sqlite {
        // An attacker with the file can remove the guard that refuses out-of-place appends.
        sqlx::query("DROP TRIGGER audit_chain_check").execute(db.writer()).await.unwrap();
    }
    // Make room after entry 2 and slip in a forged entry, linked and hashed correctly.
    for seq in (3..=5).rev() {
        sqlx::query("UPDATE audit_entries SET seq = seq + 1 WHERE seq = $1")
            .bind(seq)
            .execute(db.writer())
            .await
            .unwrap();
    }
    let second = audit(&app, &app.token(&acme, Role::Admin), "limit=500").await;
    let second = second.iter().find(|e| e["seq"] == 2).unwrap();
    let second_id = cairn_audit::EntryId::parse(second["id"].as_str().unwrap(), "id").unwrap();
    let mut forged = AuditService::get(&db, &second_id).await.unwrap().unwrap();
    forged.seq = 3;
    forged.id = uuid::Uuid::now_v7().to_string();
    forged.action = "e.forged".into();
    forged.prev_hash = second["hash"].as_str().unwrap().to_owned();
    forged.hash = forged.compute_hash();
    sqlx::query("INSERT INTO audit_entries (seq, id, time, actor_id, actor_email, action, resource_type, resource_id, outcome, details, ip, user_agent, request_id, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
        .bind(forged.seq).bind(&forged.id).bind(forged.time).bind(&forged.actor_id).bind(&forged.actor_email).bind(&forged.action)
        .bind(&forged.resource_type).bind(&forged.resource_id).bind(&forged.outcome).bind(&forged.details).bind(&forged.ip)
        .bind(&forged.user_agent).bind(&forged.request_id).bind(&forged.prev_hash).bind(&forged.hash)
        .execute(db.writer()).await.unwrap();
    // The forged entry itself is consistent; the one it displaced no longer links.
    assert_eq!(broken_at(&app, &acme).await, 4);
}
backend_test!(an_inserted_entry_is_detected);

async fn swapped_entries_are_detected(backend: Backend) {
    let (app, acme, db) = chain_with_entries(backend).await;
    for sql in [
        "UPDATE audit_entries SET seq = 100 WHERE seq = 2",
        "UPDATE audit_entries SET seq = 2 WHERE seq = 3",
        "UPDATE audit_entries SET seq = 3 WHERE seq = 100",
    ] {
        sqlx::query(sql).execute(db.writer()).await.unwrap();
    }
    assert_eq!(broken_at(&app, &acme).await, 2);
}
backend_test!(swapped_entries_are_detected);

async fn a_rewritten_chain_fails_against_its_checkpoint(backend: Backend) {
    let (app, acme, db) = chain_with_entries(backend).await;
    checkpoint(&app, &acme).await;
    // Edit entry 2 and recompute every later hash and the head: only the signature catches it.
    let mut conn = db.writer().acquire().await.unwrap();
    let rows = sqlx::query("SELECT id FROM audit_entries ORDER BY seq").fetch_all(&mut *conn).await.unwrap();
    drop(conn);
    let mut entries = Vec::new();
    for r in rows {
        let id: String = sqlx::Row::get(&r, 0);
        let id = cairn_audit::EntryId::parse(&id, "id").unwrap();
        entries.push(AuditService::get(&db, &id).await.unwrap().unwrap());
    }
    let mut prev = entries[0].hash.clone();
    for e in entries.iter_mut().skip(1) {
        if e.seq == 2 {
            e.actor_id = "framed".into();
        }
        e.prev_hash = prev.clone();
        e.hash = e.compute_hash();
        prev = e.hash.clone();
        sqlx::query("UPDATE audit_entries SET actor_id = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(&e.actor_id)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .bind(e.seq)
            .execute(db.writer())
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_head SET hash = $1").bind(&prev).execute(db.writer()).await.unwrap();
    let report = verify(&app, &acme).await;
    assert_eq!(report.violation.as_ref().and_then(|v| v.seq), Some(5), "{report:?}");
    // Forging the checkpoint row instead breaks its signature.
    sqlx::query("UPDATE audit_checkpoints SET hash = $1").bind(&prev).execute(db.writer()).await.unwrap();
    let v = verify(&app, &acme).await.violation.unwrap();
    assert!(v.reason.contains("checkpoint"), "{v}");
}
backend_test!(a_rewritten_chain_fails_against_its_checkpoint);

async fn concurrent_writers_never_fork_the_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let app = std::sync::Arc::new(app);
    let mut writers = Vec::new();
    for w in 0..8 {
        let app = app.clone();
        let token = app.token_for(&acme, Role::Member, &format!("writer-{w}"));
        writers.push(tokio::spawn(async move {
            for i in 0..15 {
                let resp = app.add_number(&token, json!(w * 100 + i)).await;
                assert_eq!(resp.status(), 201);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let report = verify(&app, &acme).await;
    assert_eq!(report.violation, None, "{report:?}");
    assert_eq!(report.entries, 120);
    assert_eq!(report.head_seq, 120);
}
backend_test!(concurrent_writers_never_fork_the_chain);

async fn the_worker_checkpoints_and_sweeps_on_its_own(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.audit_checkpoint_interval = std::time::Duration::from_millis(100);
        c.audit_sweep_interval = std::time::Duration::from_millis(100);
        c.events_retention = std::time::Duration::from_millis(1);
    })
    .await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let db = app.store.tenant_db(acme.id).await.unwrap();
    // Days pass: every entry is past retention once a checkpoint covers it (the API takes
    // one day at least, which a test cannot wait out).
    sqlx::query("UPDATE audit_settings SET retention_days = 0").execute(db.writer()).await.unwrap();
    add_entries(&app, &admin, &["w.one", "w.two"]).await;
    assert_eq!(app.post("/api/v1/records", &admin, &json!({"title": "swept"})).send().await.unwrap().status(), 201);
    // The worker checkpoints the chain, then sweeps what the checkpoint covers, and the
    // events whose deliveries ended; what remains still verifies.
    let report =
        cairn_testkit::eventually("a checkpoint, then a sweep", std::time::Duration::from_secs(20), || async {
            let report = verify(&app, &acme).await;
            assert_eq!(report.violation, None, "{report:?}");
            (report.checkpoints > 0 && report.entries == 0).then_some(report)
        })
        .await;
    assert!(report.head_seq >= 3, "the swept entries were written: {report:?}");
    cairn_testkit::eventually("the delivered event swept", std::time::Duration::from_secs(20), || async {
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(db.reader()).await.unwrap();
        (events == 0).then_some(())
    })
    .await;
    let platform = AuditService::verify(app.store.control(), app.tokens(), "platform").await.unwrap();
    assert_eq!(platform.violation, None);
}
backend_test!(the_worker_checkpoints_and_sweeps_on_its_own);

async fn rejected_tokens_are_recorded_in_the_platform_trail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.get("/api/v1/numbers", "not-a-jwt").header("x-request-id", "reject-1").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let op = app.operator_token();
    let entries = audit(&app, &op, "action=auth.token_rejected").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["outcome"], "denied");
    assert_eq!(entries[0]["details"]["reason"], "malformed token");
    assert_eq!(entries[0]["ip"], "127.0.0.1");
    assert_eq!(entries[0]["request_id"], "reject-1");
    let missing = app.client.get(app.url("/api/v1/numbers")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let entries = audit(&app, &op, "action=auth.token_rejected").await;
    assert_eq!(entries[0]["details"]["reason"], "missing");
    // How many a flood may add is bounded per address and minute (see RejectionLimiter's test).
}
backend_test!(rejected_tokens_are_recorded_in_the_platform_trail);
