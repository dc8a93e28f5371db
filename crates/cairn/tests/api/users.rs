//! Users, clients and identity settings over the API, as a tenant's admins manage them.

use cairn_domain::Role;
use cairn_testkit::browser::Browser;
use cairn_testkit::rp::{PASSWORD, RelyingParty, jwt_claims};
use cairn_testkit::{Backend, TestApp, backend_test, mail};
use serde_json::{Value, json};

use crate::error_code;

async fn admins_create_users_who_are_invited_by_mail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let resp = app
        .post("/api/v1/users", &admin, &json!({"email": " Cy@Acme.test ", "given_name": "Cy", "roles": ["member"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let user: Value = resp.json().await.unwrap();
    assert_eq!(user["email"], "Cy@Acme.test");
    assert_eq!(user["status"], "FORCE_CHANGE_PASSWORD");
    assert_eq!(user["roles"], json!(["member"]));
    assert!(user.get("password_hash").is_none());
    let invitation = app.mail_to("Cy@Acme.test", "temporary password").await;
    assert!(invitation.contains("/t/acme/"), "{invitation}");
    // The same email (any case) is a conflict in this tenant…
    let dup = app.post("/api/v1/users", &admin, &json!({"email": "cy@acme.TEST"})).send().await.unwrap();
    assert_eq!(dup.status(), 409);
    // …and an independent account in another.
    let globex = app.create_tenant("globex").await;
    let other = app
        .post("/api/v1/users", &app.token(&globex, Role::Admin), &json!({"email": "cy@acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    // Each tenant sees only its own users.
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/users/{id}"), &app.token(&globex, Role::Admin)).send().await.unwrap().status(),
        404
    );
    let list: Value = app.get("/api/v1/users", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}
backend_test!(admins_create_users_who_are_invited_by_mail);

async fn bad_user_input_is_a_400_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    for (body, field) in [
        (json!({"email": "not-an-email"}), Some("email")),
        (json!({"email": "a@b.test", "roles": ["owner"]}), None),
        (json!({"email": "a@b.test", "given_name": "x".repeat(101)}), Some("given_name")),
        (json!({"email": "a@b.test", "password": "x"}), None),
    ] {
        let resp = app.post("/api/v1/users", &admin, &body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "VALIDATION_ERROR");
        if let Some(f) = field {
            assert_eq!(err["error"]["field"], f, "{body}");
        }
    }
    let list: Value = app.get("/api/v1/users", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]), "nothing was created");
}
backend_test!(bad_user_input_is_a_400_naming_the_field);

async fn members_cannot_manage_users_and_the_denial_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token_for(&acme, Role::Member, "mo");
    let resp = app
        .post("/api/v1/users", &member, &json!({"email": "x@acme.test"}))
        .header("x-request-id", "req-mo")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "FORBIDDEN");
    let admin = app.token(&acme, Role::Admin);
    let audit: Value =
        app.get("/api/v1/audit?action=access.denied", &admin).send().await.unwrap().json().await.unwrap();
    let denied = audit["items"].as_array().unwrap();
    assert_eq!(denied.len(), 1, "{audit}");
    assert_eq!(denied[0]["details"]["attempted"], "user.create");
    assert_eq!(
        (denied[0]["actor"]["id"].as_str(), denied[0]["outcome"].as_str()),
        (Some("mo"), Some("denied")),
        "{audit}"
    );
    assert_eq!(denied[0]["request_id"], "req-mo");
    let users: Value = app.get("/api/v1/users", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(users["items"], json!([]), "the refused call created nobody");
}
backend_test!(members_cannot_manage_users_and_the_denial_is_audited);

async fn roles_metadata_and_status_flow_into_tokens(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let admin = rp.admin();
    let ann = &rp.member.id;
    let reserved = rp
        .app
        .client
        .patch(rp.app.url(&format!("/api/v1/users/{ann}")))
        .bearer_auth(&admin)
        .json(&json!({"app_metadata": {"roles": ["admin"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reserved.status(), 400);
    let ok = rp
        .app
        .client
        .patch(rp.app.url(&format!("/api/v1/users/{ann}")))
        .bearer_auth(&admin)
        .json(&json!({"app_metadata": {"plan": "gold"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let roles = rp
        .app
        .client
        .put(rp.app.url(&format!("/api/v1/users/{ann}/roles")))
        .bearer_auth(&admin)
        .json(&json!({"roles": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(roles.status(), 200);
    let t = rp.tokens().await;
    let access = jwt_claims(t["access_token"].as_str().unwrap());
    assert_eq!(access["cairn/roles"], json!(["admin"]));
    assert_eq!(access["cairn/plan"], "gold");
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["cairn/plan"], "gold");
    // The role change is audited with before and after.
    let audit: Value =
        rp.app.get("/api/v1/audit?action=user.role_changed", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(audit["items"][0]["details"], json!({"from": ["member"], "to": ["admin"], "sessions_revoked": 0}));
    // Disabling ends the refresh token; enabling lets ann sign in again.
    let disabled = rp
        .app
        .client
        .post(rp.app.url(&format!("/api/v1/users/{ann}/disable")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.json::<Value>().await.unwrap()["status"], "DISABLED");
    assert_eq!(rp.refresh(t["refresh_token"].as_str().unwrap()).await.status(), 400);
    let browser = Browser::new(&rp.app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    let denied = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(denied.redirect_param("error").as_deref(), Some("access_denied"));
    rp.app.client.post(rp.app.url(&format!("/api/v1/users/{ann}/enable"))).bearer_auth(&admin).send().await.unwrap();
    assert!(browser.sign_in(&form, "ann@acme.test", PASSWORD).await.redirect_param("code").is_some());
}
backend_test!(roles_metadata_and_status_flow_into_tokens);

async fn an_admin_reset_sends_a_new_temporary_password(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let admin = rp.admin();
    let ann = &rp.member.id;
    let resp = rp
        .app
        .client
        .post(rp.app.url(&format!("/api/v1/users/{ann}/reset-password")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "FORCE_CHANGE_PASSWORD");
    let temp =
        mail::value_after(&rp.app.mail_to("ann@acme.test", mail::TEMPORARY_PASSWORD).await, mail::TEMPORARY_PASSWORD);
    let browser = Browser::new(&rp.app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    assert_eq!(browser.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 401, "the old password is gone");
    let change = browser.sign_in(&form, "ann@acme.test", &temp).await;
    assert!(change.body.contains("Choose your password"), "{}", change.body);
}
backend_test!(an_admin_reset_sends_a_new_temporary_password);

async fn me_reads_and_updates_the_signed_in_user(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let t = rp.tokens().await;
    let at = t["access_token"].as_str().unwrap();
    let me: Value = rp.app.get("/api/v1/me", at).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], "ann@acme.test");
    let updated: Value = rp
        .app
        .client
        .patch(rp.app.url("/api/v1/me"))
        .bearer_auth(at)
        .json(&json!({"given_name": "Ann", "user_metadata": {"publish_history": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["given_name"], "Ann");
    assert_eq!(updated["user_metadata"], json!({"publish_history": true}));
    // A user cannot set their own app metadata or roles through /me.
    let resp = rp
        .app
        .client
        .patch(rp.app.url("/api/v1/me"))
        .bearer_auth(at)
        .json(&json!({"app_metadata": {"plan": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let wrong = rp
        .app
        .client
        .put(rp.app.url("/api/v1/me/password"))
        .bearer_auth(at)
        .json(&json!({"current_password": "nope", "new_password": "sturdy cobalt ladder"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let ok = rp
        .app
        .client
        .put(rp.app.url("/api/v1/me/password"))
        .bearer_auth(at)
        .json(&json!({"current_password": PASSWORD, "new_password": "sturdy cobalt ladder"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    // A service or test token names no user.
    assert_eq!(rp.app.get("/api/v1/me", &rp.app.token(&rp.tenant, Role::Member)).send().await.unwrap().status(), 404);
}
backend_test!(me_reads_and_updates_the_signed_in_user);

async fn clients_are_managed_by_admins_and_secrets_shown_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let bad = app
        .post("/api/v1/clients", &admin, &json!({"name": "x", "redirect_uris": ["http://app.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "http only on loopback");
    let resp = app
        .post("/api/v1/clients", &admin, &json!({"name": "Portal", "redirect_uris": ["https://portal.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let c: Value = resp.json().await.unwrap();
    let id = c["client_id"].as_str().unwrap();
    assert!(c["client_secret"].as_str().unwrap().len() >= 43);
    let listed: Value = app.get("/api/v1/clients", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"][0]["client_id"], id);
    assert!(listed["items"][0].get("client_secret").is_none());
    let rotated: Value = app
        .client
        .post(app.url(&format!("/api/v1/clients/{id}/rotate-secret")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["client_secret"], c["client_secret"]);
    // The old secret no longer authenticates; the new one does (introspection needs a confidential client).
    let introspect = |secret: String| {
        app.client.post(app.url("/oauth2/introspect")).basic_auth(id, Some(secret)).form(&[("token", "x")]).send()
    };
    assert_eq!(introspect(c["client_secret"].as_str().unwrap().into()).await.unwrap().status(), 401);
    assert_eq!(introspect(rotated["client_secret"].as_str().unwrap().into()).await.unwrap().status(), 200);
    assert_eq!(app.delete(&format!("/api/v1/clients/{id}"), &admin).send().await.unwrap().status(), 204);
    assert_eq!(app.get(&format!("/api/v1/clients/{id}"), &admin).send().await.unwrap().status(), 404);
}
backend_test!(clients_are_managed_by_admins_and_secrets_shown_once);

async fn admins_change_a_clients_name_and_redirect_uris(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let created: Value = app
        .post("/api/v1/clients", &admin, &json!({"name": "Portal", "redirect_uris": ["https://portal.example/cb"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["client_id"].as_str().unwrap();
    let path = format!("/api/v1/clients/{id}");

    let resp = app.patch(&path, &admin, &json!({"redirect_uris": ["http://portal.example/cb"]})).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (Some("VALIDATION_ERROR"), Some("redirect_uris"))
    );
    let resp = app.patch(&path, &admin, &json!({"redirect_uris": []})).send().await.unwrap();
    assert_eq!(resp.status(), 400, "a browser client keeps at least one redirect URI");
    let unchanged: Value = app.get(&path, &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!((&unchanged["name"], &unchanged["redirect_uris"]), (&created["name"], &created["redirect_uris"]));

    let member = app.token(&acme, Role::Member);
    assert_eq!(app.patch(&path, &member, &json!({"name": "Mine"})).send().await.unwrap().status(), 403);
    assert_eq!(app.patch("/api/v1/clients/nope", &admin, &json!({"name": "X"})).send().await.unwrap().status(), 404);

    let uris = json!(["https://portal.example/cb", "https://portal.example/cb2"]);
    let resp =
        app.patch(&path, &admin, &json!({"name": "Customer portal", "redirect_uris": uris})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!((&changed["name"], &changed["redirect_uris"]), (&json!("Customer portal"), &uris));
    assert!(changed.get("client_secret").is_none());
    assert_eq!(app.get(&path, &admin).send().await.unwrap().json::<Value>().await.unwrap(), changed);

    let audit: Value =
        app.get("/api/v1/audit?action=client.updated", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit["items"][0]["details"]["changed"]["name"], "Customer portal");
    let denied: Value =
        app.get("/api/v1/audit?action=access.denied", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(denied["items"][0]["details"]["attempted"], "client.update", "{denied}");
}
backend_test!(admins_change_a_clients_name_and_redirect_uris);

async fn settings_brand_the_hosted_pages_and_set_the_default_role(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let admin = rp.admin();
    let mut s: Value = rp.app.get("/api/v1/identity/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(s["default_role"], "member");
    s["accent"] = json!("red; }</style><script>");
    assert_eq!(
        rp.app
            .client
            .put(rp.app.url("/api/v1/identity/settings"))
            .bearer_auth(&admin)
            .json(&s)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    s["accent"] = json!("#ff5500");
    s["display_name"] = json!("Acme Corp");
    s["default_role"] = json!("readonly");
    assert_eq!(
        rp.app
            .client
            .put(rp.app.url("/api/v1/identity/settings"))
            .bearer_auth(&admin)
            .json(&s)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let browser = Browser::new(&rp.app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    assert!(form.body.contains("--accent: #ff5500"));
    assert!(form.body.contains("Acme Corp"));
    // A user without explicit roles now gets readonly.
    rp.app.create_user(&rp.tenant, "dee@acme.test", PASSWORD, &[]).await;
    let done = browser.sign_in(&form, "dee@acme.test", PASSWORD).await;
    assert!(done.redirect_param("code").is_some());
}
backend_test!(settings_brand_the_hosted_pages_and_set_the_default_role);

async fn settings_change_in_part_with_patch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let url = app.url("/api/v1/identity/settings");
    let patch = |body: Value| app.client.patch(&url).bearer_auth(&admin).json(&body).send();
    let resp = patch(json!({"display_name": "Acme Inc", "access_ttl_secs": 600})).await.unwrap();
    assert_eq!(resp.status(), 200);
    let s: Value = resp.json().await.unwrap();
    assert_eq!((s["display_name"].as_str(), s["access_ttl_secs"].as_i64()), (Some("Acme Inc"), Some(600)));
    assert_eq!(s["accent"], "#2563eb", "what was not given stays");
    // A bad value, or an unknown field, changes nothing.
    let resp = patch(json!({"accent": "red", "display_name": "Changed"})).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(crate::error_code(patch(json!({"colour": "#000000"})).await.unwrap()).await, "VALIDATION_ERROR");
    let now: Value = app.get("/api/v1/identity/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["display_name"], "Acme Inc");
    // null goes back to the organization's name.
    let s: Value = patch(json!({"display_name": null})).await.unwrap().json().await.unwrap();
    assert_eq!(s["display_name"], Value::Null);
    assert_eq!(s["access_ttl_secs"], 600);
    let member = app.token(&acme, Role::Member);
    assert_eq!(app.client.patch(&url).bearer_auth(&member).json(&json!({})).send().await.unwrap().status(), 403);
}
backend_test!(settings_change_in_part_with_patch);
