//! The instances console over the API, against moto: accounts tried before they are
//! stored, instances of two accounts (an access key and an assumed role) in two regions
//! listed, filtered and paged, admins' actions changing what moto reports, everyone else
//! refused and audited, metrics read back, and tenants kept apart.

use cairn_domain::Role;
use cairn_testkit::moto::{ACCESS_KEY, DEFAULT_ACCOUNT, MotoServer, SECRET_KEY};
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

const DEV_ROLE: &str = "arn:aws:iam::222222222222:role/cairn-console";

fn keys_account(moto: &MotoServer, name: &str, regions: &[&str]) -> Value {
    json!({
        "name": name, "regions": regions, "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY,
        "endpoint_url": moto.url(),
    })
}

fn role_account(moto: &MotoServer, name: &str, regions: &[&str]) -> Value {
    json!({ "name": name, "regions": regions, "role_arn": DEV_ROLE, "external_id": "cairn-acme", "endpoint_url": moto.url() })
}

/// A refused request's status, code, field and message.
async fn refusal(resp: reqwest::Response) -> (u16, String, String, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    let text = |k: &str| body["error"][k].as_str().unwrap_or_default().to_owned();
    (status, text("code"), text("field"), text("message"))
}

async fn audit(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let body: Value =
        app.get(&format!("/api/v1/audit?action={action}"), admin).send().await.unwrap().json().await.unwrap();
    body["items"].as_array().cloned().unwrap_or_default()
}

async fn create(app: &TestApp, admin: &str, body: &Value) -> Value {
    let resp = app.post("/api/v1/instances/accounts", admin, body).send().await.unwrap();
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    resp.json().await.unwrap()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let resp = app.get(&format!("/api/v1/instances{query}"), token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{query}: {:?}", resp.text().await);
    resp.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

async fn accounts_are_tried_before_they_are_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let moto = MotoServer::start();
    let post = |body: Value| app.post("/api/v1/instances/accounts", &admin, &body).send();

    // What is wrong with the request itself is named before AWS is asked.
    let mut no_secret = keys_account(&moto, "prod", &["eu-west-1"]);
    no_secret.as_object_mut().unwrap().remove("secret_access_key");
    assert_eq!(refusal(post(no_secret).await.unwrap()).await.2, "secret_access_key");
    let mut both = keys_account(&moto, "prod", &["eu-west-1"]);
    both["role_arn"] = json!(DEV_ROLE);
    assert_eq!(refusal(post(both).await.unwrap()).await.2, "role_arn");
    assert_eq!(
        refusal(post(keys_account(&moto, "prod", &["eu-west-1", "mars-1"])).await.unwrap()).await.2,
        "regions[1]"
    );
    assert_eq!(refusal(post(keys_account(&moto, "Prod EU", &["eu-west-1"])).await.unwrap()).await.2, "name");
    let mut bad_arn = role_account(&moto, "dev", &["eu-west-1"]);
    bad_arn["role_arn"] = json!("arn:aws:iam::1:user/x");
    assert_eq!(refusal(post(bad_arn).await.unwrap()).await.2, "role_arn");
    let mut ftp = keys_account(&moto, "prod", &["eu-west-1"]);
    ftp["endpoint_url"] = json!("ftp://127.0.0.1/");
    assert_eq!(refusal(post(ftp).await.unwrap()).await.2, "endpoint_url");

    // An endpoint that does not answer: AWS's failure, not the caller's; nothing stored.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut down = keys_account(&moto, "prod", &["eu-west-1"]);
    down["endpoint_url"] = json!(format!("http://{closed}"));
    let (status, code, _, message) = refusal(post(down).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (502, "UPSTREAM_ERROR"), "{message}");
    assert!(message.contains("prod"), "the error names the account: {message}");

    // Credentials AWS refuses: a 400 naming the key, and nothing stored.
    let checking = MotoServer::start_checking_credentials();
    let (status, code, field, message) =
        refusal(post(keys_account(&checking, "prod", &["eu-west-1"])).await.unwrap()).await;
    assert_eq!((status, code.as_str(), field.as_str()), (400, "VALIDATION_ERROR", "access_key_id"), "{message}");
    assert!(message.contains("InvalidClientTokenId"), "{message}");
    let listed: Value = app.get("/api/v1/instances/accounts", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"], json!([]), "no refused account was stored");
    assert!(audit(&app, &admin, "instances.account_created").await.is_empty());

    // An access key, and a role assumed with the platform's credentials.
    let prod = create(&app, &admin, &keys_account(&moto, "prod", &["eu-west-1", "us-east-1"])).await;
    assert_eq!(prod["auth"], "keys");
    assert_eq!(prod["aws_account_id"], DEFAULT_ACCOUNT);
    assert_eq!(prod["access_key_id"], ACCESS_KEY);
    assert!(!prod.to_string().contains(SECRET_KEY), "the secret is never returned: {prod}");
    let dev = create(&app, &admin, &role_account(&moto, "dev", &["eu-west-1"])).await;
    assert_eq!((dev["auth"].as_str(), dev["aws_account_id"].as_str()), (Some("role"), Some("222222222222")));
    assert_eq!(dev["external_id"], "cairn-acme");
    let resp = app
        .post("/api/v1/instances/accounts", &admin, &keys_account(&moto, "prod", &["eu-west-1"]))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(resp).await.0, 409);

    // Changes: tried again first; a refused one changes nothing.
    let id = prod["id"].as_str().unwrap();
    let path = format!("/api/v1/instances/accounts/{id}");
    let resp = app.patch(&path, &admin, &json!({"endpoint_url": format!("http://{closed}")})).send().await.unwrap();
    assert_eq!(refusal(resp).await.0, 502);
    let resp = app.patch(&path, &admin, &json!({"name": "dev"})).send().await.unwrap();
    assert_eq!(refusal(resp).await.0, 409);
    let resp = app.patch(&path, &admin, &json!({"name": "production", "regions": ["eu-west-1"]})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let changed: Value = app.get(&path, &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!((changed["name"].as_str(), changed["regions"].clone()), (Some("production"), json!(["eu-west-1"])));
    assert_eq!(changed["endpoint_url"], moto.url(), "the refused endpoint was not kept");

    // Switching an account between a key and a role, both ways: the secret goes and comes.
    let dev_id = dev["id"].as_str().unwrap();
    let dev_path = format!("/api/v1/instances/accounts/{dev_id}");
    let to_keys = json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY});
    let resp = app.patch(&dev_path, &admin, &to_keys).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let keyed: Value = resp.json().await.unwrap();
    assert_eq!((keyed["auth"].as_str(), keyed["aws_account_id"].as_str()), (Some("keys"), Some(DEFAULT_ACCOUNT)));
    assert_eq!(keyed["role_arn"], Value::Null);
    let resp = app.patch(&dev_path, &admin, &json!({"regions": ["eu-west-1", "us-east-1"]})).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the stored secret is tried again: {:?}", resp.text().await);
    let resp =
        app.patch(&dev_path, &admin, &json!({"role_arn": DEV_ROLE, "external_id": "cairn-acme"})).send().await.unwrap();
    let roled: Value = resp.json().await.unwrap();
    assert_eq!((roled["auth"].as_str(), roled["aws_account_id"].as_str()), (Some("role"), Some("222222222222")));
    assert_eq!(roled["access_key_id"], Value::Null);
    let resp = app.patch(&dev_path, &admin, &json!({"regions": ["eu-west-1"]})).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a role keeps working without a secret: {:?}", resp.text().await);

    // Everything is audited, without a secret.
    let created = audit(&app, &admin, "instances.account_created").await;
    assert_eq!(created.len(), 2);
    let updated = audit(&app, &admin, "instances.account_updated").await;
    assert_eq!(updated.len(), 5);
    assert!(updated.iter().any(|u| u["details"]["changed"] == json!(["name", "regions"])), "{updated:?}");
    assert!(updated.iter().any(|u| u["details"]["changed"] == json!(["credentials"])), "{updated:?}");
    let trail: Value = app.get("/api/v1/audit", &admin).send().await.unwrap().json().await.unwrap();
    assert!(!trail.to_string().contains(SECRET_KEY), "no secret in the trail");

    // Members and readonly callers do not manage accounts.
    for role in [Role::Member, Role::Readonly] {
        let token = app.token(&acme, role);
        let resp = app.get("/api/v1/instances/accounts", &token).send().await.unwrap();
        assert_eq!(resp.status(), 403);
    }
    let resp = app.delete(&path, &admin).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(app.get(&path, &admin).send().await.unwrap().status(), 404);
    assert_eq!(audit(&app, &admin, "instances.account_deleted").await.len(), 1);
}
backend_test!(accounts_are_tried_before_they_are_stored);

/// Two accounts on one moto: `prod` (an access key: moto's default account) in two regions
/// and `dev` (an assumed role: account 2222…) in one; seven instances.
struct Fleet {
    prod_eu: Vec<String>,
    prod_us: Vec<String>,
    dev_eu: Vec<String>,
    dev_key: String,
}

async fn fleet(app: &TestApp, admin: &str, moto: &MotoServer) -> Fleet {
    let prod_eu = moto.run_instances(ACCESS_KEY, "eu-west-1", 3, "web", &[("env", "prod"), ("team", "core")]).await;
    let prod_us = moto.run_instances(ACCESS_KEY, "us-east-1", 2, "db", &[("env", "prod")]).await;
    let dev_key = moto.role_access_key(DEV_ROLE).await;
    let dev_eu = moto.run_instances(&dev_key, "eu-west-1", 2, "sandbox", &[("env", "dev")]).await;
    create(app, admin, &keys_account(moto, "prod", &["eu-west-1", "us-east-1"])).await;
    create(app, admin, &role_account(moto, "dev", &["eu-west-1"])).await;
    Fleet { prod_eu, prod_us, dev_eu, dev_key }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn instances_are_listed_filtered_and_paged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let viewer = app.token(&acme, Role::Readonly);
    let moto = MotoServer::start();
    let f = fleet(&app, &admin, &moto).await;

    let all = list(&app, &viewer, "").await;
    let mut expected: Vec<String> = sorted(f.dev_eu.clone());
    expected.extend(sorted(f.prod_eu.clone()));
    expected.extend(sorted(f.prod_us.clone()));
    assert_eq!(ids(&all), expected, "every account and region, by account, region and id");
    assert_eq!(all["unavailable"], json!([]));
    let first = &all["items"][0];
    assert_eq!((first["account"].as_str(), first["region"].as_str()), (Some("dev"), Some("eu-west-1")));
    assert_eq!(first["state"], "running");
    assert_eq!(first["type"], "t3.micro");
    assert_eq!(first["tags"]["env"], "dev");
    assert!(first["name"].as_str().unwrap().starts_with("sandbox-"));
    assert!(first["private_ip"].is_string() && first["launched_at"].is_string());

    assert_eq!(sorted(ids(&list(&app, &viewer, "?account=dev").await)), sorted(f.dev_eu.clone()));
    assert_eq!(sorted(ids(&list(&app, &viewer, "?region=us-east-1").await)), sorted(f.prod_us.clone()));
    assert_eq!(sorted(ids(&list(&app, &viewer, "?tag=team:core").await)), sorted(f.prod_eu.clone()));
    assert_eq!(ids(&list(&app, &viewer, "?tag=env:prod&tag=team:core&region=us-east-1").await), Vec::<String>::new());
    assert_eq!(sorted(ids(&list(&app, &viewer, "?name=DB-").await)), sorted(f.prod_us.clone()));
    assert_eq!(ids(&list(&app, &viewer, &format!("?name={}", &f.dev_eu[0][2..])).await), vec![f.dev_eu[0].clone()]);
    assert_eq!(ids(&list(&app, &viewer, "?state=stopped").await), Vec::<String>::new());

    // Pages follow one another without gaps or repeats.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".into(),
        };
        let page = list(&app, &viewer, &query).await;
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, expected);

    for (query, field) in [
        ("?state=asleep", "state"),
        ("?tag=novalue", "tag"),
        ("?account=Not%20A%20Name", "account"),
        ("?region=mars", "region"),
        ("?limit=0", "limit"),
        ("?cursor=nope", "cursor"),
    ] {
        let resp = app.get(&format!("/api/v1/instances{query}"), &viewer).send().await.unwrap();
        assert_eq!(refusal(resp).await.2, field, "{query}");
    }

    // One instance, by its place or by its id alone, with its status checks.
    let id = &f.prod_eu[0];
    let one: Value =
        app.get(&format!("/api/v1/instances/prod/eu-west-1/{id}"), &viewer).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["id"], id.as_str());
    assert_eq!(one["image_id"], cairn_testkit::moto::AMI);
    assert!(one["availability_zone"].as_str().unwrap().starts_with("eu-west-1"));
    assert_eq!(one["status_checks"]["instance"], "ok", "{one}");
    let by_id: Value = app.get(&format!("/api/v1/instances/{id}"), &viewer).send().await.unwrap().json().await.unwrap();
    assert_eq!(by_id["account"], "prod");
    for path in [
        format!("/api/v1/instances/prod/us-east-1/{id}"),
        format!("/api/v1/instances/nope/eu-west-1/{id}"),
        "/api/v1/instances/prod/eu-west-1/i-0123456789abcdef0".to_owned(),
        "/api/v1/instances/i-0123456789abcdef0".to_owned(),
        "/api/v1/instances/not-an-id".to_owned(),
    ] {
        let (status, code, _, message) = refusal(app.get(&path, &viewer).send().await.unwrap()).await;
        assert_eq!((status, code.as_str(), message.as_str()), (404, "NOT_FOUND", "Instance not found"), "{path}");
    }

    // Another tenant sees none of it.
    let other = app.create_tenant("globex").await;
    let stranger = app.token(&other, Role::Admin);
    let theirs = list(&app, &stranger, "").await;
    assert_eq!(theirs["items"], json!([]));
    let resp = app.get(&format!("/api/v1/instances/prod/eu-west-1/{id}"), &stranger).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app.post(&format!("/api/v1/instances/{id}/reboot"), &stranger, &json!({})).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let _ = f.dev_key;
}
backend_test!(instances_are_listed_filtered_and_paged);

async fn only_admins_act_and_every_action_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme: TestTenant = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let moto = MotoServer::start();
    let f = fleet(&app, &admin, &moto).await;
    let id = f.prod_eu[1].clone();
    let dev = f.dev_eu[0].clone();

    // Readonly and member callers are refused, each refusal audited naming the instance.
    for role in [Role::Readonly, Role::Member] {
        let token = app.token(&acme, role);
        let resp =
            app.post(&format!("/api/v1/instances/prod/eu-west-1/{id}/stop"), &token, &json!({})).send().await.unwrap();
        let (status, code, _, message) = refusal(resp).await;
        assert_eq!((status, code.as_str(), message.as_str()), (403, "FORBIDDEN", "Admin role required"));
    }
    assert_eq!(moto.state_of(ACCESS_KEY, "eu-west-1", &id).await, "running", "nothing happened");
    let denials = audit(&app, &admin, "access.denied").await;
    let ours: Vec<&Value> = denials.iter().filter(|d| d["resource"]["id"] == id.as_str()).collect();
    assert_eq!(ours.len(), 2, "{denials:?}");
    assert_eq!(ours[0]["details"]["attempted"], "instance.stop");
    assert_eq!(ours[0]["details"]["account"], "prod");
    assert_eq!(ours[0]["details"]["region"], "eu-west-1");
    assert_eq!(ours[0]["outcome"], "denied");
    // By id alone too, refused (and audited) before any account is read.
    let viewer = app.token(&acme, Role::Readonly);
    let resp = app.post(&format!("/api/v1/instances/{id}/reboot"), &viewer, &json!({})).send().await.unwrap();
    assert_eq!(refusal(resp).await.3, "Admin role required");
    let denials = audit(&app, &admin, "access.denied").await;
    assert_eq!(denials[0]["resource"]["id"], id.as_str());
    assert_eq!(denials[0]["details"]["attempted"], "instance.reboot");

    // An admin stops, starts and reboots; moto reports each change, and so does the list.
    let act = |path: String| {
        let app = &app;
        let admin = &admin;
        async move {
            let resp =
                app.post(&path, admin, &json!({})).header("user-agent", "cairn-test-console").send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}: {:?}", resp.text().await);
        }
    };
    let before = list(&app, &admin, "?state=running").await;
    assert!(ids(&before).contains(&id));
    act(format!("/api/v1/instances/prod/eu-west-1/{id}/stop")).await;
    assert_eq!(moto.state_of(ACCESS_KEY, "eu-west-1", &id).await, "stopped");
    // The action dropped the account's cached list: the change shows at once.
    assert_eq!(ids(&list(&app, &admin, "?state=stopped").await), vec![id.clone()]);
    act(format!("/api/v1/instances/{id}/start")).await;
    assert_eq!(moto.state_of(ACCESS_KEY, "eu-west-1", &id).await, "running");
    act(format!("/api/v1/instances/dev/eu-west-1/{dev}/reboot")).await;
    assert_eq!(moto.state_of(&f.dev_key, "eu-west-1", &dev).await, "running");

    let stops = audit(&app, &admin, "instance.stop").await;
    assert_eq!(stops.len(), 1);
    let stop = &stops[0];
    assert_eq!((stop["outcome"].as_str(), stop["resource"]["type"].as_str()), (Some("success"), Some("instance")));
    assert_eq!(stop["resource"]["id"], id.as_str());
    assert_eq!(stop["details"]["account"], "prod");
    assert_eq!(stop["details"]["region"], "eu-west-1");
    assert_eq!(stop["user_agent"], "cairn-test-console");
    assert_eq!(stop["ip"], "127.0.0.1");
    assert_eq!(audit(&app, &admin, "instance.start").await.len(), 1);
    let reboots = audit(&app, &admin, "instance.reboot").await;
    assert_eq!(reboots[0]["details"]["aws_account_id"], "222222222222");

    // What is not there.
    let resp = app
        .post("/api/v1/instances/prod/eu-west-1/i-0123456789abcdef0/reboot", &admin, &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(resp).await.3, "Instance not found");
    let resp =
        app.post(&format!("/api/v1/instances/prod/eu-west-1/{id}/terminate"), &admin, &json!({})).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}
backend_test!(only_admins_act_and_every_action_is_audited);

async fn metrics_come_back_as_put(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let viewer = app.token(&acme, Role::Readonly);
    let moto = MotoServer::start();
    let id = moto.run_instances(ACCESS_KEY, "eu-west-1", 1, "web", &[]).await.remove(0);
    create(&app, &admin, &keys_account(&moto, "prod", &["eu-west-1"])).await;

    // Six 5-minute periods, aligned, ending ten minutes ago.
    let now = cairn_domain::now_ms();
    let end = now - now % 300_000 - 600_000;
    let points: Vec<(i64, f64)> = (0..6).map(|i| (end - (5 - i) * 300_000, 10.0 * (i + 1) as f64)).collect();
    moto.put_metric(ACCESS_KEY, "eu-west-1", &id, "CPUUtilization", &points).await;
    moto.put_metric(ACCESS_KEY, "eu-west-1", &id, "NetworkIn", &[(end, 2048.0)]).await;

    let from = jiff::Timestamp::from_millisecond(end - 3_600_000).unwrap();
    let to = jiff::Timestamp::from_millisecond(end + 60_000).unwrap();
    let path =
        format!("/api/v1/instances/prod/eu-west-1/{id}/metrics?metric=CPUUtilization&from={from}&to={to}&period=300");
    let resp = app.get(&path, &viewer).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["metric"].as_str(), body["stat"].as_str(), body["unit"].as_str()),
        (Some("CPUUtilization"), Some("Average"), Some("Percent"))
    );
    let values: Vec<f64> = body["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(values, vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0], "{body}");
    let times: Vec<&str> = body["points"].as_array().unwrap().iter().map(|p| p["time"].as_str().unwrap()).collect();
    let mut ordered = times.clone();
    ordered.sort();
    assert_eq!(times, ordered, "oldest first");

    let by_id: Value = app
        .get(&format!("/api/v1/instances/{id}/metrics?metric=NetworkIn&from={from}&to={to}"), &viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["stat"], "Sum");
    assert_eq!(by_id["points"][0]["value"], 2048.0);

    for (query, field) in [
        ("metric=Memory", "metric"),
        ("period=90", "period"),
        ("period=30", "period"),
        ("stat=p99", "stat"),
        ("from=yesterday", "from"),
        // 1,441 one-minute periods.
        (
            &*format!(
                "from={}&to={}&period=60",
                jiff::Timestamp::from_millisecond(end - 1441 * 60_000).unwrap(),
                jiff::Timestamp::from_millisecond(end).unwrap()
            ),
            "period",
        ),
        (&*format!("from={to}&to={from}"), "from"),
    ] {
        let resp =
            app.get(&format!("/api/v1/instances/prod/eu-west-1/{id}/metrics?{query}"), &viewer).send().await.unwrap();
        assert_eq!(refusal(resp).await.2, field, "{query}");
    }
}
backend_test!(metrics_come_back_as_put);

async fn an_account_that_stops_answering_is_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let live = MotoServer::start();
    let mut dying = MotoServer::start();
    let kept = live.run_instances(ACCESS_KEY, "eu-west-1", 1, "kept", &[]).await;
    let lost = dying.run_instances(ACCESS_KEY, "eu-west-1", 1, "lost", &[]).await;
    create(&app, &admin, &keys_account(&live, "live", &["eu-west-1"])).await;
    create(&app, &admin, &keys_account(&dying, "dying", &["eu-west-1"])).await;
    assert_eq!(ids(&list(&app, &admin, "").await).len(), 2);

    dying.stop();
    // Served from the short cache until asked fresh.
    assert_eq!(ids(&list(&app, &admin, "").await).len(), 2);
    let page = list(&app, &admin, "?fresh=true").await;
    assert_eq!(ids(&page), kept, "the account that answers is listed");
    assert_eq!(page["unavailable"][0]["account"], "dying");
    assert_eq!(page["unavailable"][0]["region"], "eu-west-1");
    assert_eq!(page["unavailable"][0]["code"], "unreachable");

    // Asked alone, it is an upstream error naming the account; never a 500.
    let resp = app.get("/api/v1/instances?account=dying&fresh=true", &admin).send().await.unwrap();
    let (status, code, _, message) = refusal(resp).await;
    assert_eq!((status, code.as_str()), (502, "UPSTREAM_ERROR"));
    assert!(message.contains("dying"), "{message}");
    let resp = app
        .post(&format!("/api/v1/instances/dying/eu-west-1/{}/reboot", lost[0]), &admin, &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(resp).await.0, 502);
}
backend_test!(an_account_that_stops_answering_is_named);

/// `cairn` run against the app's data directory and control database, allowed to reach moto
/// on loopback.
fn cairn(app: &TestApp, args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CAIRN_DATA_DIR", &app.config.data_dir)
        .env("CAIRN_LOG", "warn")
        .env("CAIRN_OUTBOUND_ALLOW_PRIVATE", "true")
        .env("CAIRN_OUTBOUND_ALLOW_HTTP", "true")
        .env("USER", "ops")
        .current_dir(&app.config.data_dir);
    if let Some(url) = &app.config.database_url {
        c.env("CAIRN_DATABASE_URL", url.as_str());
    }
    c.stdin(std::process::Stdio::null()).output().expect("cairn runs")
}

async fn the_command_line_lists_and_reboots(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let moto = MotoServer::start();
    let ids = moto.run_instances(ACCESS_KEY, "eu-west-1", 2, "web", &[("env", "prod")]).await;
    create(&app, &admin, &keys_account(&moto, "prod", &["eu-west-1"])).await;

    let out = cairn(&app, &["instances", "list", "--tenant", "acme", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), sorted(ids.clone()));
    assert_eq!(lines[0]["tags"]["env"], "prod");
    let table = cairn(&app, &["instances", "list", "--tenant", "acme"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("ID") && table.contains(&ids[0]) && table.contains("running"), "{table}");

    let out = cairn(&app, &["instances", "reboot", "--tenant", "acme", &ids[0]]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cairn(&app, &["instances", "reboot", "--tenant", "acme", &format!("prod/eu-west-1/{}", ids[1])]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reboots = audit(&app, &admin, "instance.reboot").await;
    assert_eq!(reboots.len(), 2);
    assert!(reboots.iter().all(|r| r["actor"]["id"] == "cli:ops" && r["outcome"] == "success"), "{reboots:?}");

    let out = cairn(&app, &["instances", "reboot", "--tenant", "acme", "i-0123456789abcdef0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Instance not found"));
}
backend_test!(the_command_line_lists_and_reboots);
