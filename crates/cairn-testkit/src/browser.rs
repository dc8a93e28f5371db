//! A minimal browser for provider tests: a cookie jar, no automatic redirects, and form
//! fields read back from the HTML, so a test walks the sign-in exactly as a person would.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A response as a test reads it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The `value` of the input named `name` (hidden fields, prefilled inputs).
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\"");
        let start = self.body.find(&marker)?;
        let tag_start = self.body[..start].rfind('<')?;
        let tag_end = start + self.body[start..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let v = tag.find("value=\"")? + 7;
        let end = tag[v..].find('"')?;
        Some(html_unescape(&tag[v..v + end]))
    }

    /// The `action` of the form holding the input named `input`.
    pub fn form_action(&self, input: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{input}\""))?;
        let form = self.body[..at].rfind("<form")?;
        let tag = &self.body[form..form + self.body[form..].find('>')?];
        let a = tag.find("action=\"")? + 8;
        let end = tag[a..].find('"')?;
        Some(html_unescape(&tag[a..a + end]))
    }

    /// A query parameter of the redirect target.
    pub fn redirect_param(&self, name: &str) -> Option<String> {
        query_param(self.location.as_deref()?, name)
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A query parameter of an absolute URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use rand::RngCore;
    use sha2::Digest;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[derive(Debug)]
pub struct Browser {
    base: String,
    client: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    pub fn new(base_url: &str) -> Self {
        let client = crate::http_client().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { base: base_url.to_owned(), client, jar: Mutex::new(BTreeMap::new()) }
    }

    /// A browser whose requests come from `address`, as a proxy trusted by an app with
    /// `trust_proxy_headers` reports it (`X-Forwarded-For`).
    pub fn at_address(base_url: &str, address: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().expect("an address"));
        let client = crate::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("client");
        Self { base: base_url.to_owned(), client, jar: Mutex::new(BTreeMap::new()) }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") { url.to_owned() } else { format!("{}{url}", self.base) }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("jar").get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.lock().expect("jar").insert(name.into(), value.into());
    }

    pub fn clear_cookies(&self) {
        self.jar.lock().expect("jar").clear();
    }

    async fn send(&self, url: &str, req: reqwest::RequestBuilder) -> Page {
        let cookies: Vec<String> = self.jar.lock().expect("jar").iter().map(|(k, v)| format!("{k}={v}")).collect();
        let req = if cookies.is_empty() { req } else { req.header("cookie", cookies.join("; ")) };
        let resp = req.send().await.expect("request");
        for v in resp.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap_or_default();
            let Some((pair, attrs)) = text.split_once(';').or(Some((text, ""))) else { continue };
            let Some((k, val)) = pair.split_once('=') else { continue };
            let mut jar = self.jar.lock().expect("jar");
            if attrs.contains("Max-Age=0") {
                jar.remove(k.trim());
            } else {
                jar.insert(k.trim().into(), val.trim().into());
            }
        }
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        // A relative Location resolves against the URL that answered (any host).
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url::Url::parse(url).ok()?.join(l).ok())
            .map(|u| u.to_string());
        let body = resp.text().await.unwrap_or_default();
        Page { status, location, headers, body }
    }

    pub async fn get(&self, url: &str) -> Page {
        let url = self.absolute(url);
        self.send(&url, self.client.get(&url)).await
    }

    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let url = self.absolute(url);
        self.send(&url, self.client.post(&url).form(fields)).await
    }

    /// Follows redirects within Cairn (same base URL) until a page or a redirect elsewhere.
    pub async fn follow(&self, mut page: Page) -> Page {
        for _ in 0..10 {
            match &page.location {
                Some(l) if l.starts_with(&self.base) && (300..400).contains(&page.status) => {
                    let l = l.clone();
                    page = self.get(&l).await;
                }
                _ => break,
            }
        }
        page
    }

    /// Follows redirects to any host until a page, or a redirect to a URL starting with
    /// `stop` (an application's redirect URI, which nothing serves in tests).
    pub async fn follow_until(&self, mut page: Page, stop: &str) -> Page {
        for _ in 0..20 {
            match &page.location {
                Some(l) if !l.starts_with(stop) && (300..400).contains(&page.status) => {
                    let l = l.clone();
                    page = self.get(&l).await;
                }
                _ => break,
            }
        }
        page
    }

    /// Signs in to the web UI of the organization `slug` as a person does: its sign-in
    /// link, the provider's hosted form, back through the callback. Returns the first page
    /// after signing in.
    pub async fn web_sign_in(&self, slug: &str, email: &str, password: &str) -> Page {
        let start = self.get(&format!("/t/{slug}/")).await;
        assert_eq!(start.status, 303, "/t/{slug}/ starts the sign-in: {}", start.body);
        let form = self.follow(start).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let done = self.sign_in(&form, email, password).await;
        assert_eq!(done.status, 303, "{email} signs in to {slug}: {}", done.body);
        let page = self.follow(done).await;
        assert_eq!(page.status, 200, "the first page after signing in: {}", page.body);
        page
    }

    /// Submits the sign-in form on `page` with `email` and `password`, to the form's
    /// action (under the tenant's path, where the device cookie is sent).
    pub async fn sign_in(&self, page: &Page, email: &str, password: &str) -> Page {
        let request = page.input("request").expect("sign-in form has its request");
        let csrf = page.input("csrf").expect("sign-in form has a CSRF token");
        let action = page.form_action("password").expect("sign-in form has an action");
        self.post_form(&action, &[("request", &request), ("csrf", &csrf), ("email", email), ("password", password)])
            .await
    }
}
