//! A report renders to a valid PDF/A-2b file (krilla's validator passes) whose text, pages,
//! page size and fonts poppler reads back: the cover, the contents with page numbers, a chart's
//! labels in the report's font, a long table across pages with its header repeated.

use std::process::Command;

use cairn_charts::{BarChart, Mode, Series};
use cairn_reports::{Block, Fonts, Report, Section, Table, render};

fn poppler(tool: &str, args: &[&str], pdf: &std::path::Path) -> String {
    let out =
        Command::new(tool).args(args).arg(pdf).args(if tool == "pdftotext" { vec!["-"] } else { vec![] }).output();
    let out = out.unwrap_or_else(|e| panic!("{tool} runs (poppler-utils): {e}"));
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn sample() -> Report {
    let chart = BarChart::new("Commits per week")
        .categories(["1 Sep", "8 Sep", "15 Sep"])
        .series(Series::categorical("Commits", [Some(12.0), Some(30.0), None]))
        .render(Mode::Light);
    let rows: Vec<Vec<String>> = (0..120)
        .map(|i| vec![format!("person-{i:03}"), format!("{}", i * 7), format!("{:.1}%", i as f64 / 1.2)])
        .collect();
    Report {
        title: "Team engineering report".into(),
        subject: "Platform".into(),
        tenant: "Acme Corp".into(),
        accent: Some("#0f766e".into()),
        period: "1 September – 30 November 2026".into(),
        generated: "2026-12-07T09:30:00[Europe/Bratislava]".parse().unwrap(),
        sections: vec![
            Section {
                title: "Commits".into(),
                blocks: vec![
                    Block::Facts(vec![("Commits".into(), "412".into()), ("Active authors".into(), "9".into())]),
                    Block::Paragraph("Counted commits: default-branch commits with one parent, not by a bot.".into()),
                    Block::Chart { title: "Commits per week".into(), svg: chart },
                ],
            },
            Section {
                title: "Everyone".into(),
                blocks: vec![Block::Table(Table {
                    head: vec!["Person".into(), "Commits".into(), "Share".into()],
                    rows,
                    numeric: vec![false, true, true],
                })],
            },
        ],
    }
}

#[test]
fn a_report_is_a_valid_tagged_pdf_that_reads_back() {
    let fonts = Fonts::load();
    let rendered = render(&sample(), &fonts).expect("renders as PDF/A-2b");
    assert!(rendered.pdf.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &rendered.pdf).unwrap();
    if let Ok(keep) = std::env::var("CAIRN_KEEP_PDF") {
        std::fs::write(keep, &rendered.pdf).unwrap();
    }

    let info = poppler("pdfinfo", &[], &path);
    let field = |name: &str| {
        info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim).unwrap_or_default().to_owned()
    };
    assert_eq!(field("Page size"), "595.276 x 841.89 pts (A4)");
    assert_eq!(field("Pages"), rendered.pages.to_string());
    assert_eq!(field("Tagged"), "yes");
    assert_eq!(field("Title"), "Team engineering report \u{2014} Platform");
    assert_eq!(field("CreationDate"), "Mon Dec  7 08:30:00 2026 UTC");
    assert!(rendered.pages >= 4, "cover, contents, and the table across pages: {}", rendered.pages);

    let fonts_out = poppler("pdffonts", &[], &path);
    let inter: Vec<&str> = fonts_out.lines().filter(|l| l.contains("Inter")).collect();
    assert!(!inter.is_empty(), "{fonts_out}");
    assert!(inter.iter().all(|l| l.split_whitespace().rev().nth(3) == Some("yes")), "embedded: {fonts_out}");

    let text = poppler("pdftotext", &["-layout"], &path);
    for expected in [
        "Acme Corp",
        "Team engineering report",
        "1 September – 30 November 2026",
        "Generated 7 December 2026, 09:30 (Europe/Bratislava)",
        "Contents",
        "Commits per week",
        "15 Sep",
        "person-119",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    let total = rendered.pages;
    assert!(text.contains(&format!("Page {total} of {total}")), "{text}");
    // The header comes again on every page the table spans.
    let pages: Vec<&str> = text.split('\u{c}').collect();
    let with_rows: Vec<&&str> = pages.iter().filter(|p| p.contains("person-")).collect();
    assert!(with_rows.len() >= 2);
    assert!(with_rows.iter().all(|p| p.contains("Person") && p.contains("Share")), "repeated header");
}
