//! One relying party for the tests that need an application signing people in: a tenant
//! `acme` with the member [`MEMBER`], a client registered for [`REDIRECT`], and the
//! authorization-code flow with PKCE, walked as a browser and the application would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_domain::Role;
use cairn_identity::{NewClient, User};
use serde_json::Value;

use crate::browser::{Browser, Page, pkce};
use crate::{Backend, TestApp, TestTenant};

/// The member who signs in, and their password.
pub const MEMBER: &str = "ann@acme.test";
pub const PASSWORD: &str = "velvet orbit canyon";
/// Where the client is sent back to; nothing listens there.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// The client's registered post-logout redirect.
pub const POST_LOGOUT: &str = "http://127.0.0.1:9/bye";

/// The claims of a JWT, unverified (what a test reads from a token it was just given).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

#[derive(Debug)]
pub struct RelyingParty {
    pub app: TestApp,
    pub tenant: TestTenant,
    /// [`MEMBER`], with a permanent password.
    pub member: User,
    pub client_id: String,
    /// The client's secret, when it is confidential.
    pub secret: Option<String>,
}

impl RelyingParty {
    /// A fresh app on `backend` with the tenant, its member and a `public` or confidential
    /// client.
    pub async fn spawn(backend: Backend, public: bool) -> RelyingParty {
        RelyingParty::on(TestApp::spawn(backend).await, public).await
    }

    /// The tenant, its member and the client on `app` (spawned with the configuration a
    /// test needs).
    pub async fn on(app: TestApp, public: bool) -> RelyingParty {
        let tenant = app.create_tenant("acme").await;
        let member = app.create_user(&tenant, MEMBER, PASSWORD, &[Role::Member]).await;
        let new = NewClient {
            name: "Acme app".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_uris: vec![POST_LOGOUT.into()],
            public,
            service_role: None,
        };
        let (client_id, secret) = app.create_client(&tenant, new).await;
        RelyingParty { app, tenant, member, client_id, secret }
    }

    /// A token of one of the tenant's admins, for the API.
    pub fn admin(&self) -> String {
        self.app.token(&self.tenant, Role::Admin)
    }

    /// The authorization request the client sends a browser to, with `extra` parameters.
    pub fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut u = url::Url::parse(&self.app.url("/oauth2/authorize")).expect("the app's URL");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", REDIRECT)
                .append_pair("scope", "openid email profile");
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        u.to_string()
    }

    /// The hosted sign-in form, as `browser` opens it through an authorization request with
    /// a fresh PKCE challenge and `extra` parameters.
    pub async fn sign_in_form(&self, browser: &Browser, extra: &[(&str, &str)]) -> Page {
        let (_, challenge) = pkce();
        let mut params = vec![("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
        params.extend_from_slice(extra);
        let form = browser.get(&self.authorize_url(&params)).await;
        assert_eq!(form.status, 200, "the sign-in form: {}", form.body);
        form
    }

    /// Signs in as the member through the hosted page; returns the redirect to the client.
    pub async fn sign_in(&self, browser: &Browser, extra: &[(&str, &str)]) -> Page {
        let form = browser.get(&self.authorize_url(extra)).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let done = browser.sign_in(&form, MEMBER, PASSWORD).await;
        assert_eq!(done.status, 303, "{}", done.body);
        done
    }

    /// A code for the member, bound to the PKCE `challenge`.
    pub async fn code(&self, challenge: &str) -> String {
        let browser = Browser::new(&self.app.base_url);
        let done = self.sign_in(&browser, &[("code_challenge", challenge), ("code_challenge_method", "S256")]).await;
        done.redirect_param("code").expect("a code")
    }

    /// A request to the token endpoint with `fields`, authenticated as the client (its id,
    /// and its secret in the body when it has one).
    pub async fn token(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("client_id", &self.client_id));
        if let Some(s) = &self.secret {
            form.push(("client_secret", s));
        }
        self.app.client.post(self.app.url("/oauth2/token")).form(&form).send().await.expect("token request")
    }

    /// Exchanges `code` with its PKCE `verifier`.
    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// The member signs in, in a browser of their own: the token response (access, id and
    /// refresh tokens) of a new provider session and refresh-token family.
    pub async fn tokens(&self) -> Value {
        let (verifier, challenge) = pkce();
        let code = self.code(&challenge).await;
        let resp = self.exchange(&code, &verifier).await;
        assert_eq!(resp.status(), 200, "the code exchange");
        resp.json().await.expect("the token response")
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }
}
