//! Every check of the bearer-token path: each forged or misused token is a 401.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};

use crate::error_code;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims of a valid admin access token for `tenant`.
fn claims(app: &TestApp, tenant: &TestTenant) -> Value {
    let t = now();
    json!({
        "iss": app.issuer(), "sub": "mallory", "aud": "cairn-api",
        "exp": t + 600, "nbf": t, "iat": t, "jti": uuid::Uuid::now_v7().to_string(),
        "token_use": "access", "client_id": "cairn-test",
        "cairn/tenant": {"id": tenant.id, "slug": tenant.slug.as_str()},
        "cairn/roles": ["admin"],
    })
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.get("/api/v1/numbers", token).send().await.unwrap().status().as_u16()
}

async fn assert_rejected(app: &TestApp, token: &str, what: &str) {
    let resp = app.get("/api/v1/numbers", token).send().await.unwrap();
    assert_eq!(resp.status(), 401, "{what} must be rejected");
    assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"cairn\"");
    assert_eq!(error_code(resp).await, "UNAUTHORIZED", "{what}");
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn kid_of(app: &TestApp) -> String {
    app.tokens().keys().jwks()["keys"][0]["kid"].as_str().unwrap().to_owned()
}

async fn a_valid_token_passes_and_the_crafted_baseline_is_valid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    assert_eq!(status_with(&app, &app.token(&acme, Role::Readonly)).await, 200);
    // The forgeries below start from these claims; signed properly they pass.
    let good = app.tokens().sign("at+jwt", &claims(&app, &acme)).unwrap();
    assert_eq!(status_with(&app, &good).await, 200);
}
backend_test!(a_valid_token_passes_and_the_crafted_baseline_is_valid);

async fn missing_and_malformed_tokens_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.client.get(app.url("/api/v1/numbers")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "UNAUTHORIZED");
    let resp =
        app.client.get(app.url("/api/v1/numbers")).header("authorization", "Basic Zm9vOmJhcg==").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_rejected(&app, "not-a-jwt", "garbage").await;
    assert_rejected(&app, "a.b.c", "three garbage segments").await;
}
backend_test!(missing_and_malformed_tokens_are_401);

async fn bad_signature_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    // A reader's token: good for reading, refused for writing.
    let token = app.token(&acme, Role::Readonly);
    assert_eq!(status_with(&app, &token).await, 200);
    assert_eq!(app.add_number(&token, json!(1)).await.status(), 403);
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[10] ^= 0x01;
    assert_rejected(&app, &format!("{head}.{}", URL_SAFE_NO_PAD.encode(sig)), "flipped signature bit").await;
    // Same signature, the reader's own claims with the roles escalated to admin.
    let parts: Vec<&str> = token.split('.').collect();
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(c["cairn/roles"], json!(["readonly"]));
    c["cairn/roles"] = json!(["admin"]);
    let escalated = format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
    assert_rejected(&app, &escalated, "roles escalated under a valid signature").await;
    let resp = app.add_number(&escalated, json!(1)).await;
    assert_eq!(resp.status(), 401, "the escalated token cannot write either");
    assert_eq!(crate::count(&app, &app.token(&acme, Role::Readonly)).await, 0);
}
backend_test!(bad_signature_is_401);

async fn alg_none_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let c = claims(&app, &acme);
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid_of(&app)});
        assert_rejected(&app, &format!("{}.{}.", b64(&header), b64(&c)), alg).await;
        assert_rejected(&app, &format!("{}.{}", b64(&header), b64(&c)), "two segments").await;
    }
}
backend_test!(alg_none_is_401);

async fn hs256_signed_with_the_public_key_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let jwk = &app.tokens().keys().jwks()["keys"][0];
    let n = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap());
    let e = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap());
    let public_pem = rsa::RsaPublicKey::new(n, e).unwrap().to_public_key_pem(LineEnding::LF).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid_of(&app));
    header.typ = Some("at+jwt".into());
    let token =
        jsonwebtoken::encode(&header, &claims(&app, &acme), &EncodingKey::from_secret(public_pem.as_bytes())).unwrap();
    assert_rejected(&app, &token, "HS256 keyed with the RSA public key").await;
}
backend_test!(hs256_signed_with_the_public_key_is_401);

async fn time_claims_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let t = now();
    let mut expired = claims(&app, &acme);
    expired["exp"] = json!(t - 30);
    expired["iat"] = json!(t - 600);
    expired["nbf"] = json!(t - 600);
    assert_rejected(&app, &app.tokens().sign("at+jwt", &expired).unwrap(), "expired").await;
    let mut future_nbf = claims(&app, &acme);
    future_nbf["nbf"] = json!(t + 60);
    assert_rejected(&app, &app.tokens().sign("at+jwt", &future_nbf).unwrap(), "nbf in the future").await;
    let mut future_iat = claims(&app, &acme);
    future_iat["iat"] = json!(t + 60);
    assert_rejected(&app, &app.tokens().sign("at+jwt", &future_iat).unwrap(), "iat in the future").await;
    let mut no_exp = claims(&app, &acme);
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_rejected(&app, &app.tokens().sign("at+jwt", &no_exp).unwrap(), "no exp").await;
    // Within the 5 s leeway is fine.
    let mut skewed = claims(&app, &acme);
    skewed["iat"] = json!(t + 2);
    skewed["nbf"] = json!(t + 2);
    assert_eq!(status_with(&app, &app.tokens().sign("at+jwt", &skewed).unwrap()).await, 200);
}
backend_test!(time_claims_are_enforced);

async fn wrong_issuer_or_audience_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let mut c = claims(&app, &acme);
    c["iss"] = json!("https://evil.example");
    assert_rejected(&app, &app.tokens().sign("at+jwt", &c).unwrap(), "wrong iss").await;
    let mut c = claims(&app, &acme);
    c["iss"] = json!(format!("{}/", app.issuer()));
    assert_rejected(&app, &app.tokens().sign("at+jwt", &c).unwrap(), "iss with a trailing slash").await;
    let mut c = claims(&app, &acme);
    c["aud"] = json!("another-api");
    assert_rejected(&app, &app.tokens().sign("at+jwt", &c).unwrap(), "wrong aud").await;
    let mut c = claims(&app, &acme);
    c.as_object_mut().unwrap().remove("aud");
    assert_rejected(&app, &app.tokens().sign("at+jwt", &c).unwrap(), "no aud").await;
    let mut c = claims(&app, &acme);
    c["aud"] = json!(["cairn-api", "another-api"]);
    assert_rejected(&app, &app.tokens().sign("at+jwt", &c).unwrap(), "an extra untrusted audience").await;
}
backend_test!(wrong_issuer_or_audience_is_401);

async fn unknown_kid_and_embedded_keys_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    // A token signed by an attacker's key, naming it by jwk/jku/x5u headers and an unknown kid.
    let attacker = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = attacker.to_pkcs1_pem(LineEnding::LF).unwrap();
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    for kid in [Some("attacker-key".to_owned()), None, Some(kid_of(&app))] {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.clone();
        header.typ = Some("at+jwt".into());
        header.jku = Some("http://127.0.0.1:1/jwks.json".into());
        header.x5u = Some("http://127.0.0.1:1/cert.pem".into());
        let token = jsonwebtoken::encode(&header, &claims(&app, &acme), &key).unwrap();
        assert_rejected(&app, &token, &format!("attacker key with kid {kid:?}")).await;
    }
}
backend_test!(unknown_kid_and_embedded_keys_are_401);

async fn an_id_style_token_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    // As an id token would be: typ JWT, token_use id, audience the client.
    let mut c = claims(&app, &acme);
    c["token_use"] = json!("id");
    c["aud"] = json!("cairn-test");
    assert_rejected(&app, &app.tokens().sign("JWT", &c).unwrap(), "id token").await;
    // Even with the API audience, either marker alone disqualifies it.
    let mut c = claims(&app, &acme);
    c["token_use"] = json!("id");
    assert_rejected(&app, &app.tokens().sign("at+jwt", &c).unwrap(), "token_use id").await;
    assert_rejected(&app, &app.tokens().sign("JWT", &claims(&app, &acme)).unwrap(), "typ JWT").await;
}
backend_test!(an_id_style_token_is_401);

async fn a_deleted_tenants_token_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let token = app.token(&acme, Role::Admin);
    assert_eq!(status_with(&app, &token).await, 200);
    app.store.delete_tenant(&acme.slug).await.unwrap();
    assert_rejected(&app, &token, "token of a deleted tenant").await;
}
backend_test!(a_deleted_tenants_token_is_401);

async fn a_refused_token_is_told_which_check_failed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let message = |token: String| {
        let app = &app;
        async move {
            let resp = app.get("/api/v1/numbers", &token).send().await.unwrap();
            assert_eq!(resp.status(), 401);
            let body: Value = resp.json().await.unwrap();
            body["error"]["message"].as_str().unwrap().to_owned()
        }
    };
    // Minted for another public URL (the CLI run without the server's CAIRN_PUBLIC_URL).
    let mut other = claims(&app, &acme);
    other["iss"] = json!("http://localhost:9999");
    let said = message(app.tokens().sign("at+jwt", &other).unwrap()).await;
    assert!(said.contains("wrong issuer") && said.contains(app.issuer()), "{said}");
    let mut expired = claims(&app, &acme);
    expired["exp"] = json!(now() - 60);
    assert!(message(app.tokens().sign("at+jwt", &expired).unwrap()).await.contains("expired"));
    let mut audience = claims(&app, &acme);
    audience["aud"] = json!("another-api");
    assert!(message(app.tokens().sign("at+jwt", &audience).unwrap()).await.contains("audience"));
    let good = app.tokens().sign("at+jwt", &claims(&app, &acme)).unwrap();
    let (rest, _) = good.rsplit_once('.').unwrap();
    let said = message(format!("{rest}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]))).await;
    assert!(said.contains("signature"), "{said}");
    assert!(!said.contains("-----BEGIN") && !said.contains("\"n\""), "no key material: {said}");
}
backend_test!(a_refused_token_is_told_which_check_failed);

async fn a_token_seen_before_does_not_vouch_for_an_altered_copy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let good = app.tokens().sign("at+jwt", &claims(&app, &acme)).unwrap();
    // Twice: the second call is answered from the cache of verified tokens.
    assert_eq!(status_with(&app, &good).await, 200);
    assert_eq!(status_with(&app, &good).await, 200);
    let parts: Vec<&str> = good.split('.').collect();
    let mut raised = claims(&app, &acme);
    raised["sub"] = json!("eve");
    let altered_payload = format!("{}.{}.{}", parts[0], b64(&raised), parts[2]);
    assert_rejected(&app, &altered_payload, "a verified token's signature on other claims").await;
    let first = if parts[2].starts_with('A') { "B" } else { "A" };
    let sig = format!("{first}{}", &parts[2][1..]);
    assert_rejected(&app, &format!("{}.{}.{sig}", parts[0], parts[1]), "a verified token with another signature").await;
    assert_eq!(status_with(&app, &good).await, 200, "the genuine token still passes");
}
backend_test!(a_token_seen_before_does_not_vouch_for_an_altered_copy);

async fn the_caller_endpoint_says_what_the_token_grants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let body: Value = app
        .get("/api/v1/caller", &app.token_for(&acme, Role::Member, "ci-bot"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["subject"], "ci-bot");
    assert_eq!(body["tenant"]["slug"], "acme");
    assert_eq!(body["tenant"]["id"], acme.id.to_string());
    assert_eq!(body["roles"], json!(["member"]));
    assert_eq!(body["operator"], false);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'), "{body}");
    let op: Value = app.get("/api/v1/caller", &app.operator_token()).send().await.unwrap().json().await.unwrap();
    assert_eq!((op["operator"].as_bool(), op["tenant"].is_null()), (Some(true), true), "{op}");
    let resp = app.client.get(app.url("/api/v1/caller")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}
backend_test!(the_caller_endpoint_says_what_the_token_grants);

async fn a_token_both_operator_and_tenant_member_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    // A grant is a tenant's roles or the platform: a token claiming both acts as neither.
    let mut both = claims(&app, &acme);
    both["cairn/operator"] = json!(true);
    let both = app.tokens().sign("at+jwt", &both).unwrap();
    assert_rejected(&app, &both, "an operator token naming a tenant").await;
    assert_eq!(app.get("/api/v1/tenants", &both).send().await.unwrap().status(), 401);
    let mut roles_only = claims(&app, &acme);
    roles_only["cairn/operator"] = json!(true);
    roles_only.as_object_mut().unwrap().remove("cairn/tenant");
    let roles_only = app.tokens().sign("at+jwt", &roles_only).unwrap();
    assert_eq!(app.get("/api/v1/tenants", &roles_only).send().await.unwrap().status(), 401, "tenant roles");
    assert_eq!(app.get("/api/v1/tenants", &app.operator_token()).send().await.unwrap().status(), 200);
}
backend_test!(a_token_both_operator_and_tenant_member_is_401);
