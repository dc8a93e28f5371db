//! The OpenID Connect provider, walked as a browser and a relying party would, and each
//! security case of the identity reference as its own test.

use std::time::Duration;

use cairn_domain::Role;
use cairn_identity::NewClient;
use cairn_testkit::browser::{Browser, Page, pkce};
use cairn_testkit::rp::{PASSWORD, REDIRECT, RelyingParty, jwt_claims};
use cairn_testkit::{Backend, TestApp, backend_test, eventually, mail};
use serde_json::Value;

async fn oauth_error(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_owned()
}

async fn discovery_names_the_issuer_and_exactly_what_is_implemented(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let d: Value =
        app.client.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["issuer"], app.issuer());
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(d["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    assert!(!d["grant_types_supported"].as_array().unwrap().contains(&"password".into()));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    for k in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ] {
        let url = d[k].as_str().unwrap();
        assert!(url.starts_with(app.issuer()), "{k}");
        let status = app.client.get(url).send().await.unwrap().status().as_u16();
        assert_ne!(status, 404, "{k} is served");
    }
}
backend_test!(discovery_names_the_issuer_and_exactly_what_is_implemented);

async fn code_flow_with_pkce_state_and_nonce(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let (verifier, challenge) = pkce();
    let browser = Browser::new(&rp.app.base_url);
    let done = rp
        .sign_in(
            &browser,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", "st-123"),
                ("nonce", "n-456"),
            ],
        )
        .await;
    let location = done.location.clone().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(done.redirect_param("state").as_deref(), Some("st-123"));
    assert_eq!(done.redirect_param("iss").as_deref(), Some(rp.app.issuer()), "RFC 9207 iss");
    let code = done.redirect_param("code").unwrap();
    let resp = rp.exchange(&code, &verifier).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["aud"], rp.client_id.as_str());
    assert_eq!(id["azp"], rp.client_id.as_str());
    assert_eq!(id["iss"], rp.app.issuer());
    assert_eq!(id["email"], "ann@acme.test");
    assert_eq!(id["given_name"], "Test");
    assert_eq!(id["cairn/tenant"]["slug"], "acme");
    assert_eq!(id["cairn/roles"], serde_json::json!(["member"]));
    let at = t["access_token"].as_str().unwrap();
    let access = jwt_claims(at);
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], rp.client_id.as_str());
    // The access token works on the API, as ann, in acme.
    assert_eq!(rp.app.add_number(at, 7.into()).await.status(), 201);
    let entries: Value = rp.app.get("/api/v1/numbers", at).send().await.unwrap().json().await.unwrap();
    assert_eq!(entries["items"][0]["created_by"], access["sub"]);
    // Userinfo gives the current claims.
    let info: Value =
        rp.app.client.get(rp.app.url("/oauth2/userinfo")).bearer_auth(at).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["sub"], access["sub"]);
    assert_eq!(info["email"], "ann@acme.test");
    assert_eq!(info["email_verified"], true);
    for k in ["given_name", "family_name", "name", "cairn/tenant", "cairn/roles"] {
        assert_eq!(info[k], id[k], "userinfo's {k} is the id token's");
    }
}
backend_test!(code_flow_with_pkce_state_and_nonce);

async fn id_tokens_are_not_access_tokens(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let t = rp.tokens().await;
    let id = t["id_token"].as_str().unwrap();
    let resp = rp.app.get("/api/v1/numbers", id).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = rp.app.client.get(rp.app.url("/oauth2/userinfo")).bearer_auth(id).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}
backend_test!(id_tokens_are_not_access_tokens);

async fn a_reused_code_is_refused_and_revokes_what_it_issued(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let (verifier, challenge) = pkce();
    let code = rp.code(&challenge).await;
    let first: Value = rp.exchange(&code, &verifier).await.json().await.unwrap();
    let again = rp.exchange(&code, &verifier).await;
    assert_eq!(again.status(), 400);
    assert_eq!(oauth_error(again).await, "invalid_grant");
    // The refresh token the code issued died with the replay.
    let refresh = rp.refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(oauth_error(refresh).await, "invalid_grant");
}
backend_test!(a_reused_code_is_refused_and_revokes_what_it_issued);

async fn a_code_is_bound_to_its_client_and_redirect_uri(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let (other_id, _) = rp
        .app
        .create_client(
            &rp.tenant,
            NewClient {
                name: "Other".into(),
                redirect_uris: vec![REDIRECT.into()],
                public: true,
                ..Default::default()
            },
        )
        .await;
    let (verifier, challenge) = pkce();
    let code = rp.code(&challenge).await;
    let by_other = rp
        .app
        .client
        .post(rp.app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &other_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(by_other).await, "invalid_grant");
    let wrong_redirect = rp
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(oauth_error(wrong_redirect).await, "invalid_grant");
    // The rightful exchange still works: the failures above did not consume the code.
    assert_eq!(rp.exchange(&code, &verifier).await.status(), 200);
}
backend_test!(a_code_is_bound_to_its_client_and_redirect_uri);

async fn pkce_is_required_for_public_clients_and_s256_only(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let (verifier, challenge) = pkce();
    for (extra, what) in [
        (vec![], "no challenge"),
        (vec![("code_challenge", challenge.as_str()), ("code_challenge_method", "plain")], "plain"),
        (vec![("code_challenge", challenge.as_str())], "method missing (plain)"),
    ] {
        let page = browser.get(&rp.authorize_url(&extra)).await;
        assert_eq!(page.status, 303, "{what}");
        assert_eq!(page.redirect_param("error").as_deref(), Some("invalid_request"), "{what}");
    }
    let code = rp.code(&challenge).await;
    let (wrong, _) = pkce();
    assert_eq!(oauth_error(rp.exchange(&code, &wrong).await).await, "invalid_grant");
    let missing = rp.token(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!(oauth_error(missing).await, "invalid_grant");
    assert_eq!(rp.exchange(&code, &verifier).await.status(), 200);
}
backend_test!(pkce_is_required_for_public_clients_and_s256_only);

async fn a_verifier_without_a_stored_challenge_is_refused(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let browser = Browser::new(&rp.app.base_url);
    // A confidential client may skip PKCE; then a verifier at the token endpoint is an error.
    let done = rp.sign_in(&browser, &[]).await;
    let code = done.redirect_param("code").unwrap();
    let (verifier, _) = pkce();
    assert_eq!(oauth_error(rp.exchange(&code, &verifier).await).await, "invalid_grant");
}
backend_test!(a_verifier_without_a_stored_challenge_is_refused);

async fn a_bad_client_or_redirect_uri_gets_an_error_page_never_a_redirect(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let (_, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let unregistered = rp.authorize_url(&pkce_params).replace("%2Fcallback", "%2Fcallback%2Fevil");
    let unknown_client = rp.authorize_url(&pkce_params).replace(&rp.client_id, "0123456789abcdef0123456789abcdef.nope");
    let near_miss = rp.authorize_url(&pkce_params).replace("127.0.0.1%3A9", "127.0.0.1%3A90");
    for (url, what) in [(unregistered, "unregistered"), (unknown_client, "unknown client"), (near_miss, "near miss")] {
        let page = browser.get(&url).await;
        assert_eq!(page.status, 400, "{what}: {}", page.body);
        assert!(page.location.is_none(), "{what}");
        assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    }
}
backend_test!(a_bad_client_or_redirect_uri_gets_an_error_page_never_a_redirect);

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let t = rp.tokens().await;
    let rt1 = t["refresh_token"].as_str().unwrap();
    let r2: Value = rp.refresh(rt1).await.json().await.unwrap();
    let rt2 = r2["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    assert!(r2["access_token"].is_string() && r2["id_token"].is_string());
    // Replaying RT1 fails and kills RT2.
    assert_eq!(oauth_error(rp.refresh(rt1).await).await, "invalid_grant");
    assert_eq!(oauth_error(rp.refresh(rt2).await).await, "invalid_grant");
}
backend_test!(refresh_rotates_and_reuse_revokes_the_family);

async fn refresh_tokens_are_bound_to_their_tenant_and_client(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let t = rp.tokens().await;
    let rt = t["refresh_token"].as_str().unwrap();
    let globex = rp.app.create_tenant("globex").await;
    let (globex_client, globex_secret) = rp
        .app
        .create_client(
            &globex,
            NewClient { name: "Globex".into(), redirect_uris: vec![REDIRECT.into()], ..Default::default() },
        )
        .await;
    let secret = globex_secret.unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", &globex_client),
        ("client_secret", &secret),
    ];
    let resp = rp.app.client.post(rp.app.url("/oauth2/token")).form(&form).send().await.unwrap();
    assert_eq!(oauth_error(resp).await, "invalid_grant");
    // Introspection by another tenant's client says nothing about acme's tokens.
    let at = t["access_token"].as_str().unwrap();
    for token in [at, rt] {
        let v: Value = rp
            .app
            .client
            .post(rp.app.url("/oauth2/introspect"))
            .basic_auth(&globex_client, Some(&secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["active"], false);
    }
    // Acme's token still works in acme: the failed attempt changed nothing.
    assert_eq!(rp.refresh(rt).await.status(), 200);
}
backend_test!(refresh_tokens_are_bound_to_their_tenant_and_client);

async fn confidential_clients_authenticate_by_basic_or_post(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let secret = rp.secret.clone().unwrap();
    let browser = Browser::new(&rp.app.base_url);
    let code = rp.sign_in(&browser, &[]).await.redirect_param("code").unwrap();
    let wrong = rp
        .app
        .client
        .post(rp.app.url("/oauth2/token"))
        .basic_auth(&rp.client_id, Some("nope"))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().contains_key("www-authenticate"));
    assert_eq!(oauth_error(wrong).await, "invalid_client");
    let ok = rp
        .app
        .client
        .post(rp.app.url("/oauth2/token"))
        .basic_auth(&rp.client_id, Some(&secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
backend_test!(confidential_clients_authenticate_by_basic_or_post);

async fn there_is_no_password_grant(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let resp = rp.token(&[("grant_type", "password"), ("username", "ann@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(oauth_error(resp).await, "unsupported_grant_type");
}
backend_test!(there_is_no_password_grant);

async fn service_clients_use_client_credentials(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let (svc, secret) = rp
        .app
        .create_client(
            &rp.tenant,
            NewClient { name: "Importer".into(), service_role: Some(Role::Member), ..Default::default() },
        )
        .await;
    let secret = secret.unwrap();
    let resp = rp
        .app
        .client
        .post(rp.app.url("/oauth2/token"))
        .basic_auth(&svc, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(at)["sub"], format!("client:{svc}"));
    assert_eq!(rp.app.add_number(at, 1.into()).await.status(), 201);
    // A client without a service role may not.
    let resp = rp.token(&[("grant_type", "client_credentials")]).await;
    assert_eq!(oauth_error(resp).await, "unauthorized_client");
}
backend_test!(service_clients_use_client_credentials);

async fn revocation_and_introspection(backend: Backend) {
    let rp = RelyingParty::spawn(backend, false).await;
    let secret = rp.secret.clone().unwrap();
    let browser = Browser::new(&rp.app.base_url);
    let code = rp.sign_in(&browser, &[]).await.redirect_param("code").unwrap();
    let t: Value = rp
        .token(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)])
        .await
        .json()
        .await
        .unwrap();
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    let introspect = |token: String| {
        let app = &rp.app;
        let (id, secret) = (rp.client_id.clone(), secret.clone());
        async move {
            app.client
                .post(app.url("/oauth2/introspect"))
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let a = introspect(at.to_owned()).await;
    assert_eq!(a["active"], true);
    assert_eq!(a["token_type"], "Bearer");
    assert_eq!(a["client_id"], rp.client_id.as_str());
    assert_eq!(a["username"], "ann@acme.test");
    // An access token is described by the claims it carries, and nothing else.
    let claims = jwt_claims(at);
    let carried =
        ["sub", "client_id", "scope", "exp", "iat", "nbf", "iss", "aud", "jti", "email", "cairn/tenant", "cairn/roles"];
    for k in carried {
        assert_eq!(a[k], claims[k], "{k}");
    }
    let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = [&carried[..], &["active", "token_type", "username"]].concat();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let r = introspect(rt.to_owned()).await;
    assert_eq!(r["active"], true);
    assert_eq!(r["token_type"], "refresh_token");
    for k in ["sub", "client_id", "scope", "iss"] {
        assert_eq!(r[k], claims[k], "{k}");
    }
    assert!(r["exp"].as_i64().unwrap() > r["iat"].as_i64().unwrap(), "{r}");
    assert_eq!(
        introspect("garbage".into()).await,
        serde_json::json!({ "active": false }),
        "an inactive token: nothing more"
    );
    let resp = rp
        .app
        .client
        .post(rp.app.url("/oauth2/revoke"))
        .basic_auth(&rp.client_id, Some(&secret))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(introspect(rt.to_owned()).await["active"], false);
    assert_eq!(oauth_error(rp.refresh(rt).await).await, "invalid_grant");
    // Unknown tokens revoke "successfully" (RFC 7009 §2.2).
    let resp = rp
        .app
        .client
        .post(rp.app.url("/oauth2/revoke"))
        .basic_auth(&rp.client_id, Some(&secret))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Introspection needs client authentication.
    let resp = rp.app.client.post(rp.app.url("/oauth2/introspect")).form(&[("token", at)]).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}
backend_test!(revocation_and_introspection);

async fn prompt_none_uses_the_session_or_says_login_required(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let (_, challenge) = pkce();
    let params = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("prompt", "none"),
        ("state", "s1"),
    ];
    let page = browser.get(&rp.authorize_url(&params)).await;
    assert_eq!(page.redirect_param("error").as_deref(), Some("login_required"));
    assert_eq!(page.redirect_param("state").as_deref(), Some("s1"));
    rp.sign_in(&browser, &params[..2]).await;
    let page = browser.get(&rp.authorize_url(&params)).await;
    assert!(page.redirect_param("code").is_some(), "{:?}", page.location);
    // prompt=login shows the form even with a session, and so does select_account.
    let login = [params[0], params[1], ("prompt", "login")];
    assert_eq!(browser.get(&rp.authorize_url(&login)).await.status, 200);
    let select = [params[0], params[1], ("prompt", "select_account")];
    assert_eq!(browser.get(&rp.authorize_url(&select)).await.status, 200);
    // Consent is implied for the tenant's own clients: offline_access clients ask for it.
    let consent = [params[0], params[1], ("prompt", "consent"), ("state", "s2")];
    let page = browser.get(&rp.authorize_url(&consent)).await;
    assert!(page.redirect_param("code").is_some(), "{:?} {}", page.location, page.body);
    let mixed = [params[0], params[1], ("prompt", "none consent")];
    assert_eq!(
        browser.get(&rp.authorize_url(&mixed)).await.redirect_param("error").as_deref(),
        Some("invalid_request")
    );
    // After logout the session is gone. Without an id_token_hint the user confirms first.
    let ask = browser
        .get(&format!(
            "/oauth2/logout?client_id={}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye&state=z",
            rp.client_id
        ))
        .await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    let fields: Vec<(&str, String)> = ["csrf", "client_id", "post_logout_redirect_uri", "state"]
        .into_iter()
        .map(|name| (name, ask.input(name).unwrap_or_else(|| panic!("{name} in {}", ask.body))))
        .collect();
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = browser.post_form("/oauth2/logout", &fields).await;
    assert_eq!(out.location.as_deref(), Some("http://127.0.0.1:9/bye?state=z"));
    let page = browser.get(&rp.authorize_url(&params)).await;
    assert_eq!(page.redirect_param("error").as_deref(), Some("login_required"));
}
backend_test!(prompt_none_uses_the_session_or_says_login_required);

async fn logout_redirects_only_to_registered_uris(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let out = browser
        .get(&format!(
            "/oauth2/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
            rp.client_id
        ))
        .await;
    assert_eq!(out.status, 200);
    assert!(out.location.is_none());
    assert!(out.body.contains("signed out"));
    let plain = browser
        .get(&format!(
            "/oauth2/logout?client_id={}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fbye",
            rp.client_id
        ))
        .await;
    assert_eq!(plain.location.as_deref(), Some("http://127.0.0.1:9/bye"), "exactly the registered URI");
}
backend_test!(logout_redirects_only_to_registered_uris);

async fn wrong_password_and_unknown_email_look_the_same(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    for i in 0..3 {
        rp.app.create_user(&rp.tenant, &format!("user{i}@acme.test"), PASSWORD, &[Role::Member]).await;
    }
    let browser = Browser::new(&rp.app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..3 {
        let started = std::time::Instant::now();
        let a = browser.sign_in(&form, &format!("user{i}@acme.test"), "wrong password here").await;
        known.push(started.elapsed());
        let started = std::time::Instant::now();
        let b = browser.sign_in(&form, &format!("nobody{i}@acme.test"), "wrong password here").await;
        unknown.push(started.elapsed());
        assert_eq!((a.status, b.status), (401, 401));
        let error =
            |p: &Page| p.body.split("role=\"alert\">").nth(1).and_then(|r| r.split('<').next()).map(str::to_owned);
        assert_eq!(error(&a), error(&b));
        assert_eq!(error(&a).as_deref(), Some("Incorrect email or password."));
    }
    known.sort();
    unknown.sort();
    // Both pay for an argon2id verification: the medians are of the same order.
    let ratio = known[1].as_secs_f64() / unknown[1].as_secs_f64();
    assert!((0.33..3.0).contains(&ratio), "known {known:?} unknown {unknown:?}");
}
backend_test!(wrong_password_and_unknown_email_look_the_same);

async fn repeated_failures_are_throttled_and_the_owner_is_told(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(browser.sign_in(&form, "ann@acme.test", "not the password").await.status);
    }
    // Five failures, then a growing delay: even the right password is refused for now.
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let blocked = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    // The person at the form is told when to come back, and the page says the same as the header.
    let retry_after: u64 = blocked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert!(blocked.body.contains(&format!("Try again in {retry_after} seconds.")), "{}", blocked.body);
    // An unknown account is throttled the same way.
    for _ in 0..6 {
        browser.sign_in(&form, "ghost@acme.test", "not the password").await;
    }
    assert_eq!(browser.sign_in(&form, "ghost@acme.test", "x").await.status, 429);
}
backend_test!(repeated_failures_are_throttled_and_the_owner_is_told);

async fn one_address_guessing_many_accounts_is_throttled(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    // One failure each for fifty accounts: no account is throttled, the address is.
    for i in 0..50 {
        assert_eq!(browser.sign_in(&form, &format!("guess{i}@acme.test"), "password guess").await.status, 401);
    }
    let next = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(next.status, 429, "{}", next.body);
}
backend_test!(one_address_guessing_many_accounts_is_throttled);

async fn a_lockout_is_mailed_to_the_account_owner(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let (tenant, db) = rp.app.tenant(&rp.tenant).await;
    // Nine failures already counted (the delays between them are not worth waiting out here).
    cairn_store::sqlx::query("INSERT INTO login_throttle (key, failures, last_failure, blocked_until) VALUES ('acct:ann@acme.test', 9, $1, 0)")
        .bind(cairn_domain::now_ms()).execute(db.writer()).await.unwrap();
    let outcome =
        rp.app.identity.sign_in(&tenant, &db, "ann@acme.test", "wrong", &[], &Default::default()).await.unwrap();
    assert!(matches!(outcome, cairn_identity::SignIn::Invalid));
    let outcome =
        rp.app.identity.sign_in(&tenant, &db, "ann@acme.test", PASSWORD, &[], &Default::default()).await.unwrap();
    assert!(
        matches!(outcome, cairn_identity::SignIn::Throttled { retry_after_secs } if retry_after_secs > 800),
        "{outcome:?}"
    );
    rp.app.mail_to("ann@acme.test", "is paused").await;
}
backend_test!(a_lockout_is_mailed_to_the_account_owner);

async fn a_disabled_users_refresh_fails(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let t = rp.tokens().await;
    let (_, db) = rp.app.tenant(&rp.tenant).await;
    let ann =
        rp.app.identity.user_by_email(&db, &cairn_identity::Email::parse("ann@acme.test").unwrap()).await.unwrap();
    let admin = cairn_audit::Actor { id: "admin".into(), email: None };
    rp.app.identity.set_enabled(rp.tenant.id, &db, &ann.id, false, &admin, &Default::default()).await.unwrap();
    assert_eq!(oauth_error(rp.refresh(t["refresh_token"].as_str().unwrap()).await).await, "invalid_grant");
    let info = rp
        .app
        .client
        .get(rp.app.url("/oauth2/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
}
backend_test!(a_disabled_users_refresh_fails);

async fn the_sign_in_form_needs_its_csrf_cookie(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let form = rp.sign_in_form(&browser, &[]).await;
    assert!(form.headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    browser.clear_cookies();
    let resp = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(resp.status, 403);
    assert!(resp.location.is_none());
    // A forged request blob is refused too.
    let csrf = form.input("csrf").unwrap();
    browser.set_cookie("cairn_csrf", &csrf);
    let forged = browser
        .post_form(
            "/oauth2/signin",
            &[("request", "v1.AAAA"), ("csrf", &csrf), ("email", "ann@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, 400);
}
backend_test!(the_sign_in_form_needs_its_csrf_cookie);

async fn first_sign_in_requires_a_new_password(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    // Invited without a role: the tenant's default role.
    let invitation = rp.app.invite(&rp.tenant, "bo@acme.test", &[]).await;
    // The invitation went through the outbox, with the password in it and nowhere in the clear.
    let (_, db) = rp.app.tenant(&rp.tenant).await;
    let payloads: Vec<String> =
        cairn_store::sqlx::query_scalar("SELECT payload FROM outbox WHERE type = 'internal.account_mail'")
            .fetch_all(db.reader())
            .await
            .unwrap();
    assert_eq!(payloads.len(), 1);
    assert!(
        !payloads[0].contains(&invitation.temporary_password),
        "the outbox holds the password sealed: {}",
        payloads[0]
    );
    let browser = Browser::new(&rp.app.base_url);
    let (verifier, challenge) = pkce();
    let form =
        browser.get(&rp.authorize_url(&[("code_challenge", &challenge), ("code_challenge_method", "S256")])).await;
    let change = browser.sign_in(&form, "bo@acme.test", &invitation.temporary_password).await;
    assert_eq!(change.status, 200, "{}", change.body);
    assert!(change.body.contains("Choose your password"));
    let request = change.input("request").unwrap();
    let csrf = change.input("csrf").unwrap();
    let weak = browser
        .post_form("/oauth2/change-password", &[("request", &request), ("csrf", &csrf), ("new_password", "short")])
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("at least 12 characters"));
    let request = weak.input("request").unwrap();
    let done = browser
        .post_form(
            "/oauth2/change-password",
            &[("request", &request), ("csrf", &csrf), ("new_password", "granite harbor lantern")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let code = done.redirect_param("code").unwrap();
    let t: Value = rp.exchange(&code, &verifier).await.json().await.unwrap();
    // No explicit role: the tenant's default role (member).
    assert_eq!(jwt_claims(t["access_token"].as_str().unwrap())["cairn/roles"], serde_json::json!(["member"]));
    // The temporary password no longer works; the new one does.
    let form = rp.sign_in_form(&browser, &[("prompt", "login")]).await;
    assert_eq!(browser.sign_in(&form, "bo@acme.test", &invitation.temporary_password).await.status, 401);
    assert_eq!(browser.sign_in(&form, "bo@acme.test", "granite harbor lantern").await.status, 303);
}
backend_test!(first_sign_in_requires_a_new_password);

async fn forgot_password_by_emailed_code(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let page = browser.get("/t/acme/forgot").await;
    assert_eq!(page.status, 200);
    let csrf = page.input("csrf").unwrap();
    let unknown = browser.post_form("/t/acme/forgot", &[("csrf", &csrf), ("email", "nobody@acme.test")]).await;
    let known = browser.post_form("/t/acme/forgot", &[("csrf", &csrf), ("email", "ann@acme.test")]).await;
    assert_eq!((unknown.status, known.status), (200, 200));
    let notice =
        |p: &Page| p.body.split("role=\"status\">").nth(1).and_then(|r| r.split('<').next()).map(str::to_owned);
    assert_eq!(notice(&unknown), notice(&known));
    let code = mail::reset_code(&rp.app.mail_to("ann@acme.test", "password reset code").await).expect("a code");
    rp.app.settled(&rp.tenant).await;
    assert_eq!(rp.app.mail().len(), 1, "the unknown email got no mail");
    let wrong = browser
        .post_form(
            "/t/acme/reset",
            &[
                ("csrf", &csrf),
                ("email", "ann@acme.test"),
                ("code", "000000"),
                ("new_password", "quartz meadow falcon"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    let ok = browser
        .post_form(
            "/t/acme/reset",
            &[("csrf", &csrf), ("email", "ann@acme.test"), ("code", &code), ("new_password", "quartz meadow falcon")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let again = browser
        .post_form(
            "/t/acme/reset",
            &[("csrf", &csrf), ("email", "ann@acme.test"), ("code", &code), ("new_password", "another good phrase")],
        )
        .await;
    assert_eq!(again.status, 400, "single use");
    let form = rp.sign_in_form(&browser, &[]).await;
    assert_eq!(browser.sign_in(&form, "ann@acme.test", "quartz meadow falcon").await.status, 303);
}
backend_test!(forgot_password_by_emailed_code);

async fn sign_in_and_failures_are_audited(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let (_, challenge) = pkce();
    let pkce_params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let form = browser.get(&rp.authorize_url(&pkce_params)).await;
    browser.sign_in(&form, "ann@acme.test", "bad password").await;
    rp.sign_in(&browser, &pkce_params).await;
    let admin = rp.admin();
    let entries: Value = rp.app.get("/api/v1/audit?action=auth.*", &admin).send().await.unwrap().json().await.unwrap();
    let actions: Vec<&str> =
        entries["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["auth.login_succeeded", "auth.login_failed"]);
    let failed = &entries["items"][1];
    assert_eq!(failed["details"]["attempted"]["email"], "ann@acme.test");
    assert_eq!(failed["ip"], "127.0.0.1");
    assert!(failed["request_id"].is_string());
    assert_eq!(entries["items"][0]["actor"]["email"], "ann@acme.test");
}
backend_test!(sign_in_and_failures_are_audited);

async fn reset_codes_are_limited_per_account_and_address(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let csrf = browser.get("/t/acme/forgot").await.input("csrf").unwrap();
    for _ in 0..5 {
        assert_eq!(
            browser.post_form("/t/acme/forgot", &[("csrf", &csrf), ("email", "ann@acme.test")]).await.status,
            200
        );
    }
    let admin = rp.admin();
    let entries = eventually("five reset requests recorded", Duration::from_secs(10), || async {
        let entries: Value = rp
            .app
            .get("/api/v1/audit?action=auth.password_reset_requested", &admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = entries["items"].as_array().unwrap().clone();
        (items.len() == 5).then_some(items)
    })
    .await;
    assert_eq!(entries.iter().filter(|e| e["outcome"] == "denied").count(), 2, "{entries:?}");
    rp.app.settled(&rp.tenant).await;
    assert_eq!(rp.app.mail().len(), 3, "three codes at most per account and address per 15 minutes");
}
backend_test!(reset_codes_are_limited_per_account_and_address);
