//! The numbers store: CRUD, validation, pagination, stats, roles and tenant isolation.

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::{count, error_code};

async fn store_read_and_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let resp = app.add_number(&member, json!(42)).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["value"], json!(42));
    assert_eq!(created["created_by"], "member@acme");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let id = created["id"].as_str().unwrap();

    let resp = app.add_number(&member, json!(3.25)).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["value"], json!(3.25));

    let got: Value = app.get(&format!("/api/v1/numbers/{id}"), &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, created);

    let admin = app.token(&acme, Role::Admin);
    let resp = app.delete(&format!("/api/v1/numbers/{id}"), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app.delete(&format!("/api/v1/numbers/{id}"), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "NOT_FOUND");
    let resp = app.delete("/api/v1/numbers/not-a-uuid", &admin).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(count(&app, &member).await, 1);
}
backend_test!(store_read_and_delete);

async fn invalid_values_are_400_naming_the_field_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    for body in [
        json!({}),
        json!({"value": "42"}),
        json!({"value": true}),
        json!({"value": null}),
        json!({"value": 1e15 + 2.0}),
        json!({"value": -2e15}),
        json!({"value": [1]}),
        json!([42]),
    ] {
        let resp = app.post("/api/v1/numbers", &member, &body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "VALIDATION_ERROR", "{body}");
        let field = if body.is_array() { "body" } else { "value" };
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }
    // NaN and infinities cannot be written in JSON; their spellings are rejected as bad JSON.
    for raw in
        [r#"{"value": NaN}"#, r#"{"value": Infinity}"#, r#"{"value": -Infinity}"#, r#"{"value": 1e999}"#, "{", ""]
    {
        let resp = app
            .client
            .post(app.url("/api/v1/numbers"))
            .bearer_auth(&member)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{raw}");
        assert_eq!(error_code(resp).await, "VALIDATION_ERROR");
    }
    let resp =
        app.client.post(app.url("/api/v1/numbers")).bearer_auth(&member).body(r#"{"value":1}"#).send().await.unwrap();
    assert_eq!(resp.status(), 400, "missing content type");
    // Bounds are inclusive.
    assert_eq!(app.add_number(&member, json!(1e15)).await.status(), 201);
    assert_eq!(app.add_number(&member, json!(-1e15)).await.status(), 201);
    assert_eq!(count(&app, &member).await, 2);
}
backend_test!(invalid_values_are_400_naming_the_field_and_store_nothing);

async fn pagination_is_newest_first_with_cursors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    for v in 0..7 {
        assert_eq!(app.add_number(&member, json!(v)).await.status(), 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/numbers?limit=3&cursor={c}"),
            None => "/api/v1/numbers?limit=3".into(),
        };
        let page: Value = app.get(&path, &member).send().await.unwrap().json().await.unwrap();
        pages += 1;
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["value"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec![6, 5, 4, 3, 2, 1, 0]);
    let all: Value = app.get("/api/v1/numbers", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 7);
    assert!(all["next_cursor"].is_null());
    for bad in ["limit=0", "limit=501", "limit=-1", "limit=ten", "cursor=%%%", "cursor=bm90LWEtdXVpZA"] {
        let resp = app.get(&format!("/api/v1/numbers?{bad}"), &member).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        assert_eq!(error_code(resp).await, "VALIDATION_ERROR");
    }
    assert_eq!(app.get("/api/v1/numbers?limit=500", &member).send().await.unwrap().status(), 200);
}
backend_test!(pagination_is_newest_first_with_cursors);

async fn stats_summarise_the_tenants_numbers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let reader = app.token(&acme, Role::Readonly);
    let empty: Value = app.get("/api/v1/numbers/stats", &reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(empty, json!({"count": 0, "sum": 0, "min": null, "max": null, "mean": null}));
    let member = app.token(&acme, Role::Member);
    for v in [json!(1), json!(2), json!(3.5), json!(-0.5)] {
        app.add_number(&member, v).await;
    }
    let s: Value = app.get("/api/v1/numbers/stats", &reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(s["count"], 4);
    assert_eq!(s["sum"], json!(6));
    assert_eq!(s["min"], json!(-0.5));
    assert_eq!(s["max"], json!(3.5));
    assert_eq!(s["mean"], json!(1.5));
}
backend_test!(stats_summarise_the_tenants_numbers);

async fn stats(app: &TestApp, token: &str) -> Value {
    app.get("/api/v1/numbers/stats", token).send().await.unwrap().json().await.unwrap()
}

/// The statistics come from totals kept by each insert and delete: a value that comes and
/// goes leaves no trace, removing an extreme finds the next one, and the last removal
/// empties them.
async fn stats_follow_inserts_and_deletes_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let small = app.add_number(&admin, json!(0.1)).await.json::<Value>().await.unwrap();
    let huge = app.add_number(&admin, json!(1e15)).await.json::<Value>().await.unwrap();
    assert_eq!(stats(&app, &admin).await["max"].as_f64(), Some(1e15));
    let resp = app.delete(&format!("/api/v1/numbers/{}", huge["id"].as_str().unwrap()), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    // A running sum without compensation would say 0.125 here.
    assert_eq!(stats(&app, &admin).await, json!({"count": 1, "sum": 0.1, "min": 0.1, "max": 0.1, "mean": 0.1}));

    // Mixed magnitudes in and out, checked against the exactly rounded sum of what remains.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut kept: Vec<(String, f64)> = vec![(small["id"].as_str().unwrap().to_owned(), 0.1)];
    for step in 0..60 {
        if step % 3 == 2 {
            let (id, _) = kept.swap_remove(rng.gen_range(0..kept.len()));
            app.delete(&format!("/api/v1/numbers/{id}"), &admin).send().await.unwrap();
        } else {
            let v = rng.gen_range(-1.0..1.0) * 10f64.powi(rng.gen_range(-3..15));
            let created = app.add_number(&admin, json!(v)).await.json::<Value>().await.unwrap();
            kept.push((created["id"].as_str().unwrap().to_owned(), v));
        }
    }
    let values: Vec<f64> = kept.iter().map(|(_, v)| *v).collect();
    let s = stats(&app, &admin).await;
    assert_eq!(s["count"], values.len());
    let exact = exact_sum(&values);
    let sum = s["sum"].as_f64().unwrap();
    assert!((sum - exact).abs() <= f64::EPSILON * exact.abs(), "sum {sum} against exactly rounded {exact}");
    assert_eq!(s["min"].as_f64().unwrap(), values.iter().copied().fold(f64::INFINITY, f64::min));
    assert_eq!(s["max"].as_f64().unwrap(), values.iter().copied().fold(f64::NEG_INFINITY, f64::max));

    for (id, _) in kept {
        app.delete(&format!("/api/v1/numbers/{id}"), &admin).send().await.unwrap();
    }
    assert_eq!(stats(&app, &admin).await, json!({"count": 0, "sum": 0, "min": null, "max": null, "mean": null}));
}
backend_test!(stats_follow_inserts_and_deletes_exactly);

/// The sum of `values` rounded once (Shewchuk's partials, as Python's `math.fsum`).
fn exact_sum(values: &[f64]) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for &v in values {
        let mut x = v;
        let mut kept = 0;
        for i in 0..partials.len() {
            let y = partials[i];
            let (hi, lo) = if x.abs() < y.abs() { (y, x) } else { (x, y) };
            let sum = hi + lo;
            let err = lo - (sum - hi);
            if err != 0.0 {
                partials[kept] = err;
                kept += 1;
            }
            x = sum;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    partials.iter().rev().fold(0.0, |acc, p| acc + p)
}

async fn roles_guard_each_operation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (reader, member, admin) =
        (app.token(&acme, Role::Readonly), app.token(&acme, Role::Member), app.token(&acme, Role::Admin));
    let resp = app.add_number(&reader, json!(1)).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "FORBIDDEN");
    assert_eq!(count(&app, &reader).await, 0, "a denied write stores nothing");
    let id = app.add_number(&member, json!(1)).await.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(app.add_number(&admin, json!(2)).await.status(), 201);
    assert_eq!(app.get("/api/v1/numbers", &reader).send().await.unwrap().status(), 200);
    assert_eq!(app.get(&format!("/api/v1/numbers/{id}"), &reader).send().await.unwrap().status(), 200);
    for token in [&reader, &member] {
        let resp = app.delete(&format!("/api/v1/numbers/{id}"), token).send().await.unwrap();
        assert_eq!(resp.status(), 403);
    }
    // Operators manage the platform; they do not act inside tenants.
    let op = app.operator_token();
    assert_eq!(app.get("/api/v1/numbers", &op).send().await.unwrap().status(), 403);
    assert_eq!(app.add_number(&op, json!(1)).await.status(), 403);
    assert_eq!(app.delete(&format!("/api/v1/numbers/{id}"), &admin).send().await.unwrap().status(), 204);
}
backend_test!(roles_guard_each_operation);

async fn tenants_are_isolated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.create_tenant("tenant-a").await;
    let b = app.create_tenant("tenant-b").await;
    let (a_admin, b_admin) = (app.token(&a, Role::Admin), app.token(&b, Role::Admin));
    let created: Value = app.add_number(&a_admin, json!(7)).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();

    assert_eq!(count(&app, &b_admin).await, 0);
    let listed: Value = app.get("/api/v1/numbers", &b_admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"], json!([]));
    assert_eq!(app.get(&format!("/api/v1/numbers/{id}"), &b_admin).send().await.unwrap().status(), 404);
    assert_eq!(app.delete(&format!("/api/v1/numbers/{id}"), &b_admin).send().await.unwrap().status(), 404);
    // Nothing in the request can name another tenant: the token decides.
    for path in [format!("/api/v1/numbers?tenant={}", a.slug), format!("/api/v1/numbers?tenant_id={}", a.id)] {
        let listed: Value = app
            .client
            .get(app.url(&path))
            .bearer_auth(&b_admin)
            .header("x-tenant", a.slug.as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["items"], json!([]), "{path}");
    }
    let resp =
        app.post("/api/v1/numbers", &b_admin, &json!({"value": 1, "tenant": a.slug.as_str()})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(count(&app, &a_admin).await, 1, "a body field cannot write into another tenant");
    assert_eq!(app.get(&format!("/api/v1/numbers/{id}"), &a_admin).send().await.unwrap().status(), 200);
}
backend_test!(tenants_are_isolated);
