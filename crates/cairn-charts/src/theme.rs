//! Colours: the two themes of Cairn's stylesheet, the series palette and the rendering modes.

use std::fmt;

/// An opaque sRGB colour, written into the SVG as `#rrggbb`.
///
/// A colour is three bytes, never a string, so nothing a caller passes can end up inside an
/// attribute or a `<style>` block unescaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Color {
    r: u8,
    g: u8,
    b: u8,
}

impl Color {
    /// A colour from its red, green and blue bytes.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }

    /// Red, green and blue.
    pub const fn channels(self) -> [u8; 3] {
        [self.r, self.g, self.b]
    }

    /// Parses `#rrggbb` or `#rgb` (the `#` optional, either case); `None` for anything else.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.strip_prefix('#').unwrap_or(hex);
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).ok();
        match hex.len() {
            6 => {
                let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
                Some(Self::rgb(byte(0)?, byte(2)?, byte(4)?))
            }
            3 => Some(Self::rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            _ => None,
        }
    }

    /// The WCAG 2 relative luminance, 0 (black) to 1 (white).
    pub fn relative_luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)
    }

    /// The WCAG 2 contrast ratio against `other`, 1 to 21.
    pub fn contrast(self, other: Color) -> f64 {
        let (a, b) = (self.relative_luminance(), other.relative_luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// The colours of one theme.
///
/// [`Theme::light`] and [`Theme::dark`] are the surfaces of `cairn-web/static/cairn.css`;
/// change one there and here together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    /// The chart's background (the stylesheet's `--surface`).
    pub surface: Color,
    /// Titles and legend text (`--fg`).
    pub foreground: Color,
    /// Axis labels and the empty-data message (`--muted`).
    pub muted: Color,
    /// Grid lines (`--line`).
    pub grid: Color,
    /// The zero line and axis ticks (`--line-strong`).
    pub axis: Color,
    /// The colour of a chart with a single series, and of sparklines (`--accent`).
    pub accent: Color,
    /// The colours of a chart with several series, in order; a chart with more series than
    /// colours starts again from the first, with dashed lines.
    pub series: Vec<Color>,
}

impl Theme {
    /// The light theme: white surface, the default blue accent, a palette readable on white.
    ///
    /// The palette follows the hues of Okabe and Ito's colour-blind-safe set (blue, vermillion,
    /// bluish green, reddish purple, amber, grey), darkened until each reaches at least 4.5:1
    /// against the surface.
    pub fn light() -> Self {
        Self {
            surface: Color::rgb(0xff, 0xff, 0xff),
            foreground: Color::rgb(0x18, 0x18, 0x1b),
            muted: Color::rgb(0x55, 0x55, 0x5e),
            grid: Color::rgb(0xe4, 0xe4, 0xe9),
            axis: Color::rgb(0xcf, 0xcf, 0xd6),
            accent: DEFAULT_ACCENT,
            series: vec![
                Color::rgb(0x00, 0x72, 0xb2),
                Color::rgb(0xc8, 0x50, 0x0a),
                Color::rgb(0x00, 0x80, 0x5f),
                Color::rgb(0xb0, 0x50, 0x8a),
                Color::rgb(0x8f, 0x6a, 0x00),
                Color::rgb(0x5f, 0x5f, 0x6a),
            ],
        }
    }

    /// The dark theme: the stylesheet's dark surface, the same hues as [`Theme::light`] in
    /// the lighter shades that read on it (each at least 4.5:1).
    pub fn dark() -> Self {
        Self {
            surface: Color::rgb(0x16, 0x16, 0x1a),
            foreground: Color::rgb(0xec, 0xec, 0xf1),
            muted: Color::rgb(0xa0, 0xa0, 0xab),
            grid: Color::rgb(0x27, 0x27, 0x2e),
            axis: Color::rgb(0x3a, 0x3a, 0x44),
            accent: DEFAULT_ACCENT,
            series: vec![
                Color::rgb(0x56, 0xb4, 0xe9),
                Color::rgb(0xf0, 0x7b, 0x4f),
                Color::rgb(0x1f, 0xb5, 0x8a),
                Color::rgb(0xd9, 0x8c, 0xbc),
                Color::rgb(0xe6, 0x9f, 0x00),
                Color::rgb(0xa0, 0xa0, 0xab),
            ],
        }
    }

    /// This theme with another accent (an organization's colour).
    pub fn with_accent(mut self, accent: Color) -> Self {
        self.accent = accent;
        self
    }

    /// The colour of series `index` in a chart with several series (the accent if the palette
    /// is empty).
    pub fn series_color(&self, index: usize) -> Color {
        if self.series.is_empty() { self.accent } else { self.series[index % self.series.len()] }
    }
}

/// The stylesheet's default `--accent` (blue 600), used by both themes.
pub const DEFAULT_ACCENT: Color = Color::rgb(0x25, 0x63, 0xeb);

/// The pair of themes a chart is drawn with: [`Mode::Light`] uses `light`, [`Mode::Dark`]
/// uses `dark`, [`Mode::Adaptive`] carries both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Themes {
    /// The theme of light pages and of PDF reports.
    pub light: Theme,
    /// The theme of dark pages.
    pub dark: Theme,
}

impl Default for Themes {
    fn default() -> Self {
        Self { light: Theme::light(), dark: Theme::dark() }
    }
}

/// How a chart carries its colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The light theme, as presentation attributes (`fill="#…"`): for PDF reports and any
    /// renderer without CSS.
    Light,
    /// The dark theme, as presentation attributes.
    Dark,
    /// For pages: the light theme as attributes, plus a `<style>` whose rules switch every
    /// element to the dark theme inside `@media (prefers-color-scheme: dark)`, so one inline
    /// SVG follows the page. Renderers without media queries (usvg) draw it light.
    Adaptive,
}
