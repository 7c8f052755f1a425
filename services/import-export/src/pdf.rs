//! A printable table (IE-3 "PDF for print"): A4 landscape, the header row repeated on every page,
//! "page N of M" at the foot, in DejaVu Sans (embedded and subset), which has every letter of
//! Lithuanian, Polish, Romanian and Russian names. Cells too wide for their column are cut with
//! an ellipsis, measured with the font's own advances.
use crate::domain::export::Cell;
use anyhow::Context;
use krilla::Document;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const WIDTH: f32 = 842.0;
const HEIGHT: f32 = 595.0;
const MARGIN: f32 = 32.0;
const TEXT: f32 = 8.0;
const LINE: f32 = 12.0;

/// Rows on one page below the title and the header.
fn rows_per_page() -> usize {
    ((HEIGHT - 2.0 * MARGIN - 3.0 * LINE) / LINE) as usize
}

/// Text as it is printed.
fn shown(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(t) => t.replace(['\n', '\r', '\t'], " "),
        Cell::Number(n) => n.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Time(t) => Cell::time_text(*t),
    }
}

/// The font's widths, to cut text that does not fit its column.
struct Measure<'a> {
    font: skrifa::FontRef<'a>,
}

impl Measure<'_> {
    fn advances(&self, text: &str) -> Vec<(char, f32)> {
        let charmap = self.font.charmap();
        let metrics = self.font.glyph_metrics(Size::new(TEXT), LocationRef::default());
        text.chars().map(|c| (c, charmap.map(c).and_then(|g| metrics.advance_width(g)).unwrap_or(TEXT * 0.6))).collect()
    }

    fn width(&self, text: &str) -> f32 {
        self.advances(text).iter().map(|(_, w)| w).sum()
    }

    /// `text`, cut with "…" to fit `room` points (each character measured once).
    fn fit(&self, text: &str, room: f32) -> String {
        if self.width(text) <= room {
            return text.to_string();
        }
        let room = room - self.width("…");
        let (mut out, mut used) = (String::new(), 0.0);
        for (c, w) in self.advances(text) {
            if used + w > room {
                break;
            }
            used += w;
            out.push(c);
        }
        format!("{out}…")
    }
}

/// The whole table as a PDF: `title` above, `labels` as the repeated header.
pub fn render(title: &str, labels: &[String], rows: &[Vec<Cell>]) -> anyhow::Result<Vec<u8>> {
    let font = Font::new(FONT.to_vec().into(), 0).context("the embedded font")?;
    let measure = Measure { font: skrifa::FontRef::new(FONT).map_err(|e| anyhow::anyhow!("the embedded font: {e}"))? };
    let columns = labels.len().max(1);
    let column = (WIDTH - 2.0 * MARGIN) / columns as f32;
    let per_page = rows_per_page();
    let pages = rows.len().div_ceil(per_page).max(1);
    let mut document = Document::new();
    for p in 0..pages {
        let settings = PageSettings::from_wh(WIDTH, HEIGHT).context("the page size")?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut y = MARGIN + LINE;
        surface.draw_text(Point::from_xy(MARGIN, y), font.clone(), TEXT + 3.0, title, false, TextDirection::Auto);
        y += LINE * 1.5;
        // The header on a light band, every page.
        let band = Rect::from_xywh(MARGIN - 2.0, y - LINE + 3.0, WIDTH - 2.0 * MARGIN + 4.0, LINE)
            .context("the header band")?;
        let mut path = PathBuilder::new();
        path.push_rect(band);
        if let Some(path) = path.finish() {
            surface.set_fill(Some(Fill {
                paint: krilla::color::rgb::Color::new(225, 230, 238).into(),
                ..Default::default()
            }));
            surface.draw_path(&path);
            surface.set_fill(Some(Fill::default()));
        }
        for (c, label) in labels.iter().enumerate() {
            let x = MARGIN + c as f32 * column;
            let text = measure.fit(label, column - 4.0);
            surface.draw_text(Point::from_xy(x, y), font.clone(), TEXT, &text, false, TextDirection::Auto);
        }
        for row in rows.iter().skip(p * per_page).take(per_page) {
            y += LINE;
            for (c, cell) in row.iter().enumerate() {
                let x = MARGIN + c as f32 * column;
                let text = measure.fit(&shown(cell), column - 4.0);
                if !text.is_empty() {
                    surface.draw_text(Point::from_xy(x, y), font.clone(), TEXT, &text, false, TextDirection::Auto);
                }
            }
        }
        let foot = format!("{} / {}", p + 1, pages);
        let x = WIDTH - MARGIN - measure.width(&foot);
        surface.draw_text(
            Point::from_xy(x, HEIGHT - MARGIN / 2.0),
            font.clone(),
            TEXT,
            &foot,
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| anyhow::anyhow!("writing the PDF: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_to_its_column_and_short_text_is_not() {
        let m = Measure { font: skrifa::FontRef::new(FONT).expect("font") };
        assert_eq!(m.fit("Ona", 100.0), "Ona");
        let cut = m.fit("Žemaitė-Čiurlionienė-Paulauskaitė", 40.0);
        assert!(cut.ends_with('…') && m.width(&cut) <= 40.0, "{cut}");
        assert!(m.width("ŠŠŠ") > m.width("iii"), "real advances, not a character count");
    }
}
