//! Charts as inline SVG, drawn from numbers alone: lines over time, bars by category, horizontal
//! bars, and the RFM heat map. No script, no font file, no network: the page opens anywhere.
use std::fmt::Write;

/// The palette of series, in order.
pub const COLOURS: [&str; 6] = ["#2e7d32", "#c62828", "#9e9e9e", "#1565c0", "#f9a825", "#6a1b9a"];

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A round step: 1, 2 or 5 × a power of ten, at least `at_least`.
fn nice(at_least: i64) -> i64 {
    let at_least = at_least.max(1);
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= at_least {
                return step * m;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// The top of an axis of four gridlines, each a round whole step: at least `max`.
fn axis_top(max: i64) -> i64 {
    nice((max.max(1) + 3) / 4).saturating_mul(4)
}

const W: f64 = 560.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 26.0;

fn frame(out: &mut String, top: i64, number: &dyn Fn(i64) -> String) {
    let _ = write!(out, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img">"#);
    for i in 0..=4 {
        let y = TOP + (H - TOP - BOTTOM) * (1.0 - i as f64 / 4.0);
        let value = top * i / 4;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end" fill="#616161">{}</text>"##,
            W - 8.0,
            LEFT - 6.0,
            y + 3.0,
            escape(&number(value))
        );
    }
}

fn legend(out: &mut String, names: &[String]) {
    let mut x = LEFT;
    for (i, name) in names.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="6" width="10" height="10" rx="2" fill="{colour}"/><text x="{:.1}" y="15" font-size="11" fill="#424242">{}</text>"##,
            x + 14.0,
            escape(name)
        );
        x += 24.0 + 6.5 * name.chars().count() as f64;
    }
}

/// Lines over time: `labels` under the x axis (a few of them shown), one line per series.
pub fn lines(labels: &[String], series: &[(String, Vec<i64>)], number: &dyn Fn(i64) -> String) -> String {
    let top = axis_top(series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0));
    let mut out = String::new();
    frame(&mut out, top, number);
    let n = labels.len().max(1);
    let x = |i: usize| LEFT + (W - LEFT - 16.0) * if n == 1 { 0.5 } else { i as f64 / (n - 1) as f64 };
    let y = |v: i64| TOP + (H - TOP - BOTTOM) * (1.0 - v as f64 / top as f64);
    for (i, (_, values)) in series.iter().enumerate() {
        let points: Vec<String> = values.iter().enumerate().map(|(k, v)| format!("{:.1},{:.1}", x(k), y(*v))).collect();
        let colour = COLOURS[i % COLOURS.len()];
        let _ =
            write!(out, r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#, points.join(" "));
        if values.len() == 1 {
            let _ = write!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#, x(0), y(values[0]));
        }
    }
    let shown: Vec<usize> = if n <= 6 { (0..n).collect() } else { vec![0, n / 4, n / 2, 3 * n / 4, n - 1] };
    for i in shown.into_iter().filter(|i| *i < labels.len()) {
        // The first and last labels stay inside the picture.
        let anchor = match i {
            0 if n > 1 => "start",
            i if i + 1 == n && n > 1 => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="{anchor}" fill="#616161">{}</text>"##,
            x(i),
            H - 10.0,
            escape(&labels[i])
        );
    }
    legend(&mut out, &series.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>());
    out.push_str("</svg>");
    out
}

/// Bars by category, one bar per series in each group, the value above each bar.
pub fn bars(categories: &[String], series: &[(String, Vec<i64>)], number: &dyn Fn(i64) -> String) -> String {
    let top = axis_top(series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0));
    let mut out = String::new();
    frame(&mut out, top, number);
    let groups = categories.len().max(1) as f64;
    let slot = (W - LEFT - 16.0) / groups;
    let width = (slot * 0.7 / series.len().max(1) as f64).min(48.0);
    for (g, category) in categories.iter().enumerate() {
        let left = LEFT + slot * g as f64 + (slot - width * series.len() as f64) / 2.0;
        for (i, (_, values)) in series.iter().enumerate() {
            let v = values.get(g).copied().unwrap_or(0);
            let h = (H - TOP - BOTTOM) * v as f64 / top as f64;
            let (bx, by) = (left + width * i as f64, H - BOTTOM - h);
            let colour = COLOURS[i % COLOURS.len()];
            let _ = write!(
                out,
                r##"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{h:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#212121">{}</text>"##,
                width - 2.0,
                bx + width / 2.0 - 1.0,
                by - 3.0,
                escape(&number(v))
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#424242">{}</text>"##,
            LEFT + slot * (g as f64 + 0.5),
            H - 10.0,
            escape(category)
        );
    }
    if series.len() > 1 {
        legend(&mut out, &series.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>());
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per item, longest first as given.
pub fn ranking(items: &[(String, i64)], number: &dyn Fn(i64) -> String) -> String {
    let height = 24.0 * items.len().max(1) as f64 + 8.0;
    let top = items.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" role="img" style="max-width:{W}px">"#
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 4.0 + 24.0 * i as f64;
        let w = (W - 220.0) * *v as f64 / top as f64;
        let _ = write!(
            out,
            r##"<text x="150" y="{:.1}" font-size="11" text-anchor="end" fill="#424242">{}</text><rect x="156" y="{y:.1}" width="{w:.1}" height="18" rx="2" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#212121">{}</text>"##,
            y + 13.0,
            escape(label),
            COLOURS[3],
            160.0 + w,
            y + 13.0,
            escape(&number(*v))
        );
    }
    out.push_str("</svg>");
    out
}

/// The RFM grid: recency 5 at the top, FM 1..5 left to right, each cell shaded by its count and
/// labelled with its segment.
pub fn heat_map(cells: &[(i32, i32, i64, String)], axis: (&str, &str), number: &dyn Fn(i64) -> String) -> String {
    let (cw, ch, left, top) = (96.0, 48.0, 70.0, 10.0);
    let max = cells.iter().map(|c| c.2).max().unwrap_or(1).max(1);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img">"#,
        left + cw * 5.0 + 10.0,
        top + ch * 5.0 + 40.0
    );
    for (r, fm, clients, segment) in cells {
        let x = left + cw * (*fm - 1) as f64;
        let y = top + ch * (5 - *r) as f64;
        let shade = 0.08 + 0.82 * (*clients as f64 / max as f64);
        let ink = if shade > 0.5 { "#ffffff" } else { "#212121" };
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#1565c0" fill-opacity="{shade:.2}" stroke="#ffffff"/><text x="{:.1}" y="{:.1}" font-size="13" font-weight="bold" text-anchor="middle" fill="{ink}">{}</text><text x="{:.1}" y="{:.1}" font-size="9" text-anchor="middle" fill="{ink}">{}</text>"##,
            cw - 2.0,
            ch - 2.0,
            x + cw / 2.0,
            y + 21.0,
            escape(&number(*clients)),
            x + cw / 2.0,
            y + 36.0,
            escape(&segment.replace('_', " "))
        );
    }
    for i in 1..=5 {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#616161">{i}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#616161">{}</text>"##,
            left + cw * (i as f64 - 0.5),
            top + ch * 5.0 + 16.0,
            left - 8.0,
            top + ch * (5.5 - i as f64) + 4.0,
            i
        );
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#424242">{}</text><text x="12" y="{:.1}" font-size="11" fill="#424242" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text></svg>"##,
        left + cw * 2.5,
        top + ch * 5.0 + 34.0,
        escape(axis.1),
        top + ch * 2.5,
        top + ch * 2.5,
        escape(axis.0)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers_and_text_is_escaped() {
        assert_eq!((nice(0), nice(7), nice(11), nice(4_200), nice(50_000)), (1, 10, 20, 5_000, 50_000));
        assert_eq!((axis_top(0), axis_top(3), axis_top(9), axis_top(150), axis_top(10_001)), (4, 4, 20, 200, 20_000));
        let drawn = bars(&["<b>".into()], &[("a&b".into(), vec![3])], &|n| n.to_string());
        assert!(drawn.contains("&lt;b&gt;") && drawn.contains(">3<") && !drawn.contains("<b>"));
    }
}
