//! The messages Cairn sends, each rendered from a plain-text and an HTML template.

use askama::Template;

use crate::{MailError, Message};

/// Who the message speaks for: the organization's display name and accent colour
/// (a `#rrggbb` value, checked when the tenant's branding is saved).
#[derive(Debug, Clone)]
pub struct Branding {
    pub org: String,
    pub accent: String,
}

macro_rules! mail_template {
    ($text:ident = $tpath:literal, $html:ident = $hpath:literal, { $($field:ident: $ty:ty),* }) => {
        #[derive(Template)]
        #[template(path = $tpath)]
        struct $text<'a> { org: &'a str, $($field: $ty),* }

        #[derive(Template)]
        #[template(path = $hpath)]
        struct $html<'a> { org: &'a str, accent: &'a str, subject: &'a str, $($field: $ty),* }
    };
}

mail_template!(InvitationText = "invitation.txt", InvitationHtml = "invitation.html", { email: &'a str, password: &'a str, link: &'a str, valid_days: u32 });
mail_template!(ResetText = "reset_code.txt", ResetHtml = "reset_code.html", { email: &'a str, code: &'a str, link: &'a str });
mail_template!(PublishText = "publish_notice.txt", PublishHtml = "publish_notice.html", { title: &'a str, version: i64, publisher: &'a str, note: &'a str, link: &'a str, unsubscribe: &'a str });
mail_template!(ReportText = "report.txt", ReportHtml = "report.html", { title: &'a str, what: &'a str, period: &'a str, pages: i64, attached: bool, link: &'a str, link_until: &'a str, schedule: &'a str, unsubscribe: &'a str });
mail_template!(LockoutText = "lockout.txt", LockoutHtml = "lockout.html", { email: &'a str, failures: u32, minutes: u32, link: &'a str });

fn message(
    to: &str,
    subject: String,
    text: askama::Result<String>,
    html: askama::Result<String>,
) -> Result<Message, MailError> {
    Ok(Message {
        to: to.to_owned(),
        subject,
        text: text.map_err(|e| MailError::Build(e.to_string()))?,
        html: html.map_err(|e| MailError::Build(e.to_string()))?,
        ..Message::default()
    })
}

/// A new user's invitation with their temporary password.
pub fn invitation(b: &Branding, to: &str, password: &str, link: &str, valid_days: u32) -> Result<Message, MailError> {
    let subject = format!("Your {} account", b.org);
    let text = InvitationText { org: &b.org, email: to, password, link, valid_days }.render();
    let html =
        InvitationHtml { org: &b.org, accent: &b.accent, subject: &subject, email: to, password, link, valid_days }
            .render();
    message(to, subject, text, html)
}

/// A single-use password-reset code.
pub fn reset_code(b: &Branding, to: &str, code: &str, link: &str) -> Result<Message, MailError> {
    let subject = format!("Your {} password reset code", b.org);
    let text = ResetText { org: &b.org, email: to, code, link }.render();
    let html = ResetHtml { org: &b.org, accent: &b.accent, subject: &subject, email: to, code, link }.render();
    message(to, subject, text, html)
}

/// Tells an account's owner that sign-in is paused after repeated failures.
pub fn lockout(b: &Branding, to: &str, failures: u32, minutes: u32, link: &str) -> Result<Message, MailError> {
    let subject = format!("Sign-in to your {} account is paused", b.org);
    let text = LockoutText { org: &b.org, email: to, failures, minutes, link }.render();
    let html =
        LockoutHtml { org: &b.org, accent: &b.accent, subject: &subject, email: to, failures, minutes, link }.render();
    message(to, subject, text, html)
}

/// What a publish notice says: the record, its new version, who published it, and why.
#[derive(Debug, Clone)]
pub struct PublishNotice<'a> {
    pub title: &'a str,
    pub version: i64,
    pub publisher: &'a str,
    pub note: &'a str,
    pub link: &'a str,
    /// The one-click unsubscribe address (also sent as `List-Unsubscribe`).
    pub unsubscribe: &'a str,
}

/// Tells a subscriber that a record was published, with a one-click unsubscribe
/// (RFC 8058: `List-Unsubscribe` and `List-Unsubscribe-Post`).
pub fn publish_notice(b: &Branding, to: &str, n: &PublishNotice<'_>) -> Result<Message, MailError> {
    let subject = format!("Published: {} (version {})", n.title, n.version);
    let PublishNotice { title, version, publisher, note, link, unsubscribe } = *n;
    let text = PublishText { org: &b.org, title, version, publisher, note, link, unsubscribe }.render();
    let html = PublishHtml {
        org: &b.org,
        accent: &b.accent,
        subject: &subject,
        title,
        version,
        publisher,
        note,
        link,
        unsubscribe,
    }
    .render();
    let mut m = message(to, subject, text, html)?;
    m.list_unsubscribe = Some(unsubscribe.to_owned());
    Ok(m)
}

/// A scheduled report, sent to one recipient.
#[derive(Debug, Clone)]
pub struct ReportNotice<'a> {
    /// The report's title (`Team engineering report — Platform`).
    pub title: &'a str,
    /// What kind of report, in words (`team engineering report`).
    pub what: &'a str,
    /// The period it covers, in words.
    pub period: &'a str,
    pub pages: i64,
    /// The PDF, when it is attached; the message links to it either way.
    pub pdf: Option<crate::Attachment>,
    pub link: &'a str,
    /// Until when the link works, in words.
    pub link_until: &'a str,
    /// The schedule, in words (`0 7 * * MON, last_week`).
    pub schedule: &'a str,
    /// The one-click unsubscribe address (also sent as `List-Unsubscribe`).
    pub unsubscribe: &'a str,
}

/// A scheduled report for one recipient, from the organization's name, with a one-click
/// unsubscribe (RFC 8058).
pub fn report(b: &Branding, to: &str, n: ReportNotice<'_>) -> Result<Message, MailError> {
    let subject = format!("{}: {}", n.title, n.period);
    let ReportNotice { title, what, period, pages, link, link_until, schedule, unsubscribe, .. } = n;
    let attached = n.pdf.is_some();
    let text =
        ReportText { org: &b.org, title, what, period, pages, attached, link, link_until, schedule, unsubscribe }
            .render();
    let html = ReportHtml {
        org: &b.org,
        accent: &b.accent,
        subject: &subject,
        title,
        what,
        period,
        pages,
        attached,
        link,
        link_until,
        schedule,
        unsubscribe,
    }
    .render();
    let mut m = message(to, subject, text, html)?;
    m.list_unsubscribe = Some(unsubscribe.to_owned());
    m.from_name = Some(b.org.clone());
    m.attachments = n.pdf.into_iter().collect();
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_part_escapes_and_text_part_does_not() {
        let b = Branding { org: "Acme <Labs>".into(), accent: "#2563eb".into() };
        let m = invitation(&b, "ann@example.com", "p&ss<word>", "http://localhost/t/acme", 7).unwrap();
        assert!(m.html.contains("Acme &#60;Labs&#62;") || m.html.contains("Acme &lt;Labs&gt;"), "{}", m.html);
        assert!(!m.html.contains("p&ss<word>"));
        assert!(m.text.contains("Your temporary password is: p&ss<word>"));
        assert!(m.text.contains("Acme <Labs>"));
        assert_eq!(m.subject, "Your Acme <Labs> account");
    }

    #[tokio::test]
    async fn file_transport_writes_messages_that_list_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let from = "Cairn <no-reply@localhost>".parse().unwrap();
        let mailer = crate::Mailer::new(&"file://".parse().unwrap(), from, dir.path()).unwrap();
        let b = Branding { org: "Acme".into(), accent: "#2563eb".into() };
        mailer.send(&reset_code(&b, "ann@example.com", "123456", "http://x/reset").unwrap()).await.unwrap();
        let listed = crate::list_files(&dir.path().join("mail")).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].to, "ann@example.com");
        assert_eq!(listed[0].subject, "Your Acme password reset code");
        let raw = std::fs::read_to_string(&listed[0].file).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
    }

    #[test]
    fn unknown_scheme_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let ftp = "ftp://x".parse().unwrap();
        let err = crate::Mailer::new(&ftp, "no-reply@localhost".parse().unwrap(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("unsupported scheme"), "{err}");
        assert!(crate::check_url(&ftp).is_err());
    }

    #[test]
    fn check_url_accepts_what_the_transports_take_and_nothing_else() {
        for good in [
            "file://",
            "file:///var/mail/cairn",
            "smtp://127.0.0.1:25",
            "smtp://u:p@mail.example.com:587?tls=required",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://u:p@email-smtp.eu-west-1.amazonaws.com:465",
        ] {
            assert!(crate::check_url(&good.parse().unwrap()).is_ok(), "{good}");
        }
        for bad in ["smtp://mail.example.com?tls=sometimes", "smtp:relay", "http://mail.example.com"] {
            assert!(crate::check_url(&bad.parse().unwrap()).is_err(), "{bad}");
        }
    }
}
