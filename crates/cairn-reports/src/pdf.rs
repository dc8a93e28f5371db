//! A report as a PDF: A4, a cover in the tenant's accent colour, a table of contents whose
//! entries link to their sections (and the same as bookmarks), sections of paragraphs, facts,
//! charts and tables, and "Page n of N" footers.
//!
//! Layout is two passes: every page's content is placed first (so the table of contents and
//! the footers know the page numbers), then drawn with krilla. Tables break across pages and
//! repeat their header; a heading is never left alone at the foot of a page. Charts are
//! `cairn-charts` SVG drawn as vectors, their text in the report's font.
//!
//! The file is tagged (headings, paragraphs, tables with header cells, figures with their
//! title as alternative text, the contents as a TOC; footers and repeated headers as
//! artifacts) and valid PDF/A-2b: krilla's validator refuses to finish a file that is not.

use std::collections::HashMap;
use std::num::NonZeroU16;

use krilla::annotation::{Annotation, LinkAnnotation, Target};
use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::destination::XyzDestination;
use krilla::error::KrillaError;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::{DateTime, Metadata};
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag, TagGroup, TagKind, TagTree,
};
use krilla::{Document, SerializeSettings};
use krilla_svg::{SurfaceExt, SvgSettings};

use crate::fonts::{Fonts, Weight};

const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 56.7;
const TOP: f32 = 62.0;
/// Where content stops: the footer sits below.
const BOTTOM: f32 = PAGE_H - 70.0;
const WIDTH: f32 = PAGE_W - 2.0 * MARGIN_X;
const BODY: f32 = 9.5;
const SMALL: f32 = 8.0;
const H1: f32 = 17.0;
const LEADING: f32 = 1.38;
const CELL_PAD: f32 = 4.0;
/// Entries on a contents page.
const TOC_PER_PAGE: usize = 34;
const TOC_LINE: f32 = 19.0;

const INK: [u8; 3] = [0x1f, 0x24, 0x30];
const MUTED: [u8; 3] = [0x55, 0x5e, 0x6c];
const RULE: [u8; 3] = [0xd5, 0xd9, 0xe0];
const HEAD_FILL: [u8; 3] = [0xf1, 0xf3, 0xf6];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];

/// A report to render.
#[derive(Debug, Clone)]
pub struct Report {
    /// What it is: "Team engineering report".
    pub title: String,
    /// What it is about: a team's name, "Audit trail".
    pub subject: String,
    /// The tenant's display name.
    pub tenant: String,
    /// The tenant's accent colour (`#rrggbb`); Cairn's blue when unset or unreadable.
    pub accent: Option<String>,
    /// The period, as the cover shows it: "1 September – 30 November 2026".
    pub period: String,
    /// When it was generated, in the tenant's zone.
    pub generated: jiff::Zoned,
    pub sections: Vec<Section>,
}

/// A titled part of a report: it has an entry in the contents and a bookmark.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone)]
pub enum Block {
    Paragraph(String),
    /// A sub-heading within a section.
    Heading(String),
    /// Labelled figures: `("Commits", "412")`.
    Facts(Vec<(String, String)>),
    /// A `cairn-charts` SVG (light mode) and what it shows, its alternative text.
    Chart {
        title: String,
        svg: String,
    },
    Table(Table),
}

/// A table: a header row and rows of cells; numeric columns are right-aligned.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Per column: right-aligned.
    pub numeric: Vec<bool>,
}

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub pages: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

// ----- the placed content of pages -----

#[derive(Debug, Clone)]
enum Ink {
    Text { x: f32, y: f32, size: f32, weight: Weight, color: [u8; 3], text: String },
    Rect { x: f32, y: f32, w: f32, h: f32, color: [u8; 3] },
    Line { x1: f32, y1: f32, x2: f32, y2: f32, color: [u8; 3] },
    Svg { chart: usize, x: f32, y: f32, w: f32, h: f32 },
}

/// What a piece of content is in the document's structure.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Part of structure element `n`.
    In(usize),
    Footer,
    /// Decoration, or a header repeated on a new page.
    Layout,
}

#[derive(Debug, Clone)]
struct Item {
    ink: Ink,
    role: Role,
}

#[derive(Debug, Clone)]
struct Link {
    rect: Rect,
    to_page: usize,
    to_y: f32,
    alt: String,
}

#[derive(Debug, Default)]
struct PageOut {
    items: Vec<Item>,
    links: Vec<Link>,
}

/// A child in the structure: an element, a piece of content, or a link annotation.
#[derive(Debug, Clone, Copy)]
enum Kid {
    Node(usize),
    Content(usize, usize),
    Link(usize, usize),
}

#[derive(Debug)]
struct Node {
    kind: TagKind,
    kids: Vec<Kid>,
}

/// Pages being filled, top to bottom, with the structure they make.
struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<PageOut>,
    /// The next free line's top on the last page.
    y: f32,
    nodes: Vec<Node>,
    roots: Vec<usize>,
    charts: Vec<usvg::Tree>,
    /// The section being laid out: a chart of the same title needs no caption.
    section_title: String,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Layout<'f> {
        let (pages, nodes, roots, charts) = Default::default();
        Layout { fonts, pages, y: TOP, nodes, roots, charts, section_title: String::new() }
    }

    fn page(&self) -> usize {
        self.pages.len() - 1
    }

    fn new_page(&mut self) {
        self.pages.push(PageOut::default());
        self.y = TOP;
    }

    /// Starts a new page unless `height` fits below.
    fn room(&mut self, height: f32) -> bool {
        if self.y + height > BOTTOM && self.y > TOP {
            self.new_page();
            return true;
        }
        false
    }

    fn node(&mut self, kind: impl Into<TagKind>, parent: Option<usize>) -> usize {
        self.nodes.push(Node { kind: kind.into(), kids: Vec::new() });
        let n = self.nodes.len() - 1;
        match parent {
            Some(p) => self.nodes[p].kids.push(Kid::Node(n)),
            None => self.roots.push(n),
        }
        n
    }

    fn put(&mut self, ink: Ink, role: Role) {
        let page = self.page();
        let items = &mut self.pages[page].items;
        items.push(Item { ink, role });
        if let Role::In(n) = role {
            let at = items.len() - 1;
            self.nodes[n].kids.push(Kid::Content(page, at));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, x: f32, baseline: f32, size: f32, weight: Weight, color: [u8; 3], text: &str, role: Role) {
        let text = self.fonts.drawable(text);
        if text.trim().is_empty() {
            return;
        }
        self.put(Ink::Text { x, y: baseline, size, weight, color, text }, role);
    }

    /// `text` broken into lines no wider than `width`.
    fn wrap(&self, text: &str, weight: Weight, size: f32, width: f32) -> Vec<String> {
        let text = self.fonts.drawable(text);
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if line.is_empty() || self.fonts.width(weight, size, &candidate) <= width {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, word.to_owned()));
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// A paragraph of wrapped lines, as structure element `kind` under `parent`.
    fn paragraph(&mut self, text: &str, size: f32, weight: Weight, color: [u8; 3], node: usize) {
        let line_h = size * LEADING;
        for line in self.wrap(text, weight, size, WIDTH) {
            self.room(line_h);
            let baseline = self.y + size;
            self.text(MARGIN_X, baseline, size, weight, color, &line, Role::In(node));
            self.y += line_h;
        }
    }

    /// The height of a section's opening: its blocks up to and including its first chart
    /// or table (of which a header and two rows), which its heading stays with.
    fn opening(&self, blocks: &[Block]) -> f32 {
        let mut h = 0.0;
        for block in blocks {
            h += 10.0;
            match block {
                Block::Paragraph(text) | Block::Heading(text) => {
                    h += self.wrap(text, Weight::Regular, BODY, WIDTH).len() as f32 * BODY * LEADING;
                }
                Block::Facts(facts) => h += facts.len().div_ceil(4) as f32 * 40.0,
                Block::Chart { svg, .. } => {
                    let size = usvg::Tree::from_str(svg, self.fonts.svg_options()).map(|t| t.size());
                    let (w, ht) = size.map(|s| (s.width(), s.height())).unwrap_or((WIDTH, 0.0));
                    return h + BODY * LEADING + ht * (WIDTH / w).min(1.6);
                }
                Block::Table(_) => return h + 3.0 * (SMALL * LEADING + 2.0 * CELL_PAD),
            }
        }
        h
    }

    fn section(&mut self, section: &Section) -> (usize, f32) {
        // A heading keeps company: its opening fits under it, or a few lines of it at least.
        let opening = self.opening(&section.blocks).clamp(90.0, BOTTOM - TOP - H1 * LEADING - 6.0);
        self.room(H1 * LEADING + 6.0 + opening);
        self.section_title = section.title.clone();
        if self.y > TOP {
            self.y += 10.0;
        }
        let (page, top) = (self.page(), self.y);
        let part = self.node(Tag::Section, None);
        let h = self.node(Tag::Hn(NonZeroU16::MIN, Some(section.title.clone())), Some(part));
        let baseline = self.y + H1;
        self.text(MARGIN_X, baseline, H1, Weight::Bold, INK, &section.title, Role::In(h));
        self.y += H1 * LEADING + 6.0;
        for block in &section.blocks {
            self.block(block, part);
            self.y += 10.0;
        }
        (page, top)
    }

    fn block(&mut self, block: &Block, parent: usize) {
        match block {
            Block::Paragraph(text) => {
                let p = self.node(Tag::P, Some(parent));
                self.paragraph(text, BODY, Weight::Regular, INK, p);
            }
            Block::Heading(text) => {
                self.room(BODY * 1.2 * LEADING + 60.0);
                let h = self.node(Tag::Hn(NonZeroU16::new(2).expect("2"), Some(text.clone())), Some(parent));
                self.paragraph(text, BODY * 1.2, Weight::Bold, INK, h);
                self.y += 2.0;
            }
            Block::Facts(facts) => self.facts(facts, parent),
            Block::Chart { title, svg } => self.chart(title, svg, parent),
            Block::Table(table) => self.table(table, parent),
        }
    }

    /// Labelled figures side by side, four to a row.
    fn facts(&mut self, facts: &[(String, String)], parent: usize) {
        let table = self.node(Tag::Table, Some(parent));
        let per_row = 4;
        let cell_w = WIDTH / per_row as f32;
        for row in facts.chunks(per_row) {
            self.room(40.0);
            let tr = self.node(Tag::TR, Some(table));
            for (i, (label, value)) in row.iter().enumerate() {
                let x = MARGIN_X + i as f32 * cell_w;
                let th = self.node(Tag::TH(TableHeaderScope::Column), Some(tr));
                let label = self.fit(label, Weight::Regular, SMALL, cell_w - 8.0);
                self.text(x, self.y + SMALL, SMALL, Weight::Regular, MUTED, &label, Role::In(th));
                let td = self.node(Tag::TD, Some(tr));
                let value = self.fit(value, Weight::Bold, 14.0, cell_w - 8.0);
                self.text(x, self.y + SMALL + 18.0, 14.0, Weight::Bold, INK, &value, Role::In(td));
            }
            self.y += 40.0;
        }
    }

    /// `text` cut with an ellipsis to fit `width`.
    fn fit(&self, text: &str, weight: Weight, size: f32, width: f32) -> String {
        let text = self.fonts.drawable(text);
        if self.fonts.width(weight, size, &text) <= width {
            return text;
        }
        let mut out: String = text.clone();
        while !out.is_empty() && self.fonts.width(weight, size, &format!("{out}\u{2026}")) > width {
            out.pop();
        }
        format!("{}\u{2026}", out.trim_end())
    }

    fn chart(&mut self, title: &str, svg: &str, parent: usize) {
        let tree = match usvg::Tree::from_str(svg, self.fonts.svg_options()) {
            Ok(tree) => tree,
            Err(e) => {
                // A chart Cairn drew always parses; say so rather than fail the report.
                let p = self.node(Tag::P, Some(parent));
                self.paragraph(
                    &format!("{title}: the chart could not be drawn ({e})."),
                    BODY,
                    Weight::Regular,
                    MUTED,
                    p,
                );
                return;
            }
        };
        let size = tree.size();
        let scale = (WIDTH / size.width()).min(1.6);
        let (w, h) = (size.width() * scale, size.height() * scale);
        let captioned = title != self.section_title;
        let title_h = if captioned { BODY * LEADING + 2.0 } else { 0.0 };
        self.room(title_h + h);
        if captioned {
            let caption = self.node(Tag::Caption, Some(parent));
            self.text(MARGIN_X, self.y + BODY, BODY, Weight::Bold, INK, title, Role::In(caption));
            self.y += title_h;
        }
        let figure = self.node(Tag::Figure(Some(title.to_owned())), Some(parent));
        self.charts.push(tree);
        let chart = self.charts.len() - 1;
        self.put(Ink::Svg { chart, x: MARGIN_X, y: self.y, w, h }, Role::In(figure));
        self.y += h;
    }

    fn column_widths(&self, table: &Table) -> Vec<f32> {
        let columns = table.head.len().max(table.rows.iter().map(Vec::len).max().unwrap_or(0)).max(1);
        let mut natural = vec![24.0f32; columns];
        for (i, h) in table.head.iter().enumerate() {
            natural[i] = natural[i].max(self.fonts.width(Weight::Bold, SMALL, h) + 2.0 * CELL_PAD);
        }
        for row in table.rows.iter().take(500) {
            for (i, cell) in row.iter().enumerate() {
                natural[i] = natural[i].max(self.fonts.width(Weight::Regular, SMALL, cell) + 2.0 * CELL_PAD);
            }
        }
        let total: f32 = natural.iter().sum();
        if total <= WIDTH {
            // Spare width goes to the first column.
            natural[0] += WIDTH - total;
            return natural;
        }
        // Too wide: every column gets at least a fair share, the rest in proportion.
        let fair = WIDTH / columns as f32 * 0.5;
        let floor: f32 = natural.iter().map(|w| w.min(fair)).sum();
        let over: f32 = natural.iter().map(|w| (w - fair).max(0.0)).sum();
        natural.iter().map(|w| w.min(fair) + (w - fair).max(0.0) * (WIDTH - floor) / over.max(1.0)).collect()
    }

    /// The cells of one row, wrapped to their columns; its height.
    fn row_lines(&self, cells: &[String], widths: &[f32], weight: Weight) -> (Vec<Vec<String>>, f32) {
        let lines: Vec<Vec<String>> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| self.wrap(cells.get(i).map(String::as_str).unwrap_or(""), weight, SMALL, w - 2.0 * CELL_PAD))
            .collect();
        let n = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        (lines, n as f32 * SMALL * LEADING + 2.0 * CELL_PAD)
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        lines: &[Vec<String>],
        widths: &[f32],
        numeric: &[bool],
        h: f32,
        weight: Weight,
        cell: &mut dyn FnMut(&mut Self, usize) -> Role,
    ) {
        let mut x = MARGIN_X;
        for (i, w) in widths.iter().enumerate() {
            let role = cell(self, i);
            for (k, line) in lines[i].iter().enumerate() {
                let baseline = self.y + CELL_PAD + SMALL + k as f32 * SMALL * LEADING;
                let lx = if numeric.get(i).copied().unwrap_or(false) {
                    x + w - CELL_PAD - self.fonts.width(weight, SMALL, line)
                } else {
                    x + CELL_PAD
                };
                self.text(lx, baseline, SMALL, weight, INK, line, role);
            }
            x += w;
        }
        self.y += h;
        self.put(Ink::Line { x1: MARGIN_X, y1: self.y, x2: MARGIN_X + WIDTH, y2: self.y, color: RULE }, Role::Layout);
    }

    fn table_head(&mut self, table: &Table, widths: &[f32], node: Option<usize>) {
        let (lines, h) = self.row_lines(&table.head, widths, Weight::Bold);
        self.put(Ink::Rect { x: MARGIN_X, y: self.y, w: WIDTH, h, color: HEAD_FILL }, Role::Layout);
        let tr = node.map(|head| self.node(Tag::TR, Some(head)));
        self.row(&lines, widths, &table.numeric, h, Weight::Bold, &mut |l, _| match tr {
            Some(tr) => Role::In(l.node(Tag::TH(TableHeaderScope::Column), Some(tr))),
            None => Role::Layout,
        });
    }

    fn table(&mut self, table: &Table, parent: usize) {
        let widths = self.column_widths(table);
        let node = self.node(Tag::Table, Some(parent));
        let (_, head_h) = self.row_lines(&table.head, &widths, Weight::Bold);
        let first_h = table.rows.first().map(|r| self.row_lines(r, &widths, Weight::Regular).1).unwrap_or(0.0);
        self.room(head_h + first_h);
        let thead = self.node(Tag::THead, Some(node));
        self.table_head(table, &widths, Some(thead));
        let tbody = self.node(Tag::TBody, Some(node));
        for row in &table.rows {
            let (lines, h) = self.row_lines(row, &widths, Weight::Regular);
            if self.room(h) {
                // On a new page the header comes again, as an artifact.
                self.table_head(table, &widths, None);
            }
            let tr = self.node(Tag::TR, Some(tbody));
            self.row(&lines, &widths, &table.numeric, h, Weight::Regular, &mut |l, _| {
                Role::In(l.node(Tag::TD, Some(tr)))
            });
        }
    }
}

fn color([r, g, b]: [u8; 3]) -> rgb::Color {
    rgb::Color::new(r, g, b)
}

fn accent(report: &Report) -> [u8; 3] {
    report
        .accent
        .as_deref()
        .and_then(cairn_charts::Color::from_hex)
        .map(cairn_charts::Color::channels)
        .unwrap_or([0x1d, 0x4e, 0xd8])
}

/// Renders `report` with `fonts`.
pub fn render(report: &Report, fonts: &Fonts) -> Result<Rendered, RenderError> {
    let mut l = Layout::new(fonts);
    let accent = accent(report);

    // The cover.
    l.new_page();
    l.put(Ink::Rect { x: 0.0, y: 0.0, w: PAGE_W, h: 210.0, color: accent }, Role::Layout);
    let cover = l.node(Tag::Section, None);
    let tenant = l.node(Tag::P, Some(cover));
    l.text(MARGIN_X, 96.0, 13.0, Weight::Bold, WHITE, &report.tenant, Role::In(tenant));
    let title = l.node(Tag::Title, Some(cover));
    l.y = 250.0;
    for line in l.wrap(&report.title, Weight::Bold, 28.0, WIDTH) {
        l.text(MARGIN_X, l.y + 28.0, 28.0, Weight::Bold, INK, &line, Role::In(title));
        l.y += 28.0 * 1.2;
    }
    l.y += 6.0;
    let subject = l.node(Tag::P, Some(cover));
    l.paragraph(&report.subject, 16.0, Weight::Regular, INK, subject);
    l.y += 18.0;
    let period = l.node(Tag::P, Some(cover));
    l.paragraph(&report.period, 11.0, Weight::Regular, MUTED, period);
    let generated = l.node(Tag::P, Some(cover));
    let zone = report.generated.time_zone().iana_name().unwrap_or("UTC").to_owned();
    let when = format!("Generated {} ({zone})", report.generated.strftime("%-d %B %Y, %H:%M"));
    l.paragraph(&when, 11.0, Weight::Regular, MUTED, generated);

    // The contents, filled in once the sections are placed.
    let toc_pages = report.sections.len().div_ceil(TOC_PER_PAGE).max(1);
    let first_toc = l.pages.len();
    for _ in 0..toc_pages {
        l.new_page();
    }
    let mut starts = Vec::new();
    l.new_page();
    for section in &report.sections {
        starts.push(l.section(section));
    }
    let toc = l.node(Tag::TOC, None);
    let toc_caption = l.node(Tag::Caption, Some(toc));
    // The contents come second in reading order.
    l.roots.pop();
    l.roots.insert(1, toc);
    for (i, (section, (page, y))) in report.sections.iter().zip(&starts).enumerate() {
        let at = first_toc + i / TOC_PER_PAGE;
        let slot = i % TOC_PER_PAGE;
        // Placed on the contents page directly: the flow's cursor is past it.
        let top = TOP + 40.0 + slot as f32 * TOC_LINE;
        let item = l.node(Tag::TOCI, Some(toc));
        let link = l.node(Tag::Link, Some(item));
        let number = (page + 1).to_string();
        let name = l.fit(&section.title, Weight::Regular, 11.0, WIDTH - 60.0);
        let items_before = l.pages[at].items.len();
        l.pages[at].items.push(Item {
            ink: Ink::Text { x: MARGIN_X, y: top + 11.0, size: 11.0, weight: Weight::Regular, color: INK, text: name },
            role: Role::In(link),
        });
        let nw = fonts.width(Weight::Regular, 11.0, &number);
        l.pages[at].items.push(Item {
            ink: Ink::Text {
                x: MARGIN_X + WIDTH - nw,
                y: top + 11.0,
                size: 11.0,
                weight: Weight::Regular,
                color: MUTED,
                text: number,
            },
            role: Role::In(link),
        });
        l.nodes[link].kids.push(Kid::Content(at, items_before));
        l.nodes[link].kids.push(Kid::Content(at, items_before + 1));
        let rect = Rect::from_xywh(MARGIN_X, top, WIDTH, TOC_LINE - 2.0).expect("a positive rectangle");
        l.pages[at].links.push(Link { rect, to_page: *page, to_y: *y, alt: section.title.clone() });
        let n = l.pages[at].links.len() - 1;
        l.nodes[link].kids.push(Kid::Link(at, n));
    }
    for p in first_toc..first_toc + toc_pages {
        let (heading, role) = match p == first_toc {
            true => ("Contents", Role::In(toc_caption)),
            false => ("Contents (continued)", Role::Layout),
        };
        l.pages[p].items.push(Item {
            ink: Ink::Text {
                x: MARGIN_X,
                y: TOP + H1,
                size: H1,
                weight: Weight::Bold,
                color: INK,
                text: heading.into(),
            },
            role,
        });
        if p == first_toc {
            let at = l.pages[p].items.len() - 1;
            l.nodes[toc_caption].kids.push(Kid::Content(p, at));
        }
    }

    // Footers, now that the count is known.
    let total = l.pages.len();
    let label = fonts.drawable(&format!("{} \u{00b7} {} \u{00b7} {}", report.tenant, report.title, report.subject));
    for (i, page) in l.pages.iter_mut().enumerate() {
        let number = format!("Page {} of {total}", i + 1);
        let nw = fonts.width(Weight::Regular, SMALL, &number);
        let y = PAGE_H - 40.0;
        page.items.push(Item {
            ink: Ink::Line { x1: MARGIN_X, y1: y - 14.0, x2: MARGIN_X + WIDTH, y2: y - 14.0, color: RULE },
            role: Role::Footer,
        });
        let label = if fonts.width(Weight::Regular, SMALL, &label) > WIDTH - nw - 20.0 {
            report.tenant.clone()
        } else {
            label.clone()
        };
        for (x, text) in [(MARGIN_X, label), (MARGIN_X + WIDTH - nw, number)] {
            page.items.push(Item {
                ink: Ink::Text {
                    x,
                    y,
                    size: SMALL,
                    weight: Weight::Regular,
                    color: MUTED,
                    text: fonts.drawable(&text),
                },
                role: Role::Footer,
            });
        }
    }
    draw(report, fonts, l, &starts)
}

fn fill(surface: &mut Surface<'_>, rgb: [u8; 3]) {
    surface.set_stroke(None);
    surface.set_fill(Some(Fill { paint: color(rgb).into(), ..Default::default() }));
}

fn draw_ink(surface: &mut Surface<'_>, fonts: &Fonts, charts: &[usvg::Tree], ink: &Ink) {
    match ink {
        Ink::Text { x, y, size, weight, color, text } => {
            fill(surface, *color);
            let glyphs = fonts.shape(*weight, text);
            surface.draw_glyphs(Point::from_xy(*x, *y), &glyphs, fonts.font(*weight), text, *size, false);
        }
        Ink::Rect { x, y, w, h, color } => {
            let mut pb = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                pb.push_rect(rect);
            }
            if let Some(path) = pb.finish() {
                fill(surface, *color);
                surface.draw_path(&path);
            }
        }
        Ink::Line { x1, y1, x2, y2, color } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1, *y1);
            pb.line_to(*x2, *y2);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: self::color(*color).into(),
                    width: 0.6,
                    ..Default::default()
                }));
                surface.draw_path(&path);
            }
        }
        Ink::Svg { chart, x, y, w, h } => {
            if let Some(size) = Size::from_wh(*w, *h) {
                surface.push_transform(&Transform::from_translate(*x, *y));
                surface.draw_svg(&charts[*chart], size, SvgSettings::default());
                surface.pop();
            }
        }
    }
}

fn draw(report: &Report, fonts: &Fonts, l: Layout<'_>, starts: &[(usize, f32)]) -> Result<Rendered, RenderError> {
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_B)
        .finish()
        .map_err(|e| RenderError::Pdf(format!("{e:?}")))?;
    let mut document = Document::new_with(SerializeSettings { configuration, ..Default::default() });
    let mut ids: HashMap<(usize, usize), Identifier> = HashMap::new();
    let mut link_ids: HashMap<(usize, usize), Identifier> = HashMap::new();
    let pages = l.pages.len();
    for (p, out) in l.pages.iter().enumerate() {
        let mut page = document.start_page_with(PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a size"));
        {
            let mut surface = page.surface();
            for (i, item) in out.items.iter().enumerate() {
                let tag = match (&item.role, &item.ink) {
                    (Role::In(_), Ink::Text { .. }) => ContentTag::Span(SpanTag::empty()),
                    (Role::In(_), _) => ContentTag::Other,
                    (Role::Footer, _) => ContentTag::Artifact(Artifact::with_kind(ArtifactType::Footer)),
                    (Role::Layout, _) => ContentTag::Artifact(Artifact::with_kind(ArtifactType::Layout)),
                };
                let id = surface.start_tagged(tag);
                draw_ink(&mut surface, fonts, &l.charts, &item.ink);
                surface.end_tagged();
                if let Role::In(_) = item.role {
                    ids.insert((p, i), id);
                }
            }
            surface.finish();
        }
        for (j, link) in out.links.iter().enumerate() {
            let target = Target::Destination(XyzDestination::new(link.to_page, Point::from_xy(0.0, link.to_y)).into());
            let annotation = Annotation::new_link(LinkAnnotation::new(link.rect, target), Some(link.alt.clone()));
            link_ids.insert((p, j), page.add_tagged_annotation(annotation));
        }
        page.finish();
    }

    // The structure, in reading order.
    fn group(
        nodes: &[Node],
        n: usize,
        ids: &HashMap<(usize, usize), Identifier>,
        links: &HashMap<(usize, usize), Identifier>,
    ) -> TagGroup {
        let mut g = TagGroup::new(nodes[n].kind.clone());
        for kid in &nodes[n].kids {
            match *kid {
                Kid::Node(c) => g.push(group(nodes, c, ids, links)),
                Kid::Content(p, i) => {
                    if let Some(id) = ids.get(&(p, i)) {
                        g.push(*id);
                    }
                }
                Kid::Link(p, j) => {
                    if let Some(id) = links.get(&(p, j)) {
                        g.push(*id);
                    }
                }
            }
        }
        g
    }
    let mut tree = TagTree::new().with_lang(Some("en".into()));
    for root in &l.roots {
        tree.push(group(&l.nodes, *root, &ids, &link_ids));
    }
    document.set_tag_tree(tree);

    let mut outline = Outline::new();
    for (section, (page, y)) in report.sections.iter().zip(starts) {
        outline
            .push_child(OutlineNode::new(section.title.clone(), XyzDestination::new(*page, Point::from_xy(0.0, *y))));
    }
    document.set_outline(outline);

    let g = &report.generated;
    let offset = g.offset().seconds();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} \u{2014} {}", report.title, report.subject))
            .authors(vec![report.tenant.clone()])
            .description(report.period.clone())
            .creator("Cairn".to_owned())
            .language("en".to_owned())
            .creation_date(
                DateTime::new(g.year() as u16)
                    .month(g.month() as u8)
                    .day(g.day() as u8)
                    .hour(g.hour() as u8)
                    .minute(g.minute() as u8)
                    .second(g.second() as u8)
                    .utc_offset_hour((offset / 3600) as i8)
                    .utc_offset_minute(((offset.abs() % 3600) / 60) as u8),
            ),
    );
    let pdf = document.finish().map_err(|e| match e {
        KrillaError::Validation(errors) => RenderError::Pdf(format!("not valid PDF/A-2b: {errors:?}")),
        other => RenderError::Pdf(other.to_string()),
    })?;
    Ok(Rendered { pdf, pages })
}
