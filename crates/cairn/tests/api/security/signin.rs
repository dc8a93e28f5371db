//! Attacks on sign-in, password hashing, lockout, reset codes and the audit trail: one
//! section per finding.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_domain::Role;
use cairn_testkit::browser::{Browser, Page};
use cairn_testkit::rp::{PASSWORD, RelyingParty};
use cairn_testkit::{Backend, TestApp, backend_test, eventually, mail};
use serde_json::Value;

/// The relying party, with client addresses taken from `X-Forwarded-For` so that a test can
/// speak from several addresses.
async fn setup_behind_proxy(backend: cairn_testkit::Backend) -> RelyingParty {
    RelyingParty::on(TestApp::spawn_with(backend, |c| c.trust_proxy_headers = true).await, true).await
}

/// The hosted sign-in form, as `browser` opens it (asking for the password even when the
/// browser is signed in).
async fn sign_in_form(rp: &RelyingParty, browser: &Browser) -> Page {
    rp.sign_in_form(browser, &[("prompt", "login")]).await
}

/// Signs in with each password of `passwords` at once, all from `browser`'s form.
async fn race(browser: &Arc<Browser>, form: &Page, email: &str, passwords: Vec<String>) -> Vec<Page> {
    let form =
        Arc::new(Page { status: form.status, location: None, headers: form.headers.clone(), body: form.body.clone() });
    let mut tasks = tokio::task::JoinSet::new();
    for password in passwords {
        let (browser, form, email) = (browser.clone(), form.clone(), email.to_owned());
        tasks.spawn(async move { browser.sign_in(&form, &email, &password).await });
    }
    let mut pages = Vec::new();
    while let Some(page) = tasks.join_next().await {
        pages.push(page.expect("sign-in task"));
    }
    pages
}

fn statuses(pages: &[Page], status: u16) -> usize {
    pages.iter().filter(|p| p.status == status).count()
}

async fn audit(rp: &RelyingParty, action: &str) -> Vec<Value> {
    let admin = rp.admin();
    let resp = rp.app.get(&format!("/api/v1/audit?action={action}&limit=200"), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

/// Counts `failures` failed sign-ins for `email` as already made (the delays between them
/// are not worth waiting out in a test), the last one now.
async fn failures_so_far(rp: &RelyingParty, email: &str, failures: i64) {
    let (_, db) = rp.app.tenant(&rp.tenant).await;
    cairn_store::sqlx::query(
        "INSERT INTO login_throttle (key, failures, last_failure, blocked_until) VALUES ($1, $2, $3, 0)",
    )
    .bind(format!("acct:{email}"))
    .bind(failures)
    .bind(cairn_domain::now_ms())
    .execute(db.writer())
    .await
    .unwrap();
}

// --- Finding 2: throttling holds under concurrency.

async fn thirty_parallel_wrong_passwords_get_exactly_five_password_checks(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Arc::new(Browser::new(&rp.app.base_url));
    let form = sign_in_form(&rp, &browser).await;
    let checks_before = rp.app.identity.argon2.completed();
    let pages = race(&browser, &form, "ann@acme.test", vec!["not the password".to_owned(); 30]).await;
    // Five free failures are reserved before any password is checked; the sixth finds the
    // account delayed, whatever the interleaving.
    assert_eq!(statuses(&pages, 401), 5, "{:?}", pages.iter().map(|p| p.status).collect::<Vec<_>>());
    assert_eq!(statuses(&pages, 429), 25);
    assert!(pages.iter().filter(|p| p.status == 429).all(|p| p.headers.contains_key("retry-after")));
    assert_eq!(rp.app.identity.argon2.completed() - checks_before, 5, "exactly five password checks");
}
backend_test!(thirty_parallel_wrong_passwords_get_exactly_five_password_checks);

async fn at_the_limit_thirty_parallel_attempts_with_the_right_password_all_fail(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Arc::new(Browser::new(&rp.app.base_url));
    let form = sign_in_form(&rp, &browser).await;
    // Nine failures counted; the tenth, for real, pauses the account.
    failures_so_far(&rp, "ann@acme.test", 9).await;
    assert_eq!(browser.sign_in(&form, "ann@acme.test", "not the password").await.status, 401);
    let checks_before = rp.app.identity.argon2.completed();
    let passwords = (0..30).map(|i| if i % 2 == 0 { PASSWORD.to_owned() } else { format!("guess {i}") }).collect();
    let pages = race(&browser, &form, "ann@acme.test", passwords).await;
    assert_eq!(statuses(&pages, 429), 30, "no attempt gets through, not even the right password");
    assert_eq!(statuses(&pages, 303), 0);
    // Each says when to come back: the pause's end, or (shed while the hashing queue was
    // full) a second.
    let retry: Vec<u64> = pages.iter().map(|p| p.headers["retry-after"].to_str().unwrap().parse().unwrap()).collect();
    assert!(retry.iter().all(|&s| s > 800 || s == 1), "{retry:?}");
    assert!(retry.iter().any(|&s| s > 800), "{retry:?}");
    assert_eq!(rp.app.identity.argon2.completed(), checks_before, "no password was checked");
}
backend_test!(at_the_limit_thirty_parallel_attempts_with_the_right_password_all_fail);

// --- Finding 3: hashing off the async workers, shedding beyond the queue.

async fn healthz_answers_while_two_hundred_sign_ins_storm(backend: Backend) {
    let rp = setup_behind_proxy(backend).await;
    let app = &rp.app;
    let browser = Browser::new(&app.base_url);
    let form = sign_in_form(&rp, &browser).await;
    let (request, csrf) = (form.input("request").unwrap(), form.input("csrf").unwrap());
    // The form's token is bound to this browser's CSRF cookie, which every storm client sends.
    let csrf_cookie = browser.cookie("cairn_csrf").expect("the sign-in form sets its CSRF cookie");
    let probe = cairn_testkit::http_client().build().unwrap();
    // 500 health probes, one every 5 ms, each answered. How fast they are answered under
    // the storm is measured by `cargo bench -p cairn --bench signin_storm`, against the
    // same probes on an idle server: a timing depends on the machine, not on the code alone.
    let probes = || async {
        let mut every = tokio::time::interval(Duration::from_millis(5));
        for _ in 0..500 {
            every.tick().await;
            let resp = probe.get(app.url("/healthz")).send().await.unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut storm = tokio::task::JoinSet::new();
    let client = cairn_testkit::http_client().build().unwrap();
    for i in 0..200u32 {
        let (url, stop, client, started) = (app.url("/t/acme/signin"), stop.clone(), client.clone(), started.clone());
        let (request, csrf, csrf_cookie) = (request.clone(), csrf.clone(), csrf_cookie.clone());
        storm.spawn(async move {
            // Each storm client has its own address and unknown email: no throttle applies,
            // every sign-in it gets in costs an argon2 verification.
            let (mut answered, mut shed) = (0u32, 0u32);
            let mut n = 0u32;
            // Clients arrive over the first second, as a crowd does, not in one instant.
            tokio::time::sleep(Duration::from_millis(u64::from(i) * 5)).await;
            started.fetch_add(1, Ordering::Relaxed);
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let email = format!("storm{i}-{n}@acme.test");
                let resp = client
                    .post(&url)
                    .header("cookie", format!("cairn_csrf={csrf_cookie}"))
                    .header("x-forwarded-for", format!("10.{}.{}.{}", i / 250, i % 250, n % 250))
                    .form(&[
                        ("request", request.as_str()),
                        ("csrf", &csrf),
                        ("email", &email),
                        ("password", "storm guess"),
                    ])
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    401 => answered += 1,
                    429 => {
                        shed += 1;
                        let retry = resp.headers().get("retry-after").expect("a shed sign-in says when to retry");
                        let secs: u64 = retry.to_str().unwrap().parse().unwrap();
                        assert!(secs >= 1);
                        // A well-behaved client comes back when told to, with some jitter.
                        let jitter = rand::random::<u64>() % 1000;
                        tokio::time::sleep(Duration::from_millis(secs * 1000 + jitter)).await;
                    }
                    other => panic!("storm sign-in answered {other}"),
                }
            }
            (answered, shed)
        });
    }
    // The storm is on once every client has arrived and the hashing queue is full.
    eventually("the whole storm", Duration::from_secs(30), || async {
        (started.load(Ordering::Relaxed) == 200 && app.identity.argon2.saturated()).then_some(())
    })
    .await;
    let checks_at_start = app.identity.argon2.completed();
    probes().await;
    let checks_during = app.identity.argon2.completed() - checks_at_start;
    stop.store(true, Ordering::Relaxed);
    let (mut answered, mut shed) = (0, 0);
    while let Some(r) = storm.join_next().await {
        let (a, s) = r.expect("storm client");
        answered += a;
        shed += s;
    }
    println!("{checks_during} hashes during the probes, {answered} sign-ins answered, {shed} shed");
    assert!(shed > 0, "the storm overflowed the hashing queue");
    assert!(answered > 0, "sign-ins were answered during the storm");
    assert!(checks_during > 0, "passwords were being hashed while health was probed");
}
backend_test!(healthz_answers_while_two_hundred_sign_ins_storm);

async fn a_shed_api_call_gets_the_rate_limited_body_with_retry_after(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    // Every place in the hashing queue taken: the next hash is refused at once.
    let mut held = Vec::new();
    while let Ok(a) = app.identity.argon2.admit() {
        held.push(a);
    }
    let resp = app
        .post("/api/v1/users", &admin, &serde_json::json!({"email": "cy@acme.test", "roles": ["member"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(crate::error_code(resp).await, "RATE_LIMITED");
    drop(held);
    let resp = app
        .post("/api/v1/users", &admin, &serde_json::json!({"email": "cy@acme.test", "roles": ["member"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "nothing was created by the refused call");
}
backend_test!(a_shed_api_call_gets_the_rate_limited_body_with_retry_after);

async fn a_shed_sign_in_gets_a_429_page_with_retry_after(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let form = sign_in_form(&rp, &browser).await;
    let held: Vec<_> = std::iter::from_fn(|| rp.app.identity.argon2.admit().ok()).collect();
    let page = browser.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert_eq!(page.headers["retry-after"], "1");
    assert!(page.body.contains("again in a moment"), "{}", page.body);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    drop(held);
    // Nothing was counted against the account: the next attempt signs in.
    assert_eq!(browser.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 303);
}
backend_test!(a_shed_sign_in_gets_a_429_page_with_retry_after);

// --- Finding 4: an attacker cannot lock the owner out.

async fn an_attacker_elsewhere_cannot_lock_out_the_owners_browser(backend: Backend) {
    let rp = setup_behind_proxy(backend).await;
    let owner = Browser::at_address(&rp.app.base_url, "192.0.2.10");
    let form = sign_in_form(&rp, &owner).await;
    let done = owner.sign_in(&form, "ann@acme.test", PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let cookie = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("cairn_device="))
        .expect("a device cookie at sign-in");
    assert!(
        cookie.contains("Path=/t/acme/") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(cookie.contains(&format!("Max-Age={}", 90 * 86_400)), "{cookie}");

    // The attacker, from another address, fails ten times and more (nine counted here, the
    // delays between them are not worth waiting out).
    let attacker = Browser::at_address(&rp.app.base_url, "198.51.100.66");
    let attack_form = sign_in_form(&rp, &attacker).await;
    failures_so_far(&rp, "ann@acme.test", 9).await;
    assert_eq!(attacker.sign_in(&attack_form, "ann@acme.test", "guess 10").await.status, 401);
    for i in 11..15 {
        let page = attacker.sign_in(&attack_form, "ann@acme.test", &format!("guess {i}")).await;
        assert_eq!(page.status, 429, "the account is paused for unrecognised browsers");
    }
    // A forged device cookie is no way around the pause.
    attacker.set_cookie("cairn_device", &cairn_domain::random_token(32));
    assert_eq!(attacker.sign_in(&attack_form, "ann@acme.test", PASSWORD).await.status, 429);

    // The owner's browser signs in, and its cookie is replaced by a new one — even with a
    // more specific cookie of the same name planted beside it and sent first.
    let before = owner.cookie("cairn_device").unwrap();
    owner.set_cookie("cairn_device", &format!("{}; cairn_device={before}", cairn_domain::random_token(32)));
    let form = sign_in_form(&rp, &owner).await;
    assert_eq!(owner.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 303, "the owner's browser gets through");
    assert_ne!(owner.cookie("cairn_device").unwrap(), before);

    // The owner's other, unrecognised browser elsewhere is paused like any other.
    let elsewhere = Browser::at_address(&rp.app.base_url, "203.0.113.7");
    let form = sign_in_form(&rp, &elsewhere).await;
    assert_eq!(elsewhere.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 429);
    // The old device token was retired when the owner signed in again.
    elsewhere.set_cookie("cairn_device", &before);
    assert_eq!(elsewhere.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 429);

    // The owner is told.
    rp.app.mail_to("ann@acme.test", "is paused").await;
}
backend_test!(an_attacker_elsewhere_cannot_lock_out_the_owners_browser);

async fn a_recognised_browser_is_throttled_on_its_own(backend: Backend) {
    let rp = setup_behind_proxy(backend).await;
    let owner = Browser::at_address(&rp.app.base_url, "192.0.2.10");
    let form = sign_in_form(&rp, &owner).await;
    assert_eq!(owner.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 303);
    let form = sign_in_form(&rp, &owner).await;
    let pages: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..6 {
            v.push(owner.sign_in(&form, "ann@acme.test", "mistyped password").await.status);
        }
        v
    };
    assert_eq!(pages, [401, 401, 401, 401, 401, 429], "the device has five free failures, then delays");
    // Those failures were the device's, not the account's: another browser is not delayed.
    let other = Browser::at_address(&rp.app.base_url, "192.0.2.11");
    let form = sign_in_form(&rp, &other).await;
    assert_eq!(other.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 303);
}
backend_test!(a_recognised_browser_is_throttled_on_its_own);

async fn one_address_is_held_by_a_higher_ceiling_across_accounts(backend: Backend) {
    let rp = setup_behind_proxy(backend).await;
    let sprayer = Browser::at_address(&rp.app.base_url, "198.51.100.9");
    let form = sign_in_form(&rp, &sprayer).await;
    for i in 0..50 {
        assert_eq!(sprayer.sign_in(&form, &format!("user{i}@acme.test"), "Summer2026!").await.status, 401);
    }
    assert_eq!(sprayer.sign_in(&form, "user50@acme.test", "Summer2026!").await.status, 429);
    // Another address of the same network is not held by it.
    let neighbour = Browser::at_address(&rp.app.base_url, "198.51.100.10");
    let form = sign_in_form(&rp, &neighbour).await;
    assert_eq!(neighbour.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 303);
}
backend_test!(one_address_is_held_by_a_higher_ceiling_across_accounts);

// --- Finding 5: reset codes resist guessing.

async fn ask_for_code(browser: &Browser, email: &str) {
    let csrf = browser.get("/t/acme/forgot").await.input("csrf").unwrap();
    assert_eq!(browser.post_form("/t/acme/forgot", &[("csrf", &csrf), ("email", email)]).await.status, 200);
}

/// The code in the newest reset mail.
fn reset_code(app: &TestApp) -> Option<String> {
    app.mail().iter().rev().find(|m| m.contains("password reset code")).and_then(|m| mail::reset_code(m))
}

/// Waits for a reset mail whose code is not `after`; the code.
async fn next_code(app: &TestApp, after: Option<&str>) -> String {
    eventually("a reset code", Duration::from_secs(10), || async {
        reset_code(app).filter(|c| Some(c.as_str()) != after)
    })
    .await
}

async fn try_code(browser: &Browser, email: &str, code: &str, new_password: &str) -> Page {
    let csrf = browser.get("/t/acme/reset").await.input("csrf").unwrap();
    browser
        .post_form(
            "/t/acme/reset",
            &[("csrf", &csrf), ("email", email), ("code", code), ("new_password", new_password)],
        )
        .await
}

async fn reset_codes_are_long_keyed_and_limited_per_code(backend: Backend) {
    let rp = setup_behind_proxy(backend).await;
    let owner = Browser::at_address(&rp.app.base_url, "192.0.2.10");
    ask_for_code(&owner, "ann@acme.test").await;
    let code = next_code(&rp.app, None).await;
    assert_eq!(code.len(), 9, "eight symbols, grouped: {code}");

    // Stored as HMAC-SHA256 under a key derived from the master key, not as a plain digest.
    let (_, db) = rp.app.tenant(&rp.tenant).await;
    let ann =
        rp.app.identity.user_by_email(&db, &cairn_identity::Email::parse("ann@acme.test").unwrap()).await.unwrap();
    let stored: String = cairn_store::sqlx::query_scalar("SELECT code_hash FROM reset_codes WHERE user_id = $1")
        .bind(&ann.id)
        .fetch_one(db.reader())
        .await
        .unwrap();
    let canonical = code.replace('-', "");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let plain = hex(ring::digest::digest(&ring::digest::SHA256, format!("{}:{canonical}", ann.id).as_bytes()).as_ref());
    assert_ne!(stored, plain);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &rp.app.store.master_key().derive("identity/reset-codes"));
    let keyed = ring::hmac::sign(&key, format!("{}:{canonical}", ann.id).as_bytes());
    assert_eq!(stored, base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, keyed.as_ref()));

    // The attacker asks for codes too: three are sent from their address, the fourth is
    // refused; none of them replaces the owner's.
    let attacker = Browser::at_address(&rp.app.base_url, "198.51.100.66");
    for _ in 0..4 {
        ask_for_code(&attacker, "ann@acme.test").await;
    }
    eventually("the attacker's requests handled", Duration::from_secs(10), || async {
        (audit(&rp, "auth.password_reset_requested").await.len() == 5).then_some(())
    })
    .await;
    rp.app.settled(&rp.tenant).await;
    assert_eq!(rp.app.mail().len(), 4, "three codes per account and address per 15 minutes");

    // Five wrong guesses void every live code, even for the right one after them.
    for guess in ["AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD", "EEEE-EEEE"] {
        assert_eq!(try_code(&attacker, "ann@acme.test", guess, "quartz meadow falcon").await.status, 400);
    }
    assert_eq!(try_code(&owner, "ann@acme.test", &code, "quartz meadow falcon").await.status, 400, "the code is void");

    // The owner asks again and gets a fresh code, with no guesses counted against it; a
    // code the attacker asks for from yet another address afterwards does not replace it.
    let last = reset_code(&rp.app);
    ask_for_code(&owner, "ann@acme.test").await;
    let fresh = next_code(&rp.app, last.as_deref()).await;
    let elsewhere = Browser::at_address(&rp.app.base_url, "198.51.100.67");
    ask_for_code(&elsewhere, "ann@acme.test").await;
    next_code(&rp.app, Some(&fresh)).await;
    // Typed in lower case without the dash.
    let typed = fresh.replace('-', "").to_lowercase();
    let done = try_code(&owner, "ann@acme.test", &typed, "quartz meadow falcon").await;
    assert_eq!(done.status, 200, "{}", done.body);
    let form = sign_in_form(&rp, &owner).await;
    assert_eq!(owner.sign_in(&form, "ann@acme.test", "quartz meadow falcon").await.status, 303);
}
backend_test!(reset_codes_are_long_keyed_and_limited_per_code);

async fn others_using_up_the_accounts_codes_do_not_hold_the_owners_browser(backend: Backend) {
    let rp = setup_behind_proxy(backend).await;
    let owner = Browser::at_address(&rp.app.base_url, "192.0.2.10");
    let form = sign_in_form(&rp, &owner).await;
    assert_eq!(owner.sign_in(&form, "ann@acme.test", PASSWORD).await.status, 303, "the owner's browser is recognised");
    // Four addresses ask three times each: ten codes are sent, then the account is capped.
    for a in 0..4 {
        let attacker = Browser::at_address(&rp.app.base_url, &format!("198.51.100.{}", 80 + a));
        for _ in 0..3 {
            ask_for_code(&attacker, "ann@acme.test").await;
        }
    }
    let handled = |n: usize| {
        let rp = &rp;
        async move {
            eventually("the reset requests handled", Duration::from_secs(10), || async {
                (audit(rp, "auth.password_reset_requested").await.len() == n).then_some(())
            })
            .await
        }
    };
    handled(12).await;
    rp.app.settled(&rp.tenant).await;
    assert_eq!(rp.app.mail().len(), 10, "ten codes per account per 15 minutes");
    let stranger = Browser::at_address(&rp.app.base_url, "198.51.100.99");
    ask_for_code(&stranger, "ann@acme.test").await;
    handled(13).await;
    rp.app.settled(&rp.tenant).await;
    assert_eq!(rp.app.mail().len(), 10, "an unrecognised browser is held by the cap");
    // The owner's browser is not.
    let last = reset_code(&rp.app);
    ask_for_code(&owner, "ann@acme.test").await;
    let fresh = next_code(&rp.app, last.as_deref()).await;
    let done = try_code(&owner, "ann@acme.test", &fresh, "quartz meadow falcon").await;
    assert_eq!(done.status, 200, "{}", done.body);
}
backend_test!(others_using_up_the_accounts_codes_do_not_hold_the_owners_browser);

async fn reset_code_guesses_are_limited_per_address_across_accounts(backend: Backend) {
    let rp = setup_behind_proxy(backend).await;
    for i in 0..10 {
        rp.app.create_user(&rp.tenant, &format!("u{i}@acme.test"), PASSWORD, &[Role::Member]).await;
    }
    let guesser = Browser::at_address(&rp.app.base_url, "198.51.100.77");
    for i in 0..10 {
        let page = try_code(&guesser, &format!("u{i}@acme.test"), "ABCD-EFGH", "quartz meadow falcon").await;
        assert_eq!(page.status, 400);
    }
    let page = try_code(&guesser, "ann@acme.test", "ABCD-EFGH", "quartz meadow falcon").await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.headers.get("retry-after").is_some_and(|v| v.to_str().unwrap().parse::<u64>().unwrap() > 800));
    // The owner, elsewhere, still resets with a real code.
    let owner = Browser::at_address(&rp.app.base_url, "192.0.2.10");
    ask_for_code(&owner, "ann@acme.test").await;
    let code = next_code(&rp.app, None).await;
    assert_eq!(try_code(&owner, "ann@acme.test", &code, "quartz meadow falcon").await.status, 200);
}
backend_test!(reset_code_guesses_are_limited_per_address_across_accounts);

async fn a_reset_for_an_unknown_email_does_the_same_work(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let before = rp.app.identity.argon2.completed();
    assert_eq!(try_code(&browser, "nobody@acme.test", "ABCD-EFGH", "quartz meadow falcon").await.status, 400);
    let unknown = rp.app.identity.argon2.completed() - before;
    let before = rp.app.identity.argon2.completed();
    let known = try_code(&browser, "ann@acme.test", "ABCD-EFGH", "quartz meadow falcon").await;
    assert_eq!(known.status, 400);
    assert_eq!((unknown, rp.app.identity.argon2.completed() - before), (1, 1), "one argon2 hash each");
    let failed = audit(&rp, "auth.password_reset_failed").await;
    assert_eq!(failed.len(), 2, "both recorded, the same way: {failed:?}");
    assert_eq!(failed[0]["details"]["attempted"]["email"], "ann@acme.test");
    assert_eq!(failed[1]["details"]["attempted"]["email"], "nobody@acme.test");
}
backend_test!(a_reset_for_an_unknown_email_does_the_same_work);

// --- Finding 7: failed sign-ins cannot flood the audit trail.

async fn failed_sign_ins_are_audited_at_most_ten_per_account_and_address_a_minute(backend: Backend) {
    let rp = RelyingParty::spawn(backend, true).await;
    let browser = Browser::new(&rp.app.base_url);
    let form = sign_in_form(&rp, &browser).await;
    // Start early in a minute, so that the flood below falls in one.
    eventually("the start of a minute", Duration::from_secs(61), || async {
        (cairn_domain::now_ms() % 60_000 < 30_000).then_some(())
    })
    .await;
    for i in 0..25 {
        let status = browser.sign_in(&form, "ghost@acme.test", &format!("guess {i}")).await.status;
        assert!(status == 401 || status == 429);
    }
    let entries = audit(&rp, "auth.login_failed").await;
    assert_eq!(entries.len(), 10, "{entries:?}");
    assert_eq!(entries[0]["details"]["further_failures_this_minute"], "counted, not recorded");
    // The pair's first entry of a later minute says how many went unrecorded.
    let (_, db) = rp.app.tenant(&rp.tenant).await;
    cairn_store::sqlx::query("UPDATE audit_caps SET minute = minute - 1").execute(db.writer()).await.unwrap();
    browser.sign_in(&form, "ghost@acme.test", "one more").await;
    let entries = audit(&rp, "auth.login_failed").await;
    assert_eq!(entries.len(), 11);
    assert_eq!(entries[0]["details"]["not_recorded_before"], 15);
    // Another account from the same address has its own allowance.
    browser.sign_in(&form, "ann@acme.test", "wrong").await;
    assert_eq!(audit(&rp, "auth.login_failed").await.len(), 12);
}
backend_test!(failed_sign_ins_are_audited_at_most_ten_per_account_and_address_a_minute);
