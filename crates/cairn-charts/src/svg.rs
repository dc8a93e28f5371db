//! Writing SVG: escaping, numbers, text measurement, colours by mode, the document shell.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use crate::theme::{Color, Mode, Theme, Themes};

/// The font stack of Cairn's stylesheet, ending with generic families a PDF renderer has.
const FONT_FAMILY: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/// The size of axis labels, legends and messages, in px.
pub(crate) const FONT_SIZE: f64 = 11.0;

/// `text` escaped for XML text and attribute values, without the characters XML 1.0 forbids
/// (control characters other than tab, newline and carriage return; U+FFFE, U+FFFF).
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A coordinate, written with at most one decimal and never as `NaN` or `inf`.
#[derive(Clone, Copy)]
pub(crate) struct N(pub f64);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() { (self.0 * 10.0).round() / 10.0 } else { 0.0 };
        let v = if v == 0.0 { 0.0 } else { v };
        if v.fract() == 0.0 { write!(f, "{}", v as i64) } else { write!(f, "{v:.1}") }
    }
}

/// The approximate width of `text` at `size` px in a proportional sans-serif: no font is
/// at hand, so widths are per-class guesses that err wide.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' | ' ' => 0.3,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' => 0.4,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.85,
            c if c.is_ascii_uppercase() => 0.68,
            c if c.is_ascii_digit() => 0.58,
            c if c.is_ascii() => 0.56,
            // Wide scripts and symbols.
            _ => 1.0,
        })
        .sum::<f64>()
        * size
}

/// `text` cut with an ellipsis to fit `max_width` at `size`; empty if not even one character
/// and the ellipsis fit.
pub(crate) fn truncate(text: &str, max_width: f64, size: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let budget = max_width - text_width("…", size);
    let mut out = String::new();
    let mut width = 0.0;
    for c in text.chars() {
        let w = text_width(c.encode_utf8(&mut [0; 4]), size);
        if width + w > budget {
            break;
        }
        width += w;
        out.push(c);
    }
    let out = out.trim_end().to_string();
    if out.is_empty() { out } else { out + "…" }
}

/// Whose colour a series element wears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    /// The theme's accent (a chart of one series, a sparkline).
    Accent,
    /// The palette colour at this index (a chart of several series).
    Series(usize),
}

/// The part an element plays; each maps to one colour per theme and, in adaptive mode, to one
/// class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    Surface,
    Text,
    Muted,
    Grid,
    Axis,
    /// The stroke of a series' line.
    Line(Slot),
    /// The fill of a series' area, bar or legend swatch.
    Fill(Slot),
    /// A series' isolated point: its fill, with a ring of the surface.
    Dot(Slot),
}

impl Role {
    fn class(self) -> String {
        let slot = |slot: Slot| match slot {
            Slot::Accent => "a".to_string(),
            Slot::Series(i) => i.to_string(),
        };
        match self {
            Role::Surface => "bg".into(),
            Role::Text => "tx".into(),
            Role::Muted => "mu".into(),
            Role::Grid => "gr".into(),
            Role::Axis => "ax".into(),
            Role::Line(s) => format!("l{}", slot(s)),
            Role::Fill(s) => format!("f{}", slot(s)),
            Role::Dot(s) => format!("d{}", slot(s)),
        }
    }

    /// The properties this role sets in `theme`: one or two of `fill` and `stroke`.
    fn paint(self, theme: &Theme) -> [Option<(&'static str, Color)>; 2] {
        let slot = |slot: Slot| match slot {
            Slot::Accent => theme.accent,
            Slot::Series(i) => theme.series_color(i),
        };
        match self {
            Role::Surface => [Some(("fill", theme.surface)), None],
            Role::Text => [Some(("fill", theme.foreground)), None],
            Role::Muted => [Some(("fill", theme.muted)), None],
            Role::Grid => [Some(("stroke", theme.grid)), None],
            Role::Axis => [Some(("stroke", theme.axis)), None],
            Role::Line(s) => [Some(("stroke", slot(s))), None],
            Role::Fill(s) => [Some(("fill", slot(s))), None],
            Role::Dot(s) => [Some(("fill", slot(s))), Some(("stroke", theme.surface))],
        }
    }
}

/// Paints elements for a mode: presentation attributes from the mode's theme, plus a class per
/// role in adaptive mode (remembered, to write only the rules used).
pub(crate) struct Painter<'a> {
    mode: Mode,
    themes: &'a Themes,
    prefix: String,
    used: BTreeSet<Role>,
}

impl<'a> Painter<'a> {
    pub(crate) fn new(mode: Mode, themes: &'a Themes) -> Self {
        Self { mode, themes, prefix: class_prefix(themes), used: BTreeSet::new() }
    }

    /// The theme whose colours go into attributes.
    pub(crate) fn theme(&self) -> &'a Theme {
        match self.mode {
            Mode::Light | Mode::Adaptive => &self.themes.light,
            Mode::Dark => &self.themes.dark,
        }
    }

    /// The attributes painting `role`, with a leading space: ` fill="#…"` (and
    /// ` class="…"` in adaptive mode).
    pub(crate) fn paint(&mut self, role: Role) -> String {
        let mut out = String::new();
        for (property, color) in role.paint(self.theme()).into_iter().flatten() {
            let _ = write!(out, r#" {property}="{color}""#);
        }
        if self.mode == Mode::Adaptive {
            self.used.insert(role);
            let _ = write!(out, r#" class="{}-{}""#, self.prefix, role.class());
        }
        out
    }

    /// The `<style>` element of adaptive mode (empty otherwise): the light colours of every
    /// role used, then the dark ones under `prefers-color-scheme: dark`.
    fn style(&self) -> String {
        if self.mode != Mode::Adaptive || self.used.is_empty() {
            return String::new();
        }
        let rules = |theme: &Theme| {
            let mut out = String::new();
            for role in &self.used {
                let _ = write!(out, ".{}-{}{{", self.prefix, role.class());
                for (i, (property, color)) in role.paint(theme).into_iter().flatten().enumerate() {
                    let _ = write!(out, "{}{property}:{color}", if i > 0 { ";" } else { "" });
                }
                out.push('}');
            }
            out
        };
        format!(
            "<style>{}@media (prefers-color-scheme: dark){{{}}}</style>",
            rules(&self.themes.light),
            rules(&self.themes.dark)
        )
    }
}

/// The class prefix of a pair of themes: `c` and a hash of their colours. An inline SVG's
/// `<style>` applies to the whole page, so charts drawn with other themes must not share class
/// names; charts with the same themes write the same rules, which is harmless.
fn class_prefix(themes: &Themes) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut eat = |c: Color| {
        for byte in c.to_string().bytes() {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    };
    for theme in [&themes.light, &themes.dark] {
        for c in [theme.surface, theme.foreground, theme.muted, theme.grid, theme.axis, theme.accent] {
            eat(c);
        }
        for &c in &theme.series {
            eat(c);
        }
    }
    format!("c{:06x}", hash & 0xff_ffff)
}

/// An SVG document being written: the body first, the shell (with the style the body needed)
/// around it at the end.
pub(crate) struct Doc<'a> {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) body: String,
    pub(crate) painter: Painter<'a>,
}

impl<'a> Doc<'a> {
    pub(crate) fn new(width: u32, height: u32, mode: Mode, themes: &'a Themes) -> Self {
        Self { width, height, body: String::new(), painter: Painter::new(mode, themes) }
    }

    /// Writes a text element: `anchor` is `start`, `middle` or `end`; `extra` more attributes
    /// (with a leading space).
    pub(crate) fn text(&mut self, x: f64, y: f64, anchor: &str, role: Role, extra: &str, content: &str) {
        let paint = self.painter.paint(role);
        let anchor = if anchor == "start" { String::new() } else { format!(r#" text-anchor="{anchor}""#) };
        let _ = write!(self.body, r#"<text x="{}" y="{}"{anchor}{paint}{extra}>{}</text>"#, N(x), N(y), esc(content));
    }

    /// Writes a horizontal or vertical line.
    pub(crate) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, role: Role) {
        let paint = self.painter.paint(role);
        let _ = write!(self.body, r#"<line x1="{}" y1="{}" x2="{}" y2="{}"{paint}/>"#, N(x1), N(y1), N(x2), N(y2));
    }

    /// Writes a rectangle; `extra` more attributes (with a leading space).
    pub(crate) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, role: Role, extra: &str) {
        let paint = self.painter.paint(role);
        let _ = write!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}"{paint}{extra}/>"#,
            N(x),
            N(y),
            N(w.max(0.0)),
            N(h.max(0.0))
        );
    }

    /// The finished document: `<svg>` with its namespace, size, view box and role, the title
    /// and description, the adaptive style, the body.
    pub(crate) fn finish(self, title: &str, desc: &str) -> String {
        let (w, h) = (self.width, self.height);
        let mut out = String::with_capacity(self.body.len() + 600);
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" class="cairn-chart" font-family="{}" font-size="{}">"#,
            FONT_FAMILY,
            N(FONT_SIZE),
        );
        let _ = write!(out, "<title>{}</title><desc>{}</desc>", esc(title), esc(desc));
        out.push_str(&self.painter.style());
        out.push_str(&self.body);
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(esc(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
        assert_eq!(esc("a\u{0}b\u{1b}c\u{fffe}"), "abc");
        assert_eq!(esc("a\nb"), "a b");
        assert_eq!(esc("Ünïcødé ✓"), "Ünïcødé ✓");
    }

    #[test]
    fn coordinates_are_short_and_finite() {
        assert_eq!(N(12.0).to_string(), "12");
        assert_eq!(N(12.345).to_string(), "12.3");
        assert_eq!(N(-0.01).to_string(), "0");
        assert_eq!(N(f64::NAN).to_string(), "0");
        assert_eq!(N(f64::INFINITY).to_string(), "0");
    }

    #[test]
    fn truncation_adds_an_ellipsis() {
        let long = "a very long series name indeed";
        let cut = truncate(long, 60.0, 11.0);
        assert!(cut.ends_with('…') && text_width(&cut, 11.0) <= 60.0, "{cut}");
        assert_eq!(truncate("short", 100.0, 11.0), "short");
        assert_eq!(truncate("short", 2.0, 11.0), "");
    }

    #[test]
    fn class_prefix_depends_on_the_themes() {
        let default = Themes::default();
        let mut other = Themes::default();
        other.light.accent = Color::rgb(1, 2, 3);
        assert_eq!(class_prefix(&default), class_prefix(&Themes::default()));
        assert_ne!(class_prefix(&default), class_prefix(&other));
    }
}
