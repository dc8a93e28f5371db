//! The one font family reports use, Inter (SIL Open Font License 1.1, `fonts/OFL.txt`), in two
//! weights. The same bytes set the text Cairn draws and the charts' text (through usvg), so a
//! report embeds one family, subset to the characters it uses.
//!
//! Text is measured with the shaper krilla draws it with (rustybuzz), so a line measured to
//! fit is drawn to the same width.

use std::sync::Arc;

use krilla::text::{Font, GlyphId, KrillaGlyph};

const REGULAR: &[u8] = include_bytes!("../fonts/Inter-Regular.otf");
const SEMIBOLD: &[u8] = include_bytes!("../fonts/Inter-SemiBold.otf");

/// A weight of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// One loaded face: krilla's font for drawing, rustybuzz's for measuring.
struct Face {
    font: Font,
    shaper: rustybuzz::Face<'static>,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Face {
        // The bytes are the vendored files: both parse, or the build is broken.
        let font = Font::new(bytes.into(), 0).expect("the vendored font loads");
        let shaper = rustybuzz::Face::from_slice(bytes, 0).expect("the vendored font parses");
        Face { font, shaper }
    }
}

/// The family, loaded once per render.
pub struct Fonts {
    regular: Face,
    bold: Face,
    svg: Arc<usvg::Options<'static>>,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fonts(Inter)")
    }
}

impl Fonts {
    pub fn load() -> Fonts {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(REGULAR.to_vec());
        db.load_font_data(SEMIBOLD.to_vec());
        let family = "Inter".to_owned();
        // Every generic family a chart may name is Inter; usvg falls back to serif.
        db.set_serif_family(family.clone());
        db.set_sans_serif_family(family.clone());
        db.set_monospace_family(family.clone());
        let options = usvg::Options { font_family: family, fontdb: Arc::new(db), ..usvg::Options::default() };
        Fonts { regular: Face::load(REGULAR), bold: Face::load(SEMIBOLD), svg: Arc::new(options) }
    }

    fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    pub fn font(&self, weight: Weight) -> Font {
        self.face(weight).font.clone()
    }

    /// What usvg parses a chart with: this family for every font it names.
    pub fn svg_options(&self) -> &usvg::Options<'static> {
        &self.svg
    }

    /// `text` shaped in `weight`, as krilla draws it: glyphs with advances in em.
    pub fn shape(&self, weight: Weight, text: &str) -> Vec<KrillaGlyph> {
        let face = self.face(weight);
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(&face.shaper, &[], buffer);
        let upem = face.font.units_per_em();
        let infos = shaped.glyph_infos();
        infos
            .iter()
            .zip(shaped.glyph_positions())
            .enumerate()
            .map(|(i, (info, pos))| {
                let start = info.cluster as usize;
                let end = infos[i + 1..].iter().map(|n| n.cluster as usize).find(|c| *c != start).unwrap_or(text.len());
                KrillaGlyph::new(
                    GlyphId::new(info.glyph_id),
                    pos.x_advance as f32 / upem,
                    pos.x_offset as f32 / upem,
                    pos.y_offset as f32 / upem,
                    pos.y_advance as f32 / upem,
                    start..end,
                    None,
                )
            })
            .collect()
    }

    /// The width of `text` in `weight` at `size` points.
    pub fn width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        self.shape(weight, text).iter().map(|g| g.x_advance * size).sum()
    }

    /// `text` with what the family cannot draw replaced: control characters by spaces, other
    /// characters without a glyph by `?` (a PDF/A file may not show a missing glyph).
    pub fn drawable(&self, text: &str) -> String {
        let face = &self.regular.shaper;
        text.chars()
            .map(|c| {
                if c.is_control() {
                    ' '
                } else if face.glyph_index(c).is_some() {
                    c
                } else {
                    '?'
                }
            })
            .collect()
    }
}
