//! `cairn mail`: the messages the file transport wrote.

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::{Failure, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the messages the file transport wrote (CAIRN_MAIL_URL=file://…), oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(config: Config, cmd: MailCommand) -> Result<(), Failure> {
    let MailCommand::List { json } = cmd;
    let mailer = startup::mailer(&config, &config.public_url(config.listen))?;
    let Some(dir) = mailer.file_dir() else {
        return Err(usage(format!("mail goes to {}, not to files; nothing to list", mailer.describe())));
    };
    let all = cairn_mail::list_files(dir).with_context(|| format!("reading {}", dir.display()))?;
    if json {
        let items: Vec<_> = all
            .iter()
            .map(|m| json!({"file": m.file.display().to_string(), "date": m.date, "to": m.to, "subject": m.subject}))
            .collect();
        println!("{}", serde_json::Value::Array(items));
    } else {
        for m in &all {
            println!("{}  {:<32} {}\n    {}", m.date, m.to, m.subject, m.file.display());
        }
        if all.is_empty() {
            println!("no mail in {}", dir.display());
        }
    }
    Ok(())
}
