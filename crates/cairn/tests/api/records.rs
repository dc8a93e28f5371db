//! Records: CRUD, bulk calls, validation, and exactly one right event per change.

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

use crate::error_code;

/// The tenant's events, oldest first, as the API lists them.
pub async fn events(app: &TestApp, tenant: &TestTenant) -> Vec<Value> {
    let admin = app.token(tenant, Role::Admin);
    let resp = app.get("/api/v1/events?limit=500", &admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut items = resp.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

async fn each_change_emits_exactly_its_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);

    let resp = app
        .post(
            "/api/v1/records",
            &member,
            &json!({"title": "Q3 plan", "body": "Draft", "tags": ["plan", "q3"], "data": {"owner": "ann"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let one: Value = resp.json().await.unwrap();
    let id = one["id"].as_str().unwrap().to_owned();
    assert_eq!((one["title"].as_str(), one["version"].as_i64()), (Some("Q3 plan"), Some(0)));
    assert_eq!(one["created_by"], "member@acme");

    let resp = app
        .post(
            "/api/v1/records/bulk",
            &member,
            &json!({"records": [{"title": "a"}, {"title": "b", "tags": ["x"]}, {"title": "c"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let bulk: Value = resp.json().await.unwrap();
    let bulk_ids: Vec<String> =
        bulk["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(bulk_ids.len(), 3);

    let patch = app
        .client
        .patch(app.url(&format!("/api/v1/records/{id}")))
        .bearer_auth(&member)
        .json(&json!({"title": "Q3 plan v2", "body": "Draft"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    assert_eq!(patch.json::<Value>().await.unwrap()["title"], "Q3 plan v2");
    // A patch that changes nothing emits nothing.
    let same = app
        .client
        .patch(app.url(&format!("/api/v1/records/{id}")))
        .bearer_auth(&member)
        .json(&json!({"tags": ["plan", "q3"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);

    let resp = app.delete(&format!("/api/v1/records/{}", bulk_ids[0]), &member).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let missing = "0190b7d8-0000-7000-8000-000000000000";
    let resp = app
        .post("/api/v1/records/bulk-delete", &member, &json!({"ids": [bulk_ids[1], bulk_ids[2], missing]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["deleted"], json!([bulk_ids[1], bulk_ids[2]]));

    let events = events(&app, &acme).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["records_created", "records_created", "record_updated", "records_deleted", "records_deleted"]);
    assert_eq!(events[0]["payload"], json!({"ids": [id]}));
    assert_eq!(events[1]["payload"], json!({"ids": bulk_ids}));
    assert_eq!(events[2]["payload"], json!({"ids": [id], "changed": {"title": "Q3 plan v2"}}));
    assert_eq!(events[3]["payload"], json!({"ids": [bulk_ids[0]]}));
    assert_eq!(events[4]["payload"], json!({"ids": [bulk_ids[1], bulk_ids[2]]}));
    let e = &events[2];
    assert_eq!(e["tenant"], acme.id.to_string());
    assert_eq!(e["actor"]["id"], "member@acme");
    assert_eq!(e["resource"], json!({"type": "record", "id": id}));
    assert_eq!(e["schema_version"], 1);
    assert!(uuid::Uuid::parse_str(e["id"].as_str().unwrap()).unwrap().get_version_num() == 7);

    // Each change is in the audit trail too.
    let admin = app.token(&acme, Role::Admin);
    let audit: Value = app.get("/api/v1/audit?action=record.*", &admin).send().await.unwrap().json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "record.created").count(), 4);
    assert_eq!(actions.iter().filter(|a| **a == "record.deleted").count(), 3);
    assert_eq!(actions.iter().filter(|a| **a == "record.updated").count(), 1);

    // Only the first record remains.
    let list: Value =
        app.get("/api/v1/records", &app.token(&acme, Role::Readonly)).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let tagged: Value = app.get("/api/v1/records?tag=q3", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(tagged["items"][0]["id"], id.as_str());
    let none: Value = app.get("/api/v1/records?tag=q", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(none["items"], json!([]));
}
backend_test!(each_change_emits_exactly_its_event);

async fn bad_input_is_400_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    for (body, field) in [
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "x", "tags": "a"}), "tags"),
        (json!({"title": "x", "data": [1]}), "data"),
        (json!({"title": "x", "colour": 1}), "colour"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!([1]), "body"),
    ] {
        let resp = app.post("/api/v1/records", &member, &body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(
            (err["error"]["code"].as_str(), err["error"]["field"].as_str()),
            (Some("VALIDATION_ERROR"), Some(field)),
            "{body}"
        );
    }
    let resp = app
        .post("/api/v1/records/bulk", &member, &json!({"records": [{"title": "ok"}, {"title": 5}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "records[1].title");
    let too_many: Vec<Value> = (0..101).map(|i| json!({"title": format!("r{i}")})).collect();
    let resp = app.post("/api/v1/records/bulk", &member, &json!({"records": too_many})).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app.post("/api/v1/records/bulk-delete", &member, &json!({"ids": ["nope"]})).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app.get("/api/v1/records/not-an-id", &member).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app
        .post("/api/v1/records/0190b7d8-0000-7000-8000-000000000000/publish", &member, &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "NOT_FOUND");
    let resp = app.get("/api/v1/records?limit=0", &member).send().await.unwrap();
    assert_eq!(resp.status(), 400);

    // Readers cannot write; the denial is audited.
    let reader = app.token_for(&acme, Role::Readonly, "rita");
    let resp = app.post("/api/v1/records", &reader, &json!({"title": "x"})).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let admin = app.token(&acme, Role::Admin);
    let denied: Value =
        app.get("/api/v1/audit?action=access.denied", &admin).send().await.unwrap().json().await.unwrap();
    let denied = denied["items"].as_array().unwrap();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(
        (denied[0]["actor"]["id"].as_str(), denied[0]["outcome"].as_str()),
        (Some("rita"), Some("denied")),
        "{denied:?}"
    );
    assert_eq!(denied[0]["details"]["attempted"], "record.create", "{denied:?}");

    let list: Value = app.get("/api/v1/records", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    assert!(events(&app, &acme).await.is_empty());
}
backend_test!(bad_input_is_400_and_changes_nothing);

async fn publish_history_counts_versions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let rec: Value =
        app.post("/api/v1/records", &member, &json!({"title": "Handbook"})).send().await.unwrap().json().await.unwrap();
    let id = rec["id"].as_str().unwrap();
    for note in ["first cut", "typos"] {
        let resp =
            app.post(&format!("/api/v1/records/{id}/publish"), &member, &json!({"note": note})).send().await.unwrap();
        assert_eq!(resp.status(), 201);
    }
    let resp = app
        .post(&format!("/api/v1/records/{id}/publish"), &member, &json!({"note": "n".repeat(1001)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let history: Value =
        app.get(&format!("/api/v1/records/{id}/publish-history"), &member).send().await.unwrap().json().await.unwrap();
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["version"].as_i64(), items[0]["note"].as_str()), (Some(2), Some("typos")));
    assert_eq!(items[1]["publisher"]["id"], "member@acme");
    let got: Value = app.get(&format!("/api/v1/records/{id}"), &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["version"], 2);
    let published: Vec<Value> =
        events(&app, &acme).await.into_iter().filter(|e| e["type"] == "record_published").collect();
    assert_eq!(published.len(), 2);
    assert_eq!(published[1]["payload"], json!({"id": id, "title": "Handbook", "version": 2, "note": "typos"}));
}
backend_test!(publish_history_counts_versions);

async fn publishing_needs_no_body_since_the_note_is_optional(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let rec: Value =
        app.post("/api/v1/records", &member, &json!({"title": "Handbook"})).send().await.unwrap().json().await.unwrap();
    let url = app.url(&format!("/api/v1/records/{}/publish", rec["id"].as_str().unwrap()));
    let bare = app.client.post(&url).bearer_auth(&member).send().await.unwrap();
    assert_eq!(bare.status(), 201);
    let entry: Value = bare.json().await.unwrap();
    assert_eq!((entry["version"].as_i64(), entry["note"].as_str()), (Some(1), Some("")));
    let empty = app
        .client
        .post(&url)
        .bearer_auth(&member)
        .header("content-type", "application/json")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 201, "an empty JSON body is no body");
    let broken = app
        .client
        .post(&url)
        .bearer_auth(&member)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400, "a body that is there must be JSON");
}
backend_test!(publishing_needs_no_body_since_the_note_is_optional);
