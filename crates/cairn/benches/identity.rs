//! Identity throughput beside the peers teams would otherwise run, on this machine:
//!
//!   cargo bench -p cairn --bench identity
//!
//! - access-token verification per second, one thread: Cairn's `Tokens::verify_access` for a
//!   token seen before (its cache of verified tokens, plus the revocation epoch's lookup) and
//!   for a token seen first (`Tokens::token_principal`: signature and claims) against
//!   `aws-jwt-verify` (RS256, keys cached, which checks every token whole each time); goal:
//!   a token seen before at least 5× the peer;
//! - refresh-token grants per second over HTTP, with rotation: Cairn on SQLite and on
//!   PostgreSQL (each grant a durable rotation with its audit entry) against node
//!   `oidc-provider` (its default in-memory adapter), one chain and 8 concurrent chains.
//!
//! The npm peers come from `tests/peers` (scripts/test installs them). Uses
//! `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL.

use std::time::{Duration, Instant};

use cairn_domain::Role;
use cairn_identity::{NewClient, UserGrant};
use cairn_store::Backend;
use cairn_testkit::TestApp;
use cairn_testkit::browser::Browser;
use serde_json::Value;

const VERIFICATIONS: usize = 20_000;
const EPOCH_CHECKS: usize = 1_000_000;
const GRANTS: usize = 2000;
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const PASSWORD: &str = "velvet orbit canyon";

/// Access-token verifications per second, one thread: a token seen first
/// (`Tokens::token_principal`: signature and claims), and the check a request makes for a
/// token seen before (`Tokens::verify_access`: the cache of verified tokens plus the user's
/// revocation epoch, from memory).
async fn verify_rates(app: &TestApp) -> (f64, f64) {
    let acme = app.create_tenant("acme").await;
    let grant = UserGrant {
        user_id: "u1".into(),
        tenant_id: acme.id,
        tenant_slug: acme.slug.clone(),
        roles: vec![Role::Member],
        claims: serde_json::from_str(r#"{"email":"ann@acme.test","email_verified":true}"#).unwrap(),
    };
    let tokens = app.tokens();
    let token =
        tokens.issue_user_access(&grant, "c1", "openid email profile", Some("f1"), Duration::from_secs(3600)).unwrap();
    for _ in 0..2000 {
        tokens.token_principal(&token).unwrap();
        tokens.verify_access(&token).await.unwrap();
    }
    let t = Instant::now();
    for _ in 0..VERIFICATIONS {
        std::hint::black_box(tokens.token_principal(std::hint::black_box(&token)).unwrap());
    }
    let token_only = VERIFICATIONS as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..VERIFICATIONS {
        std::hint::black_box(tokens.verify_access(std::hint::black_box(&token)).await.unwrap());
    }
    let full = VERIFICATIONS as f64 / t.elapsed().as_secs_f64();
    // The epoch's part alone, too small to see beside RSA: the lookup per check.
    let cairn_domain::Principal::Member(member) = tokens.token_principal(&token).unwrap() else {
        panic!("a user's token names a tenant member")
    };
    let t = Instant::now();
    for _ in 0..EPOCH_CHECKS {
        tokens.revocations().check(std::hint::black_box(&member)).await.unwrap();
    }
    println!("revocation-epoch check: {:.0} ns", t.elapsed().as_nanos() as f64 / EPOCH_CHECKS as f64);
    (token_only, full)
}

/// A refresh token for ann, through the hosted sign-in and the code grant.
async fn refresh_token(app: &TestApp, client_id: &str, secret: &str) -> String {
    let browser = Browser::new(&app.base_url);
    let url = format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email%20profile",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let form = browser.get(&url).await;
    let done = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
    let code = done.redirect_param("code").expect("code");
    let t: Value = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["refresh_token"].as_str().unwrap().to_owned()
}

async fn grant_chains(app: &TestApp, client_id: &str, secret: &str, chains: usize, total: usize) -> f64 {
    let mut starts = Vec::new();
    for _ in 0..chains {
        starts.push(refresh_token(app, client_id, secret).await);
    }
    let t = Instant::now();
    let mut tasks = Vec::new();
    for mut token in starts {
        let (client, url, id, secret) =
            (app.client.clone(), app.url("/oauth2/token"), client_id.to_owned(), secret.to_owned());
        tasks.push(tokio::spawn(async move {
            for _ in 0..total / chains {
                let r: Value = client
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                token = r["refresh_token"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    total as f64 / t.elapsed().as_secs_f64()
}

async fn refresh_rates(backend: Backend, postgres_server: &str) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let config = cairn_testkit::fresh_config_on(dir.path(), server);
    let app = TestApp::spawn_config(backend, config, dir).await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "ann@acme.test", PASSWORD, &[Role::Member]).await;
    let (client_id, secret) = app
        .create_client(
            &acme,
            NewClient { name: "bench".into(), redirect_uris: vec![REDIRECT.into()], ..Default::default() },
        )
        .await;
    let secret = secret.unwrap();
    grant_chains(&app, &client_id, &secret, 1, 200).await;
    let sequential = grant_chains(&app, &client_id, &secret, 1, GRANTS).await;
    let concurrent = grant_chains(&app, &client_id, &secret, 8, GRANTS).await;
    app.stop().await;
    (sequential, concurrent)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (token_only, cairn_verify) = verify_rates(&app).await;
    app.stop().await;
    let peer_verify = peer("verify").await["per_second"].as_f64().unwrap();
    println!(
        "access-token verification/s: cairn, seen before {cairn_verify:>9.0} ({:.1}×, goal ≥ 5×); \
         seen first {token_only:>7.0} ({:.2}×); aws-jwt-verify {peer_verify:>7.0}",
        cairn_verify / peer_verify,
        token_only / peer_verify
    );
    let peer_refresh = peer("refresh").await;
    let (peer_seq, peer_conc) = (
        peer_refresh["sequential_per_second"].as_f64().unwrap(),
        peer_refresh["concurrent8_per_second"].as_f64().unwrap(),
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (seq, conc) = refresh_rates(backend, &url).await;
        println!(
            "refresh grants/s ({:<8}): 1 chain cairn {seq:>6.0} vs oidc-provider {peer_seq:>6.0} ({:.2}×); \
             8 chains cairn {conc:>6.0} vs {peer_conc:>6.0} ({:.2}×)",
            backend.as_str(),
            seq / peer_seq,
            conc / peer_conc
        );
    }
}

async fn peer(mode: &str) -> Value {
    let dir = cairn_testkit::peers::dir();
    let out = tokio::process::Command::new("node")
        .arg("bench.mjs")
        .arg(mode)
        .current_dir(&dir)
        .env("NODE_ENV", "production")
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "node bench.mjs {mode} failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("one JSON line")
}
