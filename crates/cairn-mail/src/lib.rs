//! Outgoing mail: one [`Mailer`] over a transport chosen by URL — `file://` (messages
//! written as `.eml` files, the default), `smtp://` (`?tls=required` for STARTTLS,
//! `?tls=opportunistic` for STARTTLS when offered, plain otherwise), `smtps://` (implicit TLS). Amazon SES is reached through its SMTP
//! interface with an `smtps://` URL. Messages are built from the templates in
//! [`templates`], each with a plain-text and an HTML part.

pub mod templates;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The address part of a [`Mailbox`].
pub use lettre::Address;
/// A sender or recipient as lettre accepts it (`a@b.c` or `Name <a@b.c>`), parsed with
/// `str::parse`.
pub use lettre::message::Mailbox;
use lettre::message::MultiPart;
use lettre::message::header::ContentType;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail_url: {0}")]
    Config(String),
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("building the message: {0}")]
    Build(String),
    #[error("sending: {0}")]
    Send(String),
}

/// Checks that `url` names a transport: `file://`, or an `smtp://`/`smtps://` URL whose
/// host, credentials and `tls` parameter the SMTP transport accepts. Nothing is contacted.
pub fn check_url(url: &Url) -> Result<(), MailError> {
    match url.scheme() {
        "file" => Ok(()),
        "smtp" | "smtps" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(MailError::Config("names no host (smtp://host:port)".into()));
            }
            let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
            if url.scheme() == "smtp"
                && let Some(tls) = tls.filter(|t| !matches!(t.as_str(), "required" | "opportunistic"))
            {
                return Err(MailError::Config(format!("tls must be required or opportunistic, not {tls:?}")));
            }
            // The builder only: a built transport owns a connection pool, which needs a runtime.
            smtp_builder(url).map(drop)
        }
        other => Err(MailError::Config(format!("unsupported scheme {other:?}; use file, smtp or smtps"))),
    }
}

fn smtp_builder(url: &Url) -> Result<AsyncSmtpTransportBuilder, MailError> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str()).map_err(|e| MailError::Config(e.to_string()))
}

/// A message ready to send: the recipient, a subject, and both bodies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A one-click unsubscribe URL: sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    pub list_unsubscribe: Option<String>,
    /// A fixed `Message-ID` (`<…@…>`), so a message sent twice is recognisably the same.
    pub message_id: Option<String>,
    /// The sender's display name in place of the configured one (the address stays the
    /// configured sender's): whom the message speaks for, such as a tenant.
    pub from_name: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// A `Message-ID` for a message whose `unique` part (what it is about, and for whom) stays the
/// same when it is sent again: `<unique@host>`, the host being the public URL's.
pub fn message_id(unique: &str, public_url: &str) -> String {
    let host = url::Url::parse(public_url).ok().and_then(|u| u.host_str().map(str::to_owned));
    format!("<{unique}@{}>", host.as_deref().unwrap_or("cairn"))
}

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type such as `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

enum Transport {
    File { transport: AsyncFileTransport<Tokio1Executor>, dir: PathBuf },
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends messages from one sender through one transport. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Arc<Transport>,
    description: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("transport", &self.description).finish()
    }
}

impl Mailer {
    /// A mailer for `url`; `file://` with no path writes under `<data_dir>/mail`.
    pub fn new(url: &Url, from: Mailbox, data_dir: &Path) -> Result<Self, MailError> {
        let (transport, description) = match url.scheme() {
            "file" => {
                let dir = if url.path().is_empty() || url.path() == "/" {
                    data_dir.join("mail")
                } else {
                    PathBuf::from(url.path())
                };
                std::fs::create_dir_all(&dir)
                    .map_err(|e| MailError::Config(format!("cannot create {}: {e}", dir.display())))?;
                let description = format!("file://{}", dir.display());
                (Transport::File { transport: AsyncFileTransport::new(&dir), dir }, description)
            }
            "smtp" | "smtps" => {
                let host = url.host_str().unwrap_or("");
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                (Transport::Smtp(smtp_builder(url)?.build()), format!("{}://{host}{port}", url.scheme()))
            }
            other => return Err(MailError::Config(format!("unsupported scheme {other:?}; use file, smtp or smtps"))),
        };
        Ok(Self { from, transport: Arc::new(transport), description })
    }

    /// The transport without credentials, for logs and `config show`.
    pub fn describe(&self) -> &str {
        &self.description
    }

    pub fn sender(&self) -> String {
        self.from.to_string()
    }

    /// Where the file transport writes, if that is the transport.
    pub fn file_dir(&self) -> Option<&Path> {
        match &*self.transport {
            Transport::File { dir, .. } => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    pub async fn send(&self, message: &Message) -> Result<(), MailError> {
        let to: Mailbox = message.to.parse().map_err(|_| MailError::Address(message.to.clone()))?;
        let from = match &message.from_name {
            Some(name) => Mailbox::new(Some(name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let mut builder = lettre::Message::builder().from(from).to(to).subject(&message.subject);
        if let Some(id) = &message.message_id {
            builder = builder.message_id(Some(id.clone()));
        }
        if let Some(url) = &message.list_unsubscribe {
            use lettre::message::header::{HeaderName, HeaderValue};
            let raw = |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
            builder = builder
                .raw_header(raw("List-Unsubscribe", format!("<{url}>")))
                .raw_header(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
        }
        let mut body = MultiPart::alternative_plain_html(message.text.clone(), message.html.clone());
        if !message.attachments.is_empty() {
            let mut mixed = MultiPart::mixed().multipart(body);
            for a in &message.attachments {
                let kind = ContentType::parse(&a.content_type)
                    .map_err(|_| MailError::Build(format!("content type {:?}", a.content_type)))?;
                mixed =
                    mixed.singlepart(lettre::message::Attachment::new(a.filename.clone()).body(a.bytes.clone(), kind));
            }
            body = mixed;
        }
        let email = builder.multipart(body).map_err(|e| MailError::Build(e.to_string()))?;
        match &*self.transport {
            Transport::File { transport, .. } => {
                transport.send(email).await.map(drop).map_err(|e| MailError::Send(e.to_string()))
            }
            Transport::Smtp(transport) => {
                transport.send(email).await.map(drop).map_err(|e| MailError::Send(e.to_string()))
            }
        }
    }
}

/// A message the file transport wrote, as `cairn mail list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMail {
    pub file: PathBuf,
    pub date: String,
    pub to: String,
    pub subject: String,
}

/// The messages in a file-transport folder, oldest first.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<StoredMail>> {
    let mut out: Vec<(std::time::SystemTime, StoredMail)> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("eml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let modified = std::fs::metadata(&path)?.modified()?;
        let header = |name: &str| {
            text.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        out.push((
            modified,
            StoredMail { date: header("Date"), to: header("To"), subject: header("Subject"), file: path },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.file.cmp(&b.1.file)));
    Ok(out.into_iter().map(|(_, m)| m).collect())
}
